// Restarting a service that ended: Restart=, RestartSec=, RestartSteps=,
// the start limit, and no restarts during shutdown.
#include "tests/unit/manager_fixture.h"

#include <csignal>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using keel::ActiveState;
using keel::testing::exited;
using keel::testing::Fixture;
using keel::testing::killed;
using keel::testing::ms;
using keel::testing::s;

TEST_CASE("a crashing service restarts after RestartSec and stops at its start limit") {
    Fixture f;
    f.unit("crash.service", "[Service]\nExecStart=/bin/crash\nRestart=on-failure\n");
    f.load();
    f.start("crash.service");
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 1);
    for (int run = 1; run <= 5; ++run) {
        REQUIRE(f.main("crash.service") != 0);
        f.host.exit(f.main("crash.service"), exited(1));
        if (run == 5)
            break;
        CHECK(f.state("crash.service") == ActiveState::Activating);
        CHECK(f.sub("crash.service") == "auto-restart");
        f.host.advance(99 * ms); // RestartSec defaults to 100 ms
        CHECK(f.host.count("start crash.service ExecStart /bin/crash") == size_t(run));
        f.host.advance(1 * ms);
        CHECK(f.host.count("start crash.service ExecStart /bin/crash") == size_t(run + 1));
    }
    CHECK(f.host.said("crash.service: exited with status 1, restarting in 100 ms"));
    // The fifth failure within 10 s: one more start would be the sixth.
    f.host.advance(100 * ms);
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 5);
    CHECK(f.state("crash.service") == ActiveState::Failed);
    CHECK(f.info("crash.service").result == keel::ServiceResult::StartLimitHit);
    CHECK(f.info("crash.service").restarts == 5);
    CHECK(f.host.said("crash.service: start request repeated too quickly (5 starts within 10 s), "
                      "refusing to start"));
    f.host.advance(60 * s);
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 5); // it stays failed

    // Starting it by hand is a fresh start (systemd's reset-failed + start).
    f.start("crash.service");
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 6);
    CHECK(f.state("crash.service") == ActiveState::Active);
}

TEST_CASE("restarts spread over more than StartLimitIntervalSec go on") {
    Fixture f;
    f.unit("crash.service", "[Unit]\nStartLimitIntervalSec=1s\nStartLimitBurst=2\n[Service]\n"
                            "ExecStart=/bin/crash\nRestart=always\nRestartSec=600ms\n");
    f.load();
    f.start("crash.service");
    for (int run = 0; run < 6; ++run) {
        f.host.exit(f.main("crash.service"), exited(0));
        f.host.advance(600 * ms);
    }
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 7);
    CHECK(f.state("crash.service") == ActiveState::Active);
}

TEST_CASE("RestartSteps= grows the delay from RestartSec to RestartMaxDelaySec") {
    Fixture f;
    f.unit("crash.service", "[Unit]\nStartLimitBurst=0\n[Service]\nExecStart=/bin/crash\n"
                            "Restart=on-failure\nRestartSec=100ms\nRestartSteps=2\n"
                            "RestartMaxDelaySec=400ms\n");
    f.load();
    f.start("crash.service");
    f.host.exit(f.main("crash.service"), exited(1));
    CHECK(f.host.said("restarting in 100 ms"));
    f.host.advance(100 * ms);
    f.host.exit(f.main("crash.service"), exited(1));
    CHECK(f.host.said("restarting in 200 ms"));
    f.host.advance(200 * ms);
    f.host.exit(f.main("crash.service"), exited(1));
    CHECK(f.host.said("restarting in 400 ms"));
    f.host.advance(400 * ms);
    f.host.exit(f.main("crash.service"), exited(1));
    CHECK(f.host.messages.back().ends_with("restarting in 400 ms"));
}

TEST_CASE("Restart= decides by how the service ended") {
    struct Case {
        std::string policy;
        int status;
        bool restarts;
    };
    for (const Case& c :
         std::vector<Case>{{"on-failure", exited(0), false},
                           {"on-failure", exited(2), true},
                           {"on-failure", killed(SIGSEGV), true},
                           {"on-failure", killed(SIGTERM), false}, // clean for a daemon
                           {"on-abnormal", exited(2), false},
                           {"on-abnormal", killed(SIGKILL), true},
                           {"on-success", exited(0), true},
                           {"on-abort", killed(SIGABRT), true},
                           {"on-abort", exited(3), false},
                           {"always", exited(0), true},
                           {"no", exited(1), false}}) {
        CAPTURE(c.policy);
        CAPTURE(c.status);
        Fixture f;
        f.unit("svc.service", "[Service]\nExecStart=/bin/svc\nRestart=" + c.policy + "\n");
        f.load();
        f.start("svc.service");
        f.host.exit(f.main("svc.service"), c.status);
        CHECK((f.sub("svc.service") == "auto-restart") == c.restarts);
    }
}

TEST_CASE("a crash-looping service is not restarted during shutdown") {
    Fixture f;
    f.unit("crash.service", "[Service]\nExecStart=/bin/crash\nRestart=always\n");
    f.load();
    f.start("crash.service");
    f.host.exit(f.main("crash.service"), exited(1));
    CHECK(f.sub("crash.service") == "auto-restart");
    bool done = false;
    f.manager.shutdown([&] { done = true; });
    CHECK(done);
    f.host.advance(1 * s);
    CHECK(f.host.count("start crash.service ExecStart /bin/crash") == 1);
}
