// Conditions checked against the file system.
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_model_fixture.h"

#include <doctest/doctest.h>
#include <unistd.h>

using keel::testing::TempDir;
using keel::testing::write;

TEST_CASE("conditions check the file system") {
    TempDir dir;
    write(dir / "full", "x");
    write(dir / "empty", "");
    auto check = [](keel::ConditionType type, const std::string& path, bool negate = false) {
        keel::Condition condition;
        condition.type = type;
        condition.argument = path;
        condition.negate = negate;
        return keel::condition_holds(condition);
    };
    using T = keel::ConditionType;
    CHECK(check(T::PathExists, dir / "full"));
    CHECK_FALSE(check(T::PathExists, dir / "missing"));
    CHECK(check(T::PathExists, dir / "missing", true));
    CHECK(check(T::PathIsDirectory, dir.path()));
    CHECK_FALSE(check(T::PathIsDirectory, dir / "full"));
    CHECK(check(T::FileNotEmpty, dir / "full"));
    CHECK_FALSE(check(T::FileNotEmpty, dir / "empty"));
    CHECK(check(T::DirectoryNotEmpty, dir.path()));
    CHECK(check(T::PathExistsGlob, dir / "f*"));
    CHECK_FALSE(check(T::PathExistsGlob, dir / "z*"));
    CHECK(check(T::PathIsMountPoint, "/proc"));
    CHECK_FALSE(check(T::PathIsMountPoint, dir.path()));
    CHECK(check(T::FileIsExecutable, "/bin/sh"));
    CHECK_FALSE(check(T::FileIsExecutable, dir / "full"));
    REQUIRE(symlink("full", (dir / "link").c_str()) == 0);
    CHECK(check(T::PathIsSymbolicLink, dir / "link"));
}
