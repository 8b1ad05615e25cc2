// `create`: from a bundle to a container whose process waits for `start`.
//
// The runtime (parent) and the container's first process (child) take turns,
// talking over a socket pair in short tagged messages:
//
//   parent                                  child (fork of the runtime)
//   record dir, config copy, cgroup,
//   seccomp program, exec FIFO
//   spawn_process (fork mode) ─────────────► born in its namespaces + cgroup
//                                            (after spawn joined those
//                                            given by path)
//                          ◄──────────────── 'N' namespaces made
//   uid/gid maps, prestart and
//   createRuntime hooks
//   'G' + state JSON ──────────────────────►
//                                            mounts, createContainer hooks,
//                                            pivot_root, masks, console;
//                                            (spawn:) user, limits, fds,
//                                            cwd, capabilities
//                          ◄──────────────── 'L' + fd: a seccomp filter's
//   the listener to the seccomp agent        listener (SCMP_ACT_NOTIFY only)
//                          ◄──────────────── 'R' ready (program found)
//   state.json, pid file; exit               blocks reading the exec FIFO
//
// `start` writes a byte into the FIFO; the child runs the startContainer
// hooks, loads seccomp and execs. The child holds the FIFO open read-write,
// so start's non-blocking open for writing succeeds exactly while a
// container waits on it (ENXIO otherwise), and the child never blocks in
// open(2) on a path that pivot_root has taken out of its sight.
//
// Any failure on either side ends the child (the parent kills it; the
// child's own failures end it before exec) and the parent undoes what it
// made, newest first: nothing of the container is left.
#include "containers/containers.h"

#include "base/json.h"
#include "base/mountinfo.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/cgroup_resources.h"
#include "containers/device_filter.h"
#include "containers/hooks.h"
#include "containers/process_spawn.h"
#include "containers/record.h"
#include "containers/rootfs_setup.h"
#include "containers/seccomp.h"
#include "containers/terminal.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <optional>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

// Messages between the runtime and the container's first process.
enum class Step : char {
    NamespacesMade = 'N',  // child: its namespaces exist (maps may be written)
    GoOn = 'G',            // parent: maps written, runtime hooks done; state JSON follows
    SeccompListener = 'L', // child: its seccomp filter's listener (SCM_RIGHTS), for the agent
    Ready = 'R',           // child: set up, waiting for start
};

// The largest message: a state JSON with its annotations.
constexpr size_t kMaxMessage = 1 << 16;
// The PATH searched for process.args[0] when process.env sets none.
constexpr std::string_view kDefaultSearchPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Sends `step` with its payload, and `fd` (SCM_RIGHTS) unless it is -1.
Result<void> send_step(int socket, Step step, std::string_view payload = {}, int fd = -1) {
    std::string message(1, char(step));
    message += payload;
    TRY_CTX(send_with_fd(socket, message, fd), "tell the other side of the container's setup");
    return {};
}

// The next message, which must be `wanted`; its payload, and the fd sent
// with it in `*fd` (one sent where none is wanted is closed).
// ConnectionClosed when the other side has gone.
Result<std::string> expect_step(int socket, Step wanted, Fd* fd = nullptr) {
    MessageWithFd message = TRY_CTX(receive_with_fd(socket, kMaxMessage),
                                    "hear from the other side of the container's setup");
    if (message.size > kMaxMessage)
        return error(
            cat("a setup message of ", message.size, " bytes (at most ", kMaxMessage, ")"));
    if (message.size == 0)
        return std::unexpected(
            Error::from_code(ErrorCode::ConnectionClosed, "the other side ended"));
    if (Step(message.data[0]) != wanted)
        return error(cat("unexpected setup message ", quoted(message.data.substr(0, 1))));
    if (fd)
        *fd = std::move(message.fd);
    return message.data.substr(1);
}

int clone_flag(oci::NamespaceType type) {
    switch (type) {
    case oci::NamespaceType::Pid:
        return CLONE_NEWPID;
    case oci::NamespaceType::Network:
        return CLONE_NEWNET;
    case oci::NamespaceType::Mount:
        return CLONE_NEWNS;
    case oci::NamespaceType::Ipc:
        return CLONE_NEWIPC;
    case oci::NamespaceType::Uts:
        return CLONE_NEWUTS;
    case oci::NamespaceType::User:
        return CLONE_NEWUSER;
    case oci::NamespaceType::Cgroup:
        return CLONE_NEWCGROUP;
    case oci::NamespaceType::Time:
        return CLONE_NEWTIME;
    }
    return 0;
}

// linux.timeOffsets as /proc/PID/timens_offsets takes them ("" for none).
std::string time_offsets_text(const oci::LinuxConfig& linux_config) {
    std::string text;
    if (const std::optional<oci::TimeOffset>& offset = linux_config.monotonic_offset)
        text += cat("monotonic ", offset->secs, " ", offset->nanosecs, "\n");
    if (const std::optional<oci::TimeOffset>& offset = linux_config.boottime_offset)
        text += cat("boottime ", offset->secs, " ", offset->nanosecs, "\n");
    return text;
}

// What the spec asks that keel cannot do, found before anything is made.
Result<void> check_spec(const oci::Spec& spec) {
    if (!spec.process)
        return error("process: missing (a container needs a process to create)");
    const oci::LinuxConfig& linux_config = spec.linux_config;
    if (!linux_config.find_namespace(oci::NamespaceType::Mount))
        return error("linux.namespaces: keel needs a mount namespace for the container");
    if (!spec.hostname.empty() && !linux_config.find_namespace(oci::NamespaceType::Uts))
        return error("hostname: set without a uts namespace of the container's own");
    if (!spec.domainname.empty() && !linux_config.find_namespace(oci::NamespaceType::Uts))
        return error("domainname: set without a uts namespace of the container's own");
    const oci::Namespace* user = linux_config.find_namespace(oci::NamespaceType::User);
    if (user && user->path.empty() &&
        (linux_config.uid_mappings.empty() || linux_config.gid_mappings.empty()))
        return error("linux.uidMappings, linux.gidMappings: a new user namespace needs both");
    if (linux_config.monotonic_offset || linux_config.boottime_offset) {
        const oci::Namespace* time = linux_config.find_namespace(oci::NamespaceType::Time);
        if (!time)
            return error("linux.timeOffsets: set without a time namespace in linux.namespaces");
        if (!time->path.empty())
            return error("linux.timeOffsets: the offsets of a joined time namespace "
                         "cannot be set (only a new one's)");
    }
    // Which devices a container may open is the device cgroup's to say
    // (linux.resources.devices), which cgroup v2 enforces with a filter
    // program on the container's group, v1 with its devices hierarchy.
    // Without either there is none,
    // and a container that could make device nodes (CAP_MKNOD outside a
    // user namespace of its own) could open the host's disks.
    bool mknod =
        spec.process->capabilities && (spec.process->capabilities->bounding >> CAP_MKNOD & 1);
    if (mknod && !user && !device_cgroup_available())
        return error(cat("process.capabilities: CAP_MKNOD is refused where neither cgroup v2 "
                         "nor a cgroup v1 devices hierarchy is mounted at ",
                         kCgroupRoot, ": linux.resources.devices could not be enforced"));
    return {};
}

// The path of `program` in the container (already its root), found as
// execvp would, so that a create whose program is missing fails at once.
Result<void> check_program(const oci::Process& process) {
    const std::string& program = process.args[0];
    if (program.find('/') != std::string::npos) {
        if (::access(program.c_str(), X_OK) != 0)
            return errno_error(cat("process.args[0] ", quoted(program)));
        return {};
    }
    std::string_view path = kDefaultSearchPath;
    for (const std::string& entry : process.env)
        if (entry.starts_with("PATH="))
            path = std::string_view(entry).substr(5);
    for (std::string_view directory : split(path, ':')) {
        std::string candidate = cat(directory.empty() ? "." : directory, "/", program);
        if (::access(candidate.c_str(), X_OK) == 0)
            return {};
    }
    return error(cat("process.args[0] ", quoted(program), ": not found in $PATH (", path, ")"));
}

Result<void> write_id_map(pid_t pid, std::string_view file,
                          const std::vector<oci::IdMapping>& map) {
    std::string text;
    for (const oci::IdMapping& entry : map)
        text += cat(entry.container_id, " ", entry.host_id, " ", entry.size, "\n");
    return write_existing_file(cat("/proc/", pid, "/", file), text);
}

// A pty for the container: the master goes to the console socket, the
// slave becomes the process's stdin, stdout, stderr and /dev/console.
Result<void> set_up_terminal(const oci::Process& process, int console_socket) {
    TRY(make_console(console_socket, process.console_size));
    // /dev/console is the pty, as the spec asks when process.terminal is
    // set: a bind mount of the slave the process has as stdin (a file
    // descriptor, not a /dev/pts path another process could swap) onto a
    // /dev/console that is no symlink.
    Fd target(::open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!target && errno == ENOENT) {
        Fd made(::open("/dev/console", O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600));
        if (!made)
            return errno_error("make /dev/console");
        target = Fd(::open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!target)
        return errno_error("open /dev/console");
    struct stat info {};
    if (::fstat(target.get(), &info) != 0)
        return errno_error("stat /dev/console");
    if (S_ISLNK(info.st_mode))
        return error("/dev/console is a symlink: refused as the console's mount point");
    Fd slave = TRY_CTX(clone_mount(STDIN_FILENO, Submounts::Excluded), "the pty for /dev/console");
    TRY_CTX(move_mount(slave.get(), target.get()), "mount the pty on /dev/console");
    return {};
}

// The container's group relative to the cgroup root: cgroupsPath (absolute
// paths are taken from the root; relative ones too, as keel has no parent
// group of its own for containers), or keel.oci/ID.
Result<std::string> cgroup_relative_path(const RuntimeOptions& runtime, const oci::Spec& spec,
                                         std::string_view id) {
    std::string_view path = spec.linux_config.cgroups_path;
    if (path.empty())
        return cat("keel.oci/", id);
    // systemd's form, as runc's systemd driver takes it; a path with a
    // colon is never a group of the cgroupfs kind here.
    if (runtime.systemd_cgroup || (!path.starts_with('/') && path.find(':') != path.npos))
        return TRY_CTX(oci::systemd_cgroup_path(path), "linux.cgroupsPath");
    while (path.starts_with('/'))
        path.remove_prefix(1);
    if (path.empty())
        return error("linux.cgroupsPath: the cgroup root itself cannot be a container's group");
    return std::string(path);
}

// Whether "/" is the initramfs's rootfs, the root of every mount, which
// pivot_root cannot move (EINVAL): there the container's root is entered
// as with --no-pivot, the only way there. It is weaker: the initramfs stays
// in the container's mount namespace beneath its chroot.
Result<bool> root_is_initramfs() {
    std::vector<MountEntry> mounts = TRY(read_mountinfo());
    const MountEntry* root = nullptr;
    for (const MountEntry& mount : mounts)
        if (mount.point == "/")
            root = &mount; // the last mounted on "/" is the one seen
    return root && root->type == "rootfs";
}

// What create has made so far, undone (newest first) unless dismissed.
struct Undo {
    pid_t child = 0;
    std::optional<Cgroup> cgroup;
    std::string record_directory;
    RecordPaths paths;
    bool dismissed = false;

    ~Undo() {
        if (dismissed)
            return;
        if (child > 0) {
            ::kill(child, SIGKILL);
            int status;
            while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
            }
            (void)take_spawn_failure(child);
        }
        if (cgroup) {
            (void)cgroup->kill();
            for (int tries = 0; tries < 100 && cgroup->populated().value_or(false); ++tries)
                ::usleep(10000);
            (void)cgroup->remove_tree();
        }
        if (!record_directory.empty())
            (void)remove_record(paths);
    }
};

Result<std::string> resolved_path(const std::string& path) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved))
        return errno_error(cat("resolve ", quoted(path)));
    return std::string(resolved);
}

Result<pid_t> create_container(const RuntimeOptions& runtime, const CreateOptions& options,
                               Undo& undo) {
    TRY(check_id(options.id));
    std::string bundle = TRY(resolved_path(options.bundle));
    std::string config_text = TRY(read_file(bundle + "/config.json"));
    oci::Spec spec = TRY(oci::read_spec(bundle));
    TRY_CTX(check_spec(spec), cat(bundle, "/config.json"));
    const oci::Process& process = *spec.process;
    std::string rootfs =
        TRY_CTX(resolved_path(spec.root.path.starts_with('/') ? spec.root.path
                                                              : cat(bundle, "/", spec.root.path)),
                "root.path");
    // fds 3 .. 3+N-1 must be the caller's: a gap would be filled by the
    // runtime's own fds, which would then reach the container.
    for (int fd = 3; fd < 3 + options.preserve_fds; ++fd)
        if (::fcntl(fd, F_GETFD) < 0)
            return error(cat("--preserve-fds ", options.preserve_fds, ": fd ", fd, " is not open"));
    if (process.terminal && options.console_socket.empty() && options.console_socket_fd < 0)
        return error("process.terminal is true: --console-socket is needed to receive the pty");

    // The record first: its directory is what makes the id taken.
    TRY(make_directories(runtime.root, 0711));
    RecordPaths paths = record_paths(runtime, options.id);
    if (::mkdir(paths.directory.c_str(), 0711) != 0) {
        if (errno == EEXIST)
            return error(cat("container ", quoted(options.id), " exists already"));
        return errno_error(cat("create ", quoted(paths.directory)));
    }
    undo.paths = paths;
    undo.record_directory = paths.directory;
    // Held until state.json is written: other verbs wait for it.
    Fd record_lock = TRY(lock_directory(paths.directory));
    TRY(write_new_file(paths.config, config_text, 0600));

    // The cgroup, with its limits, before the process that is born in it.
    const std::optional<oci::Resources>& resources = spec.linux_config.resources;
    std::vector<oci::CgroupWrite> writes;
    std::string cgroup_path;
    Fd cgroup_directory;
    std::vector<Fd> cgroup_directories; // on cgroup v1: one per hierarchy
    if (cgroup2_available()) {
        if (resources)
            writes = TRY_CTX(oci::cgroup_v2_writes(*resources), "linux.resources");
        cgroup_path = TRY(cgroup_relative_path(runtime, spec, options.id));
        // A group below the caller's own unit's (keel run in a unit): the
        // unit's processes make room for it (cgroup v2's rule).
        if (std::optional<std::string> unit = own_unit_group();
            unit && cgroup_path.starts_with(*unit + "/"))
            TRY(move_into_supervisor(*unit));
        // Those the limits need; then, where they can be had, the ones
        // whose counters `keel stats` and `inspect` read (as runc asks for
        // every controller its parent has and takes what it gets).
        std::vector<std::string> controllers = oci::controllers_needed(writes);
        // All in one walk down the tree; where that is refused (a counted
        // controller the kernel lacks), the needed ones, then each other.
        std::vector<std::string> wanted = controllers;
        for (std::string_view name : {"cpu", "memory", "pids"})
            if (std::ranges::find(wanted, name) == wanted.end())
                wanted.emplace_back(name);
        if (!oci::enable_controllers(cgroup_path, wanted)) {
            TRY_CTX(oci::enable_controllers(cgroup_path, controllers),
                    cat("enable the controllers for ", quoted(cgroup_path)));
            for (size_t i = controllers.size(); i < wanted.size(); ++i)
                (void)oci::enable_controllers(cgroup_path, {wanted[i]});
        }
        // Claimed by its mkdir: an existing group is another container's.
        std::string group_directory = cat(kCgroupRoot, "/", cgroup_path);
        if (::mkdir(group_directory.c_str(), 0755) != 0) {
            if (errno == EEXIST)
                return error(cat("cgroup ", quoted(cgroup_path), " exists already"));
            return errno_error(cat("create cgroup ", quoted(group_directory)));
        }
        undo.cgroup = TRY(Cgroup::create(cgroup_path, CgroupLimits{}));
        TRY(write_new_file(paths.cgroup, cgroup_path, 0600));
        cgroup_directory = TRY(undo.cgroup->open_directory());
        TRY_CTX(oci::apply_cgroup_writes(cgroup_directory.get(), writes), "linux.resources");
        // The device rules, before any process is in the group.
        Fd filter = TRY_CTX(
            oci::load_device_filter(oci::compile_device_filter(oci::effective_device_rules(spec))),
            "linux.resources.devices");
        TRY_CTX(oci::attach_device_filter(cgroup_directory.get(), filter.get()),
                "linux.resources.devices");
    } else if (!cgroup_v1_hierarchies().empty()) {
        // A v1 (or hybrid) host: a directory in each hierarchy, as runc
        // makes, the limits and device rules in v1's files.
        cgroup_path = TRY(cgroup_relative_path(runtime, spec, options.id));
        if (resources)
            writes = TRY_CTX(oci::cgroup_v1_writes(*resources), "linux.resources");
        std::vector<oci::CgroupWrite> device_writes = TRY_CTX(
            oci::device_writes_v1(oci::effective_device_rules(spec)), "linux.resources.devices");
        // Claimed by its mkdir, as on v2: an existing group is another
        // container's (by its cgroupsPath) or a crashed one's.
        undo.cgroup = TRY(Cgroup::create(cgroup_path, CgroupLimits{}, kCgroupRoot, IfExists::Fail));
        TRY(write_new_file(paths.cgroup, cgroup_path, 0600));
        TRY_CTX(oci::apply_cgroup_writes(*undo.cgroup, std::move(writes)), "linux.resources");
        if (undo.cgroup->directory_of("devices"))
            TRY_CTX(oci::apply_cgroup_writes(*undo.cgroup, std::move(device_writes)),
                    "linux.resources.devices");
        cgroup_directories = TRY(undo.cgroup->open_directories());
    } else if (resources && oci::sets_limits(*resources)) {
        return error(cat("linux.resources: no cgroup is mounted at ", kCgroupRoot,
                         ", so the container's limits cannot be applied"));
    }

    std::shared_ptr<const oci::SeccompFilter> seccomp;
    if (spec.linux_config.seccomp)
        seccomp = TRY_CTX(
            oci::cached_seccomp(*spec.linux_config.seccomp, seccomp_cache_directory(runtime)),
            "linux.seccomp");
    // A filter that notifies: the child sends its listener back once it
    // is loaded (after the go-ahead, before ready), and the runtime hands
    // it to the agent with the container's state.
    std::optional<SeccompAgent> agent;
    if (seccomp && (seccomp->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
        agent = TRY(SeccompAgent::connect(*spec.linux_config.seccomp));

    if (::mkfifo(paths.fifo.c_str(), 0600) != 0)
        return errno_error(cat("make the exec FIFO ", quoted(paths.fifo)));
    Fd fifo = TRY(open_file(paths.fifo, O_RDWR));

    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return errno_error("socketpair");
    Fd parent_end(pair[0]);
    Fd child_end(pair[1]);

    Fd console;
    if (process.terminal && options.console_socket_fd >= 0)
        console = Fd(::fcntl(options.console_socket_fd, F_DUPFD_CLOEXEC, 3));
    else if (process.terminal)
        console = TRY_CTX(unix_connect(options.console_socket, SOCK_STREAM),
                          cat("--console-socket ", quoted(options.console_socket)));
    if (process.terminal && !console)
        return errno_error("the console socket");

    // Namespaces with a path are joined before the new ones are made (by
    // spawn's intermediate process, so the runtime and its hooks stay where
    // they are): the new ones then belong to a joined user namespace, and a
    // joined pid namespace is the process's own.
    uint64_t new_namespaces = 0;
    std::vector<Fd> join_fds;
    std::vector<std::string> join_names;
    std::vector<NamespaceJoin> joins;
    bool own_pid_namespace = false;
    join_names.reserve(spec.linux_config.namespaces.size()); // names are pointed into
    for (const oci::Namespace& ns : spec.linux_config.namespaces) {
        int flag = clone_flag(ns.type);
        if (ns.path.empty()) {
            new_namespaces |= uint64_t(flag);
            own_pid_namespace |= ns.type == oci::NamespaceType::Pid;
            continue;
        }
        std::string name =
            cat("linux.namespaces: join the ", oci::kNamespaceTypeNames.name(ns.type),
                " namespace ", quoted(ns.path));
        join_fds.push_back(TRY_CTX(open_file(ns.path, O_RDONLY), name));
        join_names.push_back(std::move(name));
        NamespaceJoin join{
            .fd = join_fds.back().get(), .type = flag, .name = join_names.back().c_str()};
        // The user namespace first: the others are joined with its rights.
        joins.insert(flag == CLONE_NEWUSER ? joins.begin() : joins.end(), join);
    }

    // Idmapped mounts are made here, with the runtime's rights over their
    // sources; the child attaches them (its copies of these fds).
    std::vector<Fd> idmapped_trees = TRY(oci::prepare_idmapped_mounts(spec, bundle));

    SpawnOptions spawn = process_spawn_options(process, seccomp.get());
    spawn.cgroup_fd = cgroup_directory ? cgroup_directory.get() : -1;
    for (const Fd& directory : cgroup_directories)
        spawn.more_cgroup_fds.push_back(directory.get());
    spawn.wait_for_exec = false;
    spawn.new_namespaces = new_namespaces;
    spawn.time_offsets = time_offsets_text(spec.linux_config);
    spawn.join_namespaces = joins;
    spawn.preserve_fds = options.preserve_fds;
    spawn.keep_fds = {child_end.get(), fifo.get()};
    if (options.stdin_fd >= 0 && !process.terminal)
        spawn.stdin_fd = options.stdin_fd;
    if (console)
        spawn.keep_fds.push_back(console.get());
    for (const Fd& tree : idmapped_trees)
        if (tree)
            spawn.keep_fds.push_back(tree.get());

    RootEntry entry = options.root_entry;
    if (entry == RootEntry::PivotRoot && TRY(root_is_initramfs()))
        entry = RootEntry::MoveAndChroot;
    int child_socket = child_end.get();
    int fifo_fd = fifo.get();
    int console_fd = console ? console.get() : -1;
    std::string running_json; // the child's, from the parent's go-ahead

    int parent_socket = parent_end.get();
    spawn.child_setup = [&]() -> Result<void> {
        // The runtime's end goes, so that the runtime's death reads as the
        // end of the conversation instead of a wait for ever; until the
        // child reports ready, that death also kills it.
        ::close(parent_socket);
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            return errno_error("PR_SET_PDEATHSIG");
        TRY(send_step(child_socket, Step::NamespacesMade));
        // The state as createContainer and startContainer hooks see it.
        std::string states = TRY(expect_step(child_socket, Step::GoOn));
        size_t newline = states.find('\n');
        std::string creating_json = states.substr(0, newline);
        running_json = newline == std::string::npos ? creating_json : states.substr(newline + 1);
        // In a new user namespace the child is nobody until the maps exist;
        // now it becomes the namespace's root (mapped, so its files and
        // mounts have an owner), with the namespace's full capabilities.
        if ((new_namespaces & CLONE_NEWUSER) &&
            (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0))
            return errno_error("become root of the container's user namespace");
        if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()))
            return errno_error("hostname");
        if (!spec.domainname.empty() &&
            ::setdomainname(spec.domainname.data(), spec.domainname.size()))
            return errno_error("domainname");
        if (spec.linux_config.personality &&
            ::personality(spec.linux_config.personality->domain) < 0)
            return errno_error("linux.personality");
        TRY(oci::prepare_rootfs(spec, rootfs, bundle, idmapped_trees));
        TRY(run_hooks("createContainer", spec.hooks.create_container, creating_json));
        TRY(oci::enter_rootfs(rootfs, entry));
        TRY(oci::finish_rootfs(spec));
        if (process.terminal)
            TRY(set_up_terminal(process, console_fd));
        return {};
    };
    spawn.before_exec = [&]() -> Result<void> {
        if (process.terminal)
            TRY(take_console());
        TRY(check_program(process));
        // Waiting for start, the process dies of the signals a runtime's
        // init dies of (as pid 1 of its namespace, with no handler, it
        // would ignore them): `kill` of a created container ends it. The
        // handlers go at exec.
        struct sigaction dies {};
        dies.sa_handler = [](int signal) { ::_exit(kSignalStatusBase + signal); };
        for (int signal : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2})
            ::sigaction(signal, &dies, nullptr);
        if (::prctl(PR_SET_PDEATHSIG, 0) != 0)
            return errno_error("PR_SET_PDEATHSIG");
        TRY(send_step(child_socket, Step::Ready));
        char byte;
        ssize_t got;
        do
            got = ::read(fifo_fd, &byte, 1);
        while (got < 0 && errno == EINTR);
        if (got != 1)
            return errno_error("wait for start on the exec FIFO");
        return run_hooks("startContainer", spec.hooks.start_container, running_json);
    };

    if (agent)
        spawn.seccomp_listener = [&](int listener) {
            return send_step(child_socket, Step::SeccompListener, {}, listener);
        };

    undo.child = TRY_CTX(spawn_process(spawn), "start the container's process");
    pid_t pid = undo.child;
    child_end.reset();

    // The child's failure, once it has ended early.
    auto child_failure = [&]() -> Error {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        undo.child = 0;
        if (std::optional<Error> failure = take_spawn_failure(pid))
            return *failure;
        return Error::message(
            cat("the container's process ", describe_wait_status(status), " while being set up"));
    };
    auto expect = [&](Step step, Fd* fd = nullptr) -> Result<std::string> {
        auto message = expect_step(parent_end.get(), step, fd);
        if (!message) {
            if (message.error().code() == int(ErrorCode::ConnectionClosed))
                return std::unexpected(child_failure());
            return std::unexpected(std::move(message).error());
        }
        return std::move(*message);
    };

    TRY(expect(Step::NamespacesMade));
    if (new_namespaces & CLONE_NEWUSER) {
        TRY_CTX(write_id_map(pid, "uid_map", spec.linux_config.uid_mappings), "linux.uidMappings");
        TRY_CTX(write_id_map(pid, "gid_map", spec.linux_config.gid_mappings), "linux.gidMappings");
    }

    Record record;
    record.id = options.id;
    record.bundle = bundle;
    record.rootfs = rootfs;
    record.pid = pid;
    std::optional<ProcessStat> stat = TRY(read_process_stat(pid));
    if (!stat)
        return std::unexpected(child_failure());
    record.pid_start = stat->start_time;
    record.created = rfc3339_now();
    record.cgroup = cgroup_path;
    record.own_pid_namespace = own_pid_namespace;
    record.annotations = spec.annotations;

    ContainerState state = state_of(record, Status::Creating);
    std::string creating = state_json(state);
    TRY(run_hooks("prestart", spec.hooks.prestart, creating));
    TRY(run_hooks("createRuntime", spec.hooks.create_runtime, creating));
    state.status = Status::Running;
    std::string states = cat(creating, "\n", state_json(state));
    if (states.size() >= kMaxMessage)
        return error(cat("annotations: the container's state would be ", states.size(),
                         " bytes, more than keel passes to its hooks (", kMaxMessage, ")"));
    TRY(send_step(parent_end.get(), Step::GoOn, states));
    if (agent) {
        Fd listener;
        TRY(expect(Step::SeccompListener, &listener));
        if (!listener)
            return error("the container's process sent no seccomp listener");
        state.status = Status::Creating;
        TRY(agent->hand_over(listener.get(), pid, state));
    }
    TRY(expect(Step::Ready));

    TRY(write_record(paths, record));
    if (!options.pid_file.empty())
        TRY(write_pid_file(options.pid_file, pid));
    return pid;
}

} // namespace

Result<pid_t> create(const RuntimeOptions& runtime, const CreateOptions& options) {
    Undo undo;
    pid_t pid = TRY_CTX(create_container(runtime, options, undo),
                        cat("create container ", quoted(options.id)));
    undo.dismissed = true;
    return pid;
}

} // namespace keel::containers
