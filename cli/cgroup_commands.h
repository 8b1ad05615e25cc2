// `keel cgroup ...`: run a command in a cgroup of keel.slice with limits,
// show a group's counters, kill or remove it. For people and for tests that
// need a limit applied without a unit file.
#pragma once

#include <span>

namespace keel {

/// Takes the arguments after `cgroup` and returns the exit status.
int command_cgroup(std::span<char*> args);

} // namespace keel
