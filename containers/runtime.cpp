// The runtime's verbs after create: start, state, list, kill, delete, run,
// ps, pause and resume, each on the container's record (record.h); create
// itself is create.cpp.
#include "containers/containers.h"

#include "base/json.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/hooks.h"
#include "containers/record.h"
#include "containers/terminal.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <map>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

// How long delete waits for a killed container's processes to be gone.
constexpr int kStopWaitMilliseconds = 10000;
// The longest container id (runc has no limit; a path component has 255).
constexpr size_t kMaxIdLength = 255;

// The status, given the record's paths (the FIFO is there until start).
Result<Status> status_at(const RecordPaths& paths, const Record& record) {
    if (!TRY(record_process_alive(record)))
        return Status::Stopped;
    // Paused first: a created container may be paused too (and is created
    // again once resumed).
    if (!record.cgroup.empty())
        if (Result<Cgroup> group = Cgroup::open(record.cgroup);
            group && group->frozen().value_or(false))
            return Status::Paused;
    if (path_exists(paths.fifo))
        return Status::Created;
    return Status::Running;
}

// Waits until the process behind `pidfd` has exited, at most `milliseconds`.
Result<bool> wait_for_exit(int pidfd, int milliseconds) {
    pollfd ready{.fd = pidfd, .events = POLLIN, .revents = 0};
    int rc;
    do
        rc = ::poll(&ready, 1, milliseconds);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return errno_error("poll");
    return rc > 0;
}

// The pid namespace of `pid` (its /proc/PID/ns/pid inode), if it still runs.
std::optional<ino_t> pid_namespace_of(pid_t pid) {
    struct stat info {};
    if (::stat(cat("/proc/", pid, "/ns/pid").c_str(), &info) != 0)
        return std::nullopt;
    return info.st_ino;
}

// Every live process of the container, without a cgroup: those in its pid
// namespace when it has its own, otherwise its first process and that
// process's descendants.
Result<std::vector<pid_t>> processes_without_cgroup(const Record& record) {
    std::vector<pid_t> found;
    if (!TRY(record_process_alive(record)))
        return found;
    std::optional<ino_t> container_ns =
        record.own_pid_namespace ? pid_namespace_of(record.pid) : std::nullopt;
    std::map<pid_t, pid_t> parents;
    for (const std::string& name : TRY(list_directory("/proc"))) {
        auto number = parse_u64(name);
        if (!number)
            continue;
        pid_t pid = pid_t(*number);
        auto stat = read_process_stat(pid);
        if (!stat || !*stat || (*stat)->state == 'Z')
            continue;
        if (container_ns) {
            if (pid_namespace_of(pid) == container_ns)
                found.push_back(pid);
        } else {
            parents[pid] = (*stat)->parent;
        }
    }
    if (container_ns)
        return found;
    // Descendants: a pid belongs when a chain of parents leads to the first process.
    for (const auto& [pid, parent] : parents) {
        pid_t step = pid;
        for (size_t depth = 0; step > 1 && depth < parents.size(); ++depth) {
            if (step == record.pid) {
                found.push_back(pid);
                break;
            }
            auto next = parents.find(step);
            if (next == parents.end())
                break;
            step = next->second;
        }
    }
    return found;
}

Result<std::vector<pid_t>> processes_of(const Record& record) {
    if (record.cgroup.empty())
        return processes_without_cgroup(record);
    auto group = Cgroup::open(record.cgroup);
    if (!group)
        return std::vector<pid_t>{};
    return group->processes();
}

Result<Cgroup> cgroup_of(const Record& record, std::string_view verb) {
    if (record.cgroup.empty())
        return error(cat(verb,
                         " needs the container in a cgroup; it has none (no cgroup was "
                         "mounted at ",
                         kCgroupRoot, " when it was made)"));
    return Cgroup::open(record.cgroup);
}

Result<void> signal_all(const Record& record, int signal) {
    for (pid_t pid : TRY(processes_of(record)))
        if (::kill(pid, signal) != 0 && errno != ESRCH)
            return errno_error(cat("signal ", pid));
    return {};
}

// SIGKILL to every process in `group`; returns once none is left.
Result<void> empty_group(const Cgroup& group) {
    TRY(group.kill());
    for (int waited = 0; TRY(group.populated()); waited += 10) {
        if (waited >= kStopWaitMilliseconds)
            return error(
                cat("cgroup ", quoted(group.path()), " still has processes after SIGKILL"));
        ::usleep(10000);
    }
    return {};
}

// Kills what is left of a container and waits until it is gone.
Result<void> stop_everything(const Record& record) {
    // v1's freezer holds back even SIGKILL until it thaws: its kill
    // signals everything while frozen, then thaws, before the wait below.
    if (!record.cgroup.empty())
        if (Result<Cgroup> group = Cgroup::open(record.cgroup); group && group->v1())
            TRY(group->kill());
    if (std::optional<Fd> pidfd = TRY(open_record_process(record))) {
        if (record.cgroup.empty() && !record.own_pid_namespace)
            TRY(signal_all(record, SIGKILL));
        TRY(pidfd_send_signal(pidfd->get(), SIGKILL));
        if (!TRY(wait_for_exit(pidfd->get(), kStopWaitMilliseconds)))
            return error("the container's process did not end after SIGKILL");
    }
    if (!record.cgroup.empty())
        if (Result<Cgroup> group = Cgroup::open(record.cgroup))
            TRY(empty_group(*group));
    return {};
}

// Signals that `run` in the foreground passes on to the container.
constexpr int kForwardedSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t forwarded_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : kForwardedSignals)
        sigaddset(&set, signal);
    return set;
}

// Holds the forwarded signals blocked while it lives (then restores the
// mask): one that arrives while the container is made stays pending, to
// be passed on once it runs, instead of ending the runtime halfway and
// leaving the container behind.
class ForwardedSignalsHeld {
public:
    ForwardedSignalsHeld() {
        sigset_t set = forwarded_signals();
        ::sigprocmask(SIG_BLOCK, &set, &m_previous);
    }
    ~ForwardedSignalsHeld() { ::sigprocmask(SIG_SETMASK, &m_previous, nullptr); }
    ForwardedSignalsHeld(const ForwardedSignalsHeld&) = delete;
    ForwardedSignalsHeld& operator=(const ForwardedSignalsHeld&) = delete;

private:
    sigset_t m_previous;
};

// Waits for the container's process (a child of this runtime), passing on
// the signals above, which the caller holds blocked; returns its wait
// status.
// `tick`, when given, is called first and then whenever the time it
// returned has passed. With `stopping`, a SIGTERM or SIGINT is passed on
// as the signal it says and followed by SIGKILL once its time has passed. With `relay`, the
// process's terminal is relayed meanwhile (and drained once it has
// exited), and SIGWINCH resizes the terminal instead of being passed on.
// `on_forwarded`, when given, hears of every signal the runtime got and
// passed on.
Result<int> wait_forwarding_signals(
    pid_t pid, const std::function<std::optional<std::chrono::milliseconds>()>& tick = {},
    const std::function<Stopping(int signal)>& stopping = {}, TerminalRelay* relay = nullptr,
    const std::function<void(int signal)>& on_forwarded = {}) {
    sigset_t forwarded = forwarded_signals();
    Fd signals(::signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals)
        return errno_error("signalfd");
    Fd pidfd = TRY(pidfd_open(pid));
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> next_tick;
    std::optional<Clock::time_point> kill_at;
    if (tick)
        next_tick = Clock::now();
    for (;;) {
        if (next_tick && Clock::now() >= *next_tick) {
            std::optional<std::chrono::milliseconds> after = tick();
            next_tick.reset();
            if (after)
                next_tick = Clock::now() + *after;
        }
        if (kill_at && Clock::now() >= *kill_at) {
            (void)pidfd_send_signal(pidfd.get(), SIGKILL);
            kill_at.reset();
        }
        int timeout = -1;
        for (const std::optional<Clock::time_point>& deadline : {next_tick, kill_at}) {
            if (!deadline)
                continue;
            int until = int(std::clamp<int64_t>(
                std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count(), 0,
                INT32_MAX));
            timeout = timeout < 0 ? until : std::min(timeout, until);
        }
        std::vector<pollfd> ready = {{.fd = pidfd.get(), .events = POLLIN, .revents = 0},
                                     {.fd = signals.get(), .events = POLLIN, .revents = 0}};
        if (relay)
            relay->watch(ready);
        int polled = ::poll(ready.data(), ready.size(), timeout);
        if (polled < 0 && errno != EINTR)
            return errno_error("poll");
        if (relay && polled > 0)
            relay->on_ready(std::span(ready).subspan(2));
        if (ready[1].revents & POLLIN) {
            signalfd_siginfo info{};
            while (::read(signals.get(), &info, sizeof info) == ssize_t(sizeof info)) {
                if (relay && info.ssi_signo == SIGWINCH) {
                    relay->copy_window_size();
                    continue;
                }
                int signal = int(info.ssi_signo);
                bool ending = signal == SIGTERM || signal == SIGINT;
                if (ending && stopping) {
                    Stopping how = stopping(signal);
                    signal = how.signal;
                    if (!kill_at)
                        kill_at = Clock::now() + how.kill_after;
                }
                (void)pidfd_send_signal(pidfd.get(), signal);
                if (on_forwarded)
                    on_forwarded(int(info.ssi_signo));
            }
        }
        if (ready[0].revents & POLLIN)
            break;
    }
    if (relay)
        relay->drain();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno_error(cat("wait for ", pid));
    return status;
}

} // namespace

Result<void> check_id(std::string_view id) {
    if (id.empty())
        return error("no container id given");
    if (id.size() > kMaxIdLength)
        return error(cat("container id is longer than ", kMaxIdLength, " characters"));
    if (id == "." || id == "..")
        return error(cat("container id ", quoted(id), " names a directory"));
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' ||
              c == '.'))
            return error(
                cat("container id ", quoted(id), ": only letters, digits and _ + - . are allowed"));
    if (id.starts_with('.'))
        return error(cat("container id ", quoted(id), " starts with a dot"));
    return {};
}

std::string state_json(const ContainerState& state) {
    JsonWriter json;
    write_state_json(json, state);
    return json.text();
}

void write_state_json(JsonWriter& json, const ContainerState& state) {
    json.begin_object()
        .field("ociVersion", oci::kOciVersion)
        .field("id", state.id)
        .field("status", kStatusNames.name(state.status))
        .field("pid", int64_t(state.pid))
        .field("bundle", state.bundle)
        .field("rootfs", state.rootfs)
        .field("created", state.created)
        .field("owner", state.owner);
    json.key("annotations").begin_object();
    for (const auto& [key, value] : state.annotations)
        json.field(key, value);
    json.end_object().end_object();
}

Result<void> start(const RuntimeOptions& runtime, std::string_view id) {
    auto run_start = [&]() -> Result<void> {
        RecordPaths paths = record_paths(runtime, id);
        Fd lock = TRY(lock_record(runtime, id));
        Record record = TRY(read_record(runtime, id));
        Status status = TRY(status_at(paths, record));
        if (status != Status::Created)
            return error(cat("the container is ", kStatusNames.name(status), ", not created"));
        // Opening for writing without blocking succeeds only while the
        // container's process holds the FIFO open, waiting.
        Fd fifo(::open(paths.fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (!fifo) {
            if (errno == ENXIO)
                return error("the container's process no longer waits to be started");
            return errno_error(cat("open ", quoted(paths.fifo)));
        }
        TRY(write_all(fifo.get(), "0"));
        fifo.reset();
        if (::unlink(paths.fifo.c_str()) != 0)
            return errno_error(cat("remove ", quoted(paths.fifo)));

        // poststart hooks: a failure is a warning, the container runs on.
        auto spec = oci::read_spec(paths.directory);
        if (!spec) {
            log_warning(spec.error().wrap("poststart hooks not run").to_string());
            return {};
        }
        TRY(run_hooks("poststart", spec->hooks.poststart,
                      state_json(state_of(record, Status::Running)), HookFailure::Warns));
        return {};
    };
    TRY_CTX(run_start(), cat("start container ", quoted(id)));
    return {};
}

Result<ContainerState> state(const RuntimeOptions& runtime, std::string_view id) {
    Record record = TRY(read_record(runtime, id));
    Status status = TRY(status_at(record_paths(runtime, id), record));
    return state_of(record, status);
}

Result<std::vector<ContainerState>> list(const RuntimeOptions& runtime) {
    std::vector<ContainerState> states;
    if (!is_directory(runtime.root))
        return states;
    for (const std::string& name : TRY(list_directory(runtime.root))) {
        if (name.starts_with('.') || !check_id(name))
            continue;
        auto found = state(runtime, name);
        // A record half-written or removed while listing is not listed.
        if (found)
            states.push_back(std::move(*found));
    }
    return states;
}

Result<void> kill(const RuntimeOptions& runtime, std::string_view id, int signal, KillScope scope) {
    auto run_kill = [&]() -> Result<void> {
        Record record = TRY(read_record(runtime, id));
        std::optional<Fd> pidfd = TRY(open_record_process(record));
        if (!pidfd)
            return error("the container is not running");
        if (scope == KillScope::All)
            TRY(signal_all(record, signal));
        else
            TRY(pidfd_send_signal(pidfd->get(), signal));
        // v1's freezer holds a SIGKILL back until it thaws: a paused
        // container is thawed to die, as runc does (v2 lets it through).
        if (signal == SIGKILL && !record.cgroup.empty())
            if (Result<Cgroup> group = Cgroup::open(record.cgroup);
                group && group->v1() && group->frozen().value_or(false))
                TRY(group->thaw());
        return {};
    };
    TRY_CTX(run_kill(), cat("kill container ", quoted(id)));
    return {};
}

Result<void> remove(const RuntimeOptions& runtime, std::string_view id, DeleteMode mode) {
    auto run_remove = [&]() -> Result<void> {
        RecordPaths paths = record_paths(runtime, id);
        Fd lock = TRY(lock_record(runtime, id));
        // A create that was killed before it wrote state.json leaves just
        // the directory (its process, if it got that far, ended with it):
        // the id would stay taken, so delete takes that away too.
        if (!path_exists(paths.state)) {
            // Its group, if it made one: whatever got into it ends, and
            // the group goes.
            if (Result<std::string> relative = read_file(paths.cgroup))
                if (Result<Cgroup> group = Cgroup::open(*relative)) {
                    TRY(empty_group(*group));
                    TRY(group->remove_tree());
                }
            return remove_record(paths);
        }
        Record record = TRY(read_record(runtime, id));
        Status status = TRY(status_at(paths, record));
        if ((status == Status::Running || status == Status::Paused) && mode != DeleteMode::Force)
            return error(cat("the container is ", kStatusNames.name(status),
                             ": stop it first, or delete with --force"));
        // cgroup.kill reaches frozen processes too (v1's kill thaws them
        // itself); thawed afterwards, the container never runs again.
        TRY(stop_everything(record));
        if (!record.cgroup.empty()) {
            if (auto group = Cgroup::open(record.cgroup)) {
                if (status == Status::Paused)
                    TRY(group->thaw());
                TRY(group->remove_tree());
            }
        }
        // poststop hooks: a failure is a warning; the container is gone.
        auto spec = oci::read_spec(paths.directory);
        if (spec)
            TRY(run_hooks("poststop", spec->hooks.poststop,
                          state_json(state_of(record, Status::Stopped)), HookFailure::Warns));
        else
            log_warning(spec.error().wrap("poststop hooks not run").to_string());
        return remove_record(paths);
    };
    TRY_CTX(run_remove(), cat("delete container ", quoted(id)));
    return {};
}

Result<int> run(const RuntimeOptions& runtime, const CreateOptions& options, RunMode mode,
                const RunHooks& hooks, Stdin input) {
    std::optional<ForwardedSignalsHeld> held;
    if (mode == RunMode::Foreground)
        held.emplace();
    // process.terminal without a console socket: keel receives the pty and
    // relays it, as runc's run does.
    CreateOptions create_options = options;
    std::optional<ConsoleChannel> channel;
    if (options.console_socket.empty() && options.console_socket_fd < 0) {
        oci::Spec spec =
            TRY_CTX(oci::read_spec(options.bundle), cat("create container ", quoted(options.id)));
        if (spec.process && spec.process->terminal) {
            channel = TRY(console_channel());
            create_options.console_socket_fd = channel->sender.get();
        }
    }
    pid_t pid = TRY(create(runtime, create_options));
    std::optional<TerminalRelay> relay;
    if (channel) {
        channel->sender.reset();
        Result<Fd> master = receive_console(channel->receiver.get());
        if (!master) {
            (void)remove(runtime, options.id, DeleteMode::Force);
            return std::unexpected(std::move(master).error());
        }
        // The size keel's terminal has, before the process can ask.
        if (std::optional<oci::ConsoleSize> size = own_window_size())
            (void)set_window_size(master->get(), *size);
        relay.emplace(std::move(*master), input);
    }
    if (hooks.created) {
        if (Result<void> prepared = hooks.created(pid); !prepared) {
            (void)remove(runtime, options.id, DeleteMode::Force);
            return std::unexpected(std::move(prepared).error());
        }
    }
    if (auto started = start(runtime, options.id); !started) {
        (void)remove(runtime, options.id, DeleteMode::Force);
        return std::unexpected(std::move(started).error());
    }
    if (hooks.started)
        hooks.started(pid);
    if (mode == RunMode::Detach) {
        if (relay)
            TRY(relay_in_background(relay->take_master()));
        return 0;
    }
    Result<int> waited = [&]() -> Result<int> {
        std::optional<RawInput> raw;
        if (relay && input == Stdin::Open)
            raw.emplace(TRY(RawInput::enter()));
        return wait_forwarding_signals(pid, hooks.tick, hooks.stopping, relay ? &*relay : nullptr,
                                       hooks.forwarded);
    }();
    int status = TRY(std::move(waited));
    if (hooks.exited)
        hooks.exited(status);
    std::optional<Error> failure = take_spawn_failure(pid);
    // Someone may have deleted it already: `keel rm -f` (a container unit's
    // ExecStop) kills the process and removes the record, which is how this
    // wait ended. That is not a failure of the run.
    if (Result<void> removed = remove(runtime, options.id, DeleteMode::Force);
        !removed && path_exists(record_paths(runtime, options.id).directory))
        return std::unexpected(std::move(removed).error());
    if (failure)
        return std::unexpected(std::move(*failure).wrap(cat("run container ", quoted(options.id))));
    if (WIFSIGNALED(status))
        return kSignalStatusBase + WTERMSIG(status);
    return WEXITSTATUS(status);
}

Result<int> wait_for_exec_process(pid_t pid) {
    int status = TRY(wait_forwarding_signals(pid));
    if (WIFSIGNALED(status))
        return kSignalStatusBase + WTERMSIG(status);
    return WEXITSTATUS(status);
}

Result<int> exec_attached(const RuntimeOptions& runtime, ExecOptions options, RunMode mode) {
    Stdin input = options.input;
    bool terminal =
        options.terminal == Terminal::Allocate || (options.process && options.process->terminal);
    std::optional<ConsoleChannel> channel;
    if (terminal && options.console_socket.empty() && options.console_socket_fd < 0) {
        channel = TRY(console_channel());
        options.console_socket_fd = channel->sender.get();
        if (!options.console_size)
            options.console_size = own_window_size();
    }
    std::optional<ForwardedSignalsHeld> held;
    if (mode == RunMode::Foreground)
        held.emplace();
    pid_t pid = TRY(exec(runtime, options));
    if (!channel) {
        if (mode == RunMode::Detach)
            return 0;
        return wait_for_exec_process(pid);
    }
    channel->sender.reset();
    Result<Fd> master = receive_console(channel->receiver.get());
    if (!master) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        return std::unexpected(std::move(master).error());
    }
    TerminalRelay relay(std::move(*master), input);
    if (mode == RunMode::Detach) {
        TRY(relay_in_background(relay.take_master()));
        return 0;
    }
    int status = TRY([&]() -> Result<int> {
        std::optional<RawInput> raw;
        if (input == Stdin::Open)
            raw.emplace(TRY(RawInput::enter()));
        return wait_forwarding_signals(pid, {}, {}, &relay);
    }());
    if (WIFSIGNALED(status))
        return kSignalStatusBase + WTERMSIG(status);
    return WEXITSTATUS(status);
}

Result<std::vector<pid_t>> processes(const RuntimeOptions& runtime, std::string_view id) {
    Record record = TRY(read_record(runtime, id));
    return processes_of(record);
}

Result<void> pause(const RuntimeOptions& runtime, std::string_view id) {
    auto run_pause = [&]() -> Result<void> {
        Record record = TRY(read_record(runtime, id));
        Status status = TRY(status_at(record_paths(runtime, id), record));
        if (status != Status::Running && status != Status::Created)
            return error(
                cat("the container is ", kStatusNames.name(status), ", not running or created"));
        Cgroup group = TRY(cgroup_of(record, "pause"));
        return group.freeze();
    };
    TRY_CTX(run_pause(), cat("pause container ", quoted(id)));
    return {};
}

Result<void> resume(const RuntimeOptions& runtime, std::string_view id) {
    auto run_resume = [&]() -> Result<void> {
        Record record = TRY(read_record(runtime, id));
        Status status = TRY(status_at(record_paths(runtime, id), record));
        if (status != Status::Paused)
            return error(cat("the container is ", kStatusNames.name(status), ", not paused"));
        Cgroup group = TRY(cgroup_of(record, "resume"));
        return group.thaw();
    };
    TRY_CTX(run_resume(), cat("resume container ", quoted(id)));
    return {};
}

} // namespace keel::containers
