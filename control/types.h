// The vocabulary of init's control protocol, shared by init and its
// clients: unit states, job types and results, how a service ended, what a
// process init started is doing, how the system ends. Each enum has one
// name table beside it; its names are the words systemd uses, and the
// protocol carries the enum (proto/control.proto numbers its values the
// same way, checked in control/control.cpp).
#pragma once

#include "base/names.h"

#include <string_view>

namespace keel {

/// systemd's high-level unit states.
enum class ActiveState { Inactive, Activating, Active, Reloading, Deactivating, Failed };
inline constexpr auto kActiveStateNames = name_table<ActiveState>({
    {ActiveState::Inactive, "inactive"},
    {ActiveState::Activating, "activating"},
    {ActiveState::Active, "active"},
    {ActiveState::Reloading, "reloading"},
    {ActiveState::Deactivating, "deactivating"},
    {ActiveState::Failed, "failed"},
});

/// Whether a unit's file could be read.
enum class LoadState { Loaded, NotFound, Error };
inline constexpr auto kLoadStateNames = name_table<LoadState>({
    {LoadState::Loaded, "loaded"},
    {LoadState::NotFound, "not-found"},
    {LoadState::Error, "error"},
});

/// How a unit is enabled. Builtin: one of keel's own targets, shown as
/// static.
enum class EnableState { Enabled, Disabled, Static, Builtin };
inline constexpr auto kEnableStateNames = name_table<EnableState>({
    {EnableState::Enabled, "enabled"},
    {EnableState::Disabled, "disabled"},
    {EnableState::Static, "static"},
    {EnableState::Builtin, "builtin"},
});

/// The kinds of unit keel runs.
enum class UnitType { Service, Target };
inline constexpr auto kUnitTypeNames = name_table<UnitType>({
    {UnitType::Service, "service"},
    {UnitType::Target, "target"},
});

/// How a service tells that it has started (systemd's Type=).
enum class ServiceType {
    Simple,  // started once forked and exec'd
    Exec,    // the same in keel: spawn returns after exec
    Notify,  // started when it sends READY=1 on $NOTIFY_SOCKET
    Oneshot, // started when its ExecStart= commands have all exited successfully
};
inline constexpr auto kServiceTypeNames = name_table<ServiceType>({
    {ServiceType::Simple, "simple"},
    {ServiceType::Exec, "exec"},
    {ServiceType::Notify, "notify"},
    {ServiceType::Oneshot, "oneshot"},
});

/// Why a service last stopped or failed (systemd's Result=).
enum class ServiceResult {
    Success,
    Resources,     // a process could not be started (missing program, bad user)
    Protocol,      // a notify service exited before READY=1
    Timeout,       // a start or stop timeout passed
    ExitCode,      // a process exited non-zero
    Signal,        // a process was killed by a signal
    CoreDump,      // ... and dumped core
    Watchdog,      // WatchdogSec= passed without WATCHDOG=1
    StartLimitHit, // more than StartLimitBurst= starts in StartLimitIntervalSec=
    Assert,        // an Assert*= failed
};
inline constexpr auto kServiceResultNames = name_table<ServiceResult>({
    {ServiceResult::Success, "success"},
    {ServiceResult::Resources, "resources"},
    {ServiceResult::Protocol, "protocol"},
    {ServiceResult::Timeout, "timeout"},
    {ServiceResult::ExitCode, "exit-code"},
    {ServiceResult::Signal, "signal"},
    {ServiceResult::CoreDump, "core-dump"},
    {ServiceResult::Watchdog, "watchdog"},
    {ServiceResult::StartLimitHit, "start-limit-hit"},
    {ServiceResult::Assert, "assert"},
});

/// What a job asks of a unit; also the verbs `keel start|stop|restart|reload`.
enum class JobType { Start, Stop, Restart, Reload };
inline constexpr auto kJobTypeNames = name_table<JobType>({
    {JobType::Start, "start"},
    {JobType::Stop, "stop"},
    {JobType::Restart, "restart"},
    {JobType::Reload, "reload"},
});

/// How a job ended.
enum class JobResult {
    Done,       // the unit reached the state asked for
    Skipped,    // a Condition*= did not hold; the unit stays inactive (not an error)
    Failed,     // the unit failed (its ServiceResult says how)
    Dependency, // a unit it requires failed to start
    Canceled,   // replaced by a conflicting job (stop instead of start...)
};
inline constexpr auto kJobResultNames = name_table<JobResult>({
    {JobResult::Done, "done"},
    {JobResult::Skipped, "skipped"},
    {JobResult::Failed, "failed"},
    {JobResult::Dependency, "dependency"},
    {JobResult::Canceled, "canceled"},
});

/// `keel enable` or `keel disable`.
enum class EnableAction { Enable, Disable };
inline constexpr auto kEnableActionNames = name_table<EnableAction>({
    {EnableAction::Enable, "enable"},
    {EnableAction::Disable, "disable"},
});

/// A command init started itself (keel.run=, a container's main command).
enum class ProcessState { Running, Exited, Failed };
inline constexpr auto kProcessStateNames = name_table<ProcessState>({
    {ProcessState::Running, "running"},
    {ProcessState::Exited, "exited"},
    {ProcessState::Failed, "failed"},
});

/// The service manager as a whole, in `systemctl is-system-running`'s words.
enum class SystemState { Starting, Running, Degraded, Stopping };
inline constexpr auto kSystemStateNames = name_table<SystemState>({
    {SystemState::Starting, "starting"},
    {SystemState::Running, "running"},
    {SystemState::Degraded, "degraded"},
    {SystemState::Stopping, "stopping"},
});

/// What init is PID 1 of.
enum class InitMode {
    System,    // the kernel's init: mounts, modules, hostname, reboot(2) at the end
    Container, // PID 1 of a namespace: reaps, forwards signals, exits with the main command
};
inline constexpr auto kInitModeNames = name_table<InitMode>({
    {InitMode::System, "system"},
    {InitMode::Container, "container"},
});

/// How the system ends.
enum class PowerAction { Poweroff, Reboot, Halt };
inline constexpr auto kPowerActionNames = name_table<PowerAction>({
    {PowerAction::Poweroff, "poweroff"},
    {PowerAction::Reboot, "reboot"},
    {PowerAction::Halt, "halt"},
});

/// The name of any of these, for messages: describe(ActiveState::Failed) == "failed".
inline std::string_view describe(ActiveState value) {
    return kActiveStateNames.name(value);
}
inline std::string_view describe(LoadState value) {
    return kLoadStateNames.name(value);
}
inline std::string_view describe(EnableState value) {
    return kEnableStateNames.name(value);
}
inline std::string_view describe(UnitType value) {
    return kUnitTypeNames.name(value);
}
inline std::string_view describe(ServiceType value) {
    return kServiceTypeNames.name(value);
}
inline std::string_view describe(ServiceResult value) {
    return kServiceResultNames.name(value);
}
inline std::string_view describe(JobType value) {
    return kJobTypeNames.name(value);
}
inline std::string_view describe(JobResult value) {
    return kJobResultNames.name(value);
}
inline std::string_view describe(EnableAction value) {
    return kEnableActionNames.name(value);
}
inline std::string_view describe(ProcessState value) {
    return kProcessStateNames.name(value);
}
inline std::string_view describe(SystemState value) {
    return kSystemStateNames.name(value);
}
inline std::string_view describe(InitMode value) {
    return kInitModeNames.name(value);
}
inline std::string_view describe(PowerAction value) {
    return kPowerActionNames.name(value);
}

} // namespace keel
