// The service manager's verbs: list-units, status UNIT, start/stop/restart/
// reload, enable/disable, daemon-reload, logs, and notify (systemd-notify's
// counterpart, for shell-script services). Output for people, --json for
// scripts.
#pragma once

#include <span>
#include <string_view>

namespace keel {

/// Each takes the arguments after the verb and returns the exit status.
int command_list_units(std::span<char*> args);
/// `keel status UNIT...`; exits 3 when a unit is not active, 4 when unknown.
int command_unit_status(std::span<char*> args);
/// start | stop | restart | reload.
int command_unit_job(std::string_view verb, std::span<char*> args);
/// enable | disable [--now].
int command_enable(std::string_view verb, std::span<char*> args);
int command_daemon_reload(std::span<char*> args);
int command_logs(std::span<char*> args);
int command_notify(std::span<char*> args);

} // namespace keel
