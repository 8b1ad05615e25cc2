// base/names.h: one table gives both directions.
#include "base/names.h"

#include <doctest/doctest.h>

namespace {

enum class Fruit { Apple, Pear, Quince };

constexpr auto kFruitNames = keel::name_table<Fruit>({
    {Fruit::Apple, "apple"},
    {Fruit::Pear, "pear"},
});

// Usable at compile time.
static_assert(kFruitNames.name(Fruit::Pear) == "pear");
static_assert(*kFruitNames.parse("apple") == Fruit::Apple);

} // namespace

TEST_CASE("a name table names each value and parses each name back") {
    for (const auto& entry : kFruitNames.entries()) {
        CHECK(kFruitNames.name(entry.value) == entry.name);
        CHECK(kFruitNames.parse(entry.name) == entry.value);
    }
    CHECK(kFruitNames.names() == "apple, pear");
    CHECK(kFruitNames.names("|", "|") == "apple|pear");
    CHECK(kFruitNames.names(", ", " or ") == "apple or pear");
}

TEST_CASE("a value the table does not list is named ?, an unknown name parses to nothing") {
    CHECK(kFruitNames.name(Fruit::Quince) == "?");
    CHECK(kFruitNames.name(static_cast<Fruit>(42)) == "?");
    CHECK_FALSE(kFruitNames.parse("quince"));
    CHECK_FALSE(kFruitNames.parse("Apple")); // exact, as systemd's words are
    CHECK_FALSE(kFruitNames.parse(""));
}

TEST_CASE("parse_choice names what it would have accepted") {
    CHECK(*keel::parse_choice(kFruitNames, "pear") == Fruit::Pear);
    auto wrong = keel::parse_choice(kFruitNames, "plum");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().to_string() == "unknown value `plum` (expected apple or pear)");
}
