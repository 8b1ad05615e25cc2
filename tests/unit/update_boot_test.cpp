// update/boot.cpp: what the initramfs writes when the slot it chose does
// not boot (dm-verity refused it, its init could not run): that slot never
// boots again, the other one does, and with no other slot the next boot
// finds nothing to boot instead of failing the same way again. The boot
// also rewrites a GPT copy a power cut left stale.
#include "update/update.h"

#include "base/sys.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using keel::testing::TempDir;
using namespace keel::testing::gpt;
namespace up = keel::update;

namespace {

// An A/B disk: ROOT-A (1), ROOT-B (2), STATE (3).
std::string write_ab_disk(const TempDir& dir, up::SlotFlags a, up::SlotFlags b) {
    std::string path = dir / "disk.img";
    // Bit 0 of A's word (required partition) is kept through the changes.
    REQUIRE(keel::write_new_file(path, ab_disk(a.apply_to(1), b.apply_to(0)).bytes));
    return path;
}

} // namespace

TEST_CASE("a chosen slot that fails to boot is marked bad and the other slot boots next") {
    TempDir dir;
    std::string disk = write_ab_disk(dir, up::SlotFlags{2, 0, true}, up::SlotFlags{1, 0, true});
    REQUIRE(up::boot_slot_failed(disk, "ROOT-A"));
    auto slots = up::read_slots(disk);
    REQUIRE(slots);
    CHECK(slots->a.flags == up::SlotFlags{});
    CHECK(slots->a.attributes == 1); // other attribute bits kept
    CHECK(slots->b.flags == up::SlotFlags{1, 0, true});
    CHECK(up::choose_boot_slot(*slots) == up::SlotName::B);
}

TEST_CASE("a failed slot is marked bad even when no other slot can boot: the next boot stays in "
          "the initramfs") {
    TempDir dir;
    std::string disk = write_ab_disk(dir, up::SlotFlags{}, up::SlotFlags{2, 1, false});
    REQUIRE(up::boot_slot_failed(disk, "ROOT-B"));
    auto slots = up::read_slots(disk);
    REQUIRE(slots);
    CHECK(slots->b.flags == up::SlotFlags{});
    CHECK_FALSE(up::choose_boot_slot(*slots).has_value());
}

TEST_CASE("a failed boot naming no slot changes nothing") {
    TempDir dir;
    std::string disk = write_ab_disk(dir, up::SlotFlags{2, 0, true}, up::SlotFlags{1, 0, true});
    auto before = keel::read_file(disk);
    REQUIRE(before);
    auto refused = up::boot_slot_failed(disk, "STATE");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("not a slot") != std::string::npos);
    auto after = keel::read_file(disk);
    REQUIRE(after);
    CHECK(*after == *before);
}

TEST_CASE("the boot rewrites a GPT backup a power cut left stale, even when no try is counted") {
    TempDir dir;
    std::string disk = write_ab_disk(dir, up::SlotFlags{2, 0, true}, up::SlotFlags{1, 0, true});
    auto before = keel::read_file(disk);
    REQUIRE(before);
    // `keel update activate B` cut after the backup copy was written.
    auto slots = up::read_slots(disk);
    REQUIRE(slots);
    REQUIRE(up::write_slots(keel::system_storage(), up::activate(*slots, up::SlotName::B)));
    auto after = keel::read_file(disk);
    REQUIRE(after);
    size_t backup = before->size() - 33 * kSector;
    std::string cut = before->substr(0, backup) + after->substr(backup);
    REQUIRE(keel::write_existing_file(disk, cut));
    REQUIRE(*keel::check_gpt_copies(keel::system_storage(), disk) == keel::GptCopies::PrimaryOnly);

    auto choice = up::boot_slot(disk);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    CHECK(choice->label == "ROOT-A"); // the primary's flags: the change never happened
    CHECK(choice->summary.find("the GPT's backup copy was damaged or stale and has been rewritten "
                               "from the primary") != std::string::npos);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), disk) == keel::GptCopies::Both);
    auto now = keel::read_file(disk);
    REQUIRE(now);
    CHECK(*now == *before);
}

TEST_CASE("a boot with both GPT copies sound and no try to count writes nothing") {
    TempDir dir;
    std::string disk = write_ab_disk(dir, up::SlotFlags{2, 0, true}, up::SlotFlags{1, 0, true});
    auto before = keel::read_file(disk);
    REQUIRE(before);
    auto choice = up::boot_slot(disk);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    CHECK(choice->label == "ROOT-A");
    CHECK(choice->summary.find("rewritten") == std::string::npos);
    auto now = keel::read_file(disk);
    REQUIRE(now);
    CHECK(*now == *before);
}
