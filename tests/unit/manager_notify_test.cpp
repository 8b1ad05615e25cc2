// sd_notify messages: READY=1, NotifyAccess=, MAINPID=, WATCHDOG=trigger
// and WATCHDOG_USEC=.
#include "tests/unit/manager_fixture.h"

#include <csignal>
#include <doctest/doctest.h>

using keel::ActiveState;
using keel::JobResult;
using keel::testing::exited;
using keel::testing::Fixture;
using keel::testing::ms;
using keel::testing::s;

TEST_CASE("a notify service gates its dependents until READY=1") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=notify\nExecStart=/bin/db\n");
    f.unit("web.service",
           "[Unit]\nAfter=db.service\nWants=db.service\n[Service]\nExecStart=/bin/web\n");
    f.load();
    f.start("web.service");
    pid_t db = f.main("db.service");
    CHECK(db != 0);
    CHECK(f.state("db.service") == ActiveState::Activating);
    CHECK(f.sub("db.service") == "start");
    f.host.advance(30 * s);
    CHECK_FALSE(f.host.happened("start web.service ExecStart /bin/web"));

    f.host.notify(db, "STATUS=Loading data\n");
    CHECK(f.info("db.service").status_text == "Loading data");
    CHECK(f.state("db.service") == ActiveState::Activating);

    f.host.notify(db, "READY=1\nSTATUS=Serving\n");
    CHECK(f.state("db.service") == ActiveState::Active);
    CHECK(f.info("db.service").status_text == "Serving");
    CHECK(f.host.happened("start web.service ExecStart /bin/web"));
    CHECK(f.results["web.service"] == JobResult::Done);
}

TEST_CASE("only the main process may send READY=1 unless NotifyAccess=all says otherwise") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=notify\nExecStart=/bin/db\n");
    f.load();
    f.start("db.service");
    f.host.processes[999] = {"db.service", keel::ExecPhase::Start, {"/bin/helper"}, {}, true};
    f.host.notify(999, "READY=1");
    CHECK(f.state("db.service") == ActiveState::Activating);
    CHECK(f.host.said("notify message from pid 999 ignored"));

    Fixture g;
    g.unit("db.service", "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/db\n");
    g.load();
    g.start("db.service");
    g.host.processes[999] = {"db.service", keel::ExecPhase::Start, {"/bin/helper"}, {}, true};
    g.host.notify(999, "READY=1");
    CHECK(g.state("db.service") == ActiveState::Active);
}

TEST_CASE("MAINPID= moves supervision to the process the service names") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=notify\nExecStart=/bin/db-wrapper\n");
    f.load();
    f.start("db.service");
    pid_t wrapper = f.main("db.service");
    f.host.processes[4242] = {"db.service", keel::ExecPhase::Start, {"/bin/db"}, {}, true};
    f.host.notify(wrapper, "MAINPID=4242\nREADY=1");
    CHECK(f.main("db.service") == 4242);
    f.host.exit(wrapper, exited(0)); // no longer the main process: nothing happens
    CHECK(f.state("db.service") == ActiveState::Active);
    f.host.exit(4242, exited(1));
    CHECK(f.state("db.service") == ActiveState::Failed);
}

TEST_CASE("WATCHDOG=trigger and WATCHDOG_USEC= act at once") {
    Fixture f;
    f.unit("dog.service", "[Service]\nType=notify\nExecStart=/bin/dog\nWatchdogSec=10s\n");
    f.load();
    f.start("dog.service");
    pid_t pid = f.main("dog.service");
    f.host.notify(pid, "READY=1\nWATCHDOG_USEC=500000");
    f.host.advance(500 * ms);
    CHECK(f.host.happened("kill dog.service all SIGABRT"));

    Fixture g;
    g.unit("dog.service", "[Service]\nType=notify\nExecStart=/bin/dog\nWatchdogSec=10s\n");
    g.load();
    g.start("dog.service");
    g.host.notify(g.main("dog.service"), "READY=1");
    g.host.notify(g.main("dog.service"), "WATCHDOG=trigger");
    CHECK(g.host.happened("kill dog.service all SIGABRT"));
}
