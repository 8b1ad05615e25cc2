// What create and exec share in starting a container's process: the
// spec's process settings as base/spawn's options, and the pid file.
// Private to containers/.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "base/spawn.h"
#include "containers/containers.h"
#include "containers/seccomp.h"
#include "containers/spec.h"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace keel::containers {

/// process's args, env, cwd, user and groups, rlimits, umask,
/// oom_score_adj, no_new_privs and the five capability sets, and the
/// seccomp program when there is one (it must outlive the spawn). The
/// caller adds the namespaces, cgroup, fds and callbacks.
SpawnOptions process_spawn_options(const oci::Process& process, const oci::SeccompFilter* seccomp);

/// The seccomp agent a process's filter notifies (SCMP_ACT_NOTIFY), at
/// linux.seccomp.listenerPath, and its hand-over as the runtime spec (1.1)
/// has it: one message on a stream connection, the containerProcessState
/// (ociVersion, fds ["seccompFd"], pid, metadata, the container's state)
/// with the listener as SCM_RIGHTS; then the connection ends, as runc's.
class SeccompAgent {
public:
    /// Connects before anything starts, so that a missing agent fails the
    /// create or exec with nothing made.
    static Result<SeccompAgent> connect(const oci::Seccomp& profile);

    /// The process `pid` (as the runtime sees it) of the container in
    /// `state` made `listener`.
    Result<void> hand_over(int listener, pid_t pid, const ContainerState& state);

private:
    Fd m_connection; // first: no tail padding (base/result.h)
    std::string m_path;
    std::string m_metadata;
};

/// The containerProcessState hand_over() sends.
std::string container_process_state(pid_t pid, std::string_view metadata,
                                    const ContainerState& state);

/// Writes `pid` to `path` atomically (a temporary file renamed over it);
/// on failure nothing is left of the temporary file.
Result<void> write_pid_file(const std::string& path, pid_t pid);

} // namespace keel::containers
