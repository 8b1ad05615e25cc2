// `exec`: a new process in a running container, through the same fork-mode
// spawn as the container's first process. The runtime enters the
// container's pid (and time) namespace for its children; the child, born
// in the container's cgroup, joins the other namespaces of the container's
// first process (setns with its pidfd: all at once, the user namespace
// first; /proc/PID/ns/* on kernels before 5.8), then its root (a chroot to
// /proc/PID/root, which is right whether create pivoted or chrooted), and
// spawn does the rest as for create: user, limits, capabilities, cwd,
// no_new_privs, seccomp, fds. Nothing is made but the process, so a failed
// exec leaves nothing.
#include "containers/containers.h"

#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/process_spawn.h"
#include "containers/record.h"
#include "containers/seccomp.h"
#include "containers/terminal.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <optional>
#include <sched.h>
#include <span>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

// The namespaces an exec'd process joins, as /proc/PID/ns/ names them; the
// user namespace first, so that the others are joined with its rights.
struct NamespaceKind {
    oci::NamespaceType type;
    int flag;
    std::string_view proc_name;
};
constexpr NamespaceKind kJoinOrder[] = {
    {oci::NamespaceType::User, CLONE_NEWUSER, "user"},
    {oci::NamespaceType::Mount, CLONE_NEWNS, "mnt"},
    {oci::NamespaceType::Network, CLONE_NEWNET, "net"},
    {oci::NamespaceType::Ipc, CLONE_NEWIPC, "ipc"},
    {oci::NamespaceType::Uts, CLONE_NEWUTS, "uts"},
    {oci::NamespaceType::Cgroup, CLONE_NEWCGROUP, "cgroup"},
    {oci::NamespaceType::Pid, CLONE_NEWPID, "pid"},
    {oci::NamespaceType::Time, CLONE_NEWTIME, "time"},
};

// One namespace of the container's first process, opened by path for
// kernels whose setns takes no pidfd.
struct NamespaceFile {
    int flag = 0;
    Fd file;
};

std::optional<ino_t> inode_of(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return std::nullopt;
    return info.st_ino;
}

// setns with the pidfd for `flags` (Linux 5.8), else the files one by one.
Result<void> join_namespaces(int pidfd, int flags, std::span<const NamespaceFile> files) {
    if (flags == 0)
        return {};
    if (::setns(pidfd, flags) == 0)
        return {};
    if (errno != EINVAL)
        return errno_error("join the container's namespaces");
    for (const NamespaceFile& entry : files)
        if ((flags & entry.flag) && ::setns(entry.file.get(), entry.flag) != 0)
            return errno_error("join the container's namespaces");
    return {};
}

// "KEY=VALUE" replacing an entry with the same KEY, or added.
void set_variable(std::vector<std::string>& env, const std::string& entry) {
    std::string_view key = std::string_view(entry).substr(0, entry.find('=') + 1);
    for (std::string& existing : env)
        if (existing.starts_with(key)) {
            existing = entry;
            return;
        }
    env.push_back(entry);
}

// The container's process settings with the options' overrides.
Result<oci::Process> exec_process(const oci::Spec& spec, const ExecOptions& options) {
    oci::Process process;
    if (options.process)
        process = *options.process;
    else if (spec.process)
        process = *spec.process;
    if (!options.args.empty())
        process.args = options.args;
    else if (!options.process)
        process.args.clear(); // the container's own command is not a default
    if (process.args.empty())
        return error("no command given to run in the container");
    for (const std::string& entry : options.env) {
        if (entry.find('=') == std::string::npos || entry.starts_with('='))
            return error(cat("--env ", quoted(entry), ": expected KEY=VALUE"));
        set_variable(process.env, entry);
    }
    if (!options.cwd.empty()) {
        if (!options.cwd.starts_with('/'))
            return error(cat("--cwd ", quoted(options.cwd), ": must be an absolute path"));
        process.cwd = options.cwd;
    }
    if (options.uid)
        process.user.uid = *options.uid;
    if (options.gid)
        process.user.gid = *options.gid;
    for (uint32_t gid : options.additional_gids)
        process.user.additional_gids.push_back(gid);
    if (!options.added_capabilities.empty()) {
        oci::Capabilities sets = process.capabilities.value_or(oci::Capabilities{});
        for (int number : options.added_capabilities) {
            oci::CapabilityMask bit = oci::CapabilityMask(1) << number;
            sets.bounding |= bit;
            sets.effective |= bit;
            sets.permitted |= bit;
        }
        process.capabilities = sets;
    }
    process.no_new_privileges |= options.no_new_privileges;
    if (options.terminal == Terminal::Allocate)
        process.terminal = true;
    if (options.console_size)
        process.console_size = options.console_size;
    if (process.terminal && options.console_socket.empty() && options.console_socket_fd < 0)
        return error("process.terminal is true: --console-socket is needed to receive the pty");
    return process;
}

Result<pid_t> exec_in(const RuntimeOptions& runtime, const ExecOptions& options) {
    RecordPaths paths = record_paths(runtime, options.id);
    Fd lock = TRY(lock_record(runtime, options.id));
    Record record = TRY(read_record(runtime, options.id));
    std::optional<Fd> pidfd = TRY(open_record_process(record));
    ContainerState now = TRY(state(runtime, options.id));
    if (!pidfd || now.status != Status::Running)
        return error(cat("container ", quoted(options.id), " is ",
                         kStatusNames.name(pidfd ? now.status : Status::Stopped), ", not running"));

    oci::Spec spec = TRY(oci::read_spec(paths.directory));
    oci::Process process = TRY(exec_process(spec, options));

    // The container's namespaces: those config.json lists (made or joined
    // by create), as its first process has them now.
    std::string proc = cat("/proc/", record.pid);
    int child_flags = 0;
    std::vector<NamespaceFile> files;
    std::optional<NamespaceFile> pid_namespace, time_namespace;
    for (const NamespaceKind& kind : kJoinOrder) {
        if (!spec.linux_config.find_namespace(kind.type))
            continue;
        std::string path = cat(proc, "/ns/", kind.proc_name);
        // Joining the user namespace one is in already is EINVAL.
        if (kind.flag == CLONE_NEWUSER && inode_of(path) == inode_of("/proc/self/ns/user"))
            continue;
        NamespaceFile file{kind.flag, TRY(open_file(path, O_RDONLY))};
        if (kind.flag == CLONE_NEWPID)
            pid_namespace = std::move(file);
        else if (kind.flag == CLONE_NEWTIME)
            time_namespace = std::move(file);
        else {
            child_flags |= kind.flag;
            files.push_back(std::move(file));
        }
    }
    Fd root = TRY(open_file(cat(proc, "/root"), O_PATH | O_DIRECTORY));
    // Opened through a pid that may have been reused in the meantime: the
    // pidfd still names the container's process only if it is alive now.
    if (!TRY(record_process_alive(record)))
        return error(cat("container ", quoted(options.id), " is stopped, not running"));

    // The pid and time namespaces only a new process can enter: spawn's
    // intermediate process joins them before it makes the child, so the
    // runtime stays in its own.
    std::vector<NamespaceJoin> joins;
    if (pid_namespace)
        joins.push_back({.fd = pid_namespace->file.get(),
                         .type = CLONE_NEWPID,
                         .name = "join the container's pid namespace"});
    if (time_namespace)
        joins.push_back({.fd = time_namespace->file.get(),
                         .type = CLONE_NEWTIME,
                         .name = "join the container's time namespace"});

    // The container's group: one directory, or one per v1 hierarchy.
    std::optional<Cgroup> cgroup;
    std::vector<Fd> cgroup_directories;
    if (!record.cgroup.empty()) {
        cgroup = TRY(Cgroup::open(record.cgroup));
        cgroup_directories = TRY(cgroup->open_directories());
    }
    std::shared_ptr<const oci::SeccompFilter> seccomp;
    if (spec.linux_config.seccomp)
        seccomp = TRY_CTX(
            oci::cached_seccomp(*spec.linux_config.seccomp, seccomp_cache_directory(runtime)),
            "linux.seccomp");

    SpawnOptions spawn = process_spawn_options(process, seccomp.get());
    for (const Fd& directory : cgroup_directories) {
        if (cgroup->v1())
            spawn.more_cgroup_fds.push_back(directory.get());
        else
            spawn.cgroup_fd = directory.get(); // (born in it: CLONE_INTO_CGROUP)
    }
    spawn.join_namespaces = joins;
    // The caller learns of a missing program or a bad user from the spawn
    // itself, and no child is left behind.
    spawn.wait_for_exec = true;
    spawn.preserve_fds = options.preserve_fds;
    Fd null_input;
    if (options.input == Stdin::Closed && !process.terminal) {
        null_input = TRY(open_file("/dev/null", O_RDONLY | O_CLOEXEC));
        spawn.stdin_fd = null_input.get();
    }
    spawn.keep_fds = {pidfd->get(), root.get()};
    for (const NamespaceFile& file : files)
        spawn.keep_fds.push_back(file.file.get());
    Fd console;
    if (process.terminal && options.console_socket_fd >= 0)
        console = Fd(::fcntl(options.console_socket_fd, F_DUPFD_CLOEXEC, 3));
    else if (process.terminal)
        console = TRY_CTX(unix_connect(options.console_socket, SOCK_STREAM),
                          cat("--console-socket ", quoted(options.console_socket)));
    if (process.terminal && !console)
        return errno_error("the console socket");
    if (console)
        spawn.keep_fds.push_back(console.get());
    int console_fd = console ? console.get() : -1;

    int container_pidfd = pidfd->get();
    int root_fd = root.get();
    spawn.child_setup = [&]() -> Result<void> {
        TRY(join_namespaces(container_pidfd, child_flags, files));
        if (::fchdir(root_fd) != 0 || ::chroot(".") != 0 || ::chdir("/") != 0)
            return errno_error("enter the container's root");
        // The pty in the container's own devpts, as its first process's.
        if (console_fd >= 0)
            TRY(make_console(console_fd, process.console_size));
        return {};
    };
    if (console_fd >= 0)
        spawn.before_exec = [] { return take_console(); };

    // A filter that notifies: the child sends its listener back over a
    // socket pair right after loading it, and it goes to the agent with the
    // pid. The child's calls from there to its exec may be notified, so the
    // spawn does not wait for the exec: the listener is taken at once, and
    // the child's death before sending it reads as the end of the socket.
    std::optional<SeccompAgent> agent;
    Fd listener_socket, child_listener_socket;
    if (seccomp && (seccomp->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
        agent = TRY(SeccompAgent::connect(*spec.linux_config.seccomp));
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
            return errno_error("socketpair");
        listener_socket = Fd(pair[0]);
        child_listener_socket = Fd(pair[1]);
        spawn.keep_fds.push_back(pair[1]);
        spawn.seccomp_listener = [socket = pair[1]](int listener) {
            return send_with_fd(socket, "L", listener);
        };
        spawn.wait_for_exec = false;
    }

    pid_t pid = TRY_CTX(spawn_process(spawn), "start the process");
    child_listener_socket.reset();
    bool reaped = false;
    auto finish = [&]() -> Result<void> {
        if (agent) {
            MessageWithFd sent = TRY_CTX(receive_with_fd(listener_socket.get(), 1),
                                         "receive the process's seccomp listener");
            if (!sent.fd) {
                // It ended before loading its filter: why, once reaped.
                int status = 0;
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
                reaped = true;
                if (std::optional<Error> failure = take_spawn_failure(pid))
                    return std::unexpected(std::move(*failure));
                return error(cat("the process ", describe_wait_status(status),
                                 " before it sent its seccomp listener"));
            }
            TRY(agent->hand_over(sent.fd.get(), pid, state_of(record, Status::Running)));
        }
        if (!options.pid_file.empty())
            TRY(write_pid_file(options.pid_file, pid));
        return {};
    };
    if (auto finished = finish(); !finished) {
        // Nothing is left of a failed exec: not the process either.
        if (!reaped) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            if (!spawn.wait_for_exec)
                (void)take_spawn_failure(pid);
        }
        return std::unexpected(std::move(finished).error());
    }
    return pid;
}

} // namespace

Result<pid_t> exec(const RuntimeOptions& runtime, const ExecOptions& options) {
    return TRY_CTX(exec_in(runtime, options), cat("exec in container ", quoted(options.id)));
}

} // namespace keel::containers
