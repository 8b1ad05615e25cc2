// The service manager: the registry of loaded units and the job engine that
// starts and stops them, as a state machine driven by events.
//
// Events in: jobs (start/stop/restart/reload of a unit), child exits, sd_notify
// messages and timer wakeups. Effects out, all through ManagerHost: starting
// and signalling processes, reading the clock, arming one wakeup, checking
// conditions, recording messages. Nothing else touches the system, so
// tests/unit/manager_test.cpp drives it with a fake host and fake time.
//
// The rules are systemd's: Requires=/BindsTo=/Wants= pull units in,
// After=/Before= order their jobs (a start waits for the starts of what it
// is after; stops run in reverse; a stop goes before a start either way),
// Conflicts= stops the other side, independent jobs run at once. Ordering
// cycles are broken at load by dropping one After/Before edge, and reported.
#pragma once

#include "base/notify.h"
#include "init/unit_model.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace keel {

/// systemd's high-level unit states.
enum class ActiveState { Inactive, Activating, Active, Reloading, Deactivating, Failed };
std::string_view describe(ActiveState state);

enum class LoadState { Loaded, NotFound, Error };
std::string_view describe(LoadState state);

/// A service's detailed state (systemd's sub-states); targets use Dead and
/// Running ("active").
enum class ServiceState {
    Dead,
    StartPre,
    Start,
    StartPost,
    Running,
    Exited,
    Reload,
    Stop,
    StopWatchdog,
    StopSigterm,
    StopSigkill,
    StopPost,
    Failed,
    AutoRestart,
};

/// Why a service last stopped or failed (systemd's Result=).
enum class ServiceResult {
    Success,
    Resources,     // a process could not be started (missing program, bad user)
    Protocol,      // a notify service exited before READY=1
    Timeout,       // a start or stop timeout passed
    ExitCode,      // a process exited non-zero
    Signal,        // a process was killed by a signal
    CoreDump,      // ... and dumped core
    Watchdog,      // WatchdogSec= passed without WATCHDOG=1
    StartLimitHit, // more than StartLimitBurst= starts in StartLimitIntervalSec=
    Assert,        // an Assert*= failed
};
std::string_view describe(ServiceResult result);

enum class JobType { Start, Stop, Restart, Reload };
std::string_view describe(JobType type);

enum class JobResult {
    Done,       // the unit reached the state asked for
    Skipped,    // a Condition*= did not hold; the unit stays inactive (not an error)
    Failed,     // the unit failed (its ServiceResult says how)
    Dependency, // a unit it requires failed to start
    Canceled,   // replaced by a conflicting job (stop instead of start...)
};
std::string_view describe(JobResult result);

/// Which command of a service is being run.
enum class ExecPhase { StartPre, Start, StartPost, Reload, Stop, StopPost };
std::string_view describe(ExecPhase phase); // "ExecStartPre", ...

/// Which of a unit's processes a signal goes to.
enum class KillTarget { Main, Control, All };

/// Everything the manager does to the outside world.
class ManagerHost {
public:
    virtual ~ManagerHost() = default;
    /// A clock in microseconds (CLOCK_BOOTTIME in init).
    virtual uint64_t now_usec() = 0;
    /// Call Manager::on_timer() at `at_usec` on the same clock; 0 cancels.
    /// Replaces the previous wakeup.
    virtual void schedule_wakeup(uint64_t at_usec) = 0;
    /// Starts one command of `unit`. `environment` holds what the manager
    /// adds (MAINPID=, WATCHDOG_USEC=); the host adds the rest. The exit is
    /// reported back through Manager::on_process_exit().
    virtual Result<pid_t> start_process(const Unit& unit, const ExecCommand& command,
                                        ExecPhase phase,
                                        const std::vector<std::string>& environment) = 0;
    /// Sends `signo` to the unit's processes that `target` names; All means
    /// its cgroup, or without cgroups the process groups of what it started.
    virtual void kill_processes(const Unit& unit, KillTarget target, int signo, pid_t main_pid,
                                pid_t control_pid) = 0;
    /// True while any process of the unit is left (after main and control
    /// exited: helpers it forked).
    virtual bool has_processes(const Unit& unit) = 0;
    virtual bool condition_holds(const Condition& condition) = 0;
    /// The unit is inactive: release what the host keeps for it (its cgroup).
    virtual void unit_stopped(const Unit& unit) = 0;
    /// The unit whose processes include `pid` (cgroup membership), if known.
    virtual std::optional<std::string> unit_of_pid(pid_t pid) = 0;
    /// A message about a unit for the journal and the log. priority: syslog (3 error ... 7 debug).
    virtual void record(const std::string& unit, int priority, const std::string& message) = 0;
    /// A line that announces a step ("Starting web.service..."). The host may
    /// keep it off the console when the unit's next line comes in the same
    /// turn of the loop (the step is done: "Started ..." says enough); the
    /// journal gets it either way.
    virtual void record_progress(const std::string& unit, int priority,
                                 const std::string& message) {
        record(unit, priority, message);
    }
};

/// A snapshot of one unit, for list-units and status.
struct UnitInfo {
    std::string name;
    std::string description;
    UnitType type = UnitType::Service;
    ServiceType service_type = ServiceType::Simple;
    LoadState load_state = LoadState::Loaded;
    std::string load_error;
    std::string path;
    std::vector<std::string> dropins;
    ActiveState active_state = ActiveState::Inactive;
    std::string sub_state;
    EnableState enable_state = EnableState::Static;
    pid_t main_pid = 0;
    pid_t control_pid = 0;
    int exit_status = 0;   // last exit of the main process: code, or 128 + signal
    std::string last_exit; // "exited with status 1", "" when none yet
    ServiceResult result = ServiceResult::Success;
    uint32_t restarts = 0;
    std::string status_text;       // the service's STATUS=
    std::string condition_failed;  // "ConditionPathExists=/x" when the last start was skipped
    uint64_t state_since_usec = 0; // host clock of the last active-state change
    std::optional<JobType> job;
};

class Manager {
public:
    using JobCallback = std::function<void(JobResult result)>;

    explicit Manager(ManagerHost& host) : m_host(host) {}
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    /// Loads every unit in `catalog` and everything they pull in (first load
    /// and daemon-reload alike). Running units keep their processes and
    /// state; their new configuration applies from their next start.
    /// Errors and warnings are recorded, and a unit that fails to load does
    /// not stop the others.
    void load(UnitCatalog catalog, const SpecifierContext& context);
    const UnitCatalog& catalog() const { return m_catalog; }

    /// Queues a job for `unit` with what it pulls in and conflicts with;
    /// `done` runs once the job finishes. Fails at once when the unit cannot
    /// be loaded, a reload is not possible, or the system is shutting down.
    /// A start asked for by a person also clears a start-limit failure.
    Result<void> enqueue(JobType type, std::string_view unit, JobCallback done = {});

    /// A child exited. False when the pid is none of the units'.
    bool on_process_exit(pid_t pid, int status);
    /// The command that `pid` was to run could not be started (the host did
    /// not wait for its exec, and tells before reporting the exit): noted and
    /// counted as when start_process fails at once.
    void on_start_failure(pid_t pid, const Error& error);
    /// A datagram arrived on the notify socket.
    void on_notify(const struct ucred& sender, const NotifyMessage& message);
    /// The wakeup asked for through ManagerHost::schedule_wakeup() is due.
    void on_timer();

    /// Stops every unit (reverse dependency order, each within its
    /// TimeoutStopSec=) and refuses new starts; `done` runs once nothing is
    /// left running.
    void shutdown(std::function<void()> done);
    bool shutting_down() const { return m_shutting_down; }

    std::vector<UnitInfo> units() const;
    std::optional<UnitInfo> unit(std::string_view name) const;
    /// The loaded configuration of a unit (loading it if needed).
    std::shared_ptr<const Unit> config(std::string_view name);
    /// The unit whose main or control process is `pid`.
    std::optional<std::string> unit_of_pid(pid_t pid) const;
    size_t jobs() const;
    /// The units that are failed now.
    size_t failed_units() const;
    /// Units known, and those of them whose files did not load (bad syntax).
    size_t unit_count() const { return m_units.size(); }
    size_t units_with_load_errors() const;
    /// Ordering edges ignored to break cycles at the last load, as
    /// "a.service After=b.service".
    const std::vector<std::string>& broken_cycles() const { return m_broken_cycles; }

private:
    struct Job {
        JobType type = JobType::Start;
        bool running = false;
        std::vector<JobCallback> waiters;
    };
    struct Record {
        std::string name;
        std::shared_ptr<const Unit> config;
        LoadState load_state = LoadState::Loaded;
        std::string load_error;
        ServiceState state = ServiceState::Dead;
        ServiceResult result = ServiceResult::Success;
        std::optional<Job> job;
        pid_t main_pid = 0;
        pid_t control_pid = 0;
        ExecPhase control_phase = ExecPhase::StartPre;
        size_t control_index = 0;     // which of control_phase's commands control_pid runs
        size_t main_index = 0;        // which ExecStart= main_pid runs (oneshot: several)
        bool reached_running = false; // ExecStop= runs only after a successful start
        bool stop_requested = false;  // a stop job, not a crash: no restart
        int exit_status = 0;
        std::string last_exit;
        std::string failure; // what went wrong, for "…, restarting in 100 ms"
        uint32_t restarts = 0;
        std::vector<uint64_t> start_times; // for the start limit
        std::string status_text;
        std::string condition_failed;
        uint64_t state_since = 0;
        uint64_t watchdog_usec = 0; // WatchdogSec=, or WATCHDOG_USEC= at runtime
        // Deadlines on the host clock, 0 = none.
        uint64_t timeout_at = 0;
        uint64_t watchdog_at = 0;
        uint64_t restart_at = 0;
        uint64_t poll_at = 0; // re-check leftover processes while stopping
        // Effective graph, rebuilt at each load.
        std::set<std::string> after, before; // ordering (cycle-free)
        std::set<std::string> required_by;   // Requires=/BindsTo=/PartOf= on us: stop with us
        std::set<std::string> bound_by;      // BindsTo= on us: stop when we stop
        std::set<std::string> conflicts;     // both directions
    };

    Record& ensure(std::string_view name);
    void load_record(Record& record);
    void rebuild_graph();
    void break_cycles();
    Record* find(std::string_view name);
    const Record* find(std::string_view name) const;
    UnitInfo info(const Record& record) const;

    // Jobs.
    void add_start(Record& record, JobCallback done, std::set<std::string>& seen);
    void add_stop(Record& record, JobCallback done, std::set<std::string>& seen);
    void add_restart(Record& record, bool only_if_active, JobCallback done,
                     std::set<std::string>& seen);
    void set_job(Record& record, JobType type, JobCallback done);
    bool runnable(const Record& record) const;
    void run_job(Record& record);
    void finish_job(Record& record, JobResult result);
    void settle();

    // Service state machine.
    void begin_start(Record& record);
    void begin_stop(Record& record);
    void begin_reload(Record& record);
    void set_state(Record& record, ServiceState state);
    void set_result(Record& record, ServiceResult result, std::string failure);
    bool run_command(Record& record, ExecPhase phase, size_t index);
    void run_start_commands(Record& record, size_t index);
    void after_start(Record& record);
    void enter_running(Record& record);
    void enter_stop(Record& record);
    void enter_signal(Record& record, ServiceState state);
    void check_stopped(Record& record);
    void enter_stop_post(Record& record);
    void enter_dead(Record& record);
    void main_exited(Record& record, int status);
    void control_exited(Record& record, int status);
    void on_deadline(Record& record);
    void on_watchdog(Record& record);
    void start_restart(Record& record);
    bool should_restart(const Record& record) const;
    uint64_t restart_delay(const Record& record) const;
    void arm_watchdog(Record& record);
    void forget_pid(pid_t& pid);
    std::vector<std::string> extra_environment(const Record& record) const;
    void note(const Record& record, int priority, const std::string& message);
    void reschedule();

    ManagerHost& m_host;
    UnitCatalog m_catalog;
    SpecifierContext m_context;
    std::map<std::string, Record, std::less<>> m_units;
    std::map<pid_t, std::string> m_pids; // main and control pids -> unit
    std::vector<std::string> m_broken_cycles;
    std::vector<std::pair<JobCallback, JobResult>> m_finished; // run once settled
    bool m_settling = false;
    bool m_graph_dirty = false; // a unit was loaded on demand since the last rebuild
    bool m_shutting_down = false;
    std::function<void()> m_shutdown_done;
    uint64_t m_scheduled = 0;
};

} // namespace keel
