// The Manager's test fixture, shared by tests/unit/manager*_test.cpp: a
// fake host records what would be started and signalled, the tests play
// the processes' part (exits, sd_notify messages) and move a fake clock.
#pragma once

#include "base/strings.h"
#include "base/sys.h"
#include "init/manager.h"
#include "tests/unit/temp_dir.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <map>
#include <set>

namespace keel::testing {

// A wait status: exited with `code`, or killed by `signo`.
inline int exited(int code) {
    return code << 8;
}
inline int killed(int signo) {
    return signo;
}

inline std::string_view target_name(keel::KillTarget target) {
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
    std::set<std::string> failing_programs; // start_process fails for these
    std::set<std::string> ignore_sigterm;   // units whose processes survive SIGTERM
    // Condition arguments that do not hold: the machine has no KV
    // configured (the built-in keel-kv.service is skipped) unless a test
    // says otherwise.
    std::set<std::string> unmet = {"/etc/keel/kv.conf", "keel.kv.name"};
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
        if (!queued) // not REQUIRE_MESSAGE: its message is built even on success
            FAIL(queued.error().to_string());
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

inline constexpr uint64_t ms = 1000;
inline constexpr uint64_t s = 1'000'000;

} // namespace keel::testing
