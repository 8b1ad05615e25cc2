// The update role's settings: /etc/keel/update.conf (an `[Update]` section
// in unit-file syntax) and the kernel command line's keel.update.* words,
// which win over the file, as keel.kv.* words do for the kv role. Also the
// reboot window (locksmith's "Thu 23:00" and "1h30m") and when a reboot
// may start by it. Pure: callers read the file and /proc/cmdline.
#pragma once

#include "base/cmdline.h"
#include "base/names.h"
#include "base/result.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::update {

/// The role's config file.
inline constexpr std::string_view kUpdateConfigFile = "/etc/keel/update.conf";
/// The section of the settings file that holds the update role's settings.
inline constexpr std::string_view kUpdateSection = "Update";
/// What the kernel command line's settings for the role start with.
inline constexpr std::string_view kUpdateParameterPrefix = "keel.update.";

/// How a machine reboots into an installed update (locksmith's strategies).
enum class RebootStrategy {
    Reboot, ///< at the next reboot window (at once without one)
    KvLock, ///< take a unit of the cluster's reboot lock first, then as Reboot
    Off,    ///< never by itself: the update waits for an operator's reboot
};
inline constexpr auto kRebootStrategyNames = name_table<RebootStrategy>({
    {RebootStrategy::Reboot, "reboot"},
    {RebootStrategy::KvLock, "kv-lock"},
    {RebootStrategy::Off, "off"},
});
/// A strategy by name; locksmith's "etcd-lock" is kv-lock. Errors list the
/// names.
Result<RebootStrategy> parse_reboot_strategy(std::string_view text);

/// A day of the week (ISO order: Monday first).
enum class Weekday { Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday };
inline constexpr auto kWeekdayNames = name_table<Weekday>({
    {Weekday::Monday, "Mon"},
    {Weekday::Tuesday, "Tue"},
    {Weekday::Wednesday, "Wed"},
    {Weekday::Thursday, "Thu"},
    {Weekday::Friday, "Fri"},
    {Weekday::Saturday, "Sat"},
    {Weekday::Sunday, "Sun"},
});

/// When reboots may start: every week on `day`, or every day when no day
/// is given, at `start_minute` (minutes after midnight, local time), for
/// `length`.
struct RebootWindow {
    std::optional<Weekday> day; ///< nullopt: daily
    uint32_t start_minute = 0;  ///< 0 to 1439
    std::chrono::seconds length{0};
    /// "Thu 23:00 for 1h30m0s", "daily 04:00 for 30m0s".
    std::string to_string() const;
};

/// A window from locksmith's two settings: `start` "Thu 23:00" (a weekday
/// as Mon..Sun or its full name, any case) or "23:00" (daily), and
/// `length` as Go writes durations ("1h30m", "90m", "45s"; more than 0,
/// at most the window's period). Errors say which of the two is wrong.
Result<RebootWindow> parse_reboot_window(std::string_view start, std::string_view length);

/// The time a reboot may start, seen at `now`: `now` itself when `now` is
/// inside a window (or there is no window), else the next window's start.
/// The window is on the wall clock `utc_offset` east of UTC (the local
/// time zone's offset at `now`; a change of it before that start, such as
/// daylight saving time, is for the caller to see when it gets there).
std::chrono::sys_seconds next_reboot_time(std::chrono::sys_seconds now,
                                          const std::optional<RebootWindow>& window,
                                          std::chrono::seconds utc_offset = {});

/// The end of the window `now` is in (nullopt with no window, or when
/// `now` is outside every window): a reboot not started by then waits for
/// the next one. `utc_offset` as for next_reboot_time().
std::optional<std::chrono::sys_seconds> reboot_window_end(std::chrono::sys_seconds now,
                                                          const std::optional<RebootWindow>& window,
                                                          std::chrono::seconds utc_offset = {});

/// Everything the update role is told.
struct UpdateConfig {
    /// Units that must be active for `healthy_for` before a newly booted
    /// slot is marked successful (HealthUnits=, keel.update.health=).
    /// None: the system as a whole must be running (not degraded).
    std::vector<std::string> health_units;
    std::chrono::microseconds healthy_for = std::chrono::seconds(60); ///< HealthyFor=
    std::optional<std::chrono::microseconds> health_timeout =
        std::chrono::minutes(10);                     ///< HealthTimeout= (nullopt: infinity)
    RebootStrategy strategy = RebootStrategy::Reboot; ///< RebootStrategy=
    std::optional<RebootWindow> window;               ///< RebootWindowStart= + RebootWindowLength=
    std::string lock_group;                           ///< LockGroup= (empty: the cluster-wide lock)
    std::vector<std::string> kv_endpoints{"127.0.0.1:2379"}; ///< KVEndpoints=
    /// CheckInterval=: how often the role asks the source for an update.
    std::chrono::seconds check_interval = std::chrono::hours(1);
    /// SignedChannel= (also keel.update.SignedChannel=): the source's
    /// channel must be signed and current; unset: the source's own setting.
    std::optional<bool> signed_channel;
    std::string source;  ///< Source=: where updates come from (a URL)
    std::string channel; ///< Channel=
};

/// The settings from update.conf's text (`filename` names it in errors;
/// empty text: the defaults) with the command line's keel.update.KEY=VALUE
/// words over them (KEY as in the file, e.g. keel.update.HealthyFor=30s;
/// keel.update.health=a,b is HealthUnits=). Strict: an unknown key or
/// section, a bad value, or a window start without a length (or the other
/// way round) is an error naming the key and where it was set.
Result<UpdateConfig> parse_update_config(std::string_view text, std::string_view filename,
                                         const KernelCommandLine& cmdline);

/// Whether the command line sets anything for the role (a keel.update.
/// word): with update.conf, what makes the role run.
bool update_role_requested(const KernelCommandLine& cmdline);

} // namespace keel::update
