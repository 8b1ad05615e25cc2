// base/mountinfo.cpp: the mount table as the kernel prints it, and what
// the parser makes of lines it does not expect.
#include "base/mountinfo.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace keel;

TEST_CASE("mountinfo lines give ids, device, root, point, options, type, source") {
    auto entries =
        parse_mountinfo("22 1 254:1 / / ro,relatime shared:1 - erofs /dev/vda1 ro,user_xattr\n"
                        "31 22 0:27 / /etc rw,relatime shared:12 master:3 - overlay overlay "
                        "rw,lowerdir=/sysroot/etc,upperdir=/state/etc.upper\n"
                        "40 22 254:3 /var /var rw,noatime - ext4 /dev/vda3 rw\n");
    REQUIRE(entries);
    REQUIRE(entries->size() == 3);
    const MountEntry& root = (*entries)[0];
    CHECK(root.id == 22);
    CHECK(root.parent_id == 1);
    CHECK(root.major == 254);
    CHECK(root.minor == 1);
    CHECK(root.point == "/");
    CHECK(root.type == "erofs");
    CHECK(root.source == "/dev/vda1");
    CHECK(root.read_only());
    CHECK(root.superblock_read_only());
    const MountEntry& etc = (*entries)[1]; // two optional fields before "-"
    CHECK(etc.type == "overlay");
    CHECK(etc.super_options == "rw,lowerdir=/sysroot/etc,upperdir=/state/etc.upper");
    CHECK_FALSE(etc.read_only());
    const MountEntry& var = (*entries)[2]; // none
    CHECK(var.root == "/var");
    CHECK(var.options == "rw,noatime");
    CHECK_FALSE(var.superblock_read_only());
}

TEST_CASE("escaped names are decoded, and an empty source stays a field") {
    auto entries = parse_mountinfo("50 22 0:40 / /mnt/with\\040space\\134x rw - tmpfs  rw\n");
    REQUIRE(entries);
    REQUIRE(entries->size() == 1);
    CHECK((*entries)[0].point == "/mnt/with space\\x");
    CHECK((*entries)[0].source == "");
    CHECK((*entries)[0].super_options == "rw");
}

TEST_CASE("a malformed mountinfo line is an error naming the line and what is wrong") {
    auto check = [](const char* text, const char* expected) {
        auto entries = parse_mountinfo(text);
        REQUIRE_FALSE(entries);
        CHECK_MESSAGE(entries.error().to_string().find(expected) != std::string::npos,
                      entries.error().to_string());
    };
    check("22 1 254:1 / / ro shared:1 erofs /dev/vda1 ro\n", "mountinfo line 1: expected");
    check("\n22 1 254:1 / / ro - erofs\n", "mountinfo line 2: expected");
    check("x 1 254:1 / / ro - erofs /dev/vda1 ro\n", "bad mount id `x`");
    check("22 1 254 / / ro - erofs /dev/vda1 ro\n", "bad device `254`");
    check("22 1 254:99999999999 / / ro - erofs /dev/vda1 ro\n", "bad device");
}

TEST_CASE("this process's own mount table parses and has a root") {
    auto entries = read_mountinfo();
    REQUIRE(entries);
    CHECK(std::any_of(entries->begin(), entries->end(),
                      [](const MountEntry& entry) { return entry.point == "/"; }));
    auto missing = read_mountinfo("/nonexistent/mountinfo");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
}
