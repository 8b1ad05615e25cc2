// Tests for base/strings.h.
#include "base/strings.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

using namespace keel;

TEST_CASE("cat concatenates strings, characters and integers") {
    CHECK(cat("pid ", 42) == "pid 42");
    CHECK(cat("a", 'b', std::string("c"), std::string_view("d")) == "abcd");
    CHECK(cat(-5, " ", uint64_t(18446744073709551615u)) == "-5 18446744073709551615");
    CHECK(cat() == "");
}

TEST_CASE("quoted wraps a name in backquotes") {
    CHECK(quoted("web") == "`web`");
    CHECK(quoted("") == "``");
}

TEST_CASE("trim removes surrounding spaces, tabs and newlines only") {
    CHECK(trim("  a b \t\r\n") == "a b");
    CHECK(trim("\t\n") == "");
    CHECK(trim("") == "");
    CHECK(trim("x") == "x");
}

TEST_CASE("split keeps empty fields, including leading and trailing ones") {
    auto parts = split(":a::b:", ':');
    REQUIRE(parts.size() == 5);
    CHECK(parts[0] == "");
    CHECK(parts[1] == "a");
    CHECK(parts[2] == "");
    CHECK(parts[3] == "b");
    CHECK(parts[4] == "");
    CHECK(split("", ',').size() == 1);
    CHECK(split("abc", ',').size() == 1);
}

TEST_CASE("starts_with compares a prefix") {
    CHECK(starts_with("keel.debug", "keel."));
    CHECK(!starts_with("kee", "keel"));
    CHECK(starts_with("anything", ""));
}

TEST_CASE("path_is_under compares whole path components") {
    CHECK(path_is_under("/var", "/var"));
    CHECK(path_is_under("/var/log/keel", "/var"));
    CHECK_FALSE(path_is_under("/variable", "/var"));
    CHECK_FALSE(path_is_under("/va", "/var"));
    CHECK(path_is_under("/anything", "/"));
    CHECK_FALSE(path_is_under("relative", "/"));
}

TEST_CASE("parse_u64 accepts only a whole unsigned decimal number") {
    CHECK(parse_u64("0") == 0u);
    CHECK(parse_u64("18446744073709551615") == std::numeric_limits<uint64_t>::max());
    CHECK(!parse_u64("18446744073709551616"));
    CHECK(!parse_u64(""));
    CHECK(!parse_u64("-1"));
    CHECK(!parse_u64("12a"));
    CHECK(!parse_u64(" 12"));
    CHECK(!parse_u64("+1"));
}

TEST_CASE("format_seconds rounds microseconds to hundredths of a second") {
    CHECK(format_seconds(1834000) == "1.83");
    CHECK(format_seconds(0) == "0.00");
    CHECK(format_seconds(5000) == "0.01");
    CHECK(format_seconds(4999) == "0.00");
    CHECK(format_seconds(60000000) == "60.00");
    CHECK(format_seconds(1995000) == "2.00");
}
