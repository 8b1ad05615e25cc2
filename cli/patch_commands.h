// `keel patch ...`: kernel live patches from the command line: load,
// unload, enable, disable, list, info, install, uninstall, sign.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `patch` group.
extern const Command kPatchCommand;

} // namespace keel::cli
