// `keel network ...`: bridge networking by hand, the plumbing under
// `keel run --network bridge`: attach a network namespace to the bridge
// (address leased, veth pair, ports published), detach it, list what is
// attached. For people and for the host tests.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `network` group: attach, detach, ls.
extern const Command kNetworkCommand;

} // namespace keel::cli
