// PID 1's kv role: where its settings come from. The built-in unit
// keel-kv.service reads /etc/keel/kv.conf (etcd's ETCD_NAME=... lines) as
// its environment and runs `keel kv role`, which turns the kernel command
// line's keel.kv.FLAG=VALUE words into etcd's --FLAG=VALUE (a flag wins
// over its variable, so the command line wins over the file) and puts the
// data dir on STATE unless told otherwise. Pure: the caller reads
// /proc/cmdline.
#pragma once

#include "base/cmdline.h"
#include "base/result.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// The role's config file: ETCD_* lines, as etcd's /etc/default/etcd.
inline constexpr std::string_view kRoleConfigFile = "/etc/keel/kv.conf";
/// The role's data dir unless keel.kv.data-dir or ETCD_DATA_DIR names
/// one: /var is on STATE on a disk boot, so the data survives reboots.
inline constexpr std::string_view kRoleDataDir = "/var/lib/keel/kv";
/// What the kernel command line's settings for the role start with.
inline constexpr std::string_view kRoleParameterPrefix = "keel.kv.";

/// etcd's flags for the role: each keel.kv.FLAG=VALUE word of `cmdline`
/// as --FLAG=VALUE (a bare keel.kv.FLAG as --FLAG=true), in order, then
/// --data-dir=kRoleDataDir when neither a keel.kv.data-dir word nor
/// ETCD_DATA_DIR in `environment` says where the data goes. A FLAG that
/// is not a flag's name (lower-case letters, digits and dashes) is an
/// error naming the word.
Result<std::vector<std::string>>
role_arguments(const KernelCommandLine& cmdline,
               const std::map<std::string, std::string>& environment);

} // namespace keel::kv
