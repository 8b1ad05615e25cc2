// The vocabulary of init's control protocol, shared by init and its
// clients: unit states, job types and results, how a service ended, what a
// process init started is doing, how the system ends. Each enum has one
// name table beside it; its names are the words systemd uses, and the
// protocol carries the enum: proto/control.proto numbers each value by its
// place in the table plus one (to_wire, from_wire), and names it the same
// way (checked by tests/unit/types_test.cpp).
#pragma once

#include "base/names.h"

#include <cstddef>
#include <optional>
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

/// How the system ends. Kexec: into the kernel loaded with
/// kexec_file_load(2) (`keel reboot --kexec`), without the firmware; a
/// reboot when that fails at the end.
enum class PowerAction { Poweroff, Reboot, Halt, Kexec };
inline constexpr auto kPowerActionNames = name_table<PowerAction>({
    {PowerAction::Poweroff, "poweroff"},
    {PowerAction::Reboot, "reboot"},
    {PowerAction::Halt, "halt"},
    {PowerAction::Kexec, "kexec"},
});

/// The table of each enum here, for the templates below.
constexpr const auto& names_of(ActiveState) {
    return kActiveStateNames;
}
constexpr const auto& names_of(LoadState) {
    return kLoadStateNames;
}
constexpr const auto& names_of(EnableState) {
    return kEnableStateNames;
}
constexpr const auto& names_of(UnitType) {
    return kUnitTypeNames;
}
constexpr const auto& names_of(ServiceType) {
    return kServiceTypeNames;
}
constexpr const auto& names_of(ServiceResult) {
    return kServiceResultNames;
}
constexpr const auto& names_of(JobType) {
    return kJobTypeNames;
}
constexpr const auto& names_of(JobResult) {
    return kJobResultNames;
}
constexpr const auto& names_of(EnableAction) {
    return kEnableActionNames;
}
constexpr const auto& names_of(ProcessState) {
    return kProcessStateNames;
}
constexpr const auto& names_of(SystemState) {
    return kSystemStateNames;
}
constexpr const auto& names_of(InitMode) {
    return kInitModeNames;
}
constexpr const auto& names_of(PowerAction) {
    return kPowerActionNames;
}

/// The name of any of these, for people: describe(ActiveState::Failed) == "failed".
template <typename Enum> constexpr std::string_view describe(Enum value) requires requires {
    names_of(value);
}
{ return names_of(value).name(value); }

/// The number proto/control.proto gives `value`: its place in the table,
/// plus one (0 is "not given" on the wire).
template <typename Enum> constexpr int to_wire(Enum value) requires requires {
    names_of(value);
}
{ return int(value) + 1; }

/// The enum a number from the wire stands for; nullopt for 0 (not given)
/// and for numbers this side does not know (a newer peer's).
template <typename Enum> constexpr std::optional<Enum> from_wire(int number) {
    constexpr auto& table = names_of(Enum{});
    if (number < 1 || std::size_t(number) > table.entries().size())
        return std::nullopt;
    return Enum(number - 1);
}

/// The name of a number from the wire: "?" when from_wire does not know it.
template <typename Enum> constexpr std::string_view describe_wire(int number) {
    std::optional<Enum> value = from_wire<Enum>(number);
    return value ? describe(*value) : "?";
}

namespace detail {
// The wire numbers are the tables' places: every table lists its enum's
// values in order, from 0, none left out.
template <typename Enum, std::size_t N> constexpr bool in_order(const NameTable<Enum, N>& table) {
    for (std::size_t i = 0; i < N; ++i)
        if (table.entries()[i].value != Enum(i))
            return false;
    return true;
}
static_assert(in_order(kActiveStateNames) && in_order(kLoadStateNames) &&
              in_order(kEnableStateNames) && in_order(kUnitTypeNames) &&
              in_order(kServiceTypeNames) && in_order(kServiceResultNames) &&
              in_order(kJobTypeNames) && in_order(kJobResultNames) &&
              in_order(kEnableActionNames) && in_order(kProcessStateNames) &&
              in_order(kSystemStateNames) && in_order(kInitModeNames) &&
              in_order(kPowerActionNames));
} // namespace detail

} // namespace keel
