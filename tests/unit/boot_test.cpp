// Boot configuration read from files (the boot steps themselves run in QEMU).
#include "init/boot.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

TEST_CASE("modules-load.d lists modules one per line, comments skipped, later directories win") {
    keel::testing::TempDir base;
    std::string lib = base / "lib", etc = base / "etc";
    REQUIRE(keel::make_directories(lib));
    REQUIRE(keel::make_directories(etc));
    REQUIRE(keel::write_new_file(lib + "/a.conf", "overlay\n"));
    REQUIRE(keel::write_new_file(
        etc + "/a.conf", "# replaces lib/a.conf\nbr_netfilter\n\n; also a comment\n  veth  \n"));
    REQUIRE(keel::write_new_file(etc + "/b.conf", "ext4\n"));
    REQUIRE(keel::write_new_file(etc + "/README", "not a conf file\n"));
    auto modules = keel::configured_modules({lib, etc, base / "missing"});
    CHECK(modules == std::vector<std::string>{"br_netfilter", "veth", "ext4"});
}
