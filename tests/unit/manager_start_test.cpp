// Starting a service: conditions and assertions, ExecStartPre=, programs
// that cannot be started, oneshot commands in order, and reload.
#include "tests/unit/manager_fixture.h"

#include <doctest/doctest.h>

using keel::ActiveState;
using keel::JobResult;
using keel::JobType;
using keel::testing::exited;
using keel::testing::Fixture;

TEST_CASE("a failed condition skips the unit without failing it, and dependents still start") {
    Fixture f;
    f.unit("opt.service",
           "[Unit]\nConditionPathExists=/etc/opt.conf\n[Service]\nExecStart=/bin/opt\n");
    f.unit("web.service",
           "[Unit]\nRequires=opt.service\nAfter=opt.service\n[Service]\nExecStart=/bin/web\n");
    f.host.unmet.insert("/etc/opt.conf");
    f.load();
    f.start("web.service");
    CHECK_FALSE(f.host.happened("start opt.service ExecStart /bin/opt"));
    CHECK(f.state("opt.service") == ActiveState::Inactive);
    CHECK(f.info("opt.service").condition_failed == "ConditionPathExists=/etc/opt.conf");
    CHECK(
        f.host.said("opt.service: skipped, condition not met: ConditionPathExists=/etc/opt.conf"));
    CHECK(f.state("web.service") == ActiveState::Active);
    CHECK(f.results["web.service"] == JobResult::Done);
}

TEST_CASE("triggering conditions need one to hold; a failed assertion fails the start") {
    Fixture f;
    f.unit(
        "t.service",
        "[Unit]\nConditionPathExists=|/a\nConditionPathExists=|/b\n[Service]\nExecStart=/bin/t\n");
    f.unit("u.service", "[Unit]\nAssertPathExists=/c\n[Service]\nExecStart=/bin/u\n");
    f.host.unmet = {"/a", "/c"};
    f.load();
    f.start("t.service");
    CHECK(f.state("t.service") == ActiveState::Active); // /b holds
    f.start("u.service");
    CHECK(f.state("u.service") == ActiveState::Failed);
    CHECK(f.info("u.service").result == keel::ServiceResult::Assert);
    CHECK(f.results["u.service"] == JobResult::Failed);
}

TEST_CASE("ExecStartPre= runs first; its failure fails the start, a `-` one does not") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStartPre=/bin/check\nExecStartPre=-/bin/optional\n"
                        "ExecStart=/bin/a\nExecStartPost=/bin/announce\n");
    f.unit("b.service", "[Service]\nExecStartPre=/bin/check-b\nExecStart=/bin/b\n");
    f.load();
    f.start("a.service");
    CHECK(f.sub("a.service") == "start-pre");
    f.host.exit(f.control("a.service"), exited(0));
    f.host.exit(f.control("a.service"), exited(1)); // ignored: `-`
    CHECK(f.sub("a.service") == "start-post");
    CHECK(f.main("a.service") != 0);
    CHECK(f.state("a.service") == ActiveState::Activating);
    f.host.exit(f.control("a.service"), exited(0));
    CHECK(f.state("a.service") == ActiveState::Active);

    f.start("b.service");
    f.host.exit(f.control("b.service"), exited(2));
    CHECK(f.state("b.service") == ActiveState::Failed);
    CHECK(f.info("b.service").result == keel::ServiceResult::ExitCode);
    CHECK_FALSE(f.host.happened("start b.service ExecStart /bin/b"));
    CHECK(f.results["b.service"] == JobResult::Failed);
}

TEST_CASE("a program that cannot be started fails the unit with result resources") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStart=/bin/missing\n");
    f.host.failing_programs.insert("/bin/missing");
    f.load();
    f.start("a.service");
    CHECK(f.state("a.service") == ActiveState::Failed);
    CHECK(f.info("a.service").result == keel::ServiceResult::Resources);
    CHECK(f.host.said(
        "a.service: ExecStart=/bin/missing: start `/bin/missing`: No such file or directory"));
}

TEST_CASE("a oneshot service runs its commands in order; dependents wait for the last") {
    Fixture f;
    f.unit("setup.service", "[Service]\nType=oneshot\nExecStart=/bin/one\nExecStart=/bin/two\n"
                            "RemainAfterExit=yes\n");
    f.unit("app.service",
           "[Unit]\nAfter=setup.service\nRequires=setup.service\n[Service]\nExecStart=/bin/app\n");
    f.load();
    f.start("app.service");
    f.host.exit(f.main("setup.service"), exited(0));
    CHECK(f.host.happened("start setup.service ExecStart /bin/two"));
    CHECK_FALSE(f.host.happened("start app.service ExecStart /bin/app"));
    f.host.exit(f.main("setup.service"), exited(0));
    CHECK(f.state("setup.service") == ActiveState::Active);
    CHECK(f.sub("setup.service") == "exited");
    CHECK(f.host.happened("start app.service ExecStart /bin/app"));
    CHECK(f.host.said("Finished setup.service."));
}

TEST_CASE("reload runs ExecReload= and keeps the service running") {
    Fixture f;
    f.unit("web.service", "[Service]\nExecStart=/bin/web\nExecReload=/bin/kill -HUP $MAINPID\n");
    f.unit("plain.service", "[Service]\nExecStart=/bin/plain\n");
    f.load();
    f.start("web.service");
    f.start("plain.service");
    pid_t web = f.main("web.service");
    f.enqueue(JobType::Reload, "web.service");
    CHECK(f.state("web.service") == ActiveState::Reloading);
    f.host.exit(f.control("web.service"), exited(0));
    CHECK(f.state("web.service") == ActiveState::Active);
    CHECK(f.main("web.service") == web);
    CHECK(f.results["web.service"] == JobResult::Done);
    CHECK(f.manager.enqueue(JobType::Reload, "plain.service").error().to_string() ==
          "unit `plain.service` does not support reload (no ExecReload=)");
}
