// The Manager's job engine: dependency order, parallel starts, what a
// failed requirement does to its dependents, stops and restarts that carry
// over to related units, Conflicts=, and shutdown in reverse order.
#include "tests/unit/manager_fixture.h"

#include <csignal>
#include <doctest/doctest.h>
#include <string>

using keel::ActiveState;
using keel::JobResult;
using keel::JobType;
using keel::testing::exited;
using keel::testing::Fixture;
using keel::testing::s;

TEST_CASE("units start in dependency order: a unit after another waits until it is up") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=oneshot\nExecStart=/bin/db\nRemainAfterExit=yes\n");
    f.unit("web.service",
           "[Unit]\nAfter=db.service\nRequires=db.service\n[Service]\nExecStart=/bin/web\n");
    f.want("multi-user.target", "web.service");
    f.load();
    f.start("default.target");
    CHECK(f.host.happened("start db.service ExecStart /bin/db"));
    CHECK_FALSE(f.host.happened("start web.service ExecStart /bin/web"));
    CHECK(f.state("db.service") == ActiveState::Activating);
    CHECK(f.state("multi-user.target") == ActiveState::Inactive);

    f.host.exit(f.main("db.service"), exited(0));
    CHECK(f.state("db.service") == ActiveState::Active);
    CHECK(f.sub("db.service") == "exited");
    CHECK(f.host.happened("start web.service ExecStart /bin/web"));
    CHECK(f.state("web.service") == ActiveState::Active);
    CHECK(f.state("multi-user.target") == ActiveState::Active); // after what it wants
    CHECK(f.results["default.target"] == JobResult::Done);
    CHECK(f.host.said("Reached target multi-user.target - Multi-User System."));
    CHECK(f.host.position("start db.service ExecStart /bin/db") <
          f.host.position("start web.service ExecStart /bin/web"));
}

TEST_CASE("independent units start in parallel, and what is after all of them waits for all") {
    Fixture f;
    for (std::string name : {"a", "b", "c"})
        f.unit(name + ".service", "[Service]\nType=oneshot\nExecStart=/bin/" + name + "\n");
    f.unit("d.service",
           "[Unit]\nAfter=a.service b.service c.service\n[Service]\nExecStart=/bin/d\n");
    f.unit("all.target", "[Unit]\nWants=a.service b.service c.service d.service\n");
    f.load();
    f.start("all.target");
    CHECK(f.host.happened("start a.service ExecStart /bin/a"));
    CHECK(f.host.happened("start b.service ExecStart /bin/b"));
    CHECK(f.host.happened("start c.service ExecStart /bin/c"));
    CHECK(f.host.processes.size() == 3); // all at once
    f.host.exit(f.main("b.service"), exited(0));
    f.host.exit(f.main("a.service"), exited(0));
    CHECK_FALSE(f.host.happened("start d.service ExecStart /bin/d"));
    f.host.exit(f.main("c.service"), exited(0));
    CHECK(f.host.happened("start d.service ExecStart /bin/d"));
    // A oneshot service without RemainAfterExit= is inactive once done.
    CHECK(f.state("a.service") == ActiveState::Inactive);
    CHECK(f.info("a.service").result == keel::ServiceResult::Success);
}

TEST_CASE("Requires= a unit that fails fails the dependent; Wants= does not") {
    Fixture f;
    f.unit("bad.service", "[Service]\nType=oneshot\nExecStart=/bin/bad\n");
    f.unit("strict.service",
           "[Unit]\nRequires=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/strict\n");
    f.unit("easy.service",
           "[Unit]\nWants=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/easy\n");
    f.load();
    f.start("strict.service");
    f.start("easy.service");
    f.host.exit(f.main("bad.service"), exited(1));
    CHECK(f.state("bad.service") == ActiveState::Failed);
    CHECK(f.results["strict.service"] == JobResult::Dependency);
    CHECK(f.state("strict.service") == ActiveState::Inactive);
    CHECK(f.results["easy.service"] == JobResult::Done);
    CHECK(f.state("easy.service") == ActiveState::Active);
}

TEST_CASE("stopping a unit stops the units that require it, and restart restarts them") {
    Fixture f;
    f.unit("db.service", "[Service]\nExecStart=/bin/db\n");
    f.unit("web.service",
           "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/web\n");
    f.load();
    f.start("web.service");
    pid_t web = f.main("web.service");
    f.enqueue(JobType::Restart, "db.service");
    CHECK(f.host.happened("kill web.service all SIGTERM"));
    CHECK_FALSE(f.host.happened("kill db.service all SIGTERM")); // web first: it is after db
    f.host.deliver();
    CHECK(f.host.happened("kill db.service all SIGTERM"));
    f.host.deliver();
    CHECK(f.host.count("start db.service ExecStart /bin/db") == 2);
    CHECK(f.host.count("start web.service ExecStart /bin/web") == 2);
    CHECK(f.main("web.service") != web);
    CHECK(f.results["db.service"] == JobResult::Done);

    f.stop("db.service");
    f.host.deliver();
    f.host.deliver();
    CHECK(f.state("web.service") == ActiveState::Inactive);
    CHECK(f.state("db.service") == ActiveState::Inactive);
}

TEST_CASE("a restart asked for while the unit is starting stops it and starts it again") {
    Fixture f;
    f.unit("slow.service", "[Service]\nType=notify\nExecStart=/bin/slow\n");
    f.load();
    auto started = f.manager.enqueue(JobType::Start, "slow.service",
                                     [&](JobResult result) { f.results["start"] = result; });
    REQUIRE(started);
    pid_t first = f.main("slow.service");
    CHECK(f.state("slow.service") == ActiveState::Activating);
    f.enqueue(JobType::Restart, "slow.service");
    CHECK(f.host.happened("kill slow.service all SIGTERM"));
    f.host.deliver();
    CHECK(f.host.count("start slow.service ExecStart /bin/slow") == 2);
    pid_t second = f.main("slow.service");
    CHECK(second != first);
    f.host.notify(second, "READY=1");
    CHECK(f.state("slow.service") == ActiveState::Active);
    CHECK(f.results["slow.service"] == JobResult::Done);
    CHECK(f.results["start"] == JobResult::Done); // merged into the restart, which did start it
}

TEST_CASE("shutdown ends even when a restart was merged into a start under way") {
    Fixture f;
    f.unit("slow.service", "[Service]\nType=notify\nExecStart=/bin/slow\n");
    f.load();
    f.start("slow.service");
    f.enqueue(JobType::Restart, "slow.service");
    bool done = false;
    f.manager.shutdown([&] { done = true; });
    f.host.deliver();
    CHECK(f.state("slow.service") == ActiveState::Inactive);
    CHECK(done);
}

TEST_CASE("Conflicts= stops the other unit when this one starts") {
    Fixture f;
    f.unit("old.service", "[Service]\nExecStart=/bin/old\n");
    f.unit("new.service", "[Unit]\nConflicts=old.service\n[Service]\nExecStart=/bin/new\n");
    f.load();
    f.start("old.service");
    f.start("new.service");
    CHECK(f.host.happened("kill old.service all SIGTERM"));
    f.host.deliver();
    CHECK(f.state("old.service") == ActiveState::Inactive);
    CHECK(f.state("new.service") == ActiveState::Active);
    f.start("old.service"); // and the other way around
    f.host.deliver();
    CHECK(f.state("new.service") == ActiveState::Inactive);
}

TEST_CASE("units stop in reverse dependency order at shutdown, each within its timeout") {
    Fixture f;
    f.unit("db.service", "[Service]\nExecStart=/bin/db\n");
    f.unit("web.service",
           "[Unit]\nAfter=db.service\n[Service]\nExecStart=/bin/web\nTimeoutStopSec=2s\n");
    f.want("multi-user.target", "db.service");
    f.want("multi-user.target", "web.service");
    f.load();
    f.start("default.target");
    CHECK(f.state("web.service") == ActiveState::Active);
    f.host.ignore_sigterm.insert("web.service");
    bool done = false;
    f.manager.shutdown([&] { done = true; });
    CHECK(f.host.happened("kill web.service all SIGTERM"));
    CHECK_FALSE(f.host.happened("kill db.service all SIGTERM")); // db stops after web
    f.host.deliver();
    f.host.advance(2 * s);
    CHECK(f.host.happened("kill web.service all SIGKILL"));
    f.host.deliver();
    CHECK(f.host.happened("kill db.service all SIGTERM"));
    CHECK_FALSE(done);
    f.host.deliver();
    CHECK(done);
    CHECK_FALSE(f.manager.enqueue(JobType::Start, "db.service"));
    CHECK(f.manager.enqueue(JobType::Start, "db.service").error().to_string() ==
          "the system is shutting down");
}

TEST_CASE("the KV runs under PID 1 only when configured, and boot waits until it is ready") {
    Fixture f;
    f.load();
    f.start("default.target");
    CHECK(f.state("multi-user.target") == ActiveState::Active);
    CHECK(f.state("keel-kv.service") == ActiveState::Inactive);
    CHECK(f.host.said("keel-kv.service: skipped, condition not met"));

    Fixture configured;
    configured.host.unmet.erase("keel.kv.name"); // keel.kv.name= on the kernel command line
    configured.load();
    configured.start("default.target");
    REQUIRE(configured.main("keel-kv.service") != 0);
    const auto& argv = configured.host.processes[configured.main("keel-kv.service")].argv;
    CHECK(argv == std::vector<std::string>{argv.front(), "kv", "role"});
    CHECK(configured.state("keel-kv.service") == ActiveState::Activating); // Type=notify
    CHECK(configured.state("multi-user.target") == ActiveState::Inactive);
}
