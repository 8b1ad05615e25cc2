// The init role. System mode: set up the machine, start the units the
// default target pulls in and what the command line asks for, supervise,
// reap, answer the control socket, end cleanly on request or signal.
// Container mode: the same loop as PID 1 of a namespace, forwarding signals
// to the main command and exiting with its status.
//
// PID 1 stays small: units are parsed and supervised here (init/manager.h
// decides, init/executor.h acts), everything heavier runs as a unit.
#include "init/init.h"

#include "base/cmdline.h"
#include "base/log.h"
#include "base/reactor.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "control/control.h"
#include "init/boot.h"
#include "init/control_server.h"
#include "init/control_service.h"
#include "init/executor.h"
#include "init/journal.h"
#include "init/manager.h"
#include "init/notify_socket.h"
#include "init/shutdown.h"
#include "init/unit_model.h"
#include "livepatch/livepatch.h"

#include <csignal>
#include <exception>
#include <future>
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

// Units get this long in total to stop at shutdown (each within its own
// TimeoutStopSec=); a unit with TimeoutStopSec=infinity must not keep the
// machine up forever.
constexpr auto kUnitStopLimit = std::chrono::minutes(5);

// What a command init starts is to it.
enum class CommandRole {
    Extra, // keel.run=: its end is logged
    Main,  // a container init's command: its end ends init, with its status
};

struct Supervised {
    InitProcess process;
    CommandRole role = CommandRole::Extra;
};

class Init final : public ControlHost {
public:
    explicit Init(const InitOptions& options)
        : m_options(options), m_control_service(*this, admin_directory()) {}
    int run();

    // ControlHost
    InitStatus init_status() const override;
    Manager* manager() override { return m_manager.get(); }
    Journal* journal() override { return m_journal.get(); }
    bool kernel_log_in_journal() const override { return m_kernel_in_journal; }
    std::optional<CgroupStats> unit_stats(const std::string& unit) const override {
        return m_executor ? m_executor->stats(unit) : std::nullopt;
    }
    void request_shutdown(PowerAction action) override { end(action); }
    void reload_units() override { load_units(); }

private:
    bool system() const { return m_options.mode == InitMode::System; }
    void boot_system();
    Result<void> start_loop();
    void start_services();
    void setup_cgroups();
    void scan_units_in_background();
    void load_units();
    void load_units(UnitCatalog catalog);
    void start_workload();
    void start(std::string name, SpawnOptions spawn, CommandRole role);
    void on_child_exit(pid_t pid, int status);
    void on_signal(const signalfd_siginfo& info);
    // Begins the end: units stop, then finish() ends the rest.
    void end(PowerAction action, int exit_status = 0);
    std::string admin_directory() const;
    std::vector<std::string> base_environment() const;
    void stop_own_processes(std::chrono::milliseconds grace);
    int finish();

    InitOptions m_options;
    KernelCommandLine m_cmdline;
    std::unique_ptr<Reactor> m_reactor;
    std::unique_ptr<Journal> m_journal;
    std::unique_ptr<Executor> m_executor;
    std::unique_ptr<Manager> m_manager;
    std::unique_ptr<NotifySocket> m_notify;
    ControlService m_control_service;
    std::unique_ptr<ControlServer> m_control; // after the journal: its streams end first
    std::future<UnitCatalog> m_scanned_units; // scan_units_in_background()
    std::vector<Supervised> m_processes;
    bool m_kernel_in_journal = false;
    bool m_cgroup_tree = false; // keel.slice is ready: a cgroup per service
    uint64_t m_start_usec = monotonic_usec();
    uint64_t m_ready_usec = 0;
    uint64_t m_reaped_orphans = 0;
    std::optional<PowerAction> m_shutdown;
    bool m_units_stopped = false;
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
    if (auto text = m_cmdline.get("keel.log"))
        if (auto level = kLogLevelNames.parse(*text))
            set_log_level(*level);
    if (auto named = set_hostname(m_cmdline); !named)
        log_warning(named.error().to_string());
    if (auto loopback = bring_up_loopback(); !loopback)
        log_warning(loopback.error().to_string());
    load_boot_modules(m_cmdline);
    // From an initramfs: switch to the disk root (the slot the updater
    // chooses), exec its keel.
    boot_from_disk(m_cmdline, DiskBootHooks{m_options.choose_slot, m_options.verity_for,
                                            m_options.slot_failed, m_options.boot_slot_kernel});
    livepatch::load_installed_patches(m_cmdline); // on the final root, before any unit
    // ctrl-alt-del becomes SIGINT to us instead of an immediate reboot.
    ::reboot(RB_DISABLE_CAD);
}

Result<void> Init::start_loop() {
    m_reactor = TRY(Reactor::create());
    TRY(m_reactor->enable_reaper([this](pid_t pid, int status) { on_child_exit(pid, status); }));
    for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPWR, kSignalHalt,
                      kSignalPoweroff, kSignalReboot})
        TRY(m_reactor->on_signal(signo, [this](const signalfd_siginfo& info) { on_signal(info); }));
    m_control = TRY(ControlServer::start(
        *m_reactor, m_options.control_socket,
        [this](const control::Request& request, const struct ucred& peer, ControlReplyPtr reply) {
            m_control_service.handle(request, peer, reply);
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

std::string Init::admin_directory() const {
    // Where `keel enable` links go: /etc/keel/units, or with --units the last
    // directory given (the one that overrides the others).
    if (m_options.unit_directories == kDefaultUnitDirectories)
        return "/etc/keel/units";
    return m_options.unit_directories.back();
}

void Init::start_services() {
    if (auto journal = Journal::create(*m_reactor, JournalOptions{})) {
        m_journal = std::move(*journal);
        if (system()) {
            if (auto followed = m_journal->follow_kernel(); followed)
                m_kernel_in_journal = true;
            else
                log_warning(cat("journal: ", followed.error().to_string()));
            if (make_directories("/var/log/keel"))
                if (auto stored = m_journal->set_directory("/var/log/keel"); !stored)
                    log_info(cat("journal kept in memory only: ", stored.error().to_string()));
        }
        m_journal->capture_log();
    } else {
        log_error(
            cat("journal: ", journal.error().to_string(), "; service output goes to the console"));
    }

    ExecutorOptions options;
    for (const std::string& entry : base_environment())
        if (!entry.starts_with("PATH=") || !system())
            options.base_environment.push_back(entry);
    options.base_environment.push_back(cat("KEEL_CONTROL_SOCKET=", m_options.control_socket));
    options.use_cgroups = m_cgroup_tree;
    options.hold_cpu_while_starting = system();
    std::string control = m_options.control_socket;
    size_t slash = control.rfind('/');
    std::string notify_path =
        system() ? "/run/keel/notify"
                 : (slash == std::string::npos ? std::string("notify")
                                               : control.substr(0, slash + 1) + "notify");
    m_notify = [&]() -> std::unique_ptr<NotifySocket> {
        auto opened =
            NotifySocket::open(*m_reactor, notify_path,
                               [this](const struct ucred& sender, Result<NotifyMessage> message) {
                                   if (!message) {
                                       log_warning(cat("notify message from pid ", sender.pid,
                                                       " refused: ", message.error().to_string()));
                                       return;
                                   }
                                   if (m_manager)
                                       m_manager->on_notify(sender, *message);
                               });
        if (!opened) {
            log_error(cat("notify socket: ", opened.error().to_string()));
            return nullptr;
        }
        return std::move(*opened);
    }();
    if (m_notify)
        options.notify_socket = m_notify->path();

    m_executor = std::make_unique<Executor>(*m_reactor, m_journal.get(), std::move(options));
    m_manager = std::make_unique<Manager>(*m_executor);
    m_executor->set_manager(m_manager.get());
    m_executor->set_before_exit([this] {
        if (m_notify)
            m_notify->drain();
    });
    load_units();
    std::string target = m_cmdline.get("keel.unit")
                             .value_or(m_cmdline.get("systemd.unit").value_or("default.target"));
    if (auto queued = m_manager->enqueue(
            JobType::Start, target,
            [target](JobResult result) {
                if (result != JobResult::Done)
                    log_warning(cat("starting ", target, ": ", describe(result)));
                else // a marker for people and benchmarks
                    log_notice(cat("startup finished: ", target, " reached in ",
                                   format_seconds(boottime_usec()), " s since kernel start"));
            });
        !queued)
        log_error(cat("cannot start ", target, ": ", queued.error().to_string()));
}

// keel.slice, with the controllers enabled down to it. Before any second
// thread starts: the first memory cgroup switches on a static key in the
// kernel's slab allocator, which the kernel patches into its own code while
// other CPUs may be running that code. Under QEMU's TCG that has hung the
// guest (both CPUs stuck in kmem_cache_alloc) when our unit-reading thread
// was in the kernel at the same moment.
void Init::setup_cgroups() {
    if (!system() || !cgroup2_available())
        return;
    if (auto tree = setup_cgroup_tree(); tree)
        m_cgroup_tree = true;
    else
        log_warning(
            cat("cgroups: ", tree.error().to_string(), "; services are tracked by process group"));
}

// Reading and parsing the unit files is the longest step before the first
// service starts, and it needs nothing that the loop, the journal and the
// notify socket set up: a second thread does it meanwhile (on a machine with
// more than one CPU), then ends. Its signals stay blocked, so that they wait
// for the loop's signalfd like the main thread's.
void Init::scan_units_in_background() {
    AllSignalsBlocked blocked;
    try {
        m_scanned_units =
            std::async(std::launch::async, [directories = m_options.unit_directories] {
                UnitCatalog catalog = UnitCatalog::scan(directories);
                catalog.preload(SpecifierContext::from_system());
                return catalog;
            });
    } catch (const std::exception& exception) { // no thread: load_units() scans itself
        log_debug(cat("unit files are read on the main thread: ", exception.what()));
    }
}

void Init::load_units() {
    std::optional<UnitCatalog> scanned;
    if (m_scanned_units.valid()) {
        try {
            scanned = m_scanned_units.get();
        } catch (const std::exception& exception) {
            log_warning(cat("reading unit files on a second thread failed: ", exception.what()));
        }
    }
    load_units(scanned ? std::move(*scanned) : UnitCatalog::scan(m_options.unit_directories));
}

void Init::load_units(UnitCatalog catalog) {
    m_manager->load(std::move(catalog), SpecifierContext::from_system());
    size_t errors = m_manager->units_with_load_errors();
    log_info(cat("loaded ", m_manager->unit_count(), " units",
                 errors ? cat(", ", errors, " with errors") : ""));
}

void Init::start(std::string name, SpawnOptions spawn, CommandRole role) {
    auto pid = spawn_process(spawn);
    if (!pid) {
        log_error(pid.error().to_string());
        m_processes.push_back({{std::move(name), 0, ProcessState::Failed, 127}, role});
        if (role == CommandRole::Main)
            end(PowerAction::Poweroff, 127);
        return;
    }
    m_reactor->watch_child(*pid, [this](pid_t pid, int status) { on_child_exit(pid, status); });
    log_info(cat("started ", quoted(name), " as pid ", *pid));
    m_processes.push_back({{std::move(name), *pid, ProcessState::Running, 0}, role});
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
        start(command, std::move(spawn), CommandRole::Extra);
    }
    if (!m_options.command.empty()) {
        SpawnOptions spawn;
        spawn.argv = m_options.command;
        spawn.environment = base_environment();
        // A container's main command keeps init's session so that it can
        // read from the terminal it was given.
        spawn.new_session = system();
        start(m_options.command[0], std::move(spawn), CommandRole::Main);
    }
}

void Init::on_child_exit(pid_t pid, int status) {
    for (Supervised& supervised : m_processes) {
        InitProcess& process = supervised.process;
        if (process.pid != pid || process.state != ProcessState::Running)
            continue;
        process.exit_status = shell_exit_code(status);
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        process.state = clean ? ProcessState::Exited : ProcessState::Failed;
        std::string line =
            cat(quoted(process.name), " (pid ", pid, ") ", describe_wait_status(status));
        clean ? log_info(line) : log_warning(line);
        if (supervised.role == CommandRole::Main)
            end(PowerAction::Poweroff, process.exit_status);
        return;
    }
    // A service's main process named by MAINPID= may be an orphan of ours.
    if (m_manager) {
        if (m_notify)
            m_notify->drain();
        if (m_manager->on_process_exit(pid, status))
            return;
    }
    ++m_reaped_orphans;
    log_debug(cat("reaped orphan ", pid, ": ", describe_wait_status(status)));
}

void Init::on_signal(const signalfd_siginfo& info) {
    int signo = int(info.ssi_signo);
    if (!system()) {
        // Like tini: the main command decides what a signal means.
        for (const Supervised& supervised : m_processes)
            if (supervised.role == CommandRole::Main &&
                supervised.process.state == ProcessState::Running) {
                ::kill(supervised.process.pid, signo);
                return;
            }
        if (signo == SIGTERM || signo == SIGINT)
            end(PowerAction::Poweroff, 128 + signo);
        return;
    }
    switch (signo) {
    case SIGINT: // ctrl-alt-del
    case SIGTERM:
    case kSignalReboot:
        end(PowerAction::Reboot);
        break;
    case SIGPWR:
    case SIGUSR2:
    case kSignalPoweroff:
        end(PowerAction::Poweroff);
        break;
    case SIGUSR1:
    case kSignalHalt:
        end(PowerAction::Halt);
        break;
    default:
        log_debug(cat("ignoring signal ", signo, " from pid ", info.ssi_pid));
    }
}

void Init::end(PowerAction action, int exit_status) {
    if (m_shutdown)
        return;
    m_shutdown = action;
    m_exit_status = exit_status;
    if (!m_manager) {
        m_units_stopped = true;
        return;
    }
    log_notice(system() ? cat("stopping units for ", describe(action)) : "stopping units");
    auto limit = m_reactor->add_timer(kUnitStopLimit, [this] {
        if (m_units_stopped)
            return;
        log_warning(cat("units still stopping after ",
                        std::chrono::duration_cast<std::chrono::seconds>(kUnitStopLimit).count(),
                        " s; ending anyway"));
        m_units_stopped = true;
    });
    if (!limit)
        log_warning(limit.error().to_string());
    m_manager->shutdown([this] { m_units_stopped = true; });
}

InitStatus Init::init_status() const {
    InitStatus status;
    status.mode = m_options.mode;
    status.ready_usec = m_ready_usec;
    status.uptime_usec = system() ? boottime_usec() : monotonic_usec() - m_start_usec;
    status.reaped_orphans = m_reaped_orphans;
    status.stopping = m_shutdown.has_value();
    status.runtime_unit_directory = m_options.unit_directories == kDefaultUnitDirectories
                                        ? "/run/keel/units"
                                        : m_options.unit_directories.back();
    for (const Supervised& supervised : m_processes)
        status.processes.push_back(supervised.process);
    return status;
}

// Not PID 1 of anything, kill(-1) would reach the caller's processes: only
// what init started is stopped, SIGTERM first, SIGKILL after `grace`.
void Init::stop_own_processes(std::chrono::milliseconds grace) {
    auto running = [this] {
        std::vector<pid_t> pids;
        for (const Supervised& supervised : m_processes)
            if (supervised.process.state == ProcessState::Running)
                pids.push_back(supervised.process.pid);
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
    m_control.reset(); // ends `keel logs -f` streams while the journal is still there
    auto grace = std::chrono::milliseconds(10'000);
    if (auto text = m_cmdline.get("keel.stop_timeout"))
        if (auto seconds = parse_u64(*text))
            grace = std::chrono::milliseconds(*seconds * 1000);
    if (::getpid() == 1) {
        terminate_all_processes(grace);
    } else {
        stop_own_processes(grace);
    }
    // The journal's file is the last of PID 1's on /var: closed now, with
    // every line until here in it, so that /var can be unmounted.
    if (m_journal) {
        if (system())
            log_info(cat("closing the journal for ", describe(action)));
        m_journal->close_disk();
    }
    if (system())
        end_system(action);
    return m_exit_status;
}

int Init::run() {
    if (system())
        boot_system();
    setup_cgroups();
    if (system()) { // after the cgroup tree, like every second thread
        AllSignalsBlocked blocked;
        set_log_writer(LogWriter::Thread);
    }
    scan_units_in_background();
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
    start_services();
    start_workload();
    while (!m_shutdown || !m_units_stopped) {
        // keel's own code does not throw, but a library might (bad_alloc);
        // an exception escaping PID 1 would panic the kernel.
        try {
            if (auto ran = m_reactor->run_once(); !ran)
                log_error(cat("init loop: ", ran.error().to_string()));
        } catch (const std::exception& exception) {
            log_error(cat("init loop: unexpected exception: ", exception.what()));
        }
    }
    if (m_executor)
        m_executor->release_cpu(); // the last turn may have started a process
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
