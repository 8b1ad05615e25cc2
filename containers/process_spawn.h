// What create and exec share in starting a container's process: the
// spec's process settings as base/spawn's options, and the pid file.
// Private to containers/.
#pragma once

#include "base/result.h"
#include "base/spawn.h"
#include "containers/seccomp.h"
#include "containers/spec.h"

#include <string>
#include <sys/types.h>

namespace keel::containers {

/// process's args, env, cwd, user and groups, rlimits, umask,
/// oom_score_adj, no_new_privs and the five capability sets, and the
/// seccomp program when there is one (it must outlive the spawn). The
/// caller adds the namespaces, cgroup, fds and callbacks.
SpawnOptions process_spawn_options(const oci::Process& process, const oci::SeccompFilter* seccomp);

/// Writes `pid` to `path` atomically (a temporary file renamed over it);
/// on failure nothing is left of the temporary file.
Result<void> write_pid_file(const std::string& path, pid_t pid);

} // namespace keel::containers
