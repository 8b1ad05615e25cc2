// The init role. System mode: set up the machine, start what the command
// line and the unit directories ask for, supervise, reap, end cleanly on
// request or signal. Container mode: the same loop as PID 1 of a namespace,
// forwarding signals to the main command and exiting with its status.
#include "init/init.h"

#include "base/log.h"
#include "base/reactor.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "init/boot.h"
#include "init/cmdline.h"
#include "init/control.h"
#include "init/units.h"

#include <csignal>
#include <exception>
#include <optional>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel {

namespace {

// The inode of the initial PID namespace (PROC_PID_INIT_INO in the kernel).
constexpr ino_t kInitialPidNamespace = 0xEFFFFFFCu;

// Real-time signals as systemd numbers them (glibc's SIGRTMIN is 34; musl's
// differs, so the kernel numbers are spelled out).
constexpr int kSignalHalt = 34 + 13;
constexpr int kSignalPoweroff = 34 + 14;
constexpr int kSignalReboot = 34 + 15;

constexpr std::string_view kVersion = KEEL_VERSION;

struct Supervised {
    std::string name;
    pid_t pid = 0;
    enum class State { Running, Exited, Failed } state = State::Running;
    int exit_status = 0;
    bool main = false;
    bool ignore_failure = false;
};

std::string_view state_name(Supervised::State state) {
    switch (state) {
    case Supervised::State::Running:
        return "running";
    case Supervised::State::Exited:
        return "exited";
    case Supervised::State::Failed:
        return "failed";
    }
    return "?";
}

// Shell-style exit code of a wait status: the code, or 128 + signal.
int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class Init {
public:
    explicit Init(const InitOptions& options) : m_options(options) {}
    int run();

private:
    bool system() const { return m_options.mode == InitMode::System; }
    void boot_system();
    Result<void> start_loop();
    void start_workload();
    void start(std::string name, SpawnOptions spawn, bool main, bool ignore_failure = false);
    void on_child_exit(pid_t pid, int status);
    void on_signal(const signalfd_siginfo& info);
    void request_shutdown(PowerAction action, int exit_status = 0);
    control::Response handle(const control::Request& request, const struct ucred& peer);
    std::vector<std::string> base_environment() const;
    void stop_own_processes(std::chrono::milliseconds grace);
    int finish();

    InitOptions m_options;
    KernelCommandLine m_cmdline;
    std::unique_ptr<Reactor> m_reactor;
    std::unique_ptr<ControlServer> m_control;
    std::vector<Supervised> m_processes;
    uint64_t m_start_usec = monotonic_usec();
    uint64_t m_ready_usec = 0;
    uint64_t m_reaped_orphans = 0;
    std::optional<PowerAction> m_shutdown;
    int m_exit_status = 0;
};

void Init::boot_system() {
    auto mounted = mount_api_filesystems();
    attach_console();
    if (!mounted)
        log_error(cat("mount API filesystems: ", mounted.error().to_string()));
    auto cmdline = KernelCommandLine::read();
    if (cmdline)
        m_cmdline = std::move(*cmdline);
    else
        log_error(cmdline.error().to_string()); // boot on with defaults
    setup_kernel_logging(m_cmdline);
    LogLevel level;
    if (auto text = m_cmdline.get("keel.log"); text && parse_log_level(*text, level))
        set_log_level(level);
    if (auto named = set_hostname(m_cmdline); !named)
        log_warning(named.error().to_string());
    load_boot_modules(m_cmdline);
    // ctrl-alt-del becomes SIGINT to us instead of an immediate reboot.
    ::reboot(RB_DISABLE_CAD);
}

Result<void> Init::start_loop() {
    m_reactor = TRY(Reactor::create());
    TRY(m_reactor->enable_reaper([this](pid_t pid, int status) { on_child_exit(pid, status); }));
    for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPWR, kSignalHalt,
                      kSignalPoweroff, kSignalReboot})
        TRY(m_reactor->on_signal(signo, [this](const signalfd_siginfo& info) { on_signal(info); }));
    m_control =
        TRY(ControlServer::start(*m_reactor, m_options.control_socket,
                                 [this](const control::Request& request, const struct ucred& peer) {
                                     return handle(request, peer);
                                 }));
    return {};
}

std::vector<std::string> Init::base_environment() const {
    if (!system()) {
        std::vector<std::string> inherited;
        for (char** entry = environ; *entry; ++entry)
            inherited.emplace_back(*entry);
        return inherited;
    }
    return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/",
            "TERM=linux", cat("KEEL_CONTROL_SOCKET=", m_options.control_socket)};
}

void Init::start(std::string name, SpawnOptions spawn, bool main, bool ignore_failure) {
    auto pid = spawn_process(spawn);
    if (!pid) {
        log_error(pid.error().to_string());
        m_processes.push_back({std::move(name), 0, Supervised::State::Failed, 127, main});
        if (main)
            request_shutdown(PowerAction::Poweroff, 127);
        return;
    }
    m_reactor->watch_child(*pid, [this](pid_t pid, int status) { on_child_exit(pid, status); });
    log_info(cat("started ", quoted(name), " as pid ", *pid));
    m_processes.push_back(
        {std::move(name), *pid, Supervised::State::Running, 0, main, ignore_failure});
}

void Init::start_workload() {
    for (const std::string& command : m_cmdline.get_all("keel.run")) {
        auto argv = split_words(command);
        if (!argv || argv->empty()) {
            log_error(cat("keel.run=", quoted(command), ": ",
                          argv ? "empty command" : argv.error().to_string()));
            continue;
        }
        SpawnOptions spawn;
        spawn.argv = std::move(*argv);
        spawn.environment = base_environment();
        start(command, std::move(spawn), false);
    }
    std::vector<std::string> errors, warnings;
    for (ServiceUnit& unit : load_service_units(m_options.unit_directories, errors, warnings)) {
        for (const std::string& entry : base_environment())
            if (!entry.starts_with("PATH="))
                unit.spawn.environment.push_back(entry);
        start(unit.name, std::move(unit.spawn), false, unit.ignore_failure);
    }
    for (const std::string& warning : warnings)
        log_warning(warning);
    for (const std::string& problem : errors)
        log_error(cat("unit not loaded: ", problem));
    if (!m_options.command.empty()) {
        SpawnOptions spawn;
        spawn.argv = m_options.command;
        spawn.environment = base_environment();
        // A container's main command keeps init's session so that it can
        // read from the terminal it was given.
        spawn.new_session = system();
        start(m_options.command[0], std::move(spawn), true);
    }
}

void Init::on_child_exit(pid_t pid, int status) {
    for (Supervised& process : m_processes) {
        if (process.pid != pid || process.state != Supervised::State::Running)
            continue;
        process.exit_status = exit_code(status);
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        process.state =
            clean || process.ignore_failure ? Supervised::State::Exited : Supervised::State::Failed;
        std::string line =
            cat(quoted(process.name), " (pid ", pid, ") ", describe_wait_status(status));
        clean ? log_info(line) : log_warning(line);
        if (process.main)
            request_shutdown(PowerAction::Poweroff, process.exit_status);
        return;
    }
    ++m_reaped_orphans;
    log_debug(cat("reaped orphan ", pid, ": ", describe_wait_status(status)));
}

void Init::on_signal(const signalfd_siginfo& info) {
    int signo = int(info.ssi_signo);
    if (!system()) {
        // Like tini: the main command decides what a signal means.
        for (const Supervised& process : m_processes)
            if (process.main && process.state == Supervised::State::Running) {
                ::kill(process.pid, signo);
                return;
            }
        if (signo == SIGTERM || signo == SIGINT)
            request_shutdown(PowerAction::Poweroff, 128 + signo);
        return;
    }
    switch (signo) {
    case SIGINT: // ctrl-alt-del
    case SIGTERM:
    case kSignalReboot:
        request_shutdown(PowerAction::Reboot);
        break;
    case SIGPWR:
    case SIGUSR2:
    case kSignalPoweroff:
        request_shutdown(PowerAction::Poweroff);
        break;
    case SIGUSR1:
    case kSignalHalt:
        request_shutdown(PowerAction::Halt);
        break;
    default:
        log_debug(cat("ignoring signal ", signo, " from pid ", info.ssi_pid));
    }
}

void Init::request_shutdown(PowerAction action, int exit_status) {
    if (m_shutdown)
        return;
    m_shutdown = action;
    m_exit_status = exit_status;
    m_reactor->stop();
}

control::Response Init::handle(const control::Request& request, const struct ucred& peer) {
    control::Response response;
    if (request.has_power()) {
        PowerAction action;
        switch (request.power().action()) {
        case control::POWER_ACTION_POWEROFF:
            action = PowerAction::Poweroff;
            break;
        case control::POWER_ACTION_REBOOT:
            action = PowerAction::Reboot;
            break;
        case control::POWER_ACTION_HALT:
            action = PowerAction::Halt;
            break;
        default:
            response.set_error("unknown power action");
            return response;
        }
        if (peer.uid != 0) {
            response.set_error(cat("permission denied: ", describe(action), " needs root"));
            return response;
        }
        log_notice(cat(describe(action), " requested by pid ", peer.pid));
        request_shutdown(action);
        response.set_ok(true);
        return response;
    }
    if (request.has_status()) {
        if (!may_read(peer)) {
            response.set_error("permission denied: status needs root or the `keel` group");
            return response;
        }
        control::StatusResponse* status = response.mutable_status();
        status->set_version(std::string(kVersion));
        status->set_pid(::getpid());
        status->set_mode(system() ? "system" : "container");
        status->set_ready_usec(m_ready_usec);
        status->set_uptime_usec(system() ? boottime_usec() : monotonic_usec() - m_start_usec);
        status->set_reaped_orphans(m_reaped_orphans);
        for (const Supervised& process : m_processes) {
            control::Process* entry = status->add_processes();
            entry->set_name(process.name);
            entry->set_pid(process.state == Supervised::State::Running ? process.pid : 0);
            entry->set_state(std::string(state_name(process.state)));
            entry->set_exit_status(process.exit_status);
        }
        response.set_ok(true);
        return response;
    }
    response.set_error("unknown request");
    return response;
}

// Not PID 1 of anything, kill(-1) would reach the caller's processes: only
// what init started is stopped, SIGTERM first, SIGKILL after `grace`.
void Init::stop_own_processes(std::chrono::milliseconds grace) {
    auto running = [this] {
        std::vector<pid_t> pids;
        for (const Supervised& process : m_processes)
            if (process.state == Supervised::State::Running)
                pids.push_back(process.pid);
        return pids;
    };
    for (pid_t pid : running())
        ::kill(pid, SIGTERM);
    uint64_t deadline = monotonic_usec() + uint64_t(grace.count()) * 1000;
    while (!running().empty() && monotonic_usec() < deadline)
        (void)m_reactor->run_once(std::chrono::milliseconds(20));
    for (pid_t pid : running())
        ::kill(pid, SIGKILL);
    while (!running().empty())
        (void)m_reactor->run_once(std::chrono::milliseconds(20));
}

int Init::finish() {
    PowerAction action = *m_shutdown;
    log_notice(system() ? cat("shutting down for ", describe(action))
                        : cat("stopping (exit status ", m_exit_status, ")"));
    m_control.reset();
    auto grace = std::chrono::milliseconds(10'000);
    if (auto text = m_cmdline.get("keel.stop_timeout"))
        if (auto seconds = parse_u64(*text))
            grace = std::chrono::milliseconds(*seconds * 1000);
    if (::getpid() == 1) {
        terminate_all_processes(grace);
    } else {
        stop_own_processes(grace);
    }
    if (system())
        end_system(action);
    return m_exit_status;
}

int Init::run() {
    if (system())
        boot_system();
    if (auto started = start_loop(); !started) {
        log_error(cat("init: ", started.error().to_string()));
        if (!system())
            return 1;
        // A PID 1 that cannot run its loop still must not exit: power off.
        terminate_all_processes(std::chrono::milliseconds(1000));
        end_system(PowerAction::Poweroff);
    }
    m_ready_usec = system() ? boottime_usec() : monotonic_usec() - m_start_usec;
    log_notice(system() ? cat("ready in ", format_seconds(m_ready_usec), " s since kernel start")
                        : cat("ready in ", format_seconds(m_ready_usec), " s (container init, pid ",
                              ::getpid(), ")"));
    start_workload();
    while (!m_shutdown) {
        // keel's own code does not throw, but a library might (bad_alloc);
        // an exception escaping PID 1 would panic the kernel.
        try {
            if (auto ran = m_reactor->run_once(); !ran)
                log_error(cat("init loop: ", ran.error().to_string()));
        } catch (const std::exception& exception) {
            log_error(cat("init loop: unexpected exception: ", exception.what()));
        }
    }
    return finish();
}

} // namespace

InitMode detect_init_mode() {
    struct stat st;
    if (::getpid() != 1)
        return InitMode::Container;
    if (::stat("/proc/self/ns/pid", &st) < 0)
        return InitMode::System; // no /proc yet: the kernel just started us
    return st.st_ino == kInitialPidNamespace ? InitMode::System : InitMode::Container;
}

int run_init(const InitOptions& options) {
    InitOptions resolved = options;
    if (resolved.control_socket.empty())
        resolved.control_socket = control_socket_path();
    if (resolved.unit_directories.empty())
        resolved.unit_directories = kDefaultUnitDirectories;
    Init init(resolved);
    return init.run();
}

} // namespace keel
