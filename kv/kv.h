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

/// Runs PID 1's kv role (`keel kv role`, what the built-in unit
/// keel-kv.service runs) like serve(): the kernel command line's
/// keel.kv.FLAG=VALUE words are etcd's --FLAG=VALUE, over the ETCD_*
/// variables in `environment` (which the unit reads from
/// /etc/keel/kv.conf); the data dir is /var/lib/keel/kv, on STATE, unless
/// one of them names another. Errors name the setting that is wrong.
Result<void> serve_role(const std::map<std::string, std::string>& environment);

/// The help text of `keel kv serve`: the flags it takes.
std::string serve_usage();

} // namespace keel::kv
