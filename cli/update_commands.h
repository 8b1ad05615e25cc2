// `keel update ...`: the A/B slots from the command line: status,
// mark-good, mark-bad, rollback, activate.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `update` group.
extern const Command kUpdateCommand;

} // namespace keel::cli
