// Processes that end: which exits count as clean, a notify service that
// exits before READY=1, and commands found missing after their start.
#include "tests/unit/manager_fixture.h"

#include <doctest/doctest.h>
#include <string>

using keel::ActiveState;
using keel::JobResult;
using keel::testing::exited;
using keel::testing::Fixture;
using keel::testing::s;

TEST_CASE("a notify service that exits before READY=1 fails with result protocol") {
    Fixture f;
    f.unit("db.service", "[Service]\nType=notify\nExecStart=/bin/db\n");
    f.load();
    f.start("db.service");
    f.host.exit(f.main("db.service"), exited(0));
    CHECK(f.state("db.service") == ActiveState::Failed);
    CHECK(f.info("db.service").result == keel::ServiceResult::Protocol);
    CHECK(f.results["db.service"] == JobResult::Failed);
}

TEST_CASE("SuccessExitStatus= and the `-` prefix make an exit count as clean") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStart=/bin/a\nSuccessExitStatus=3\nRestart=on-failure\n");
    f.unit("b.service", "[Service]\nExecStart=-/bin/b\nRestart=on-failure\n");
    f.load();
    f.start("a.service");
    f.start("b.service");
    f.host.exit(f.main("a.service"), exited(3));
    f.host.exit(f.main("b.service"), exited(7));
    CHECK(f.state("a.service") == ActiveState::Inactive);
    CHECK(f.state("b.service") == ActiveState::Inactive);
}

TEST_CASE("a program found missing after its start (exec not waited for) fails the same way") {
    Fixture f;
    // What the executor does for a child that exits before its exec.
    auto missing = [&](pid_t pid, std::string_view program) {
        REQUIRE(pid != 0);
        f.manager.on_start_failure(
            pid, keel::Error::from_errno(ENOENT, keel::cat("start `", program, "`: exec")));
        f.host.exit(pid, exited(127));
    };
    f.unit("a.service", "[Service]\nExecStart=/bin/missing\nRestart=no\n");
    f.unit("b.service", "[Service]\nExecStartPre=/bin/gone\nExecStart=/bin/b\n");
    f.load();
    f.start("a.service");
    missing(f.main("a.service"), "/bin/missing");
    CHECK(f.state("a.service") == ActiveState::Failed);
    CHECK(f.info("a.service").result == keel::ServiceResult::Resources);
    CHECK(f.host.said("a.service: ExecStart=/bin/missing: start `/bin/missing`: exec: No such file "
                      "or directory"));
    // A control command's failure names its phase.
    f.start("b.service");
    missing(f.control("b.service"), "/bin/gone");
    CHECK(f.state("b.service") == ActiveState::Failed);
    CHECK(f.host.said(
        "b.service: ExecStartPre=/bin/gone: start `/bin/gone`: exec: No such file or directory"));
    CHECK_FALSE(f.host.happened("start b.service ExecStart /bin/b"));
}

TEST_CASE(
    "the main process is judged by its own ExecStart= line while a later ExecStartPost= runs") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStart=-/bin/a\nExecStartPost=/bin/p1\n"
                        "ExecStartPost=/bin/p2\nRestart=on-failure\n");
    f.unit("b.service", "[Service]\nExecStart=/bin/b\nExecStartPost=/bin/q1\n"
                        "ExecStartPost=/bin/q2\n");
    f.load();
    f.start("a.service");
    f.host.exit(f.control("a.service"), exited(0));
    REQUIRE(f.host.happened("start a.service ExecStartPost /bin/p2"));
    // ExecStart=-: a failing exit is clean, whichever post command runs.
    f.host.exit(f.main("a.service"), exited(7));
    f.host.exit(f.control("a.service"), exited(0));
    CHECK(f.state("a.service") == ActiveState::Inactive);
    CHECK(f.info("a.service").result == keel::ServiceResult::Success);

    f.start("b.service");
    f.host.exit(f.control("b.service"), exited(0));
    REQUIRE(f.host.happened("start b.service ExecStartPost /bin/q2"));
    pid_t main = f.main("b.service");
    f.manager.on_start_failure(main, keel::Error::from_errno(ENOENT, "start `/bin/b`: exec"));
    f.host.exit(main, exited(127));
    CHECK(f.host.said(
        "b.service: ExecStart=/bin/b: start `/bin/b`: exec: No such file or directory"));
}
