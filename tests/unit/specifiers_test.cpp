// Specifiers: %n, %i, %H ... expanded in a unit's values.
#include "tests/unit/unit_model_fixture.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using keel::testing::parse;

TEST_CASE("specifiers expand to the unit's name, instance and the machine's values") {
    std::vector<std::string> warnings;
    auto unit = parse("[Unit]\nDescription=%N on %H (%i/%I/%p)\n[Service]\nExecStart=/bin/run "
                      "%n %f %t/%p %m 100%%\n",
                      warnings, "web@srv-data.service");
    REQUIRE(unit);
    CHECK(unit->description == "web@srv-data on node1 (srv-data/srv/data/web)");
    CHECK(unit->service.exec_start[0].argv ==
          std::vector<std::string>{"/bin/run", "web@srv-data.service", "/srv/data", "/run/web",
                                   "0123456789abcdef0123456789abcdef", "100%"});
}
