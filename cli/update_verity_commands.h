// `keel update verity open|close|status`: dm-verity devices by hand, as
// veritysetup open/close/status do them, for operators checking a slot.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `update verity` group.
extern const Command kUpdateVerityCommand;

} // namespace keel::cli
