// `keel update agent` (the update role PID 1 runs as keel-update.service:
// the health gate after a boot into a new slot) and `keel update reboot`
// (reboot into an installed update by the configured strategy).
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// `keel update agent`.
extern const Command kUpdateAgentCommand;
/// `keel update reboot`.
extern const Command kUpdateRebootCommand;

} // namespace keel::cli
