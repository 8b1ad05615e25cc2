// `keel cgroup ...`: run a command in a cgroup of keel.slice with limits,
// show a group's counters, kill or remove it. For people and for tests that
// need a limit applied without a unit file.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// The `cgroup` group: run, stats, kill, remove.
extern const Command kCgroupCommand;

} // namespace keel::cli
