// The service manager, driven without processes: a fake host records what
// would be started and signalled, the tests play the processes' part
// (exits, sd_notify messages) and move a fake clock.
#include "init/manager.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <map>
#include <set>

namespace {

using keel::ActiveState;
using keel::JobResult;
using keel::JobType;
using keel::testing::TempDir;

// A wait status: exited with `code`, or killed by `signo`.
int exited(int code) {
    return code << 8;
}
int killed(int signo) {
    return signo;
}

std::string_view target_name(keel::KillTarget target) {
    switch (target) {
    case keel::KillTarget::Main:
        return "main";
    case keel::KillTarget::Control:
        return "control";
    case keel::KillTarget::All:
        return "all";
    }
    return "?";
}

class FakeHost final : public keel::ManagerHost {
public:
    struct Process {
        std::string unit;
        keel::ExecPhase phase;
        std::vector<std::string> argv;
        std::vector<std::string> environment;
        bool alive = true;
    };

    keel::Manager* manager = nullptr;
    uint64_t now = 1'000'000'000;
    uint64_t wakeup = 0;
    pid_t next_pid = 100;
    std::map<pid_t, Process> processes;
    std::vector<std::string>
        events; // "start a.service ExecStart /bin/a", "kill a.service all SIGTERM"
    std::vector<std::string> messages;
    std::set<std::string> failing_programs;   // start_process fails for these
    std::set<std::string> ignore_sigterm;     // units whose processes survive SIGTERM
    std::set<std::string> unmet;              // condition arguments that do not hold
    std::vector<std::pair<pid_t, int>> dying; // signalled processes, exits not yet delivered

    uint64_t now_usec() override { return now; }
    void schedule_wakeup(uint64_t at) override { wakeup = at; }

    keel::Result<pid_t> start_process(const keel::Unit& unit, const keel::ExecCommand& command,
                                      keel::ExecPhase phase,
                                      const std::vector<std::string>& environment) override {
        if (failing_programs.contains(command.argv[0]))
            return keel::errno_error(ENOENT, keel::cat("start ", keel::quoted(command.argv[0])));
        pid_t pid = next_pid++;
        processes[pid] = {unit.name, phase, command.argv, environment, true};
        events.push_back(
            keel::cat("start ", unit.name, " ", keel::describe(phase), " ", command.argv[0]));
        return pid;
    }

    void kill_processes(const keel::Unit& unit, keel::KillTarget target, int signo, pid_t main,
                        pid_t control) override {
        events.push_back(
            keel::cat("kill ", unit.name, " ", target_name(target), " ", keel::signal_name(signo)));
        if (signo == SIGCONT)
            return;
        for (auto& [pid, process] : processes) {
            bool hit = target == keel::KillTarget::All    ? process.unit == unit.name
                       : target == keel::KillTarget::Main ? pid == main
                                                          : pid == control;
            if (!hit || !process.alive)
                continue;
            if (signo != SIGKILL && ignore_sigterm.contains(unit.name))
                continue;
            process.alive = false;
            dying.emplace_back(pid, killed(signo));
        }
    }

    bool has_processes(const keel::Unit& unit) override {
        // Only helpers count here: main and control exits are reported.
        for (const auto& [pid, process] : processes)
            if (process.unit == unit.name && process.alive && !manager->unit_of_pid(pid))
                return true;
        return false;
    }

    bool condition_holds(const keel::Condition& condition) override {
        return !unmet.contains(condition.argument) != condition.negate;
    }
    void unit_stopped(const keel::Unit& unit) override { events.push_back("stopped " + unit.name); }
    std::optional<std::string> unit_of_pid(pid_t pid) override {
        auto it = processes.find(pid);
        if (it == processes.end())
            return std::nullopt;
        return it->second.unit;
    }
    void record(const std::string&, int, const std::string& message) override {
        messages.push_back(message);
    }

    // --- the test's side ---

    /// The process reports its exit.
    void exit(pid_t pid, int status) {
        REQUIRE(processes.contains(pid));
        processes[pid].alive = false;
        manager->on_process_exit(pid, status);
    }
    /// Processes killed by signals report their exits.
    void deliver() {
        auto batch = std::move(dying);
        dying.clear();
        for (auto [pid, status] : batch)
            manager->on_process_exit(pid, status);
    }
    void notify(pid_t pid, std::string_view text) {
        auto message = keel::parse_notify_message(text);
        REQUIRE(message);
        struct ucred sender {
            pid, 0, 0
        };
        manager->on_notify(sender, *message);
    }
    /// Moves the clock, firing the manager's wakeups on the way.
    void advance(uint64_t usec) {
        uint64_t target = now + usec;
        for (int guard = 0; guard < 10000 && wakeup && wakeup <= target; ++guard) {
            now = std::max(now, wakeup);
            manager->on_timer();
        }
        now = target;
    }
    /// Whether a message containing `text` was recorded.
    bool said(std::string_view text) const {
        return std::any_of(messages.begin(), messages.end(),
                           [&](const std::string& m) { return m.find(text) != std::string::npos; });
    }
    size_t count(std::string_view event) const {
        return size_t(std::count(events.begin(), events.end(), std::string(event)));
    }
    bool happened(std::string_view event) const { return count(event) > 0; }
    /// Position of an event (for order checks); events.size() when absent.
    size_t position(std::string_view event) const {
        return size_t(std::find(events.begin(), events.end(), std::string(event)) - events.begin());
    }
};

struct Fixture {
    TempDir dir;
    FakeHost host;
    keel::Manager manager{host};
    std::map<std::string, JobResult> results;

    Fixture() { host.manager = &manager; }

    void unit(const std::string& name, std::string_view text) {
        REQUIRE(keel::write_new_file(dir / name, text));
    }
    void want(const std::string& target, const std::string& name) {
        REQUIRE(keel::make_directories(dir / (target + ".wants")));
        REQUIRE(keel::write_new_file(dir / (target + ".wants/" + name), ""));
    }
    void load() { manager.load(keel::UnitCatalog::scan({dir.path()}), keel::SpecifierContext{}); }
    void enqueue(JobType type, const std::string& name) {
        auto queued =
            manager.enqueue(type, name, [this, name](JobResult result) { results[name] = result; });
        REQUIRE_MESSAGE(queued, queued.error().to_string());
    }
    void start(const std::string& name) { enqueue(JobType::Start, name); }
    void stop(const std::string& name) { enqueue(JobType::Stop, name); }
    keel::UnitInfo info(const std::string& name) {
        auto found = manager.unit(name);
        REQUIRE(found);
        return *found;
    }
    ActiveState state(const std::string& name) { return info(name).active_state; }
    std::string sub(const std::string& name) { return info(name).sub_state; }
    pid_t main(const std::string& name) { return info(name).main_pid; }
    pid_t control(const std::string& name) { return info(name).control_pid; }
};

constexpr uint64_t ms = 1000;
constexpr uint64_t s = 1'000'000;

} // namespace

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

TEST_CASE("an ordering cycle is broken by ignoring one edge, reported, and the units still start") {
    Fixture f;
    f.unit("a.service", "[Unit]\nAfter=c.service\n[Service]\nType=oneshot\nExecStart=/bin/a\n");
    f.unit("b.service", "[Unit]\nAfter=a.service\n[Service]\nType=oneshot\nExecStart=/bin/b\n");
    f.unit("c.service", "[Unit]\nAfter=b.service\n[Service]\nType=oneshot\nExecStart=/bin/c\n");
    f.unit("all.target", "[Unit]\nWants=a.service b.service c.service\n");
    f.load();
    REQUIRE(f.manager.broken_cycles().size() == 1);
    CHECK(f.host.said("found ordering cycle: "));
    CHECK(f.host.said(f.manager.broken_cycles()[0]));
    f.start("all.target");
    for (int i = 0; i < 3; ++i) {
        std::vector<pid_t> running;
        for (auto& [pid, process] : f.host.processes)
            if (process.alive)
                running.push_back(pid);
        REQUIRE(running.size() == 1); // still ordered, as a chain
        f.host.exit(running[0], exited(0));
    }
    CHECK(f.state("all.target") == ActiveState::Active);
}

TEST_CASE("a cycle through a requirement drops the edge no requirement depends on") {
    Fixture f;
    f.unit("a.service",
           "[Unit]\nRequires=b.service\nAfter=b.service\n[Service]\nExecStart=/bin/a\n");
    f.unit("b.service", "[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/b\n");
    f.load();
    REQUIRE(f.manager.broken_cycles().size() == 1);
    CHECK(f.manager.broken_cycles()[0] == "b.service After=a.service");
}

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

TEST_CASE("a unit that fails to load is reported, the others run, and requiring it fails") {
    Fixture f;
    f.unit("broken.service", "[Service]\nExecStart=/bin/x\nRestart=sometimes\n");
    f.unit("good.service", "[Service]\nExecStart=/bin/good\n");
    f.unit("needy.service", "[Unit]\nRequires=broken.service\n[Service]\nExecStart=/bin/needy\n");
    f.want("multi-user.target", "broken.service");
    f.want("multi-user.target", "good.service");
    f.want("multi-user.target", "needy.service");
    f.load();
    CHECK(f.host.said("failed to load: " + (f.dir / "broken.service") +
                      ":3: Restart: unknown value `sometimes`"));
    CHECK(f.info("broken.service").load_state == keel::LoadState::Error);
    f.start("default.target");
    CHECK(f.state("good.service") == ActiveState::Active);
    CHECK(f.state("needy.service") == ActiveState::Inactive);
    CHECK(f.state("multi-user.target") == ActiveState::Active);
    auto refused = f.manager.enqueue(JobType::Start, "broken.service");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().starts_with("unit `broken.service` failed to load: "));
    CHECK(f.manager.enqueue(JobType::Start, "missing.service").error().to_string() ==
          "unit `missing.service` not found");
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

TEST_CASE("daemon-reload picks up new units and keeps running ones running") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStart=/bin/a\n");
    f.load();
    f.start("a.service");
    pid_t a = f.main("a.service");
    f.unit("a.service", "[Unit]\nDescription=Changed\n[Service]\nExecStart=/bin/a2\n");
    f.unit("b.service", "[Service]\nExecStart=/bin/b\n");
    f.load();
    CHECK(f.main("a.service") == a);
    CHECK(f.info("a.service").description == "Changed");
    f.start("b.service");
    CHECK(f.state("b.service") == ActiveState::Active);
}
