// update/kexec.cpp: the keel.kexec= marker, the next kernel's command line,
// the slot choice after a kexec (no second try counted), a slot's kernel
// found (or not) in its root, and kernel files that cannot be loaded.
#include "update/kexec.h"

#include "base/sys.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

using keel::testing::TempDir;
using namespace keel::testing::gpt;
using keel::testing::cmdline;
namespace up = keel::update;

namespace {} // namespace

TEST_CASE("keel.kexec= names the slot whose kernel runs; anything but A or B is refused") {
    auto none = up::kexec_slot(cmdline("console=ttyS0 keel.root=/dev/vda1"));
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    auto b = up::kexec_slot(cmdline("console=ttyS0 keel.kexec=B"));
    REQUIRE(b);
    CHECK(*b == up::SlotName::B);
    auto last = up::kexec_slot(cmdline("keel.kexec=B keel.kexec=A"));
    REQUIRE(last);
    CHECK(*last == up::SlotName::A);
    for (std::string_view bad :
         {"keel.kexec=C", "keel.kexec=", "keel.kexec", "keel.kexec=ROOT-A", "keel.kexec=a"}) {
        CAPTURE(bad);
        auto refused = up::kexec_slot(cmdline(bad));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().to_string().find("expected A or B") != std::string::npos);
    }
}

TEST_CASE("the next kernel's command line is the running one less keel.kexec=, then the extra "
          "words") {
    CHECK(up::kexec_command_line("console=ttyS0 panic=-1\n", "keel.kexec=A") ==
          "console=ttyS0 panic=-1 keel.kexec=A");
    // A second kexec replaces the marker instead of piling it up.
    CHECK(up::kexec_command_line("console=ttyS0 keel.kexec=A quiet", "keel.kexec=B") ==
          "console=ttyS0 quiet keel.kexec=B");
    CHECK(up::kexec_command_line("\"keel.kexec=A\" x", "") == "x");
    // Quoted words stay whole, spaces and all.
    CHECK(up::kexec_command_line("keel.run=\"/bin/sh /slots.sh good\"  a=1", "b=\"2 3\"") ==
          "keel.run=\"/bin/sh /slots.sh good\" a=1 b=\"2 3\"");
    // keel.kexec inside another word's value is not the marker.
    CHECK(up::kexec_command_line("keel.run=\"echo keel.kexec=A\"", "") ==
          "keel.run=\"echo keel.kexec=A\"");
    CHECK(up::kexec_command_line("", "") == "");
    CHECK(up::kexec_command_line("   \n", "x") == "x");
    // After `--` come init's arguments: new words go before it, and a
    // keel.kexec= there is an argument, not the marker.
    CHECK(up::kexec_command_line("a keel.kexec=A -- keel.kexec=B x", "keel.kexec=B") ==
          "a keel.kexec=B -- keel.kexec=B x");
    CHECK(up::kexec_command_line("a \"--\" b", "c") == "a c \"--\" b");
    // An unterminated quote keeps the rest as one word, as the kernel does.
    CHECK(up::kexec_command_line("a \"b c", "") == "a \"b c");
}

TEST_CASE("after a kexec the marked slot boots as it is, its try not counted a second time") {
    TempDir dir;
    std::string path = dir / "disk.img";
    // B was chosen and its one try counted before the kexec: now 0 tries.
    up::SlotFlags a{1, 0, true}, b{2, 0, false};
    REQUIRE(keel::write_new_file(path, ab_disk(a.apply_to(0), b.apply_to(0)).bytes));
    auto bytes = keel::read_file(path);
    REQUIRE(bytes);

    auto choice = up::choose_slot_after_kexec(path, up::SlotName::B);
    REQUIRE_MESSAGE(choice, (choice ? std::string() : choice.error().to_string()));
    REQUIRE(choice->label);
    CHECK(*choice->label == "ROOT-B");
    CHECK(choice->summary.find("keel.kexec=B") != std::string::npos);
    auto after = keel::read_file(path);
    REQUIRE(after);
    CHECK(*after == *bytes); // nothing written

    // Without the marker the usual rule holds: B is out of tries, A boots.
    auto usual = up::choose_slot_after_kexec(path, std::nullopt);
    REQUIRE(usual);
    REQUIRE(usual->label);
    CHECK(*usual->label == "ROOT-A");
}

TEST_CASE("a slot without /boot/vmlinuz boots with the running kernel; one with a kernel but no "
          "initramfs is refused") {
    TempDir dir;
    std::string root = dir / "root";
    REQUIRE(keel::make_directories(root + "/boot"));
    // The test's own /proc/cmdline may carry keel.kexec= (in a keel guest):
    // the hook then does nothing at all, which is the same outcome here.
    auto running = keel::KernelCommandLine::read();
    REQUIRE(running);
    bool in_slot_kernel = running->has(up::kKexecParameter);

    CHECK(up::boot_slot_kernel(root, "ROOT-B"));
    REQUIRE(keel::write_new_file(root + "/boot/vmlinuz", "not a kernel"));
    CHECK(up::boot_slot_kernel(root, "STATE")); // not a slot
    auto refused = up::boot_slot_kernel(root, "ROOT-B");
    if (!in_slot_kernel) {
        REQUIRE_FALSE(refused);
        CHECK(refused.error().to_string().find("no /boot/initrd.img") != std::string::npos);
    }
}

TEST_CASE("a kernel file that is missing is an error naming it, and nothing is loaded") {
    TempDir dir;
    auto missing = up::load_kexec_image({dir / "vmlinuz", std::nullopt, "console=ttyS0"});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string().find(dir / "vmlinuz") != std::string::npos);
    REQUIRE(keel::write_new_file(dir / "vmlinuz", "not a kernel"));
    auto no_initrd = up::load_kexec_image({dir / "vmlinuz", dir / "initrd.img", ""});
    REQUIRE_FALSE(no_initrd);
    CHECK(no_initrd.error().to_string().find(dir / "initrd.img") != std::string::npos);
}

TEST_CASE("reboot --kexec into the booted slot's kernel skips the initramfs's choice only when "
          "that slot boots next without a try") {
    auto slots = [](up::SlotFlags a, up::SlotFlags b) {
        up::Slots s;
        s.a = {up::SlotName::A, 1, a.apply_to(0), a, ""};
        s.b = {up::SlotName::B, 2, b.apply_to(0), b, ""};
        return s;
    };
    // A runs, good, and boots next: straight into A.
    CHECK(up::reboot_kexec_slot(slots({1, 0, true}, {0, 0, false}), up::SlotName::A) ==
          up::SlotName::A);
    // B was installed and boots next, once: the initramfs must count its try.
    CHECK_FALSE(up::reboot_kexec_slot(slots({1, 0, true}, {2, 1, false}), up::SlotName::A));
    // B runs on trial (its try spent): the next boot is A's, chosen as usual.
    CHECK_FALSE(up::reboot_kexec_slot(slots({1, 0, true}, {2, 0, false}), up::SlotName::B));
    // B marked good: straight into B.
    CHECK(up::reboot_kexec_slot(slots({1, 0, true}, {2, 0, true}), up::SlotName::B) ==
          up::SlotName::B);
}
