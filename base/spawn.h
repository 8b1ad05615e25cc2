// The one path that builds every child process keel starts: credentials,
// environment, rlimits, standard fds, working directory, capability sets,
// no_new_privs and seccomp. The container runtime extends this same path
// with namespaces and setup callbacks ("fork mode") rather than adding a
// second one.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <functional>
#include <linux/filter.h>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

namespace keel {

/// How the capability bounding set is changed for the child.
enum class CapabilityMode { Inherit, Keep, Drop };

/// One resource limit (setrlimit resource id and its soft/hard values).
struct ResourceLimit {
    int resource = 0;
    rlim_t soft = RLIM_INFINITY;
    rlim_t hard = RLIM_INFINITY;
};

/// A namespace the child joins rather than gets anew: `fd` is open on it
/// (/proc/PID/ns/net, a bind-mounted netns file), `type` its CLONE_NEW*
/// flag, `name` says which in errors and must outlive spawn_process.
struct NamespaceJoin {
    int fd = -1;
    int type = 0;
    const char* name = "";
};

/// Exact capability sets for the child: bit N is capability number N
/// (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
struct CapabilitySets {
    uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

/// What the child is made of. Setting new_namespaces, child_setup or
/// before_exec selects fork mode: the child then runs on its own copy of
/// the caller's memory (the callbacks run arbitrary code: they allocate,
/// talk over sockets), is born in its new namespaces and its cgroup in one
/// clone3, and has every fd but 0-2, the preserved ones and keep_fds closed
/// before it changes to its working directory. Without them, the child
/// shares the caller's memory until it execs (see spawn.cpp), which is
/// what makes starting a service cheap.
struct SpawnOptions {
    /// argv; argv[0] is the program (a path, or a name searched in PATH).
    std::vector<std::string> argv;
    /// Full environment ("KEY=value"); empty means an empty environment.
    std::vector<std::string> environment;
    std::string working_directory; // empty: keep "/"
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::vector<gid_t> supplementary_groups;
    std::vector<ResourceLimit> limits;
    /// A cgroup v2 directory (open, O_DIRECTORY) the child joins first thing
    /// after fork, before anything else runs in it, by writing "0" to its
    /// cgroup.procs; -1 stays in the parent's group. Failing to join fails
    /// the spawn ("join cgroup"): a service never runs outside its group.
    int cgroup_fd = -1;
    /// On a cgroup v1 host: the group's directories in its hierarchies,
    /// joined through their `tasks` files (the child's one thread is the
    /// whole process) before the child runs anything (in fork mode
    /// by the intermediate process, after the namespaces it joins and
    /// before cgroup_fd and the clone into new namespaces, so that a new
    /// cgroup namespace is rooted in them too).
    std::vector<int> more_cgroup_fds;
    /// fds 0, 1, 2 for the child; -1 keeps the parent's.
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    /// Start a new session (setsid) so the child leads its own process group.
    bool new_session = true;
    /// false: spawn_process returns as soon as the child exists, and the
    /// child execs while the caller goes on (on another CPU, if there is
    /// one). A failure before exec then shows as the child exiting with
    /// status 127, and take_spawn_failure() tells what it was. Always
    /// honoured in fork mode (a child_setup that waits for the caller needs
    /// false: with true the caller sleeps until the exec); otherwise only
    /// where clone3 runs the child (x86-64, Linux >= 5.3, not under ASan),
    /// and elsewhere the call waits anyway.
    bool wait_for_exec = true;
    /// Capability names ("CAP_NET_ADMIN") kept (Keep) or dropped (Drop)
    /// from the bounding set.
    CapabilityMode capability_mode = CapabilityMode::Inherit;
    std::vector<std::string> capabilities;
    bool no_new_privileges = false;
    /// System calls that fail with EPERM in the child (seccomp). Setting
    /// any implies no_new_privileges, as the kernel requires without
    /// CAP_SYS_ADMIN.
    std::vector<std::string> denied_syscalls;

    /// Exact capability sets: the bounding set is cut down to `bounding`,
    /// permitted capabilities are kept across the uid change, then
    /// effective, permitted and inheritable are set (capset) and the ambient
    /// ones raised (those also permitted and inheritable: the kernel refuses
    /// the others, which are left out). Overrides capability_mode and
    /// capabilities when set.
    std::optional<CapabilitySets> capability_sets;
    /// A compiled seccomp BPF program, loaded with
    /// seccomp(SECCOMP_SET_MODE_FILTER, seccomp_flags): last before exec
    /// with no_new_privileges; without it (which takes CAP_SYS_ADMIN to
    /// load) before the uid and capabilities change, as runc does, so that
    /// it also filters what follows, before_exec included. With
    /// SECCOMP_FILTER_FLAG_NEW_LISTENER in seccomp_flags, before before_exec
    /// in either case, and seccomp_listener gets the listener. Read during
    /// spawn_process only.
    const std::vector<sock_filter>* seccomp_program = nullptr;
    /// Written to /proc/self/oom_score_adj before credentials change (and
    /// before any new user namespace, so lowering it keeps working).
    std::optional<int> oom_score_adj;
    std::optional<mode_t> umask;
    /// fds that stay open through child_setup and before_exec (fork mode)
    /// but are closed at exec.
    std::vector<int> keep_fds;
    /// Namespaces joined, in this order (a user namespace first: the others
    /// are joined with its rights), by fork mode's intermediate process
    /// before it makes the child: the new_namespaces are then owned by a
    /// joined user namespace, and a joined pid or time namespace is the
    /// child's. Setting any implies fork mode.
    std::vector<NamespaceJoin> join_namespaces;
    /// fds 3 .. 3+N-1 stay open across exec (runc --preserve-fds). When set,
    /// and always in fork mode, every other fd above 2 is closed.
    int preserve_fds = 0;
    unsigned seccomp_flags = 0; // SECCOMP_FILTER_FLAG_* for seccomp_program
    /// CLONE_NEW* flags: the child is born in new namespaces, in the same
    /// clone3 that puts it in its cgroup (so a new cgroup namespace is
    /// rooted at the child's own group).
    uint64_t new_namespaces = 0;
    /// With CLONE_NEWTIME in new_namespaces: the clock offsets of the new
    /// time namespace, in /proc/PID/timens_offsets' format ("monotonic
    /// SECS NANOSECS\n..."). A time namespace's offsets can only be set
    /// before a process lives in it, so fork mode's intermediate process
    /// unshares it for its children, writes them and then makes the child.
    std::string time_offsets;
    /// Runs in the child after it joined its cgroup and namespaces and
    /// after setsid, before credentials, limits, fds and working directory
    /// (the container runtime syncs with its parent here, mounts the root
    /// and pivots into it). An error fails the spawn like any other, with
    /// the callback's own message after "start `program`: ".
    std::function<Result<void>()> child_setup;
    /// Runs in the child after credentials, capabilities, limits, umask,
    /// oom_score_adj and working directory, just before the remaining fds
    /// are closed, seccomp is loaded and the program is exec'd.
    std::function<Result<void>()> before_exec;
    /// With SECCOMP_FILTER_FLAG_NEW_LISTENER (which needs it, and fork
    /// mode): runs in the child right after the program is loaded, with the
    /// listener fd, which the child closes after it. It hands the listener
    /// to whoever answers the notifications (the program now filters the
    /// callback's own system calls).
    std::function<Result<void>(int listener)> seccomp_listener;
    // (The callbacks come last: 16-byte aligned in libc++ and a multiple of
    // 16 long, they end the struct with no tail padding, which
    // Result<SpawnOptions> needs there: base/result.h.)
};

/// Checks what can be checked before forking (capability and syscall
/// names, capability bits, namespace flags, ranges) so that bad
/// configuration is reported without starting anything.
Result<void> validate_spawn_options(const SpawnOptions& options);

/// Starts the child. Returns its pid once it has exec'd; a failure in the
/// child before exec (bad user, missing program, a callback's error) is
/// returned as the error, and no child is left behind. With wait_for_exec
/// = false, see there.
Result<pid_t> spawn_process(const SpawnOptions& options);

/// For a reaped child that spawn_process did not wait for: why it exited
/// before its program ran ("start `x`: exec: No such file or directory"),
/// or nullopt when it did run (or is not such a child). Call it once for
/// each such child after reaping it: it also frees what was kept for it.
std::optional<Error> take_spawn_failure(pid_t pid);

/// "exited with status 3" / "killed by signal 9 (SIGKILL)" for a wait status.
std::string describe_wait_status(int status);

/// A wait status as a shell's $? shows it: the exit code, or 128 + the signal.
int shell_exit_code(int status);

} // namespace keel
