// Deadlines of the Manager: the start timeout and the watchdog.
#include "tests/unit/manager_fixture.h"

#include <algorithm>
#include <csignal>
#include <doctest/doctest.h>

using keel::ActiveState;
using keel::JobResult;
using keel::testing::Fixture;
using keel::testing::ms;
using keel::testing::s;

TEST_CASE("a notify service that never says READY=1 fails after TimeoutStartSec, and so do units "
          "requiring it") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=notify\nExecStart=/bin/db\nTimeoutStartSec=5s\n");
    f.unit("web.service",
           "[Unit]\nAfter=db.service\nRequires=db.service\n[Service]\nExecStart=/bin/web\n");
    f.load();
    f.start("web.service");
    f.host.advance(4 * s);
    CHECK(f.state("db.service") == ActiveState::Activating);
    f.host.advance(1 * s);
    CHECK(f.host.happened("kill db.service all SIGTERM"));
    CHECK(f.state("db.service") == ActiveState::Deactivating);
    f.host.deliver();
    CHECK(f.state("db.service") == ActiveState::Failed);
    CHECK(f.info("db.service").result == keel::ServiceResult::Timeout);
    CHECK(f.results["web.service"] == JobResult::Dependency);
    CHECK_FALSE(f.host.happened("start web.service ExecStart /bin/web"));
    CHECK(f.host.said("db.service: start did not finish within 5 s, terminating"));
}

TEST_CASE("a missed watchdog kills the service with SIGABRT and restarts it") {
    Fixture f;
    f.unit("dog.service", "[Service]\nType=notify\nExecStart=/bin/dog\nWatchdogSec=2s\n"
                          "Restart=on-failure\n");
    f.load();
    f.start("dog.service");
    pid_t first = f.main("dog.service");
    auto& env = f.host.processes[first].environment;
    CHECK(std::find(env.begin(), env.end(), "WATCHDOG_USEC=2000000") != env.end());
    f.host.notify(first, "READY=1");
    for (int i = 0; i < 5; ++i) { // fed in time: nothing happens
        f.host.advance(1500 * ms);
        f.host.notify(first, "WATCHDOG=1");
    }
    CHECK(f.state("dog.service") == ActiveState::Active);
    f.host.advance(1999 * ms);
    CHECK_FALSE(f.host.happened("kill dog.service all SIGABRT"));
    f.host.advance(1 * ms);
    CHECK(f.host.happened("kill dog.service all SIGABRT"));
    CHECK(f.host.said("dog.service: watchdog timeout (limit 2 s), killing it with SIGABRT"));
    f.host.deliver();
    CHECK(f.info("dog.service").result == keel::ServiceResult::Watchdog);
    CHECK(f.sub("dog.service") == "auto-restart");
    f.host.advance(100 * ms);
    CHECK(f.main("dog.service") != first);
    CHECK(f.host.count("start dog.service ExecStart /bin/dog") == 2);
}
