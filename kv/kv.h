// keel's embedded KV store, the one header other folders include: run a
// member (`keel kv serve`, or PID 1's kv role) with etcd's command line.
#pragma once

#include "base/result.h"

#include <map>
#include <span>
#include <string>

namespace keel::kv {

/// Runs one KV member until SIGTERM or SIGINT: `args` are etcd's flags
/// (--name, --data-dir, --listen-client-urls, ...), `environment` the
/// process's variables (ETCD_NAME, ...; a flag wins). Errors say what in
/// the command line or the data dir is wrong.
Result<void> serve(std::span<const std::string> args,
                   const std::map<std::string, std::string>& environment);

/// The help text of `keel kv serve`: the flags it takes.
std::string serve_usage();

} // namespace keel::kv
