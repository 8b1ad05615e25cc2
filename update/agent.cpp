// The update role's agent (agent.h): the health gate as a pure state
// machine, and the agent's two jobs on an AgentHost: after a boot, mark the
// slot good or reboot away from it; after an install, reboot by strategy.
#include "update/agent.h"

#include "base/strings.h"

#include <algorithm>
#include <ctime>

namespace keel::update {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr seconds kHealthLogInterval{10};

std::string span(microseconds duration) {
    return cat(format_seconds(uint64_t(std::max<int64_t>(duration.count(), 0))), "s");
}

std::string slot_text(SlotName slot) {
    return cat(kSlotNames.name(slot), " (", slot_label(slot), ")");
}

} // namespace

std::string format_utc(sys_seconds time) {
    std::time_t t = std::time_t(time.time_since_epoch().count());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[32] = {};
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text;
}

HealthCheck HealthGate::observe(microseconds now, const std::vector<UnitHealth>& units) {
    if (!m_started)
        m_started = now;
    microseconds started = *m_started;
    // All active, since the latest of their activations. (Plain values, not
    // an optional: GCC 12 -O2 sees an optional's value as uninitialised.)
    bool all_active = true;
    microseconds healthy_since{0};
    std::string waiting_for;
    for (const UnitHealth& unit : units) {
        if (unit.activity == UnitActivity::Failed)
            return {
                HealthVerdict::Unhealthy,
                cat(unit.name, " failed", unit.detail.empty() ? "" : cat(" (", unit.detail, ")"))};
        if (unit.activity != UnitActivity::Active) {
            m_seen_active.erase(unit.name);
            all_active = false;
            if (waiting_for.empty())
                waiting_for = cat(unit.name, " is ", kUnitActivityNames.name(unit.activity));
            continue;
        }
        microseconds since =
            unit.since ? *unit.since : m_seen_active.try_emplace(unit.name, now).first->second;
        healthy_since = std::max(healthy_since, since);
    }
    std::string names;
    for (const UnitHealth& unit : units)
        names += cat(names.empty() ? "" : ", ", unit.name);
    if (all_active && now - healthy_since >= m_healthy_for)
        return {HealthVerdict::Healthy, cat(names, " active for ", span(now - healthy_since))};
    if (waiting_for.empty())
        waiting_for =
            cat(names, " active for ", span(now - healthy_since), " of ", span(m_healthy_for));
    if (m_timeout && now - started >= *m_timeout)
        return {HealthVerdict::Unhealthy,
                cat("not healthy ", span(*m_timeout),
                    " after the gate began (HealthTimeout=): ", waiting_for)};
    return {HealthVerdict::Waiting, std::move(waiting_for)};
}

HealthCheck Agent::wait_for_health() {
    HealthGate gate(m_config.healthy_for, m_config.health_timeout);
    std::optional<microseconds> last_logged;
    for (;;) {
        microseconds now = m_host.boot_time();
        auto units = m_host.unit_health(m_config.health_units);
        HealthCheck check;
        if (units) {
            check = gate.observe(now, *units);
        } else {
            // init not answering counts as not healthy yet (and against the
            // timeout).
            check = gate.observe(now, {UnitHealth{.name = "init",
                                                  .activity = UnitActivity::Inactive,
                                                  .since = std::nullopt,
                                                  .detail = {}}});
            check.reason = cat("init does not answer: ", units.error().to_string());
        }
        if (check.verdict != HealthVerdict::Waiting)
            return check;
        // The reason changes every poll while the units count up; a line
        // every kHealthLogInterval is enough.
        if (!last_logged || now - *last_logged >= kHealthLogInterval) {
            m_host.log(cat("waiting for health: ", check.reason));
            last_logged = now;
        }
        m_host.sleep_for(kHealthPollInterval);
    }
}

void Agent::release_reboot_lock() {
    auto id = m_host.machine_id();
    if (!id) {
        m_host.log(cat("cannot give back the reboot lock: ", id.error().to_string()));
        return;
    }
    seconds backoff = m_backoff.first;
    for (;;) {
        auto released = m_host.change_reboot_lock(RebootLockChange::Release, *id);
        if (released) {
            m_host.log(cat("reboot lock: ", *id, " does not hold it (", released->semaphore, " of ",
                           released->max, " free)"));
            return;
        }
        m_host.log(cat("give back the reboot lock: ", released.error().to_string(), "; again in ",
                       backoff.count(), "s"));
        m_host.sleep_for(backoff);
        backoff = std::min(backoff * 2, m_backoff.longest);
    }
}

Result<GateOutcome> Agent::run_health_gate() {
    BootedSlot booted = TRY_CTX(m_host.booted_slot(), "which slot was booted");
    Slots slots = TRY(m_host.read_slots(booted.disk));
    const SlotFlags flags = slots[booted.slot].flags;
    bool lock = m_config.strategy == RebootStrategy::KvLock;
    if (flags.successful) {
        if (!lock)
            return GateOutcome::AlreadySuccessful;
        // A machine back on its old slot (a fallback, or a reboot without
        // an update) gives its unit back once it is healthy too.
        HealthCheck check = wait_for_health();
        if (check.verdict != HealthVerdict::Healthy) {
            m_host.log(cat("slot ", slot_text(booted.slot), " is unhealthy: ", check.reason,
                           "; it was good before, so it stays, and the reboot lock is kept"));
            return GateOutcome::Unhealthy;
        }
        release_reboot_lock();
        return GateOutcome::AlreadySuccessful;
    }
    m_host.log(cat("slot ", slot_text(booted.slot), " is on trial (", flags.to_string(),
                   "): waiting for ",
                   m_config.health_units.empty() ? std::string("the system to be running")
                                                 : cat("health units")));
    HealthCheck check = wait_for_health();
    if (check.verdict == HealthVerdict::Healthy) {
        // Read again: an operator may have changed the flags meanwhile.
        Slots now = TRY(m_host.read_slots(booted.disk));
        if (now[booted.slot].flags.successful) {
            m_host.log(cat("slot ", slot_text(booted.slot), " was marked successful meanwhile"));
        } else {
            Slots good = TRY(mark_good(now, booted.slot));
            TRY_CTX(m_host.write_slots(good),
                    cat("mark slot ", kSlotNames.name(booted.slot), " good"));
            m_host.log(cat("slot ", kSlotNames.name(booted.slot),
                           " is healthy: marked successful (", check.reason, ")"));
        }
        if (lock)
            release_reboot_lock();
        return GateOutcome::MarkedGood;
    }
    Slots now = TRY(m_host.read_slots(booted.disk));
    const SlotFlags& current = now[booted.slot].flags;
    std::optional<SlotName> next = choose_boot_slot(now);
    std::string after = !next                  ? std::string("no slot can boot next")
                        : *next == booted.slot ? cat(unsigned(current.tries), " tries left: slot ",
                                                     kSlotNames.name(booted.slot), " boots again")
                                               : cat("slot ", slot_text(*next), " boots next");
    m_host.log(cat("slot ", kSlotNames.name(booted.slot), " is unhealthy: ", check.reason,
                   "; rebooting (", after, ")"));
    TRY_CTX(m_host.reboot(cat("slot ", kSlotNames.name(booted.slot), " failed its health gate")),
            "reboot");
    return GateOutcome::Rebooting;
}

void Agent::wait_for_window(std::string_view waiting) {
    const std::optional<RebootWindow>& window = m_config.window;
    bool told = false;
    for (;;) {
        // Worked out anew at least every hour: a change of the time
        // zone's offset meanwhile (daylight saving time) moves the window.
        sys_seconds now = m_host.wall_time();
        sys_seconds at = next_reboot_time(now, window, m_host.utc_offset(now));
        if (at <= now)
            return;
        if (!told)
            m_host.log(cat("an update is installed; ", waiting, " the window ", window->to_string(),
                           ", at ", format_utc(at)));
        told = true;
        m_host.sleep_for(std::min<seconds>(at - now, std::chrono::hours(1)));
    }
}

Result<void> Agent::request_reboot_for_update() {
    const std::optional<RebootWindow>& window = m_config.window;
    switch (m_config.strategy) {
    case RebootStrategy::Off:
        m_host.log("an update is installed; RebootStrategy=off: it runs after the next reboot");
        return {};
    case RebootStrategy::Reboot: {
        wait_for_window("rebooting in");
        TRY(m_host.reboot("an update is installed"));
        return {};
    }
    case RebootStrategy::KvLock:
        break;
    }
    std::string id = TRY_CTX(m_host.machine_id(), "this machine's name in the reboot lock");
    seconds backoff = m_backoff.first;
    for (;;) {
        wait_for_window("waiting for");
        auto taken = m_host.change_reboot_lock(RebootLockChange::Take, id);
        if (taken) {
            m_host.log(cat("reboot lock taken by ", id, " (", taken->semaphore, " of ", taken->max,
                           " free); rebooting"));
            TRY(m_host.reboot("an update is installed and the reboot lock is taken"));
            return {};
        }
        sys_seconds now = m_host.wall_time();
        std::optional<sys_seconds> end = reboot_window_end(now, window, m_host.utc_offset(now));
        seconds wait = backoff;
        if (end)
            wait = std::min(wait, std::max(seconds(1), *end - now));
        m_host.log(
            cat("reboot lock: ", taken.error().to_string(), "; again in ", wait.count(), "s"));
        m_host.sleep_for(wait);
        backoff = std::min(backoff * 2, m_backoff.longest);
    }
}

Result<void> Agent::run_updates() {
    for (;;) {
        auto installed = m_host.install_offered_update();
        if (!installed)
            m_host.log(cat("update: ", installed.error().to_string(), "; again in ",
                           m_config.check_interval.count(), "s"));
        else if (!installed->empty())
            return request_reboot_for_update();
        m_host.sleep_for(m_config.check_interval);
    }
}

} // namespace keel::update
