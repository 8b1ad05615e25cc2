// Unit names: checked, split, and templates recognised.
#include "init/unit_model.h"

#include <doctest/doctest.h>

TEST_CASE("unit names are checked and templates recognised") {
    auto name = keel::parse_unit_name("web@1.service");
    REQUIRE(name);
    CHECK(name->prefix == "web");
    CHECK(*name->instance == "1");
    CHECK(name->suffix == "service");
    CHECK(keel::template_of("web@1.service") == "web@.service");
    CHECK(keel::template_of("web.service").empty());
    CHECK(keel::template_of("web@.service").empty());
    CHECK(keel::parse_unit_name("").error().to_string() == "invalid unit name ``: empty");
    CHECK(keel::parse_unit_name(".service").error().to_string() ==
          "invalid unit name `.service`: no type suffix such as .service");
    CHECK(keel::parse_unit_name("a b.service").error().to_string() ==
          "invalid unit name `a b.service`: character ` ` is not allowed");
    CHECK(keel::unit_type_of("a.target") == keel::UnitType::Target);
    CHECK_FALSE(keel::unit_type_of("a.socket"));
}
