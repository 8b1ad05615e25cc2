// update/slots.cpp: ChromeOS's boot flags as cgpt lays them out, the boot
// choice, what a boot, an install, mark-good, mark-bad and rollback change
// (and refuse), the slots read from and written to a disk's GPT, and the
// booted slot found from the mount table and sysfs.
#include "update/update.h"

#include "base/sys.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

using keel::testing::TempDir;
using namespace keel::testing::gpt;
namespace up = keel::update;

namespace {

up::Slots slots_with(up::SlotFlags a, up::SlotFlags b) {
    up::Slots slots;
    slots.a = {up::SlotName::A, 1, a.apply_to(0), a, ""};
    slots.b = {up::SlotName::B, 2, b.apply_to(0), b, ""};
    return slots;
}

std::string slots_error(const keel::Result<up::Slots>& result) {
    REQUIRE_FALSE(result);
    return result.error().to_string();
}

} // namespace

TEST_CASE(
    "slot flags sit in ChromeOS's attribute bits: priority 48-51, tries 52-55, successful 56") {
    uint64_t word =
        (uint64_t(2) << 48) | (uint64_t(5) << 52) | (uint64_t(1) << 56) | 1 | (uint64_t(1) << 60);
    up::SlotFlags flags = up::SlotFlags::from_attributes(word);
    CHECK(flags.priority == 2);
    CHECK(flags.tries == 5);
    CHECK(flags.successful);
    flags.priority = 15;
    flags.tries = 0;
    flags.successful = false;
    // Bits outside 48-56 (required, type-specific) are kept.
    CHECK(flags.apply_to(word) == ((uint64_t(15) << 48) | 1 | (uint64_t(1) << 60)));
    CHECK(flags.to_string() == "priority=15 tries=0 successful=0");
}

TEST_CASE("the bootable slot of higher priority boots; A on a tie; none when neither can") {
    up::SlotFlags good{2, 0, true}, trying{3, 1, false}, spent{3, 0, false}, bad{0, 5, true};
    CHECK(up::choose_boot_slot(slots_with(good, trying)) == up::SlotName::B);
    CHECK(up::choose_boot_slot(slots_with(good, spent)) == up::SlotName::A);
    CHECK(up::choose_boot_slot(slots_with(bad, good)) == up::SlotName::B);
    CHECK(up::choose_boot_slot(slots_with(good, good)) == up::SlotName::A);
    CHECK_FALSE(up::choose_boot_slot(slots_with(bad, spent)));
}

TEST_CASE("a new slot that never comes up healthy runs out of tries and the old one boots again") {
    up::Slots slots = slots_with({1, 0, true}, {0, 0, false});
    slots = up::finish_install(up::prepare_install(slots, up::SlotName::B), up::SlotName::B);
    CHECK(slots.b.flags == up::SlotFlags{2, 1, false});
    REQUIRE(up::choose_boot_slot(slots) == up::SlotName::B);
    slots = up::begin_boot(slots, up::SlotName::B); // the try is used before the root is mounted
    CHECK(slots.b.flags.tries == 0);
    // The boot fails (no mark-good): the next boot picks A by itself.
    CHECK(up::choose_boot_slot(slots) == up::SlotName::A);
    // A successful slot's boots use no tries.
    slots = up::begin_boot(slots, up::SlotName::A);
    CHECK(slots.a.flags == up::SlotFlags{1, 0, true});
    CHECK(up::begin_boot(slots_with({1, 0, false}, {}), up::SlotName::A).a.flags.tries == 0);
}

TEST_CASE("an install makes its slot unbootable first, and then the next boot, once") {
    up::Slots slots = slots_with({15, 0, true}, {3, 0, true});
    slots = up::prepare_install(slots, up::SlotName::B);
    CHECK(slots.b.flags == up::SlotFlags{});
    CHECK(up::choose_boot_slot(slots) == up::SlotName::A);
    slots = up::finish_install(slots, up::SlotName::B);
    // A had the top priority: it steps down for B.
    CHECK(slots.a.flags.priority == 14);
    CHECK(slots.b.flags == up::SlotFlags{15, 1, false});
}

TEST_CASE("mark-good makes the booted slot successful; a slot with priority 0 is refused") {
    auto good = up::mark_good(slots_with({1, 0, true}, {2, 0, false}), up::SlotName::B);
    REQUIRE(good);
    CHECK(good->b.flags == up::SlotFlags{2, 0, true});
    CHECK(slots_error(up::mark_good(slots_with({1, 0, true}, {0, 1, false}), up::SlotName::B)) ==
          "slot B (ROOT-B) has priority 0: marking it good would not make it boot");
}

TEST_CASE("mark-bad stops a slot from booting, unless the other slot cannot boot either") {
    auto bad = up::mark_bad(slots_with({1, 0, true}, {2, 0, true}), up::SlotName::B);
    REQUIRE(bad);
    CHECK(bad->b.flags == up::SlotFlags{});
    CHECK(up::choose_boot_slot(*bad) == up::SlotName::A);
    CHECK(slots_error(up::mark_bad(slots_with({1, 0, false}, {2, 0, true}), up::SlotName::B)) ==
          "slot A (ROOT-A) cannot boot either (priority=1 tries=0 successful=0): marking B bad "
          "would leave nothing to boot");
}

TEST_CASE("rollback boots the other slot next, only if it booted successfully before") {
    auto back = up::rollback(slots_with({1, 0, true}, {2, 0, true}), up::SlotName::B);
    REQUIRE(back);
    CHECK(up::choose_boot_slot(*back) == up::SlotName::A);
    CHECK(back->a.flags == up::SlotFlags{3, 0, true});
    CHECK(slots_error(up::rollback(slots_with({1, 1, false}, {2, 0, true}), up::SlotName::B)) ==
          "slot A (ROOT-A) has not booted successfully (priority=1 tries=1 successful=0): "
          "nothing to roll back to");
    CHECK(slots_error(up::rollback(slots_with({0, 0, true}, {2, 0, true}), up::SlotName::B)) ==
          "slot A (ROOT-A) is marked bad (priority 0): nothing to roll back to");
}

TEST_CASE("slots are read from ROOT-A and ROOT-B and written back to both GPT copies") {
    TempDir dir;
    std::string path = dir / "disk.img";
    uint64_t other_bits = 1; // "required partition": must survive
    REQUIRE(keel::write_new_file(path,
                                 ab_disk(up::SlotFlags{1, 0, true}.apply_to(other_bits), 0).bytes));
    auto slots = up::read_slots(path);
    REQUIRE_MESSAGE(slots, (slots ? std::string() : slots.error().to_string()));
    CHECK(slots->a.partition == 1);
    CHECK(slots->b.partition == 2);
    CHECK(slots->a.flags == up::SlotFlags{1, 0, true});
    CHECK(slots->b.flags == up::SlotFlags{});
    CHECK(slots->b.partuuid == "aaaaaaaa-0000-4000-8000-000000000002");
    up::Slots installed = up::finish_install(*slots, up::SlotName::B);
    auto copies = up::write_slots(keel::system_storage(), installed);
    REQUIRE_MESSAGE(copies, (copies ? std::string() : copies.error().to_string()));
    auto again = up::read_slots(path);
    REQUIRE(again);
    CHECK(again->b.flags == up::SlotFlags{2, 1, false});
    CHECK(again->a.attributes == up::SlotFlags{1, 0, true}.apply_to(other_bits));
    // The backup copy holds the same.
    auto bytes = keel::read_file(path);
    REQUIRE(bytes);
    std::string primary_broken = *bytes;
    primary_broken[kSector + 40] ^= 1;
    REQUIRE(keel::write_new_file(path, primary_broken));
    auto from_backup = up::read_slots(path);
    REQUIRE(from_backup);
    CHECK(from_backup->b.flags == up::SlotFlags{2, 1, false});
}

TEST_CASE("a disk without both slots, or with a slot name twice, is not an A/B disk") {
    TempDir dir;
    std::string path = dir / "disk.img";
    REQUIRE(keel::write_new_file(path, make_disk().bytes)); // ROOT-A and STATE only
    auto slots = up::read_slots(path);
    REQUIRE_FALSE(slots);
    CHECK(slots.error().to_string() ==
          "`" + path + "`: no partition is named ROOT-B: not an A/B disk");
    std::vector<TestPartition> twice = {
        {0, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000001", 34, 99,
         0, u"ROOT-A"},
        {1, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000002", 100,
         165, 0, u"ROOT-A"},
    };
    REQUIRE(keel::write_new_file(path, make_disk(twice).bytes));
    slots = up::read_slots(path);
    REQUIRE_FALSE(slots);
    CHECK(slots.error().to_string() == "`" + path + "`: two partitions are named ROOT-A (1 and 2)");
}

TEST_CASE("the booted slot is the one whose partition holds /, and its disk the partition's") {
    TempDir dir;
    std::string devices = dir / "devices/virtio0/block/vda";
    REQUIRE(keel::make_directories(devices + "/vda2", 0755));
    REQUIRE(keel::write_new_file(devices + "/vda2/uevent",
                                 "MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\nPARTN=2\n"
                                 "PARTNAME=ROOT-B\n"));
    REQUIRE(keel::make_directories(dir / "dev/block", 0755));
    REQUIRE(::symlink((devices + "/vda2").c_str(), (dir / "dev/block/254:2").c_str()) == 0);
    std::string mountinfo = dir / "mountinfo";
    REQUIRE(keel::write_new_file(mountinfo, "1 0 0:2 / / rw - rootfs rootfs rw\n"
                                            "22 1 254:2 / / ro,relatime - erofs /dev/vda2 ro\n"
                                            "23 22 0:5 / /proc rw - proc proc rw\n"));
    auto booted = up::booted_slot(mountinfo, dir / "dev/block");
    REQUIRE_MESSAGE(booted, (booted ? std::string() : booted.error().to_string()));
    CHECK(booted->slot == up::SlotName::B);
    CHECK(booted->disk == "/dev/vda");

    REQUIRE(keel::write_new_file(mountinfo, "1 0 0:2 / / rw - rootfs rootfs rw\n"));
    booted = up::booted_slot(mountinfo, dir / "dev/block");
    REQUIRE_FALSE(booted);
    CHECK(booted.error().to_string() ==
          "/ is rootfs (rootfs), on no block device: not booted from a slot");
}

TEST_CASE("a root read through dm-verity was booted from the slot under its device-mapper device") {
    TempDir dir;
    std::string devices = dir / "devices";
    REQUIRE(keel::make_directories(devices + "/virtio0/block/vda/vda1", 0755));
    REQUIRE(keel::write_new_file(devices + "/virtio0/block/vda/vda1/uevent",
                                 "MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nPARTN=1\n"
                                 "PARTNAME=ROOT-A\n"));
    REQUIRE(keel::make_directories(devices + "/virtual/block/dm-0/slaves", 0755));
    REQUIRE(keel::write_new_file(devices + "/virtual/block/dm-0/uevent",
                                 "MAJOR=253\nMINOR=0\nDEVNAME=dm-0\nDEVTYPE=disk\n"));
    REQUIRE(::symlink((devices + "/virtio0/block/vda/vda1").c_str(),
                      (devices + "/virtual/block/dm-0/slaves/vda1").c_str()) == 0);
    REQUIRE(keel::make_directories(dir / "dev/block", 0755));
    REQUIRE(::symlink((devices + "/virtual/block/dm-0").c_str(),
                      (dir / "dev/block/253:0").c_str()) == 0);
    std::string mountinfo = dir / "mountinfo";
    REQUIRE(keel::write_new_file(mountinfo, "22 1 253:0 / / ro,relatime - erofs /dev/dm-0 ro\n"));
    auto booted = up::booted_slot(mountinfo, dir / "dev/block");
    REQUIRE_MESSAGE(booted, (booted ? std::string() : booted.error().to_string()));
    CHECK(booted->slot == up::SlotName::A);
    CHECK(booted->disk == "/dev/vda");
}
