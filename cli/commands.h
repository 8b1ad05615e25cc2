// The commands of `keel` that are neither the service manager's verbs
// (unit_commands.h), cgroups (cgroup_commands.h) nor live patches
// (patch_commands.h): init itself, ending the system, kernel modules and
// SHA-256 digests.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// `keel init [--system|--container] [--control-socket PATH] [--units DIR]...
/// [-- COMMAND...]`: runs init; what keel runs as PID 1 whatever argv says.
extern const Command kInitCommand;
/// `keel poweroff | reboot | halt`: asks init to end the system.
extern const Command kPowerCommand;
/// `keel modprobe MODULE...`: loads modules with their dependencies.
extern const Command kModprobeCommand;
/// `keel sha256 FILE...`: digests as sha256sum prints them.
extern const Command kSha256Command;

} // namespace keel::cli
