// Stopping a service: ExecStop=, the stop signals and their escalation,
// KillMode=, leftover helpers, BindsTo=, and stopping while starting.
#include "tests/unit/manager_fixture.h"

#include <algorithm>
#include <csignal>
#include <doctest/doctest.h>
#include <string>

using keel::ActiveState;
using keel::JobResult;
using keel::testing::exited;
using keel::testing::Fixture;
using keel::testing::killed;
using keel::testing::ms;
using keel::testing::s;

TEST_CASE("a service that ignores SIGTERM is killed with SIGKILL after TimeoutStopSec") {
    Fixture f;
    f.unit("stubborn.service", "[Service]\nExecStart=/bin/stubborn\nTimeoutStopSec=3s\n");
    f.load();
    f.start("stubborn.service");
    f.host.ignore_sigterm.insert("stubborn.service");
    f.stop("stubborn.service");
    CHECK(f.host.happened("kill stubborn.service all SIGTERM"));
    CHECK(f.host.happened("kill stubborn.service all SIGCONT"));
    f.host.deliver();
    CHECK(f.state("stubborn.service") == ActiveState::Deactivating);
    CHECK(f.sub("stubborn.service") == "stop-sigterm");
    f.host.advance(2999 * ms);
    CHECK_FALSE(f.host.happened("kill stubborn.service all SIGKILL"));
    f.host.advance(1 * ms);
    CHECK(f.host.happened("kill stubborn.service all SIGKILL"));
    CHECK(f.host.said("stubborn.service: did not stop within 3 s, sending SIGKILL"));
    f.host.deliver();
    CHECK(f.state("stubborn.service") == ActiveState::Failed);
    CHECK(f.info("stubborn.service").result == keel::ServiceResult::Timeout);
    CHECK(f.results["stubborn.service"] == JobResult::Done); // the stop itself succeeded
}

TEST_CASE("a clean stop runs ExecStop= with $MAINPID, then signals what is left") {
    Fixture f;
    f.unit("web.service", "[Service]\nExecStart=/bin/web\nExecStop=/bin/webctl stop $MAINPID\n"
                          "ExecStopPost=/bin/cleanup\n");
    f.load();
    f.start("web.service");
    pid_t web = f.main("web.service");
    f.stop("web.service");
    CHECK(f.sub("web.service") == "stop");
    pid_t ctl = f.control("web.service");
    auto& env = f.host.processes[ctl].environment;
    CHECK(std::find(env.begin(), env.end(), keel::cat("MAINPID=", web)) != env.end());
    f.host.exit(web, exited(0)); // webctl made it quit
    f.host.exit(ctl, exited(0));
    CHECK_FALSE(f.host.happened("kill web.service all SIGTERM")); // nothing left to signal
    CHECK(f.sub("web.service") == "stop-post");
    f.host.exit(f.control("web.service"), exited(0));
    CHECK(f.state("web.service") == ActiveState::Inactive);
    CHECK(f.host.said("Stopped web.service."));
    CHECK(f.host.happened("stopped web.service"));
}

TEST_CASE("leftover helpers are signalled and waited for after the main process exits") {
    Fixture f;
    f.unit("web.service", "[Service]\nExecStart=/bin/web\n");
    f.load();
    f.start("web.service");
    f.host.processes[777] = {"web.service", keel::ExecPhase::Start, {"helper"}, {}, true};
    f.host.ignore_sigterm.insert("web.service");
    f.host.exit(f.main("web.service"), exited(0));
    CHECK(f.host.happened("kill web.service all SIGTERM"));
    CHECK(f.state("web.service") == ActiveState::Deactivating);
    f.host.advance(90 * s);
    CHECK(f.host.happened("kill web.service all SIGKILL"));
    f.host.advance(100 * ms); // the helper is gone; polling notices
    CHECK(f.state("web.service") == ActiveState::Failed);
}

TEST_CASE("KillMode= chooses which processes get the stop signal") {
    Fixture f;
    f.unit("p.service", "[Service]\nExecStart=/bin/p\nKillMode=process\nKillSignal=SIGINT\n");
    f.unit("m.service", "[Service]\nExecStart=/bin/m\nKillMode=mixed\n");
    f.unit("n.service", "[Service]\nExecStart=/bin/n\nKillMode=none\n");
    f.load();
    for (std::string name : {"p", "m", "n"})
        f.start(name + ".service");
    f.host.processes[901] = {"m.service", keel::ExecPhase::Start, {"helper"}, {}, true};
    f.stop("p.service");
    CHECK(f.host.happened("kill p.service main SIGINT"));
    f.stop("m.service");
    CHECK(f.host.happened("kill m.service main SIGTERM"));
    f.host.deliver();
    CHECK(f.host.happened("kill m.service all SIGKILL")); // the rest, once main is gone
    f.host.deliver();
    f.host.advance(100 * ms);
    CHECK(f.state("m.service") == ActiveState::Inactive);
    f.stop("n.service");
    CHECK(f.state("n.service") == ActiveState::Inactive);
    CHECK(std::none_of(f.host.events.begin(), f.host.events.end(),
                       [](const std::string& e) { return e.starts_with("kill n.service"); }));
}

TEST_CASE("BindsTo= stops the dependent when the unit it is bound to stops") {
    Fixture f;
    f.unit("vpn.service", "[Service]\nExecStart=/bin/vpn\n");
    f.unit("app.service",
           "[Unit]\nBindsTo=vpn.service\nAfter=vpn.service\n[Service]\nExecStart=/bin/app\n");
    f.load();
    f.start("app.service");
    CHECK(f.state("vpn.service") == ActiveState::Active);
    CHECK(f.state("app.service") == ActiveState::Active);
    f.host.exit(f.main("vpn.service"), exited(1));
    CHECK(f.host.happened("kill app.service all SIGTERM"));
    f.host.deliver();
    CHECK(f.state("app.service") == ActiveState::Inactive);
}

TEST_CASE("stopping a service that is still starting ends the start") {
    Fixture f;
    f.unit("slow.service", "[Service]\nType=notify\nExecStart=/bin/slow\n");
    f.load();
    f.start("slow.service");
    f.stop("slow.service");
    CHECK(f.results["slow.service"] == JobResult::Canceled);
    CHECK(f.host.happened("kill slow.service all SIGTERM"));
    f.host.deliver();
    CHECK(f.state("slow.service") == ActiveState::Inactive);
}
