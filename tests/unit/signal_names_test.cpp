// Signal names and numbers, as kill(1) spells them.
#include "base/signal_names.h"

#include <csignal>
#include <doctest/doctest.h>

TEST_CASE("signals are named and numbered like kill(1)") {
    CHECK(*keel::parse_signal("SIGTERM") == SIGTERM);
    CHECK(*keel::parse_signal("HUP") == SIGHUP);
    CHECK(*keel::parse_signal("9") == 9);
    CHECK(keel::signal_name(SIGABRT) == "SIGABRT");
    CHECK(keel::signal_name(40) == "signal 40");
}
