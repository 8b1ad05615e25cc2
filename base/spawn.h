// The one path that builds every child process keel starts: credentials,
// environment, rlimits, standard fds, working directory, capability bounding
// set, no_new_privs and a seccomp deny list. The container runtime extends
// this same path with namespaces rather than adding a second one.
#pragma once

#include "base/result.h"

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
    /// fds 0, 1, 2 for the child; -1 keeps the parent's.
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    /// Start a new session (setsid) so the child leads its own process group.
    bool new_session = true;
    /// false: spawn_process returns as soon as the child exists, and the
    /// child execs while the caller goes on (on another CPU, if there is
    /// one). A failure before exec then shows as the child exiting with
    /// status 127, and take_spawn_failure() tells what it was. Only where
    /// clone3 runs the child (x86-64, Linux >= 5.3, not under ASan);
    /// elsewhere the call waits anyway.
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
};

/// Checks what can be checked before forking (capability and syscall names)
/// so that bad configuration is reported without starting anything.
Result<void> validate_spawn_options(const SpawnOptions& options);

/// Starts the child. Returns its pid once it has exec'd; a failure in the
/// child before exec (bad user, missing program) is returned as the error,
/// and no child is left behind. With wait_for_exec = false, see there.
Result<pid_t> spawn_process(const SpawnOptions& options);

/// For a reaped child that spawn_process did not wait for: why it exited
/// before its program ran ("start `x`: exec: No such file or directory"),
/// or nullopt when it did run (or is not such a child). Call it once for
/// each such child after reaping it: it also frees what was kept for it.
std::optional<Error> take_spawn_failure(pid_t pid);

/// "exited with status 3" / "killed by signal 9 (SIGKILL)" for a wait status.
std::string describe_wait_status(int status);

} // namespace keel
