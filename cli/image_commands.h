// `keel image ...`: the image store from the command line, as `docker
// image` spells it: load, import, ls, inspect, rm, prune (and, from the
// registry client, pull). Every verb takes --store DIR (default
// $KEEL_IMAGE_STORE or /var/lib/keel).
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `image` group.
extern const Command kImageCommand;

} // namespace keel::cli
