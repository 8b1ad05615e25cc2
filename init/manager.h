// The service manager: the registry of loaded units and the job engine that
// starts and stops them, as a state machine driven by events.
//
// Events in: jobs (start/stop/restart/reload of a unit), child exits, sd_notify
// messages and timer wakeups. Effects out, all through ManagerHost: starting
// and signalling processes, reading the clock, arming one wakeup, checking
// conditions, recording messages. Nothing else touches the system, so
// tests/unit/manager*_test.cpp drive it with a fake host and fake time.
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

/// A service's detailed state (systemd's sub-states); targets use Dead and
/// Running ("active").
///
/// The service state machine. The Manager's private steps (begin_start,
/// enter_stop, ...; each is described where it is declared) move a service
/// from state to state, driven by jobs, process exits, notify messages and
/// deadlines. set_state() is the only place the state changes.
///
///   Dead, Failed  Inactive (Failed: the last run's ServiceResult is not
///                 Success). A start job (run_job) calls begin_start: a
///                 Condition*= that does not hold leaves it Dead and the job
///                 skipped; a failed Assert*= or the start limit makes it
///                 Failed; otherwise StartPre, or Start when there is no
///                 ExecStartPre=. A target goes straight to Running.
///   StartPre      ExecStartPre= commands, one at a time; after the last,
///                 Start (run_start_commands).
///   Start         ExecStart=: the main process (a oneshot's commands in
///                 turn). after_start moves on: for Type=simple and exec as
///                 soon as it is spawned, for notify at READY=1, for oneshot
///                 once the last command exited cleanly. Next is StartPost,
///                 or enter_running when there is no ExecStartPost=.
///   StartPost     ExecStartPost= commands; after the last, enter_running.
///   Running       enter_running with the main process alive.
///   Exited        enter_running with no main process left, under
///                 RemainAfterExit=yes; without it the stop path begins
///                 (enter_stop) instead.
///   Reload        ExecReload= commands (begin_reload, for a reload job in
///                 Running or Exited); after the last, or when one fails or
///                 times out, back through enter_running.
///   Stop          ExecStop= commands (enter_stop; only for a service that
///                 reached Running); after the last, or past
///                 TimeoutStopSec=, StopSigterm.
///   StopSigterm   KillSignal= sent to what KillMode= names (enter_signal);
///                 once main, control and leftover processes are gone
///                 (check_stopped), StopPost or enter_dead. KillMode=mixed
///                 moves on to StopSigkill for the leftovers once the main
///                 process is gone; KillMode=none sends nothing and goes on.
///                 Past TimeoutStopSec=: StopSigkill (with SendSIGKILL=no the
///                 processes are left and the stop goes on).
///   StopWatchdog  The same with WatchdogSignal=, after a missed watchdog
///                 (on_watchdog, from Start, StartPost, Running or Reload).
///   StopSigkill   FinalKillSignal= sent; once the processes are gone, or
///                 when TimeoutStopSec= passes again, StopPost or enter_dead.
///   StopPost      ExecStopPost= commands (enter_stop_post); after the last,
///                 or on its timeout, enter_dead.
///   AutoRestart   enter_dead found that Restart= wants the service again;
///                 after the delay, start_restart queues a start job and
///                 begin_start runs again. Otherwise enter_dead ends in
///                 Failed or Dead. A stop job ends the wait (Dead or Failed).
///
/// A failure on the way up (a command that fails or cannot be started,
/// TimeoutStartSec= passing, a main process that ends before the service is
/// up) is kept by set_result and leads to StopSigterm; ExecStop= is skipped,
/// since the service never reached Running. A stop job calls begin_stop:
/// enter_stop, or StopSigterm while the service is still starting. A main
/// process that ends in Running goes through enter_running: an unclean exit
/// leads to StopSigterm, a clean one to Exited or the stop path.
///
/// As ActiveState: Dead is inactive, Failed failed; StartPre, Start,
/// StartPost and AutoRestart are activating; Running and Exited active;
/// Reload reloading; Stop and the Stop* states deactivating.
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
/// A service's sub-state names, as `keel status` shows them (a target's
/// are "active" and "dead").
inline constexpr auto kServiceStateNames = name_table<ServiceState>({
    {ServiceState::Dead, "dead"},
    {ServiceState::StartPre, "start-pre"},
    {ServiceState::Start, "start"},
    {ServiceState::StartPost, "start-post"},
    {ServiceState::Running, "running"},
    {ServiceState::Exited, "exited"},
    {ServiceState::Reload, "reload"},
    {ServiceState::Stop, "stop"},
    {ServiceState::StopWatchdog, "stop-watchdog"},
    {ServiceState::StopSigterm, "stop-sigterm"},
    {ServiceState::StopSigkill, "stop-sigkill"},
    {ServiceState::StopPost, "stop-post"},
    {ServiceState::Failed, "failed"},
    {ServiceState::AutoRestart, "auto-restart"},
});

/// Which command of a service is being run.
enum class ExecPhase { StartPre, Start, StartPost, Reload, Stop, StopPost };
/// Named after the key that lists its commands.
inline constexpr auto kExecPhaseNames = name_table<ExecPhase>({
    {ExecPhase::StartPre, "ExecStartPre"},
    {ExecPhase::Start, "ExecStart"},
    {ExecPhase::StartPost, "ExecStartPost"},
    {ExecPhase::Reload, "ExecReload"},
    {ExecPhase::Stop, "ExecStop"},
    {ExecPhase::StopPost, "ExecStopPost"},
});
inline std::string_view describe(ExecPhase phase) {
    return kExecPhaseNames.name(phase);
}

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

    // The registry and the graph (manager.cpp, manager_graph.cpp).

    /// The record of `name` (aliases resolved), created and loaded from the
    /// catalog on first use; creating one marks the graph dirty, so the next
    /// enqueue() or settle() rebuilds it. Called for every unit a load, a
    /// job or config() names.
    Record& ensure(std::string_view name);
    /// (Re)reads the record's configuration from the catalog and records its
    /// warnings. On success the record holds the new config (a running
    /// service goes on with its processes; the new config applies from its
    /// next start). On failure load_state becomes NotFound or Error with
    /// load_error set, and the config is dropped only when the unit is
    /// inactive with no job. Called by ensure() and, for every known unit, by
    /// load().
    void load_record(Record& record);
    /// Recomputes every record's after, before, required_by, bound_by and
    /// conflicts from the loaded configurations, adds systemd's default
    /// dependencies (services after basic.target, targets after what they
    /// pull in), then calls break_cycles(). Leaves the graph clean
    /// (m_graph_dirty false). Called by load(), and by enqueue() and settle()
    /// when a unit was loaded on demand.
    void rebuild_graph();
    /// Finds ordering cycles in the before edges and removes one edge of
    /// each, preferring one that no Requires=/BindsTo= depends on; each
    /// dropped edge is recorded in m_broken_cycles and reported as an error.
    /// Leaves after/before cycle-free. Called at the end of rebuild_graph().
    void break_cycles();
    /// The record of `name` as given (no alias resolution, no loading), or
    /// nullptr.
    Record* find(std::string_view name);
    const Record* find(std::string_view name) const;
    /// The snapshot of a record that units() and unit() return.
    UnitInfo info(const Record& record) const;

    // The job engine (manager_jobs.cpp). Jobs are queued by the add_*
    // steps, merged by set_job, and run by settle() once runnable; nothing
    // in here runs a job directly.

    /// Queues a start of `record` and, recursively, of the units it pulls in
    /// (Requires=, BindsTo=, Wants=), and a stop of the units it conflicts
    /// with. A unit already active without a job gets no job (`done` gets
    /// Done at once, its dependencies are still pulled in); a unit that is
    /// not loaded gets none either (the units requiring it fail when their
    /// jobs run). `seen` holds the units this request already visited: a
    /// second visit only completes `done` with Done. Called by enqueue() and
    /// add_restart().
    void add_start(Record& record, JobCallback done, std::set<std::string>& seen);
    /// Queues a stop of `record` and, recursively, of the units that require
    /// it (required_by: Requires=, BindsTo=, Requisite=, PartOf= on it). An
    /// inactive unit without a job gets no job (`done` gets Done at once).
    /// Called by enqueue(), add_start() (Conflicts=) and shutdown().
    void add_stop(Record& record, JobCallback done, std::set<std::string>& seen);
    /// What a restart does to a unit that is not running.
    enum class IfInactive {
        Start, // the unit asked for: a restart of a stopped unit starts it
        Leave, // a unit that requires a restarted one: only restarted if it runs
    };
    /// Queues a restart of `record`, a start of what it pulls in, and a
    /// restart of the units that require it (with IfInactive::Leave). An
    /// inactive unit without a job is treated as `if_inactive` says. Called
    /// by enqueue() and recursively.
    void add_restart(Record& record, IfInactive if_inactive, JobCallback done,
                     std::set<std::string>& seen);
    /// Merges a job of `type` into the record's job, as systemd merges jobs:
    /// a start meets a stop: a stop under way becomes a restart, one not yet
    /// running is replaced (its callers get Canceled); a reload of a unit
    /// being stopped is refused (`done` gets Canceled); a stop replaces any
    /// other job, canceling its callers and interrupting a start or reload
    /// under way (a restart's stop half goes on); a restart turns a start,
    /// reload or stop into a restart; anything else joins the job as it is.
    /// `done` joins the job's callers.
    /// Leaves the job queued; settle() runs it. Called by the add_* steps,
    /// enqueue() (reload), start_restart(), enter_dead() (BindsTo=) and
    /// shutdown().
    void set_job(Record& record, JobType type, JobCallback done);
    /// Whether the record's job may run now: it is not running already; a
    /// start or reload waits for a stop of the unit still in progress and
    /// for any job of the units it is After=; any job waits for the stop and
    /// restart jobs of the units it is Before= (stops go first, in reverse
    /// order). Called by settle().
    bool runnable(const Record& record) const;
    /// Takes the next step of the record's job. Start: fails with
    /// Dependency when a Requires=/BindsTo= unit is not loaded or a
    /// Requisite= one is not active, is Done when the unit is active,
    /// otherwise marks the job running and calls begin_start (unless the
    /// unit is already starting). Stop and restart: end an AutoRestart wait
    /// (Dead or Failed); for an inactive unit a stop is Done and a restart
    /// turns into a start (run on settle()'s next pass); otherwise the job
    /// runs, stop_requested is set (no auto-restart) and begin_stop is
    /// called unless the unit is already stopping. Reload: Failed unless the
    /// unit is active, otherwise begin_reload. Called by settle().
    void run_job(Record& record);
    /// Ends the record's job with `result`: its callers' callbacks are queued
    /// in m_finished (settle() runs them). A start that ends Failed or
    /// Dependency also ends, with Dependency, the start jobs not yet running
    /// of the units that have Requires=, BindsTo= or Requisite= on this one.
    /// Called by run_job() and by the
    /// state machine when a job's goal is reached or missed.
    void finish_job(Record& record, JobResult result);
    /// The dispatcher, called at the end of every entry point: rebuilds a
    /// dirty graph, runs every runnable job until none is left, completes a
    /// shutdown once everything is inactive, runs the finished jobs'
    /// callbacks (which may queue more work) and repeats until nothing
    /// changes; then reschedule(). A call from inside a callback returns at
    /// once: the outer call picks its work up.
    void settle();

    // The service state machine (manager_start.cpp, manager_stop.cpp,
    // manager_restart.cpp, manager_timers.cpp, manager_exits.cpp and the
    // shared steps in manager_state.cpp). See ServiceState for the overview.

    /// The first step of a start (from Dead, Failed or AutoRestart): checks
    /// the Condition*= and Assert*= lines (a condition that does not hold
    /// leaves the unit Dead and the job Skipped, with condition_failed set;
    /// a failed assertion makes it Failed with result Assert) and the start
    /// limit (Failed, StartLimitHit). A target then goes to Running. A
    /// service's per-run state is reset (result, failure, reached_running,
    /// stop_requested, STATUS=, watchdog) and it enters StartPre with its
    /// first ExecStartPre=, or Start through run_start_commands(). Called by
    /// run_job() for a start job.
    void begin_start(Record& record);
    /// The first step of a stop: a target goes to enter_dead(); a service
    /// still starting goes to StopSigterm (no ExecStop=), any other to
    /// enter_stop(). Called by run_job() for a stop or restart job, unless
    /// the unit is already stopping.
    void begin_stop(Record& record);
    /// Running or Exited -> Reload, with the first ExecReload= as the control
    /// process. When it cannot be started the reload job fails and the
    /// service goes back through enter_running() (a failed reload does not
    /// fail the service). Called by run_job() for a reload job.
    void begin_reload(Record& record);
    /// Enters `state`; the only place a record's state changes. Updates
    /// state_since when the ActiveState changes, clears the deadlines that
    /// do not apply in the new state (the restart time outside AutoRestart,
    /// the watchdog outside Start, StartPost, Running and Reload), arms
    /// timeout_at from TimeoutStartSec= (starting states and Reload) or
    /// TimeoutStopSec= (stopping states), and finishes a running start job
    /// with Done on entering Running or Exited.
    void set_state(Record& record, ServiceState state);
    /// Keeps the first failure of this run as its result and message ("…,
    /// restarting in 100 ms"); later ones are ignored until begin_start()
    /// resets the result. Does not change the state: the caller takes the
    /// next step.
    void set_result(Record& record, ServiceResult result, std::string failure);
    /// Starts command `index` of `phase` as the record's control process
    /// (control_pid, control_phase, control_index, m_pids). False when there
    /// is no such command, or when it could not be started (then noted, with
    /// result Resources); the caller decides where the state machine goes.
    bool run_command(Record& record, ExecPhase phase, size_t index);
    /// Enters Start (if not in it yet) and starts ExecStart= number `index`
    /// as the main process, arming the watchdog. Type=simple and exec go on
    /// to after_start() at once; notify waits for READY=1 (on_notify), a
    /// oneshot for its exit (main_exited() starts the next command). With no
    /// ExecStart= (a oneshot with only ExecStop=) after_start() follows at
    /// once; a command that cannot be started leads to StopSigterm with
    /// result Resources. Called by begin_start(), control_exited() after the
    /// last ExecStartPre=, and main_exited() for a oneshot's next command.
    void run_start_commands(Record& record, size_t index);
    /// The service counts as started: StartPost with the first
    /// ExecStartPost= (enter_stop() when it cannot be started), or
    /// enter_running() when there is none. Called by run_start_commands(),
    /// main_exited() (a oneshot's last command) and on_notify() (READY=1).
    void after_start(Record& record);
    /// Settles a service that is up (after ExecStartPost=, a reload, or a
    /// main process that ended while Running): a failure kept meanwhile
    /// leads to StopSigterm; with a main process it is Running (the watchdog
    /// armed if it is not); without one it is Exited under
    /// RemainAfterExit=yes, otherwise enter_stop(). Sets reached_running, and
    /// the first time logs "Started ..." ("Finished ..." for a oneshot).
    void enter_running(Record& record);
    /// Stop with the first ExecStop= when the service reached Running and
    /// has one; otherwise, or when it cannot be started, StopSigterm through
    /// enter_signal(). Called by begin_stop(), enter_running() (nothing left
    /// running), and on failures in StartPost.
    void enter_stop(Record& record);
    /// Enters `state` (StopSigterm, StopWatchdog or StopSigkill) and sends
    /// its signal (KillSignal=, WatchdogSignal=, FinalKillSignal=; SIGCONT
    /// after it) to what KillMode= names: the whole unit for control-group,
    /// and for mixed in StopSigkill, else the main and control processes.
    /// KillMode=none sends nothing, stops watching the pids and goes on to
    /// enter_stop_post(). Then check_stopped(), since nothing may be left.
    void enter_signal(Record& record, ServiceState state);
    /// In a signal state (StopSigterm, StopWatchdog, StopSigkill), moves on
    /// once the processes are gone: nothing while the main or control
    /// process lives (their exits call this again); with no leftovers (only
    /// KillMode=control-group and mixed look for them) enter_stop_post();
    /// with leftovers, KillMode=mixed escalates to StopSigkill, otherwise it
    /// polls again in 100 ms (poll_at). Called by enter_signal(), process
    /// exits, and on_timer() when poll_at is due.
    void check_stopped(Record& record);
    /// StopPost with the first ExecStopPost=, or enter_dead() when there is
    /// none or it cannot be started.
    void enter_stop_post(Record& record);
    /// The end of every stop: forgets the pids and tells the host the unit
    /// stopped (its cgroup goes). When should_restart(), AutoRestart with
    /// restart_at set and the restart counter raised (a start job waiting on
    /// the unit keeps waiting); otherwise Failed (result not Success) or
    /// Dead, and the job: a running restart's stop half is over (it becomes
    /// a start, run by settle()), a stop is Done, a running start or reload
    /// ends Failed or Done. Finally the active units BindsTo= this one get a
    /// stop job. Clears stop_requested.
    void enter_dead(Record& record);
    /// The main process exited (on_process_exit() cleared main_pid and
    /// recorded the exit). Clean means exit 0, SuccessExitStatus=, a `-`
    /// ExecStart=, or (not for a oneshot) SIGHUP, SIGINT, SIGTERM or SIGPIPE.
    /// In Start: a oneshot runs its next command or after_start(), or on an
    /// unclean exit goes to StopSigterm; any other service (notify, before
    /// READY=1) fails, with result Protocol when the exit was clean, and goes
    /// to StopSigterm. In
    /// StartPost and Reload the failure is only kept (the control command's
    /// end decides); in Running enter_running(); in a signal state
    /// check_stopped().
    void main_exited(Record& record, int status);
    /// The control process exited; clean means exit 0 or a `-` command. In
    /// StartPre, StartPost, Reload, Stop and StopPost the next command of
    /// the phase runs, or after the last the phase's next step follows
    /// (Start, enter_running(), enter_running() ending the reload job,
    /// StopSigterm, enter_dead()). A failure ends StartPre with StopSigterm,
    /// StartPost with enter_stop() and a reload with its job Failed; in Stop
    /// and StopPost a failure is noted and the stop goes on. In a signal
    /// state check_stopped().
    void control_exited(Record& record, int status);
    /// timeout_at passed (TimeoutStartSec= or TimeoutStopSec=, armed by
    /// set_state()): in StartPre and Start the start fails (Timeout) into
    /// StopSigterm, in StartPost into enter_stop(); in Reload the reload
    /// command is killed and the job fails, back through enter_running(); in
    /// Stop, StopSigterm (Timeout); in StopSigterm and StopWatchdog,
    /// StopSigkill, or with SendSIGKILL=no the processes are left and
    /// enter_stop_post() follows; in StopSigkill the processes are left and
    /// enter_stop_post() follows; in StopPost the command is killed and
    /// enter_dead() follows. Called by on_timer().
    void on_deadline(Record& record);
    /// The watchdog fired (watchdog_at passed, or WATCHDOG=trigger): in
    /// Start, StartPost, Running or Reload the service fails with result
    /// Watchdog into StopWatchdog. Called by on_timer() and on_notify().
    void on_watchdog(Record& record);
    /// restart_at passed in AutoRestart: queues a start job (or lets a start
    /// job that waited through the stop run again), which settle() runs,
    /// ordering and all, into begin_start(). The state stays AutoRestart
    /// until then. Called by on_timer().
    void start_restart(Record& record);
    /// Whether enter_dead() should go to AutoRestart: only a service, not
    /// during shutdown, not after a stop that was asked for (stop_requested,
    /// or a stop or restart job), not after StartLimitHit or Assert; then as
    /// Restart= says for the run's result.
    bool should_restart(const Record& record) const;
    /// The delay before the next auto-restart: RestartSec=, growing
    /// geometrically toward RestartMaxDelaySec= over RestartSteps= restarts.
    uint64_t restart_delay(const Record& record) const;
    /// Sets watchdog_at one WatchdogSec= (or WATCHDOG_USEC=) from now, when
    /// the service has a watchdog. Called when the main process starts, on
    /// entering Running, and for WATCHDOG=1 and WATCHDOG_USEC=.
    void arm_watchdog(Record& record);
    /// Stops watching `pid` (m_pids) and sets it to 0: its exit will no
    /// longer count.
    void forget_pid(pid_t& pid);
    /// What the manager adds to a command's environment: MAINPID= and
    /// WATCHDOG_USEC= when they apply.
    std::vector<std::string> extra_environment(const Record& record) const;
    /// Records a message about the unit through the host.
    void note(const Record& record, int priority, const std::string& message);
    /// Asks the host for a wakeup at the earliest deadline of any unit
    /// (timeout, watchdog, restart, poll), when that changed. Called at the
    /// end of settle().
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
