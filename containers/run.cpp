// containers/run: `keel run` — a container's bundle written under
// ROOT/containers/ID (config.json from run_spec, the /etc files), its root
// mounted from the image store, and the runtime's run() driven with hooks:
// the bridge attached between create and start (and detached when it
// ends), READY=1 sent as --sdnotify says, the health check run while it
// runs, an OOM kill noticed when it ends. What it saw goes to state.json.
#include "containers/container_records.h"

#include "base/fd.h"
#include "base/log.h"
#include "base/notify.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/record.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Where keel's binary is, as found before it was re-executed sealed: the
// init --init binds into the container.
constexpr std::string_view kBinaryVariable = "KEEL_RUN_BINARY";

Result<ContainerPlace> container_place(std::string id, const std::string& bundle,
                                       const std::string& rootfs_dir) {
    ContainerPlace place;
    struct rlimit nofile {};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
        place.nofile_hard_limit = nofile.rlim_max;
    char resolved[PATH_MAX] = {};
    if (!::realpath(rootfs_dir.c_str(), resolved))
        return errno_error(cat("root ", quoted(rootfs_dir)));
    if (!is_directory(resolved))
        return error(cat("root ", quoted(rootfs_dir), " is not a directory"));
    place.rootfs = resolved;
    struct utsname names {};
    if (::uname(&names) == 0)
        place.host_hostname = names.nodename;
    if (const char* binary = std::getenv(kBinaryVariable.data()))
        place.init_binary = binary;
    place.device_rules =
        device_cgroup_available() ? DeviceRules::Enforced : DeviceRules::NotEnforceable;
    place.id = std::move(id);
    place.files_dir = bundle + "/etc";
    return place;
}

// Rewrites a file bind-mounted into the container in place (a rename
// would leave the mount on the old file).
Result<void> rewrite_file(const std::string& path, std::string_view text) {
    Fd fd = TRY(open_file(path, O_WRONLY | O_TRUNC | O_CLOEXEC));
    return write_all(fd.get(), text);
}

// The directory of process `pid`'s group that has its memory counters:
// cgroup v2's (/proc/PID/cgroup's "0::/path" line), or on a v1 host its
// group in the memory hierarchy ("N:memory:/path"); empty when it has none.
std::string cgroup_directory_of(pid_t pid) {
    Result<std::string> text = read_file(cat("/proc/", pid, "/cgroup"));
    if (!text)
        return {};
    std::vector<CgroupHierarchy> hierarchies = cgroup_v1_hierarchies();
    for (std::string_view line : split(*text, '\n')) {
        if (hierarchies.empty() && line.starts_with("0::"))
            return cat(kCgroupRoot, line.substr(3));
        std::vector<std::string_view> fields = split(line, ':');
        if (fields.size() < 3)
            continue;
        std::vector<std::string_view> controllers = split(fields[1], ',');
        if (std::ranges::find(controllers, "memory") == controllers.end())
            continue;
        std::string_view path = line.substr(fields[0].size() + fields[1].size() + 2);
        for (const CgroupHierarchy& hierarchy : hierarchies)
            if (std::ranges::find(hierarchy.controllers, "memory") != hierarchy.controllers.end())
                return cat(hierarchy.directory, path);
    }
    return {};
}

// "64 MiB".
std::string memory_text(int64_t bytes) {
    if (bytes % (1 << 30) == 0)
        return cat(bytes >> 30, " GiB");
    if (bytes % (1 << 20) == 0)
        return cat(bytes >> 20, " MiB");
    if (bytes % (1 << 10) == 0)
        return cat(bytes >> 10, " KiB");
    return cat(bytes, " bytes");
}

// One run of the health check: `/bin/sh -c COMMAND` in the container, its
// output captured, killed after the timeout.
HealthProbe probe_health(const RuntimeOptions& runtime, std::string_view id,
                         const HealthCheck& check) {
    HealthProbe probe;
    probe.start = now_rfc3339();
    auto run_probe = [&]() -> Result<int> {
        int ends[2] = {-1, -1};
        if (::pipe2(ends, O_CLOEXEC) < 0)
            return errno_error("pipe");
        Fd reader(ends[0]);
        Fd writer(ends[1]);
        // exec()'s process inherits the runtime's stdout and stderr: the
        // pipe stands in for them while it is made.
        Fd saved_out(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
        Fd saved_err(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
        ::dup2(writer.get(), STDOUT_FILENO);
        ::dup2(writer.get(), STDERR_FILENO);
        ExecOptions options{.id = std::string(id), .args = {"/bin/sh", "-c", check.command}};
        Result<pid_t> pid = exec(runtime, options);
        ::dup2(saved_out.get(), STDOUT_FILENO);
        ::dup2(saved_err.get(), STDERR_FILENO);
        writer = Fd();
        if (!pid)
            return std::unexpected(std::move(pid).error());
        Fd pidfd = TRY(pidfd_open(*pid));
        ::fcntl(reader.get(), F_SETFL, O_NONBLOCK);
        Clock::time_point deadline = Clock::now() + check.timeout;
        bool timed_out = false;
        for (;;) {
            int wait_ms = int(std::max<int64_t>(
                0, std::chrono::ceil<milliseconds>(deadline - Clock::now()).count()));
            pollfd ready[2] = {{.fd = pidfd.get(), .events = POLLIN, .revents = 0},
                               {.fd = reader.get(), .events = POLLIN, .revents = 0}};
            int n = ::poll(ready, 2, wait_ms);
            if (n < 0 && errno != EINTR)
                return errno_error("poll");
            if (ready[1].revents & (POLLIN | POLLHUP)) {
                char buffer[1024];
                ssize_t got = ::read(reader.get(), buffer, sizeof buffer);
                if (got > 0 && probe.output.size() < kMaxHealthOutput)
                    probe.output.append(buffer, size_t(got));
            }
            if (ready[0].revents & POLLIN)
                break;
            if (n == 0 && Clock::now() >= deadline) {
                (void)pidfd_send_signal(pidfd.get(), SIGKILL);
                timed_out = true;
                break;
            }
        }
        int status = 0;
        while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
        }
        char buffer[1024];
        ssize_t got = 0;
        while ((got = ::read(reader.get(), buffer, sizeof buffer)) > 0)
            if (probe.output.size() < kMaxHealthOutput)
                probe.output.append(buffer, size_t(got));
        if (timed_out) {
            probe.output +=
                cat("Health check exceeded timeout (",
                    std::chrono::duration_cast<milliseconds>(check.timeout).count(), "ms)");
            return -1;
        }
        return shell_exit_code(status);
    };
    Result<int> code = run_probe();
    if (code) {
        probe.exit_code = *code;
    } else {
        probe.exit_code = -1;
        probe.output = code.error().to_string();
    }
    if (probe.output.size() > kMaxHealthOutput)
        probe.output.resize(kMaxHealthOutput);
    probe.end = now_rfc3339();
    return probe;
}

// What run_with() keeps while the container runs.
struct Supervision {
    std::string state_root;
    std::string id;
    std::string name;
    std::string notify_socket;
    std::string cgroup;
    RunState state;
    bool attached = false;
    bool told_ready = false;
    Clock::time_point started_at{};
    std::string hostname;
};

void save(const Supervision& run) {
    // ENOENT: `keel rm -f` took the container's directory away meanwhile.
    if (Result<void> saved = write_run_state(run.state_root, run.id, run.state);
        !saved && saved.error().code() != ENOENT)
        log_warning(cat("keel run: ", saved.error().to_string()));
}

void say_ready(Supervision& run) {
    if (run.told_ready || run.notify_socket.empty())
        return;
    run.told_ready = true;
    if (Result<void> sent = send_notify(run.notify_socket, conmon_ready_message(::getpid())); !sent)
        log_warning(cat("keel run: --sdnotify: ", sent.error().to_string()));
}

// Between create and start: the container's namespace on the bridge, its
// /etc/hosts and /etc/resolv.conf to match.
Result<void> attach_network(Supervision& run, const RunOptions& options, pid_t pid,
                            const std::string& files_dir) {
    Fd netns = TRY(open_file(cat("/proc/", pid, "/ns/net"), O_RDONLY | O_CLOEXEC));
    BridgeConfig bridge = bridge_of(run.state_root);
    Result<NetworkAttachment> attached = attach_bridge(bridge, run.id, netns.get(), options.ports);
    if (!attached) {
        std::string hint = attached.error().code() == EPERM
                               ? " (the bridge needs CAP_NET_ADMIN; --network none runs without)"
                               : " (--network none runs without it)";
        return std::unexpected(std::move(attached).error().wrap(
            cat("--network bridge: attach to ", bridge.bridge, hint)));
    }
    run.attached = true;
    run.state.address = attached->address;
    run.state.ports = attached->ports;
    TRY(rewrite_file(files_dir + "/hosts", hosts_file(run.hostname, attached->address)));
    std::string host_resolv = read_file("/etc/resolv.conf").value_or("");
    TRY(rewrite_file(files_dir + "/resolv.conf", container_resolv_conf(host_resolv)));
    return {};
}

void detach_network(Supervision& run) {
    if (!run.attached)
        return;
    run.attached = false;
    // ENOENT: `keel rm -f` took the container, and its lease, away already.
    if (Result<void> detached = detach_bridge(bridge_of(run.state_root), run.id);
        !detached && detached.error().code() != ENOENT)
        log_warning(cat("keel run: detach ", run.name, ": ", detached.error().to_string()));
}

// The next health check, when it is due.
std::optional<milliseconds> check_health(Supervision& run, const RunOptions& options, bool first) {
    const HealthCheck& check = options.health;
    if (first)
        return check.interval;
    HealthProbe probe = probe_health(runtime_of(run.state_root), run.id, check);
    HealthPhase phase = Clock::now() - run.started_at < check.start_period
                            ? HealthPhase::StartPeriod
                            : HealthPhase::Counting;
    HealthStatus before = run.state.health;
    record_probe(run.state, check, std::move(probe), phase);
    save(run);
    if (run.state.health != before)
        log_notice(cat("container ", run.name, " is ", kHealthStatusNames.name(run.state.health)));
    if (run.state.health == HealthStatus::Healthy && options.notify == NotifyWhen::Healthy)
        say_ready(run);
    return check.interval;
}

// Whether `keel container stop`, `kill` or `keel rm` asked the container
// to stop (they leave kStopRequestedFile in its directory).
bool stop_requested(const Supervision& run) {
    return path_exists(stop_request_path(run.state_root, run.id));
}

// The -t that `keel container stop` gave, which it left in kStopRequestedFile.
std::optional<std::chrono::seconds> requested_stop_timeout(const Supervision& run) {
    Result<std::string> text = read_file(stop_request_path(run.state_root, run.id));
    if (!text)
        return std::nullopt;
    std::optional<uint64_t> seconds = parse_u64(trim(*text));
    if (!seconds)
        return std::nullopt;
    return std::chrono::seconds(std::min<uint64_t>(*seconds, INT32_MAX));
}

// After the container's process has ended: its status, an OOM kill.
void record_exit(Supervision& run, int wait_status) {
    run.state.exit_code = WIFSIGNALED(wait_status) ? kSignalStatusBase + WTERMSIG(wait_status)
                                                   : WEXITSTATUS(wait_status);
    run.state.finished = now_rfc3339();
    run.state.pid = 0;
    run.state.ports.clear(); // unpublished as it is detached
    if (run.cgroup.empty()) {
        // No group with memory counters of the container's own. Not for a
        // SIGKILL someone sent through keel (`keel kill`, a stop past its
        // timeout): that is no mystery.
        if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL && !stop_requested(run))
            log_notice(cat("container ", run.name,
                           " was killed; it has no cgroup with memory counters, so whether "
                           "by the OOM killer cannot be told (State.OOMKilled stays false)"));
    } else {
        if (Result<uint64_t> kills = read_oom_kills(run.cgroup); kills && *kills > 0)
            run.state.oom_killed = true;
    }
    if (run.state.oom_killed) {
        std::string limit = run.state.memory_limit
                                ? cat(" (limit ", memory_text(*run.state.memory_limit), ")")
                                : std::string();
        log_error(cat("container ", run.name, " was killed: out of memory", limit));
    }
    save(run);
}

// keel run -d without init: a keeper process (its own session, as conmon)
// makes and starts the container, so the container is its child; it stays
// to wait for it as a foreground keel run does, so the exit code, the OOM
// kill and FinishedAt reach state.json after the CLI has gone. Its report
// pipe tells the CLI "started" or the error that stopped it.
enum class Side { Cli, Keeper };

struct KeeperFork {
    Side side = Side::Cli;
    Fd report; // the CLI's read end, or the keeper's write end
};

constexpr char kReportStarted = 'S';
constexpr char kReportFailed = 'E';

Result<KeeperFork> fork_keeper() {
    int ends[2] = {-1, -1};
    if (::pipe2(ends, O_CLOEXEC) < 0)
        return errno_error("keel run -d: pipe for the keeper");
    Fd reader(ends[0]);
    Fd writer(ends[1]);
    pid_t pid = ::fork();
    if (pid < 0)
        return errno_error("keel run -d: fork the container's keeper");
    if (pid > 0)
        return KeeperFork{.side = Side::Cli, .report = std::move(reader)};
    // No terminal's hangup or job control reaches the keeper.
    ::setsid();
    return KeeperFork{.side = Side::Keeper, .report = std::move(writer)};
}

// The keeper's stdin is /dev/null, its stdout and stderr (the container's,
// and its own notices) the container's log: none of the CLI's descriptors
// stays open in it, so whoever reads keel run -d's output (as in
// `id=$(keel run -d ...)`) sees its end when the CLI exits.
Result<void> keep_output(const std::string& log) {
    Fd file = TRY(open_file(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    Fd null = TRY(open_file("/dev/null", O_RDONLY | O_CLOEXEC));
    if (::dup2(null.get(), STDIN_FILENO) < 0 || ::dup2(file.get(), STDOUT_FILENO) < 0 ||
        ::dup2(file.get(), STDERR_FILENO) < 0)
        return errno_error(cat("keel run -d: the keeper's output to ", quoted(log)));
    return {};
}

// The CLI's half: "started", or the keeper's error as it said it.
Result<void> await_keeper(const Fd& report) {
    char kind = 0;
    ssize_t got = 0;
    do
        got = ::read(report.get(), &kind, 1);
    while (got < 0 && errno == EINTR);
    if (got == 1 && kind == kReportStarted)
        return {};
    if (got != 1 || kind != kReportFailed)
        return error("keel run -d: the container's keeper ended before the container started");
    return error(read_all(report.get()).value_or("keel run -d: the keeper's report is unreadable"));
}

// The keeper's half, once: the container runs, or why it does not.
void tell_cli(Fd& report, const Error* failure) {
    if (!report)
        return;
    std::string said =
        failure ? cat(kReportFailed, failure->to_string()) : std::string(1, kReportStarted);
    (void)write_all(report.get(), said);
    report = Fd();
}

// The first wait before a restart; each one after is twice the last, up
// to kMaxRestartDelay (Docker's back-off).
constexpr milliseconds kFirstRestartDelay{100};
constexpr milliseconds kMaxRestartDelay{60000};

// Whether a container that ended with `status` is started again, by
// Docker's rules: on-failure after a failure (at most N times with a
// count), always and unless-stopped after any end; never when someone
// asked it to stop (a signal keel run passed on, `keel container stop` or
// `kill`, `keel rm`), which is Docker's "manually stopped".
bool restarts_again(const RunOptions& options, RunMode mode, const Supervision& run, int status,
                    bool stop_asked) {
    if (options.restart == RestartPolicy::No || mode != RunMode::Foreground || stop_asked)
        return false;
    if (options.restart == RestartPolicy::OnFailure &&
        (status == 0 ||
         (options.restart_retries > 0 && run.state.restart_count >= options.restart_retries)))
        return false;
    return path_exists(bundle_of(run.state_root, run.id) + "/config.json") && !stop_requested(run);
}

// Sleeps the back-off before restart number `done` + 1; false when a
// signal that would stop the container came meanwhile (it is not
// restarted then).
bool wait_before_restart(uint32_t done) {
    milliseconds delay = kFirstRestartDelay;
    for (uint32_t i = 0; i < done && delay < kMaxRestartDelay; ++i)
        delay *= 2;
    delay = std::min(delay, kMaxRestartDelay);
    sigset_t stopping;
    sigemptyset(&stopping);
    for (int signal : {SIGHUP, SIGINT, SIGQUIT, SIGTERM})
        sigaddset(&stopping, signal);
    sigset_t previous;
    ::sigprocmask(SIG_BLOCK, &stopping, &previous);
    timespec timeout{.tv_sec = time_t(delay.count() / 1000),
                     .tv_nsec = long(delay.count() % 1000) * 1000000};
    int got = -1;
    do
        got = ::sigtimedwait(&stopping, nullptr, &timeout);
    while (got < 0 && errno == EINTR);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    return got < 0;
}

// The container's hostname as its bundle's etc/hostname has it.
std::string recorded_hostname(const std::string& bundle) {
    std::string text = read_file(bundle + "/etc/hostname").value_or("");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

// The runtime's record of a container's last run, if one is left (a run
// that ended without deleting it): a new create needs its id free.
// How long a start waits for the keel run of the container's last run.
constexpr int kClaimWaitMilliseconds = 10000;

// This keel run's claim on the container in `bundle` (kRunLockFile), held
// while the returned fd is open (also by a keeper forked after it). A
// keel run that still records the last run's end (its exit code, its
// runtime record deleted, its network detached) is waited for.
Result<Fd> claim_container(const std::string& bundle, std::string_view name) {
    std::string path = cat(bundle, "/", kRunLockFile);
    Fd lock = TRY(open_file(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    for (int waited = 0;; waited += 50) {
        if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0)
            return lock;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return errno_error(cat("lock ", quoted(path)));
        if (waited >= kClaimWaitMilliseconds)
            return errno_error(EBUSY, cat("container ", quoted(name),
                                          ": the keel run of its last run "
                                          "has not finished after ",
                                          kClaimWaitMilliseconds / 1000, " s"));
        ::usleep(50 * 1000);
    }
}

Result<void> clear_runtime_record(const std::string& state_root, std::string_view id) {
    RuntimeOptions runtime = runtime_of(state_root);
    Result<ContainerState> last = containers::state(runtime, id);
    if (!last)
        return {};
    if (last->status != Status::Stopped)
        return errno_error(EBUSY,
                           cat("container ", quoted(id), " is ", kStatusNames.name(last->status)));
    return remove(runtime, id, DeleteMode::Stopped);
}

// keel run, for a new container (`existing` null) or one made before and
// exited, started again (start_container): the same id, bundle and root.
Result<int> run_with(const RunOptions& options, const std::string& notify_socket, char** argv,
                     const RunContainer* existing) {
    std::string state_root = run_root(options.state_root);
    std::string name = existing               ? existing->name
                       : options.name.empty() ? TRY(generate_name())
                                              : options.name;
    if (Result<RunContainer> same = find_container(state_root, name);
        !existing && same && same->name == name) {
        if (options.name_clash == NameClash::Refuse)
            return errno_error(EEXIST,
                               cat("a container named ", quoted(name), " exists (",
                                   same->id.substr(0, 12), "); remove it or give --replace"));
        TRY_CTX(remove_container(state_root, *same, DeleteMode::Force), "--replace");
    }
    // The binary's path, for --init, before ensure_sealed_binary()
    // re-executes it from a binding attached nowhere (whose path is "/").
    if (!std::getenv(kBinaryVariable.data())) {
        char exe[PATH_MAX] = {};
        ssize_t length = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (length <= 0)
            return errno_error("readlink /proc/self/exe");
        ::setenv(kBinaryVariable.data(), exe, 1);
    }
    TRY(ensure_sealed_binary(argv));

    std::string id = existing ? existing->id : TRY(generate_container_id());
    std::string bundle = bundle_of(state_root, id);
    ImageStoreOptions store = store_of(options.image_store);
    oci::ImageConfig image;
    std::string rootfs = options.image;
    bool store_root = options.image_source == ImageSource::Store;
    Supervision run{.state_root = state_root,
                    .id = id,
                    .name = name,
                    .notify_socket = notify_socket,
                    .state = {.memory_limit = options.memory_bytes}};
    auto discard = [&] {
        detach_network(run);
        // A container started again stays (exited) when its start fails.
        if (existing && options.removal == Removal::Keep)
            return;
        if (store_root)
            (void)remove_container_root(store, id);
        remove_bundle(bundle);
    };
    Fd claim;
    if (existing) {
        claim = TRY(claim_container(bundle, name));
        // Its config.json as it was made; its root mounted again over what
        // it wrote (a reboot unmounted it); Docker's manual stop cleared,
        // its RestartCount from 0 again.
        IdMaps maps = TRY(read_userns_record(existing->json));
        if (store_root)
            TRY(remount_container_root(store, id, maps));
        TRY(clear_runtime_record(state_root, id));
        ::unlink(stop_request_path(state_root, id).c_str());
        run.hostname = recorded_hostname(bundle);
        run.state = existing->state;
        run.state.exit_code.reset();
        run.state.pid = 0;
        run.state.restart_count = 0;
        run.state.oom_killed = false;
        run.state.memory_limit = options.memory_bytes;
        run.state.address.clear();
        run.state.ports.clear();
    } else {
        // --userns auto: the range stays locked until container.json names it.
        UsernsLease userns = TRY(lease_id_maps(state_root, options.userns));
        if (store_root) {
            ContainerRoot root = TRY(
                mount_container_root(store, options.image, id, RootMode::Writable, userns.maps));
            rootfs = root.rootfs;
            image = std::move(root.config);
        }
        auto written = [&]() -> Result<void> {
            TRY(make_directories(bundle, 0700));
            claim = TRY(claim_container(bundle, name));
            ContainerPlace place = TRY(container_place(id, bundle, rootfs));
            place.id_maps = userns.maps;
            if (place.device_rules == DeviceRules::NotEnforceable)
                log_notice("neither cgroup v2 nor a v1 devices hierarchy is mounted at "
                           "/sys/fs/cgroup: device rules cannot be enforced, so the container "
                           "gets no CAP_MKNOD");
            run.hostname = container_hostname(options, place);
            TRY(write_etc_files(place, run.hostname, options.network));
            if (!place.id_maps.empty()) {
                std::string directories[] = {bundle, place.files_dir};
                TRY_CTX(admit_mapped_root(records_root(state_root), directories, place.id_maps),
                        "--userns");
            }
            // Started by init for a unit (a .container unit, keel run -d
            // under init, a unit's ExecStart=docker run): the container's
            // group is below the unit's, under its limits, counted in its
            // status and ended with it. Not from a shell a unit runs (a
            // login: the container is not the session's).
            RunOptions placed = options;
            if (placed.cgroup_parent.empty() && ::getppid() == 1)
                if (std::optional<std::string> unit = own_unit_group())
                    placed.cgroup_parent = cat("/", *unit);
            std::string config = TRY(make_spec(placed, image, place));
            TRY(write_new_file(bundle + "/config.json", config, 0600));
            TRY(write_new_file(
                bundle + "/container.json",
                container_metadata(options, id, name, store_root ? store.root : "", userns.maps),
                0600));
            return {};
        }();
        userns.lock = Fd(); // the lease is in container.json (or gone with it)
        if (!written) {
            discard();
            return std::unexpected(std::move(written).error());
        }
    }
    // Detached without init: the keeper does the rest, in the foreground's
    // way (health checks, restarts, the exit recorded, the bridge detached).
    RunMode mode = options.mode;
    Fd keeper_report;
    if (mode == RunMode::Detach) {
        Result<KeeperFork> forked = fork_keeper();
        if (!forked) {
            discard();
            return std::unexpected(std::move(forked).error());
        }
        if (forked->side == Side::Cli) {
            TRY(await_keeper(forked->report));
            return 0;
        }
        keeper_report = std::move(forked->report);
        if (Result<void> kept = keep_output(container_log_of(state_root, id)); !kept) {
            discard();
            tell_cli(keeper_report, &kept.error());
            ::_exit(1);
        }
        mode = RunMode::Foreground;
    }

    RunHooks hooks;
    hooks.stopping = [&](int signal) {
        // `keel container stop` of a container its unit's keel run waits
        // for (under init) stops the unit: its SIGTERM is the stop, done as
        // `docker stop` does it, with stop's -t when it gave one.
        std::optional<std::chrono::seconds> asked = requested_stop_timeout(run);
        if (!asked && !stop_requested(run))
            return Stopping{signal, std::chrono::seconds(options.stop_timeout_seconds)};
        return Stopping{options.stop_signal.value_or(SIGTERM),
                        asked.value_or(std::chrono::seconds(options.stop_timeout_seconds))};
    };
    hooks.created = [&](pid_t pid) -> Result<void> {
        if (options.network == NetworkMode::Bridge)
            TRY(attach_network(run, options, pid, bundle + "/etc"));
        return {};
    };
    // The first health check is one interval after each start (a restart too).
    bool first_check = true;
    hooks.started = [&](pid_t pid) {
        first_check = true;
        run.started_at = Clock::now();
        run.state.started = now_rfc3339();
        run.state.pid = pid;
        run.cgroup = cgroup_directory_of(pid);
        if (!options.health.command.empty())
            run.state.health = HealthStatus::Starting;
        save(run);
        if (options.notify == NotifyWhen::Conmon)
            say_ready(run);
        tell_cli(keeper_report, nullptr);
    };
    if (!options.health.command.empty() && mode == RunMode::Foreground) {
        hooks.tick = [&]() {
            std::optional<milliseconds> next = check_health(run, options, first_check);
            first_check = false;
            return next;
        };
    }
    hooks.exited = [&](int wait_status) { record_exit(run, wait_status); };

    CreateOptions create{.id = id, .bundle = bundle};
    // Without -i the process reads /dev/null, as Docker's does, not the
    // terminal or pipe keel run was started from.
    Fd null_input;
    if (options.stdin_mode == Stdin::Closed) {
        Result<Fd> opened = open_file("/dev/null", O_RDONLY | O_CLOEXEC);
        if (!opened) {
            discard();
            return std::unexpected(std::move(opened).error());
        }
        null_input = std::move(*opened);
        create.stdin_fd = null_input.get();
    }
    bool stop_asked = false;
    hooks.forwarded = [&](int signal) { stop_asked |= signal != SIGWINCH; };
    // The keeper relays a -t container's output (to the log), never its
    // own stdin.
    Stdin relayed = keeper_report ? Stdin::Closed : options.stdin_mode;
    Result<int> status = containers::run(runtime_of(state_root), create, mode, hooks, relayed);
    if (!status || mode == RunMode::Foreground)
        detach_network(run);
    // --restart: the same container started again while a foreground keel
    // run (a detached one's keeper, or its unit's keel run under init) waits.
    while (status && restarts_again(options, mode, run, *status, stop_asked)) {
        // A stop, kill or rm during the back-off counts too.
        if (!wait_before_restart(run.state.restart_count) ||
            !restarts_again(options, mode, run, *status, stop_asked))
            break;
        ++run.state.restart_count;
        std::string of = options.restart_retries > 0 ? cat(" of ", options.restart_retries) : "";
        log_notice(cat("container ", name, " exited with status ", *status, ": restart ",
                       run.state.restart_count, of));
        save(run);
        Result<int> again = containers::run(runtime_of(state_root), create, mode, hooks, relayed);
        detach_network(run);
        if (!again) {
            // The container stays, exited with its last status.
            log_error(cat("keel run: restart ", name, ": ", again.error().to_string()));
            break;
        }
        status = again;
    }
    if (!status || options.removal == Removal::OnExit)
        discard();
    if (options.mode == RunMode::Detach) {
        // The keeper's work ends with the container's; nothing of the CLI's
        // (its output, its exit) is the keeper's to do.
        if (!status)
            tell_cli(keeper_report, &status.error());
        ::_exit(status ? 0 : 1);
    }
    return status;
}

} // namespace

Result<int> run_container(const RunOptions& options, char** argv) {
    if (options.mode == RunMode::Detach && options.removal == Removal::OnExit)
        return error("--rm: a detached container is not removed on exit without init "
                     "supervising it; remove it with `keel rm`");
    // --sdnotify: Podman's meaning; without $NOTIFY_SOCKET nobody listens.
    const char* socket = std::getenv("NOTIFY_SOCKET");
    std::string notify_socket = socket ? socket : "";
    if (!notify_socket.empty() && options.notify == NotifyWhen::Container) {
        RunOptions adjusted = options;
        TRY(pass_notify_socket(adjusted, notify_socket));
        return run_with(adjusted, {}, argv, nullptr);
    }
    return run_with(options, notify_socket, argv, nullptr);
}

Result<int> start_container(const std::string& state_root, const RunContainer& container,
                            RunMode mode, char** argv) {
    std::string context = cat("start ", container.name);
    std::string status = container_status(state_root, container);
    if (status != "exited")
        return errno_error(EBUSY, cat(context, ": it is ", status));
    RunOptions options =
        TRY_CTX(recorded_run_options(container.json),
                cat(context, ": ", bundle_of(state_root, container.id), "/container.json"));
    options.state_root = state_root;
    options.mode = mode;
    if (mode == RunMode::Detach && options.removal == Removal::OnExit)
        return error(cat(context, ": a container removed on exit (--rm) is started detached "
                                  "only under init"));
    // --sdnotify container: the socket's mount is in config.json already,
    // and keel sends nothing itself.
    const char* socket = std::getenv("NOTIFY_SOCKET");
    std::string notify_socket =
        socket && options.notify != NotifyWhen::Container ? std::string(socket) : std::string();
    return run_with(options, notify_socket, argv, &container);
}

} // namespace keel::containers
