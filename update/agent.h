// The update role's agent (`keel update agent`, run by PID 1 as
// keel-update.service): the health gate after a boot into a new slot, and
// the reboot into an installed update by the configured strategy.
//
// The gate: a slot that is not yet successful (its one try spent by the
// initramfs) becomes successful only once the health units have been
// active without a break for HealthyFor; a health unit that fails, or no
// health within HealthTimeout, reboots the machine, and since the
// slot has no tries left the other slot boots by itself. A machine that
// took the cluster's reboot lock gives it back only once it is healthy
// again (locksmith gives it back as soon as it starts).
//
// Everything outside (clocks, sleeping, init's unit states, the disk, the
// KV, the reboot) goes through AgentHost, so unit tests drive the agent
// with a fake host and a fake clock.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "update/update.h"
#include "update/update_config.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::update {

/// What init says of a health unit (its active state, coarsely).
enum class UnitActivity { Active, Activating, Inactive, Failed };
inline constexpr auto kUnitActivityNames = name_table<UnitActivity>({
    {UnitActivity::Active, "active"},
    {UnitActivity::Activating, "activating"},
    {UnitActivity::Inactive, "inactive"},
    {UnitActivity::Failed, "failed"},
});

/// One health unit's state, as init reports it.
struct UnitHealth {
    std::string name;
    UnitActivity activity = UnitActivity::Inactive;
    /// CLOCK_BOOTTIME of its last state change, when init says; without it
    /// the agent counts from when it first saw the unit active.
    std::optional<std::chrono::microseconds> since;
    std::string detail; ///< why it failed ("exited with status 1"), for the log
};

/// The gate's answer at one moment.
enum class HealthVerdict { Waiting, Healthy, Unhealthy };
inline constexpr auto kHealthVerdictNames = name_table<HealthVerdict>({
    {HealthVerdict::Waiting, "waiting"},
    {HealthVerdict::Healthy, "healthy"},
    {HealthVerdict::Unhealthy, "unhealthy"},
});

/// A verdict and why.
struct HealthCheck {
    HealthVerdict verdict = HealthVerdict::Waiting;
    std::string reason;
};

/// The health gate as a pure state machine: observations in, a verdict
/// out. Healthy once every unit has been active for `healthy_for` without a
/// break; unhealthy as soon as one has failed, or when `timeout` (counted
/// from the first observation) passes first.
class HealthGate {
public:
    HealthGate(std::chrono::microseconds healthy_for,
               std::optional<std::chrono::microseconds> timeout)
        : m_healthy_for(healthy_for), m_timeout(timeout) {}

    /// The verdict at `now` (CLOCK_BOOTTIME) given the units' states.
    HealthCheck observe(std::chrono::microseconds now, const std::vector<UnitHealth>& units);

private:
    std::chrono::microseconds m_healthy_for;
    std::optional<std::chrono::microseconds> m_timeout;
    /// When each unit without a `since` was first seen active (reset when
    /// it is seen otherwise).
    std::map<std::string, std::chrono::microseconds> m_seen_active;
    /// The first observation's time.
    std::optional<std::chrono::microseconds> m_started;
};

/// What the agent needs from the machine.
class AgentHost {
public:
    virtual ~AgentHost() = default;
    /// CLOCK_BOOTTIME now.
    virtual std::chrono::microseconds boot_time() = 0;
    /// The wall clock (UTC), for reboot windows.
    virtual std::chrono::sys_seconds wall_time() = 0;
    /// How far the local time zone is east of UTC at `at` (/etc/localtime,
    /// or $TZ; 0 on a machine with neither): reboot windows are local.
    virtual std::chrono::seconds utc_offset(std::chrono::sys_seconds at) = 0;
    /// Waits `duration` (a fake host moves its clocks on instead).
    virtual void sleep_for(std::chrono::microseconds duration) = 0;
    /// The states of `units`; with no units, the system as a whole (init's
    /// running = active, degraded = failed).
    virtual Result<std::vector<UnitHealth>> unit_health(const std::vector<std::string>& units) = 0;
    /// The slot the system booted from.
    virtual Result<BootedSlot> booted_slot() = 0;
    virtual Result<Slots> read_slots(const std::string& disk) = 0;
    virtual Result<void> write_slots(const Slots& slots) = 0;
    /// This machine's id (/etc/machine-id): its name in the reboot lock.
    virtual Result<std::string> machine_id() = 0;
    /// Takes or gives back this machine's unit of the reboot lock.
    virtual Result<RebootSemaphore> change_reboot_lock(RebootLockChange change,
                                                       std::string_view holder) = 0;
    /// Asks init to reboot; `why` goes to the log.
    virtual Result<void> reboot(std::string_view why) = 0;
    /// One line of the agent's log.
    virtual void log(std::string_view line) = 0;
    /// Asks the update source what to install now and installs it into
    /// the slot not running: the version installed, or empty when there
    /// was nothing to install (the reason logged).
    virtual Result<std::string> install_offered_update() = 0;
};

/// How the health gate ended.
enum class GateOutcome {
    AlreadySuccessful, ///< the booted slot was good before: nothing marked
    MarkedGood,        ///< healthy: the slot is marked successful now
    Rebooting,         ///< unhealthy: a reboot was asked for
    Unhealthy,         ///< a slot good before is unhealthy now: left alone
};
inline constexpr auto kGateOutcomeNames = name_table<GateOutcome>({
    {GateOutcome::AlreadySuccessful, "already successful"},
    {GateOutcome::MarkedGood, "marked good"},
    {GateOutcome::Rebooting, "rebooting"},
    {GateOutcome::Unhealthy, "unhealthy"},
});

/// How often the agent asks init about the health units.
inline constexpr std::chrono::seconds kHealthPollInterval{1};

/// How long the agent waits between tries at the reboot lock (or at a KV
/// that does not answer): the first wait, doubled each time up to the
/// longest.
struct LockBackoff {
    std::chrono::seconds first{5};
    std::chrono::seconds longest{300};
};

/// The update role's decisions, on a host.
class Agent {
public:
    Agent(AgentHost& host, UpdateConfig config, LockBackoff backoff = {})
        : m_host(host), m_config(std::move(config)), m_backoff(backoff) {}

    /// At start: when the booted slot is not yet successful, waits for the
    /// health gate, then marks the slot good (both GPT copies) or asks for a
    /// reboot. With RebootStrategy=kv-lock, a healthy machine gives back its
    /// unit of the reboot lock (one it does not hold: no change), also when
    /// it came back on a slot that was good before (a fallback). Errors:
    /// the slots could not be read or written.
    Result<GateOutcome> run_health_gate();

    /// An update was installed: reboot into it by the strategy. off: only
    /// logs; reboot: at the next reboot window (at once without one);
    /// kv-lock: in a window, takes this machine's unit of the reboot lock
    /// (tried again with backoff, and in the next window once this one
    /// ends), then reboots. Returns once the reboot was asked for.
    Result<void> request_reboot_for_update();

    /// The role's job after the gate, when an update source is set: every
    /// CheckInterval, installs what the source offers and then reboots
    /// into it by the strategy. A failed check or install is logged and
    /// tried again at the next interval. Returns once an update was
    /// installed and its reboot asked for (or, with RebootStrategy=off,
    /// logged).
    Result<void> run_updates();

private:
    // Polls the health units until the gate decides.
    HealthCheck wait_for_health();
    // Gives back this machine's unit of the lock, tried until the KV
    // answers.
    void release_reboot_lock();
    // Sleeps until a reboot window is open (at once without one), saying
    // once when that will be ("an update is installed; WAITING the window").
    void wait_for_window(std::string_view waiting);

    AgentHost& m_host;
    UpdateConfig m_config;
    LockBackoff m_backoff;
};

/// "2026-12-10 23:00:00 UTC".
std::string format_utc(std::chrono::sys_seconds time);

} // namespace keel::update
