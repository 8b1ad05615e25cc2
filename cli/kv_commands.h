// `keel kv`: the embedded KV store. `keel kv serve` runs a member with
// etcd's command line (its flags and ETCD_* variables), so an etcd command
// line runs with the binary's name swapped; linked or installed as `etcd`,
// keel takes that command line as it is.
#pragma once

#include "cli/args.h"
#include "cli/output.h"

#include <span>
#include <string_view>

namespace keel::cli {

/// `keel kv`, as `keel help` lists it (main() hands `keel kv ...` to
/// run_kv(): etcd's flags are not keel's option syntax).
extern const Command kKvCommand;

/// `keel kv ARGS...` (what follows `kv`).
CommandResult run_kv(std::span<const std::string_view> args);
/// `keel kv serve ARGS...`, and keel started as `etcd`.
CommandResult run_kv_serve(std::span<const std::string_view> args);

} // namespace keel::cli
