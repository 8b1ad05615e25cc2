// The real side of the manager's seam (ManagerHost): processes through the
// one spawn path (base/spawn.h), each service in its own cgroup when cgroup
// v2 is there (else in process groups it tracks), stdout/stderr into the
// journal, the clock and one reactor timer for the manager's wakeups.
#pragma once

#include "base/fd.h"
#include "base/reactor.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "init/journal.h"
#include "init/manager.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace keel {

struct ExecutorOptions {
    /// The environment every service starts from ("KEY=value"): PATH and
    /// what init adds; the unit's Environment= comes on top.
    std::vector<std::string> base_environment;
    /// $NOTIFY_SOCKET for services that may send sd_notify messages.
    std::string notify_socket;
    /// A cgroup per service under keel.slice (system mode with cgroup v2).
    bool use_cgroups = false;
    std::string cgroup_root = std::string(kCgroupRoot);
    /// Starts run SCHED_FIFO until the end of the loop's turn (see
    /// Executor::hold_cpu); for PID 1 of a machine.
    bool hold_cpu_while_starting = false;
};

class Executor final : public ManagerHost {
public:
    /// `journal` may be null: output then goes where init's own goes.
    Executor(Reactor& reactor, Journal* journal, ExecutorOptions options);
    ~Executor() override;

    /// Where exits and wakeups are delivered.
    void set_manager(Manager* manager) { m_manager = manager; }
    /// Runs before a child's exit is handed to the manager (init drains the
    /// notify socket there, so a READY=1 sent just before exiting counts).
    void set_before_exit(std::function<void()> hook) { m_before_exit = std::move(hook); }
    /// Puts back the scheduling policy that starts raised (hold_cpu), now
    /// rather than at the end of the loop's turn: before a loop that ends.
    void release_cpu();
    /// Memory and task counts of a service's cgroup, when it has one.
    std::optional<CgroupStats> stats(const std::string& unit) const;

    uint64_t now_usec() override;
    void schedule_wakeup(uint64_t at_usec) override;
    Result<pid_t> start_process(const Unit& unit, const ExecCommand& command, ExecPhase phase,
                                const std::vector<std::string>& environment) override;
    void kill_processes(const Unit& unit, KillTarget target, int signo, pid_t main_pid,
                        pid_t control_pid) override;
    bool has_processes(const Unit& unit) override;
    bool condition_holds(const Condition& condition) override;
    void unit_stopped(const Unit& unit) override;
    std::optional<std::string> unit_of_pid(pid_t pid) override;
    void record(const std::string& unit, int priority, const std::string& message) override;
    void record_progress(const std::string& unit, int priority,
                         const std::string& message) override;

private:
    Result<SpawnOptions> build(const Unit& unit, const ExecCommand& command,
                               const std::vector<std::string>& extra);
    /// The unit's group, made if need be.
    Result<const Cgroup*> cgroup_of(const Unit& unit);
    void journal(const std::string& unit, int priority, const std::string& message);
    // Progress lines not yet on the console; a line of another unit (or the
    // end of the loop turn) prints them first, a line of their own unit
    // drops them.
    void print_progress(const std::string& except_unit = {});
    // Runs this thread SCHED_FIFO until the loop's turn ends, so that the
    // processes it starts do not take its CPU before it has started the
    // rest of them.
    void hold_cpu();

    Reactor& m_reactor;
    Journal* m_journal;
    ExecutorOptions m_options;
    Manager* m_manager = nullptr;
    std::function<void()> m_before_exit;
    std::optional<Reactor::TimerId> m_timer;
    Fd m_dev_null;
    std::map<std::string, Cgroup> m_cgroups;                 // unit -> its group
    std::map<std::string, std::set<pid_t>> m_process_groups; // unit -> pgids, without cgroups
    struct Progress {
        std::string unit;
        int priority;
        std::string message;
    };
    std::vector<Progress> m_progress;
    std::optional<ThreadScheduling> m_held_from; // the policy to go back to
    std::shared_ptr<Executor*> m_self = std::make_shared<Executor*>(this); // for deferred work
};

} // namespace keel
