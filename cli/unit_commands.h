// The service manager's verbs: status, list-units, start/stop/restart/
// reload, enable/disable, daemon-reload, logs, and notify (systemd-notify's
// counterpart, for shell-script services). Output for people, --json for
// scripts.
#pragma once

#include "cli/args.h"

namespace keel::cli {

/// `keel status [UNIT...]`: init's state, or units in detail; exits 3 when
/// a unit is not active, 4 when one is unknown.
extern const Command kStatusCommand;
/// `keel list-units [PATTERN...]`.
extern const Command kListUnitsCommand;
/// `keel start | stop | restart | reload UNIT...`.
extern const Command kUnitJobCommand;
/// `keel enable | disable UNIT... [--now]`.
extern const Command kEnableCommand;
/// `keel daemon-reload`.
extern const Command kDaemonReloadCommand;
/// `keel logs [UNIT]`.
extern const Command kLogsCommand;
/// `keel notify [KEY=VALUE...]`.
extern const Command kNotifyCommand;

} // namespace keel::cli
