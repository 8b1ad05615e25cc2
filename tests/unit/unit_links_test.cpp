// Enabling and disabling a unit: the links in the admin directory.
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_model_fixture.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using keel::testing::context;
using keel::testing::TempDir;
using keel::testing::write;

TEST_CASE("enable links a unit into its targets' .wants/ and disable removes the links") {
    TempDir dir;
    std::string units = dir / "units";
    write(units + "/web.service",
          "[Service]\nExecStart=/bin/web\n[Install]\nWantedBy=multi-user.target\n"
          "RequiredBy=app.target\nAlias=www.service\n");
    write(units + "/static.service", "[Service]\nExecStart=/bin/x\n");
    auto catalog = keel::UnitCatalog::scan({units});
    std::vector<std::string> warnings;
    bool not_found;
    auto web = catalog.load("web.service", context(), warnings, not_found);
    REQUIRE(web);
    CHECK(catalog.enable_state(*web) == keel::EnableState::Disabled);

    auto changes = keel::enable_unit(*web, units);
    REQUIRE(changes);
    CHECK(*changes ==
          std::vector<std::string>{
              "Created symlink " + units + "/multi-user.target.wants/web.service \u2192 " + units +
                  "/web.service.",
              "Created symlink " + units + "/app.target.requires/web.service \u2192 " + units +
                  "/web.service.",
              "Created symlink " + units + "/www.service \u2192 " + units + "/web.service."});
    auto again = keel::enable_unit(*web, units);
    REQUIRE(again);
    CHECK(again->empty()); // already enabled: nothing to change

    auto enabled = keel::UnitCatalog::scan({units});
    CHECK(enabled.enable_state(*web) == keel::EnableState::Enabled);
    CHECK(enabled.resolve_alias("www.service") == "web.service");
    auto target = enabled.load("multi-user.target", context(), warnings, not_found);
    REQUIRE(target);
    CHECK(std::find(target->wants.begin(), target->wants.end(), "web.service") !=
          target->wants.end());
    auto app = enabled.load("app.target", context(), warnings, not_found);
    REQUIRE_FALSE(app); // no file and not built in: the .requires/ alone does not make a unit
    CHECK(not_found);

    auto removed = keel::disable_unit(*web, units);
    REQUIRE(removed);
    CHECK(removed->size() == 3);
    CHECK((*removed)[0].starts_with("Removed \""));
    CHECK(keel::UnitCatalog::scan({units}).enable_state(*web) == keel::EnableState::Disabled);

    auto fixed = catalog.load("static.service", context(), warnings, not_found);
    REQUIRE(fixed);
    CHECK(catalog.enable_state(*fixed) == keel::EnableState::Static);
    CHECK(keel::enable_unit(*fixed, units).error().to_string() ==
          "`static.service` has no [Install] section with WantedBy=, RequiredBy= or Alias=, so "
          "there is nothing to enable (start it, or make another unit want it)");
}
