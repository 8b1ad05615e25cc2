// The service manager's verbs: status, list-units, start/stop/restart/
// reload, enable/disable, daemon-reload, logs, and notify (systemd-notify's
// counterpart, for shell-script services). Output for people, --json for
// scripts.
#pragma once

#include "base/result.h"
#include "cli/args.h"

#include <cstdint>
#include <string>

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

/// Whether `keel logs` keeps printing new lines until interrupted.
enum class Follow { No, Yes };
/// How `keel logs` prints a line.
enum class LogFormat { Text, Json };

/// What `keel logs` asks init's journal for.
struct LogQuery {
    /// The unit ("web.service"); empty: every unit and the kernel.
    std::string unit;
    /// Past lines first; 0: init's default (50).
    uint32_t lines = 0;
    Follow follow = Follow::No;
    LogFormat format = LogFormat::Text;
};

/// Prints the journal lines `query` asks for (following, until init
/// hangs up or the process is interrupted); init's refusal is an error.
Result<void> show_logs(const LogQuery& query);

} // namespace keel::cli
