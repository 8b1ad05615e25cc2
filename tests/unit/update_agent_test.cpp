// Tests for update/agent.h: the health gate (healthy only after HealthyFor
// of unbroken activity, unhealthy at a failure or at HealthTimeout), what
// the agent does after a boot (marks the slot good, reboots away from it,
// gives the reboot lock back only once healthy) and how it reboots into an
// installed update by strategy and window. A fake host stands for init,
// the disk, the KV and the clocks; sleeping moves the clocks on.
#include "update/agent.h"

#include <doctest/doctest.h>

#include <functional>

using namespace keel;
using namespace keel::update;
using namespace std::chrono_literals;
using std::chrono::microseconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

Slots slots_on_vda(SlotFlags a, SlotFlags b) {
    Slots slots;
    slots.disk = "/dev/vda";
    slots.a = {SlotName::A, 1, a.apply_to(0), a, ""};
    slots.b = {SlotName::B, 2, b.apply_to(0), b, ""};
    return slots;
}

// B just installed and booted once: its one try spent by the initramfs.
Slots b_on_trial() {
    return slots_on_vda({.priority = 1, .tries = 0, .successful = true},
                        {.priority = 2, .tries = 0, .successful = false});
}

UnitHealth unit(std::string name, UnitActivity activity, std::optional<microseconds> since = {}) {
    return UnitHealth{.name = std::move(name), .activity = activity, .since = since, .detail = {}};
}

// 2026-12-10 (a Thursday) at `time_of_day`.
sys_seconds thursday(std::chrono::seconds time_of_day) {
    return sys_seconds(sys_days(std::chrono::year(2026) / 12 / 10)) + time_of_day;
}

class FakeHost : public AgentHost {
public:
    microseconds boot_clock = 5s;
    sys_seconds wall_clock = thursday(12h);
    // The health units' states at a boot time.
    std::function<std::vector<UnitHealth>(microseconds)> states = [](microseconds) {
        return std::vector<UnitHealth>{};
    };
    SlotName booted = SlotName::B;
    Slots slots = b_on_trial();
    int slot_writes = 0;
    // The cluster's lock, shared by the machines of a test.
    RebootSemaphore* semaphore = nullptr;
    int kv_failures = 0; // calls that fail before the KV answers
    std::string id = "machine-1";
    std::vector<std::string> reboots;
    std::vector<std::string> lines;
    // Runs at every sleep (another machine's doing).
    std::function<void(FakeHost&)> while_sleeping;

    // The local time zone's offset from UTC at a time (UTC by default).
    std::function<std::chrono::seconds(sys_seconds)> zone = [](sys_seconds) {
        return std::chrono::seconds(0);
    };

    microseconds boot_time() override { return boot_clock; }
    sys_seconds wall_time() override { return wall_clock; }
    std::chrono::seconds utc_offset(sys_seconds at) override { return zone(at); }
    void sleep_for(microseconds duration) override {
        REQUIRE(duration > 0us);
        boot_clock += duration;
        wall_clock += std::chrono::ceil<std::chrono::seconds>(duration);
        REQUIRE(boot_clock < microseconds(std::chrono::days(30))); // a loop that never ends
        if (while_sleeping)
            while_sleeping(*this);
    }
    Result<std::vector<UnitHealth>> unit_health(const std::vector<std::string>&) override {
        return states(boot_clock);
    }
    Result<BootedSlot> booted_slot() override { return BootedSlot{booted, "/dev/vda"}; }
    Result<Slots> read_slots(const std::string&) override { return slots; }
    Result<void> write_slots(const Slots& written) override {
        slots = written;
        ++slot_writes;
        return {};
    }
    Result<std::string> machine_id() override { return id; }
    Result<RebootSemaphore> change_reboot_lock(RebootLockChange change,
                                               std::string_view holder) override {
        if (kv_failures > 0) {
            --kv_failures;
            return error("127.0.0.1:2379: connection refused");
        }
        REQUIRE(semaphore);
        if (change == RebootLockChange::Take)
            *semaphore = TRY(take_reboot_lock(*semaphore, holder));
        else
            *semaphore = release_reboot_lock(*semaphore, holder);
        return *semaphore;
    }
    Result<void> reboot(std::string_view why) override {
        reboots.emplace_back(why);
        return {};
    }
    void log(std::string_view line) override { lines.emplace_back(line); }
    // What the source answers at each check, in order ("" nothing, "!" a failure).
    std::vector<std::string> offers;
    int checks = 0;
    Result<std::string> install_offered_update() override {
        REQUIRE(size_t(checks) < offers.size());
        std::string offer = offers[size_t(checks++)];
        if (offer == "!")
            return error(
                "GET http://updates.example/channels/stable.json: 503 Service Unavailable");
        return offer;
    }

    bool logged(std::string_view text) const {
        for (const std::string& line : lines)
            if (line.find(text) != std::string::npos)
                return true;
        return false;
    }
};

UpdateConfig gate_config(std::vector<std::string> units = {"web.service"}) {
    UpdateConfig config;
    config.health_units = std::move(units);
    config.healthy_for = 60s;
    config.health_timeout = 10min;
    return config;
}

} // namespace

TEST_CASE("the gate is healthy only once every unit has been active for HealthyFor") {
    HealthGate gate(60s, 10min);
    CHECK(gate.observe(30s, {unit("web.service", UnitActivity::Active, 10s)}).verdict ==
          HealthVerdict::Waiting);
    update::HealthCheck check = gate.observe(80s, {unit("web.service", UnitActivity::Active, 10s),
                                                   unit("db.service", UnitActivity::Active, 20s)});
    CHECK(check.verdict == HealthVerdict::Healthy);
    CHECK(check.reason == "web.service, db.service active for 60.00s");
    CHECK(gate.observe(80s, {unit("web.service", UnitActivity::Active, 10s),
                             unit("db.service", UnitActivity::Activating)})
              .verdict == HealthVerdict::Waiting);
}

TEST_CASE("the gate counts again from a restart: activity must be unbroken") {
    HealthGate gate(60s, 10min);
    // Without init's timestamps, from when the agent saw the unit active.
    CHECK(gate.observe(10s, {unit("web.service", UnitActivity::Active)}).verdict ==
          HealthVerdict::Waiting);
    CHECK(gate.observe(50s, {unit("web.service", UnitActivity::Activating)}).verdict ==
          HealthVerdict::Waiting);
    CHECK(gate.observe(55s, {unit("web.service", UnitActivity::Active)}).verdict ==
          HealthVerdict::Waiting);
    CHECK(gate.observe(100s, {unit("web.service", UnitActivity::Active)}).verdict ==
          HealthVerdict::Waiting);
    CHECK(gate.observe(115s, {unit("web.service", UnitActivity::Active)}).verdict ==
          HealthVerdict::Healthy);
}

TEST_CASE("the gate is unhealthy as soon as a unit fails, or at the timeout") {
    HealthGate gate(60s, 10min);
    UnitHealth failed = unit("web.service", UnitActivity::Failed);
    failed.detail = "exited with status 1";
    update::HealthCheck check = gate.observe(20s, {failed});
    CHECK(check.verdict == HealthVerdict::Unhealthy);
    CHECK(check.reason == "web.service failed (exited with status 1)");
    HealthGate slow(60s, 10min);
    CHECK(slow.observe(30s, {unit("web.service", UnitActivity::Activating)}).verdict ==
          HealthVerdict::Waiting);
    CHECK(slow.observe(10min + 29s, {unit("web.service", UnitActivity::Activating)}).verdict ==
          HealthVerdict::Waiting);
    check = slow.observe(10min + 30s, {unit("web.service", UnitActivity::Activating)});
    CHECK(check.verdict == HealthVerdict::Unhealthy);
    CHECK(check.reason == "not healthy 600.00s after the gate began (HealthTimeout=): "
                          "web.service is activating");
    HealthGate forever(60s, std::nullopt);
    CHECK(forever.observe(1000h, {unit("web.service", UnitActivity::Inactive)}).verdict ==
          HealthVerdict::Waiting);
}

TEST_CASE("a healthy new slot is marked successful and the log says so") {
    FakeHost host;
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Active, 8s)};
    };
    Agent agent(host, gate_config());
    auto outcome = agent.run_health_gate();
    REQUIRE(outcome);
    CHECK(*outcome == GateOutcome::MarkedGood);
    CHECK(host.slots.b.flags == SlotFlags{.priority = 2, .tries = 0, .successful = true});
    CHECK(host.slots.a.flags == SlotFlags{.priority = 1, .tries = 0, .successful = true});
    CHECK(host.boot_clock >= 68s);
    CHECK(host.boot_clock < 70s);
    CHECK(host.logged("slot B is healthy: marked successful"));
    CHECK(host.reboots.empty());
}

TEST_CASE("a new slot whose health unit fails reboots, and A boots next by itself") {
    FakeHost host;
    host.states = [](microseconds now) {
        UnitHealth web =
            unit("web.service", now < 30s ? UnitActivity::Activating : UnitActivity::Failed);
        web.detail = "exited with status 1";
        return std::vector<UnitHealth>{web};
    };
    Agent agent(host, gate_config());
    auto outcome = agent.run_health_gate();
    REQUIRE(outcome);
    CHECK(*outcome == GateOutcome::Rebooting);
    CHECK(host.reboots.size() == 1);
    CHECK(host.slot_writes == 0); // no tries left: nothing to write
    CHECK(choose_boot_slot(host.slots) == SlotName::A);
    CHECK(host.logged("slot B is unhealthy: web.service failed (exited with status 1); rebooting "
                      "(slot A (ROOT-A) boots next)"));
}

TEST_CASE("an install's flags after the initramfs's try leave the new slot unbootable") {
    // finish_install then begin_boot: what the gate relies on to fall back.
    Slots installed = finish_install(
        slots_on_vda({.priority = 1, .tries = 0, .successful = true}, {}), SlotName::B);
    REQUIRE(choose_boot_slot(installed) == SlotName::B);
    Slots booted = begin_boot(installed, SlotName::B);
    CHECK_FALSE(booted.b.flags.bootable());
    CHECK(choose_boot_slot(booted) == SlotName::A);
}

TEST_CASE("a new slot never healthy within HealthTimeout reboots") {
    FakeHost host;
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Inactive)};
    };
    Agent agent(host, gate_config());
    CHECK(*agent.run_health_gate() == GateOutcome::Rebooting);
    CHECK(host.boot_clock == 10min + 5s); // the gate began at 5 s
    CHECK(host.logged("HealthTimeout="));
}

TEST_CASE("a slot with tries left is said to boot again after an unhealthy reboot") {
    FakeHost host;
    host.slots.b.flags.tries = 2;
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Failed)};
    };
    Agent agent(host, gate_config());
    CHECK(*agent.run_health_gate() == GateOutcome::Rebooting);
    CHECK(host.logged("2 tries left: slot B boots again"));
}

TEST_CASE("a slot that was good before is left alone when it fails later") {
    FakeHost host;
    host.booted = SlotName::A;
    host.slots = slots_on_vda({.priority = 2, .tries = 0, .successful = true}, {});
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Failed)};
    };
    Agent agent(host, gate_config());
    CHECK(*agent.run_health_gate() == GateOutcome::AlreadySuccessful);
    CHECK(host.reboots.empty());
    CHECK(host.slot_writes == 0);
}

TEST_CASE("with kv-lock the lock is given back only after the health gate passed") {
    RebootSemaphore semaphore{.semaphore = 0, .max = 1, .holders = {"machine-1"}};
    FakeHost host;
    host.semaphore = &semaphore;
    host.kv_failures = 2; // the KV on this machine is still starting
    std::optional<microseconds> released_at;
    host.states = [&](microseconds now) {
        if (!released_at && semaphore.holders.empty())
            released_at = now;
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Active, 20s)};
    };
    UpdateConfig config = gate_config();
    config.strategy = RebootStrategy::KvLock;
    Agent agent(host, config);
    CHECK(*agent.run_health_gate() == GateOutcome::MarkedGood);
    CHECK_FALSE(released_at); // never while the gate was waiting
    CHECK(semaphore.holders.empty());
    CHECK(semaphore.semaphore == 1);
    CHECK(host.slots.b.flags.successful);
}

TEST_CASE("with kv-lock an unhealthy new slot keeps the lock through its reboot") {
    RebootSemaphore semaphore{.semaphore = 0, .max = 1, .holders = {"machine-1"}};
    FakeHost host;
    host.semaphore = &semaphore;
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Failed)};
    };
    UpdateConfig config = gate_config();
    config.strategy = RebootStrategy::KvLock;
    Agent agent(host, config);
    CHECK(*agent.run_health_gate() == GateOutcome::Rebooting);
    CHECK(semaphore.holders == std::vector<std::string>{"machine-1"});
}

TEST_CASE("with kv-lock a machine back on its old good slot gives the lock back once healthy") {
    RebootSemaphore semaphore{.semaphore = 0, .max = 1, .holders = {"machine-1"}};
    FakeHost host;
    host.semaphore = &semaphore;
    host.booted = SlotName::A;
    host.slots = slots_on_vda({.priority = 1, .tries = 0, .successful = true},
                              {.priority = 2, .tries = 0, .successful = false});
    host.states = [](microseconds) {
        return std::vector<UnitHealth>{unit("web.service", UnitActivity::Active, 1s)};
    };
    UpdateConfig config = gate_config();
    config.strategy = RebootStrategy::KvLock;
    Agent agent(host, config);
    CHECK(*agent.run_health_gate() == GateOutcome::AlreadySuccessful);
    CHECK(semaphore.holders.empty());
    CHECK(host.slot_writes == 0);
}

TEST_CASE("RebootStrategy=off never reboots by itself") {
    FakeHost host;
    UpdateConfig config;
    config.strategy = RebootStrategy::Off;
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(host.reboots.empty());
    CHECK(host.logged("RebootStrategy=off"));
}

TEST_CASE("RebootStrategy=reboot reboots at once without a window, else at the window's start") {
    FakeHost now_host;
    Agent now_agent(now_host, UpdateConfig{});
    REQUIRE(now_agent.request_reboot_for_update());
    CHECK(now_host.reboots.size() == 1);
    CHECK(now_host.wall_clock == thursday(12h));

    FakeHost host;
    UpdateConfig config;
    config.window = *parse_reboot_window("Thu 23:00", "1h");
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(host.reboots.size() == 1);
    CHECK(host.wall_clock == thursday(23h));
    CHECK(host.logged("at 2026-12-10 23:00:00 UTC"));
}

TEST_CASE("a reboot window is on the local wall clock, its offset looked at again after a sleep") {
    // UTC+1 (Berlin's winter): Thu 23:00 local is 22:00 UTC.
    FakeHost host;
    host.zone = [](sys_seconds) { return std::chrono::seconds(1h); };
    UpdateConfig config;
    config.window = *parse_reboot_window("Thu 23:00", "1h");
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(host.wall_clock == thursday(22h));
    CHECK(host.logged("at 2026-12-10 22:00:00 UTC"));

    // The offset changes from UTC-5 to UTC-4 at 20:00 UTC, while the agent
    // waits for the window it saw at noon (04:00 local, 09:00 UTC on
    // Friday): it looks again within the hour and reboots at 04:00 on the
    // new wall clock, 08:00 UTC.
    FakeHost moved;
    moved.zone = [](sys_seconds at) {
        return std::chrono::seconds(at < thursday(20h) ? -5h : -4h);
    };
    UpdateConfig daily;
    daily.window = *parse_reboot_window("04:00", "30m");
    Agent daily_agent(moved, daily);
    REQUIRE(daily_agent.request_reboot_for_update());
    CHECK(moved.wall_clock == thursday(32h)); // Friday 04:00 at UTC-4
    CHECK(moved.logged("at 2026-12-11 09:00:00 UTC"));
}

TEST_CASE("kv-lock takes the lock for this machine, then reboots") {
    RebootSemaphore semaphore;
    FakeHost host;
    host.semaphore = &semaphore;
    UpdateConfig config;
    config.strategy = RebootStrategy::KvLock;
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(semaphore.holders == std::vector<std::string>{"machine-1"});
    CHECK(host.reboots.size() == 1);
}

TEST_CASE("kv-lock waits with backoff while another machine holds the lock") {
    RebootSemaphore semaphore{.semaphore = 0, .max = 1, .holders = {"machine-2"}};
    FakeHost host;
    host.semaphore = &semaphore;
    host.kv_failures = 1;
    sys_seconds released = thursday(12h + 7min);
    host.while_sleeping = [&](FakeHost& self) {
        if (self.wall_clock >= released)
            semaphore = release_reboot_lock(semaphore, "machine-2");
    };
    UpdateConfig config;
    config.strategy = RebootStrategy::KvLock;
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(semaphore.holders == std::vector<std::string>{"machine-1"});
    CHECK(host.reboots.size() == 1);
    CHECK(host.wall_clock >= released);
    CHECK(host.wall_clock < released + LockBackoff{}.longest); // backoff stays bounded
    CHECK(host.logged("machine-2"));
}

TEST_CASE("kv-lock tries for the lock only inside the window, and again in the next one") {
    RebootSemaphore semaphore{.semaphore = 0, .max = 1, .holders = {"machine-2"}};
    FakeHost host;
    host.semaphore = &semaphore;
    // machine-2 gives its unit back Friday at noon, after this week's window.
    host.while_sleeping = [&](FakeHost& self) {
        if (self.wall_clock >= thursday(36h))
            semaphore = release_reboot_lock(semaphore, "machine-2");
    };
    UpdateConfig config;
    config.strategy = RebootStrategy::KvLock;
    config.window = *parse_reboot_window("Thu 23:00", "1h");
    Agent agent(host, config);
    REQUIRE(agent.request_reboot_for_update());
    CHECK(host.reboots.size() == 1);
    CHECK(host.wall_clock == thursday(23h + std::chrono::days(7)));
}

TEST_CASE("the role asks the source every CheckInterval and reboots once an update is installed") {
    FakeHost host;
    host.slots = b_on_trial();
    host.offers = {"", "!", "2.0.0"};
    UpdateConfig config;
    config.check_interval = 30min;
    sys_seconds start = host.wall_clock;
    Agent agent(host, config);
    REQUIRE(agent.run_updates());
    CHECK(host.checks == 3);
    CHECK(host.wall_clock - start == 60min); // two waits: after nothing, after the failure
    CHECK(host.logged("503 Service Unavailable; again in 1800s"));
    REQUIRE(host.reboots.size() == 1);
    CHECK(host.reboots[0] == "an update is installed");
}

TEST_CASE("with RebootStrategy=off the role installs once and does not reboot") {
    FakeHost host;
    host.offers = {"2.0.0"};
    UpdateConfig config;
    config.strategy = RebootStrategy::Off;
    Agent agent(host, config);
    REQUIRE(agent.run_updates());
    CHECK(host.checks == 1);
    CHECK(host.reboots.empty());
    CHECK(host.logged("RebootStrategy=off"));
}
