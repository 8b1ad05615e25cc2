// Executor: what the manager's decisions do on a real system. Runs on init's
// reactor thread; each call is short (no waiting on children: their exits
// arrive through the reactor's reaper).
#include "init/executor.h"

#include "base/log.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "base/users.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

void put(std::map<std::string, std::string>& env, std::string_view assignment) {
    size_t equals = assignment.find('=');
    if (equals == std::string_view::npos || equals == 0)
        return;
    env[std::string(assignment.substr(0, equals))] = std::string(assignment.substr(equals + 1));
}

// Groups from /etc/group that list `user` as a member (what initgroups(3)
// would find, without NSS).
std::vector<gid_t> member_groups(const std::string& user) {
    std::vector<gid_t> gids;
    auto text = read_file("/etc/group");
    if (!text)
        return gids;
    auto groups = parse_group(*text, "/etc/group");
    if (!groups)
        return gids;
    for (const GroupEntry& group : *groups)
        for (const std::string& member : group.members)
            if (member == user)
                gids.push_back(group.gid);
    return gids;
}

bool alive_group(pid_t pgid) {
    return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

} // namespace

Executor::Executor(Reactor& reactor, Journal* journal, ExecutorOptions options)
    : m_reactor(reactor), m_journal(journal), m_options(std::move(options)) {
    auto null = open_file("/dev/null", O_RDWR);
    if (null)
        m_dev_null = std::move(*null);
    else
        log_warning(cat("executor: ", null.error().to_string()));
}

Executor::~Executor() {
    print_progress();
    release_cpu();
    if (m_timer)
        m_reactor.cancel_timer(*m_timer);
}

uint64_t Executor::now_usec() {
    return boottime_usec();
}

void Executor::schedule_wakeup(uint64_t at_usec) {
    if (m_timer) {
        m_reactor.cancel_timer(*m_timer);
        m_timer.reset();
    }
    if (!at_usec)
        return;
    uint64_t now = now_usec();
    uint64_t delay = at_usec > now ? at_usec - now : 0;
    auto timer = m_reactor.add_timer(std::chrono::microseconds(delay), [this] {
        m_timer.reset();
        if (m_manager)
            m_manager->on_timer();
    });
    if (!timer) {
        log_error(cat("service manager: ", timer.error().to_string()));
        return;
    }
    m_timer = *timer;
}

Result<const Cgroup*> Executor::cgroup_of(const Unit& unit) {
    auto it = m_cgroups.find(unit.name);
    if (it != m_cgroups.end())
        return &it->second;
    CgroupLimits limits = unit.service.cgroup_limits;
    resolve_io_devices(limits); // IO*BandwidthMax='s disks, as they are now
    Cgroup group =
        TRY(Cgroup::create(cat(kKeelSlice, "/", unit.name), limits, m_options.cgroup_root));
    return &m_cgroups.emplace(unit.name, std::move(group)).first->second;
}

Result<SpawnOptions> Executor::build(const Unit& unit, const ExecCommand& command,
                                     const std::vector<std::string>& extra) {
    const ServiceConfig& service = unit.service;
    std::map<std::string, std::string> env;
    put(env, kDefaultPath);
    for (const std::string& entry : m_options.base_environment)
        put(env, entry);

    SpawnOptions options;
    std::optional<PasswdEntry> user;
    if (!service.user.empty()) {
        user = TRY_CTX(find_user(service.user), cat("User=", service.user));
        options.uid = user->uid;
        options.gid = user->gid;
        options.supplementary_groups = member_groups(user->name);
        env["HOME"] = user->home;
        env["USER"] = env["LOGNAME"] = user->name;
        env["SHELL"] = user->shell;
    }
    if (!service.group.empty()) {
        GroupEntry group = TRY_CTX(find_group(service.group), cat("Group=", service.group));
        options.gid = group.gid;
        if (!options.uid)
            options.supplementary_groups.clear();
    }
    for (const std::string& name : service.supplementary_groups) {
        GroupEntry group = TRY_CTX(find_group(name), cat("SupplementaryGroups=", name));
        options.supplementary_groups.push_back(group.gid);
        if (!options.gid)
            options.gid = ::getgid(); // setgroups happens together with a gid
    }

    for (const auto& [key, value] : service.environment)
        env[key] = value;
    for (const EnvironmentFile& file : service.environment_files) {
        auto text = read_file(file.path);
        if (!text) {
            if (file.optional && text.error().code() == ENOENT)
                continue;
            return std::unexpected(std::move(text).error().wrap("EnvironmentFile="));
        }
        for (auto& [key, value] : TRY(parse_environment_file(*text, file.path)))
            env[key] = value;
    }
    for (const std::string& entry : extra)
        put(env, entry);
    if (service.notify_access != NotifyAccess::None && !m_options.notify_socket.empty())
        env["NOTIFY_SOCKET"] = m_options.notify_socket;

    options.argv = expand_command_variables(command.argv, env);
    if (options.argv.empty() || options.argv[0].empty())
        return error(cat(quoted(command.text()), " is empty once variables are expanded"));
    for (const auto& [key, value] : env)
        options.environment.push_back(cat(key, "=", value));

    std::string directory = service.working_directory;
    if (directory == "~")
        directory = user ? user->home : "/root";
    if (!directory.empty() && service.working_directory_optional && !path_exists(directory))
        directory.clear();
    options.working_directory = directory;
    options.limits = service.limits;
    options.capability_mode = service.capability_mode;
    options.capabilities = service.capabilities;
    options.no_new_privileges = service.no_new_privileges;
    options.denied_syscalls = service.denied_syscalls;
    return options;
}

Result<pid_t> Executor::start_process(const Unit& unit, const ExecCommand& command, ExecPhase phase,
                                      const std::vector<std::string>& environment) {
    SpawnOptions options = TRY(build(unit, command, environment));
    const ServiceConfig& service = unit.service;
    options.stdin_fd = m_dev_null.get();
    // Journal pipes: the child gets the write ends; ours close after spawn.
    Fd out, err;
    auto route = [&](OutputTarget target, std::string_view stream, Fd& holder) -> int {
        if (target == OutputTarget::Null)
            return m_dev_null.get();
        if (target == OutputTarget::Inherit || !m_journal)
            return -1;
        auto pipe = m_journal->open_stream(unit.name, stream);
        if (!pipe) {
            log_warning(cat(unit.name, ": ", pipe.error().to_string()));
            return -1;
        }
        holder = std::move(*pipe);
        return holder.get();
    };
    options.stdout_fd = route(service.standard_output, "stdout", out);
    options.stderr_fd = route(service.standard_error, "stderr", err);
    Fd cgroup_directory;
    if (m_options.use_cgroups) {
        const Cgroup* group = TRY_CTX(cgroup_of(unit), "cgroup");
        cgroup_directory = TRY_CTX(group->open_directory(), "cgroup");
        // A container with a group of its own below the unit's (keel run
        // in the unit) moved the unit's processes into the supervisor
        // group: the unit's own group can hold none now.
        if (Fd supervisor(::openat(cgroup_directory.get(), std::string(kSupervisorGroup).c_str(),
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            supervisor)
            cgroup_directory = std::move(supervisor);
        options.cgroup_fd = cgroup_directory.get();
    }
    // The exec need not hold up the next start (it runs on another CPU
    // meanwhile): a failure comes back with the exit, as systemd reports
    // one for Type=simple. Type=exec means waiting for it; a child outside
    // a cgroup is waited for too, so that a stop right away finds it in its
    // own process group.
    options.wait_for_exec =
        !m_options.use_cgroups || (phase == ExecPhase::Start && service.type == ServiceType::Exec);
    hold_cpu();
    pid_t pid = TRY(spawn_process(options));
    m_reactor.watch_child(pid, [this](pid_t child, int status) {
        std::optional<Error> failure = take_spawn_failure(child);
        if (m_before_exit)
            m_before_exit();
        if (!m_manager)
            return;
        if (failure)
            m_manager->on_start_failure(child, *failure);
        m_manager->on_process_exit(child, status);
    });
    if (!m_options.use_cgroups)
        m_process_groups[unit.name].insert(options.new_session ? pid : ::getpgid(pid));
    return pid;
}

void Executor::kill_processes(const Unit& unit, KillTarget target, int signo, pid_t main_pid,
                              pid_t control_pid) {
    auto signal = [&](pid_t pid) {
        if (pid > 0 && ::kill(pid, signo) < 0 && errno != ESRCH)
            log_warning(Error::from_errno(errno, cat(unit.name, ": signal pid ", pid)).to_string());
    };
    if (target == KillTarget::Main) {
        signal(main_pid);
        return;
    }
    if (target == KillTarget::Control) {
        signal(control_pid);
        return;
    }
    signal(main_pid);
    signal(control_pid);
    if (auto it = m_cgroups.find(unit.name); it != m_cgroups.end()) {
        const Cgroup& group = it->second;
        if (signo == SIGKILL) {
            if (auto killed = group.kill(); !killed)
                log_warning(cat(unit.name, ": ", killed.error().to_string()));
            return;
        }
        if (auto pids = group.processes())
            for (pid_t pid : *pids)
                signal(pid);
        return;
    }
    if (auto it = m_process_groups.find(unit.name); it != m_process_groups.end())
        for (pid_t pgid : it->second)
            if (pgid > 1)
                ::kill(-pgid, signo);
}

bool Executor::has_processes(const Unit& unit) {
    if (auto it = m_cgroups.find(unit.name); it != m_cgroups.end()) {
        auto populated = it->second.populated();
        return populated && *populated;
    }
    auto it = m_process_groups.find(unit.name);
    if (it == m_process_groups.end())
        return false;
    std::erase_if(it->second, [](pid_t pgid) { return !alive_group(pgid); });
    return !it->second.empty();
}

bool Executor::condition_holds(const Condition& condition) {
    return keel::condition_holds(condition);
}

void Executor::unit_stopped(const Unit& unit) {
    m_process_groups.erase(unit.name);
    auto it = m_cgroups.find(unit.name);
    if (it == m_cgroups.end())
        return;
    auto populated = it->second.populated();
    if (populated && !*populated) {
        // With what a container or its supervisor made below it.
        if (auto removed = it->second.remove_tree(); !removed)
            log_debug(cat(unit.name, ": ", removed.error().to_string()));
        m_cgroups.erase(it);
    }
}

std::optional<std::string> Executor::unit_of_pid(pid_t pid) {
    if (m_options.use_cgroups)
        return unit_of_process(cat(pid));
    pid_t pgid = ::getpgid(pid);
    if (pgid < 0)
        return std::nullopt;
    for (const auto& [unit, groups] : m_process_groups)
        if (groups.contains(pgid))
            return unit;
    return std::nullopt;
}

namespace {
int clamp_priority(int priority) {
    return std::clamp(priority, 3, 7);
}
} // namespace

void Executor::record(const std::string& unit, int priority, const std::string& message) {
    priority = clamp_priority(priority);
    if (!m_journal) {
        log(LogLevel(priority), message);
        return;
    }
    print_progress(unit);
    log_unrecorded(LogLevel(priority), message); // the journal gets it under the unit
    journal(unit, priority, message);
}

void Executor::record_progress(const std::string& unit, int priority, const std::string& message) {
    if (!m_journal) {
        record(unit, priority, message); // the log is the only copy: at once
        return;
    }
    priority = clamp_priority(priority);
    print_progress(unit);
    journal(unit, priority, message);
    if (m_progress.empty())
        m_reactor.defer([self = std::weak_ptr<Executor*>(m_self)] {
            if (auto executor = self.lock())
                (*executor)->print_progress();
        });
    m_progress.push_back({unit, priority, message});
}

void Executor::print_progress(const std::string& except_unit) {
    for (const Progress& line : m_progress)
        if (except_unit.empty() || line.unit != except_unit)
            log_unrecorded(LogLevel(line.priority), line.message);
    m_progress.clear();
}

// Under SCHED_OTHER each process PID 1 starts soon preempts it on its own
// CPU (new tasks share the CPU fairly), and PID 1 loses its CPU to the
// child until its exec is done before it starts the next service: a batch
// of starts (a boot, a target) takes the sum of every exec on one CPU.
// SCHED_FIFO keeps the CPU with PID 1 until the batch is dispatched; the
// children run meanwhile on the other CPUs, and on this one once the
// policy goes back, from deferred work as the loop's next turn begins
// (before it waits). SCHED_RESET_ON_FORK keeps them off the real-time class.
// A kernel that refuses (no CAP_SYS_NICE, no real-time budget in the
// cgroup) leaves the policy as it is: starts still work, one CPU at a time.
void Executor::hold_cpu() {
    if (!m_options.hold_cpu_while_starting || m_held_from)
        return;
    auto current = thread_scheduling();
    if (!current || (current->policy & ~SCHED_RESET_ON_FORK) != SCHED_OTHER) {
        m_options.hold_cpu_while_starting = false; // real-time already, or unknown: leave it be
        return;
    }
    if (auto raised = set_thread_scheduling({SCHED_FIFO | SCHED_RESET_ON_FORK, 1}); !raised) {
        log_debug(cat("service starts share the CPU: ", raised.error().to_string()));
        m_options.hold_cpu_while_starting = false;
        return;
    }
    m_held_from = *current;
    m_reactor.defer([self = std::weak_ptr<Executor*>(m_self)] {
        if (auto executor = self.lock())
            (*executor)->release_cpu();
    });
}

void Executor::release_cpu() {
    if (!m_held_from)
        return;
    ThreadScheduling previous = *m_held_from;
    m_held_from.reset();
    if (auto restored = set_thread_scheduling(previous); !restored) {
        // Never stay real-time: the normal class is always allowed.
        log_error(cat("service manager: ", restored.error().to_string()));
        (void)set_thread_scheduling({SCHED_OTHER, 0});
        m_options.hold_cpu_while_starting = false;
    }
}

void Executor::journal(const std::string& unit, int priority, const std::string& message) {
    if (priority > 6)
        return;
    LogEntry entry;
    entry.unit = unit;
    entry.stream = "keel";
    entry.priority = priority;
    // Under the unit's name already: "web.service: exited" reads as "exited".
    std::string_view text = message;
    if (text.starts_with(unit) && text.substr(unit.size()).starts_with(": "))
        text.remove_prefix(unit.size() + 2);
    entry.message = std::string(text);
    m_journal->record(std::move(entry));
}

std::optional<CgroupStats> Executor::stats(const std::string& unit) const {
    auto it = m_cgroups.find(unit);
    if (it == m_cgroups.end())
        return std::nullopt;
    auto stats = it->second.stats();
    if (!stats)
        return std::nullopt;
    return *stats;
}

} // namespace keel
