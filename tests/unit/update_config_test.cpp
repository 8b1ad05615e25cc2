// Tests for update/update_config.h: the update role's settings from
// update.conf and the kernel command line, and reboot windows in
// locksmith's syntax (when a reboot may start, across a week's wrap).
#include "tests/unit/test_util.h"
#include "update/update_config.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::update;
using namespace std::chrono_literals;
using keel::testing::cmdline;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

namespace {

UpdateConfig update_config_from(std::string_view file, std::string_view words = "") {
    auto parsed = parse_update_config(file, "update.conf", cmdline(words));
    if (!parsed)
        FAIL(parsed.error().to_string());
    return *parsed;
}

std::string config_error(std::string_view file, std::string_view words = "") {
    auto parsed = parse_update_config(file, "update.conf", cmdline(words));
    REQUIRE_FALSE(parsed);
    return parsed.error().to_string();
}

RebootWindow window(std::string_view start, std::string_view length) {
    auto parsed = parse_reboot_window(start, length);
    if (!parsed)
        FAIL(parsed.error().to_string());
    return *parsed;
}

// 2026-12-10 is a Thursday.
sys_seconds december_at(int day_of_december, std::chrono::seconds time_of_day) {
    return sys_seconds(sys_days(std::chrono::year(2026) / 12 / day_of_december)) + time_of_day;
}

} // namespace

TEST_CASE("with no file and no words the role waits 60s of health for at most 10min and "
          "reboots without a lock") {
    UpdateConfig defaults = update_config_from("");
    CHECK(defaults.health_units.empty());
    CHECK(defaults.healthy_for == 60s);
    CHECK(defaults.health_timeout == std::optional<std::chrono::microseconds>(10min));
    CHECK(defaults.strategy == RebootStrategy::Reboot);
    CHECK_FALSE(defaults.window);
    CHECK(defaults.kv_endpoints == std::vector<std::string>{"127.0.0.1:2379"});
    CHECK(defaults.lock_group.empty());
}

TEST_CASE("update.conf's [Update] section sets every key") {
    UpdateConfig c = update_config_from(R"([Update]
HealthUnits=web nginx.service, db.service
HealthyFor=2min 30s
HealthTimeout=infinity
RebootStrategy=etcd-lock
RebootWindowStart=Thu 23:00
RebootWindowLength=1h30m
LockGroup=workers
KVEndpoints=10.0.0.1:2379,http://10.0.0.2:2379
Source=https://updates.example.com/keel
Channel=stable
SignedChannel=yes
)");
    CHECK(c.health_units == std::vector<std::string>{"web.service", "nginx.service", "db.service"});
    CHECK(c.healthy_for == 150s);
    CHECK_FALSE(c.health_timeout);
    CHECK(c.strategy == RebootStrategy::KvLock);
    REQUIRE(c.window);
    CHECK(c.window->to_string() == "Thu 23:00 for 1h30m0s");
    CHECK(c.lock_group == "workers");
    CHECK(c.kv_endpoints == std::vector<std::string>{"10.0.0.1:2379", "http://10.0.0.2:2379"});
    CHECK(c.source == "https://updates.example.com/keel");
    CHECK(c.channel == "stable");
    CHECK(c.signed_channel == true);
    CHECK_FALSE(update_config_from("[Update]\n").signed_channel);
}

TEST_CASE("keel.update words on the kernel command line win over update.conf") {
    UpdateConfig c =
        update_config_from("[Update]\nHealthUnits=a\nRebootStrategy=off\n",
                           "quiet keel.update.health=b,c keel.update.RebootStrategy=kv-lock "
                           "keel.update.HealthyFor=5s keel.update.SignedChannel=1");
    CHECK(c.health_units == std::vector<std::string>{"b.service", "c.service"});
    CHECK(c.signed_channel == true);
    CHECK(c.strategy == RebootStrategy::KvLock);
    CHECK(c.healthy_for == 5s);
}

TEST_CASE("a bad setting is refused, naming the key and where it was set") {
    CHECK(config_error("[Update]\nHealthyFor=soon\n").find("update.conf:2: HealthyFor=soon") !=
          std::string::npos);
    CHECK(config_error("[Update]\nRebootStrategy=best-effort\n")
              .find("unknown strategy `best-effort` (expected reboot, kv-lock or off)") !=
          std::string::npos);
    CHECK(config_error("[Update]\nHealthUnit=web\n").find("update.conf:2: unknown key") !=
          std::string::npos);
    CHECK(config_error("[Service]\nHealthUnits=web\n").find("unknown section [Service]") !=
          std::string::npos);
    CHECK(config_error("", "keel.update.reboot=now").find("keel.update.reboot") !=
          std::string::npos);
    CHECK(config_error("", "keel.update.health").find("needs a value") != std::string::npos);
    CHECK(config_error("[Update]\nKVEndpoints=etcd.example.com:2379\n").find("KVEndpoints=") !=
          std::string::npos);
    CHECK(config_error("[Update]\nHealthyFor=infinity\n").find("never") != std::string::npos);
    CHECK(config_error("[Update]\nHealthUnits=../x\n").find("not a unit name") !=
          std::string::npos);
    CHECK(config_error("[Update]\nLockGroup=a/b\n").find("LockGroup=") != std::string::npos);
    CHECK(config_error("[Update]\nSignedChannel=sometimes\n").find("SignedChannel=") !=
          std::string::npos);
}

TEST_CASE("CheckInterval= sets how often the source is asked; the source's own keys are "
          "accepted") {
    CHECK(update_config_from("").check_interval == 1h);
    UpdateConfig c =
        update_config_from("[Update]\nSource=https://updates.example/keel/\nCheckInterval=15min\n"
                           "Version=2.0.0\nMinVersion=1.0\nMaxVersion=3\nCAFile=/etc/ca.pem\n");
    CHECK(c.source == "https://updates.example/keel/");
    CHECK(c.check_interval == 15min);
    CHECK(update_config_from("", "keel.update.CheckInterval=2h").check_interval == 2h);
    CHECK(config_error("[Update]\nCheckInterval=500ms\n").find("CheckInterval=") !=
          std::string::npos);
}

TEST_CASE("a window needs both its start and its length") {
    CHECK(config_error("[Update]\nRebootWindowStart=Thu 23:00\n")
              .find("RebootWindowStart= needs RebootWindowLength=") != std::string::npos);
    CHECK(config_error("[Update]\nRebootWindowLength=1h\n")
              .find("RebootWindowLength= needs RebootWindowStart=") != std::string::npos);
}

TEST_CASE("a health timeout shorter than the healthy time is refused: nothing could pass") {
    CHECK(config_error("[Update]\nHealthyFor=5min\nHealthTimeout=1min\n").find("HealthTimeout=") !=
          std::string::npos);
}

TEST_CASE("windows are read in locksmith's syntax") {
    CHECK(window("Thu 23:00", "1h30m").to_string() == "Thu 23:00 for 1h30m0s");
    CHECK(window("thursday 04:05", "90m").to_string() == "Thu 04:05 for 1h30m0s");
    CHECK(window("23:00", "45m").to_string() == "daily 23:00 for 45m0s");
    CHECK(window("Sun 0:00", "1.5h").length == 5400s);
    CHECK(window("Mon 12:00", "168h").length == 604800s);
}

TEST_CASE("a malformed window is refused, naming the setting") {
    auto refused = [](std::string_view start, std::string_view length) {
        auto parsed = parse_reboot_window(start, length);
        REQUIRE_FALSE(parsed);
        return parsed.error().to_string();
    };
    CHECK(refused("Thx 23:00", "1h").find("RebootWindowStart=Thx 23:00") != std::string::npos);
    CHECK(refused("24:00", "1h").find("RebootWindowStart=") != std::string::npos);
    CHECK(refused("23:0", "1h").find("RebootWindowStart=") != std::string::npos);
    CHECK(refused("Thu", "1h").find("RebootWindowStart=") != std::string::npos);
    CHECK(refused("23:00", "1x").find("RebootWindowLength=1x") != std::string::npos);
    CHECK(refused("23:00", "90").find("no unit") != std::string::npos);
    CHECK(refused("23:00", "0s").find("at least a second") != std::string::npos);
    CHECK(refused("23:00", "25h").find("longer than the window's period (a day)") !=
          std::string::npos);
    CHECK(refused("23:00", "").find("RebootWindowLength=") != std::string::npos);
    CHECK(refused("23:00", "1..5h").find("`1.` has no unit") != std::string::npos);
    CHECK(refused("23:00", "999ms").find("at least a second") != std::string::npos);
}

TEST_CASE("without a window a reboot may start at once") {
    CHECK(next_reboot_time(december_at(10, 12h), std::nullopt) == december_at(10, 12h));
    CHECK_FALSE(reboot_window_end(december_at(10, 12h), std::nullopt));
}

TEST_CASE("inside a weekly window a reboot may start now, and the window's end is known") {
    RebootWindow thursday_night = window("Thu 23:00", "1h30m");
    CHECK(next_reboot_time(december_at(10, 23h), thursday_night) == december_at(10, 23h));
    CHECK(next_reboot_time(december_at(11, 29min), thursday_night) ==
          december_at(11, 29min)); // past midnight
    CHECK(reboot_window_end(december_at(10, 23h + 10min), thursday_night) ==
          december_at(11, 30min));
    // The window's last second is in it, its end is not.
    CHECK(next_reboot_time(december_at(11, 30min) - 1s, thursday_night) ==
          december_at(11, 30min) - 1s);
    CHECK(next_reboot_time(december_at(11, 30min), thursday_night) == december_at(17, 23h));
}

TEST_CASE("a window is on the wall clock of the offset given") {
    RebootWindow thursday_night = window("Thu 23:00", "1h30m");
    // UTC+2: Thursday 23:00 there is 21:00 UTC; UTC-8: Friday 07:00 UTC.
    CHECK(next_reboot_time(december_at(10, 12h), thursday_night, 2h) == december_at(10, 21h));
    CHECK(reboot_window_end(december_at(10, 21h), thursday_night, 2h) ==
          december_at(10, 22h + 30min));
    CHECK(next_reboot_time(december_at(10, 22h + 15min), thursday_night, 2h) ==
          december_at(10, 22h + 15min));
    // 23:00 UTC is past that window's end (Friday 01:00 there).
    CHECK(next_reboot_time(december_at(10, 23h), thursday_night, 2h) == december_at(17, 21h));
    CHECK(next_reboot_time(december_at(10, 23h), thursday_night, -8h) == december_at(11, 7h));
    // Thursday 22:30 UTC is outside the window on a UTC wall clock; 22:00
    // UTC is Friday 00:00 in UTC+2, inside, half an hour before its end.
    CHECK_FALSE(reboot_window_end(december_at(10, 22h + 30min), thursday_night));
    CHECK(reboot_window_end(december_at(10, 22h), thursday_night, 2h) ==
          december_at(10, 22h + 30min));
}

TEST_CASE("outside a weekly window a reboot waits for its next start, across the week's wrap") {
    RebootWindow thursday_night = window("Thu 23:00", "1h30m");
    CHECK(next_reboot_time(december_at(10, 22h), thursday_night) == december_at(10, 23h));
    CHECK(next_reboot_time(december_at(12, 0s), thursday_night) == december_at(17, 23h));
    RebootWindow sunday_late = window("Sun 23:30", "1h");
    // Sunday 23:30 to Monday 00:30 wraps the week (2026-12-13 is a Sunday).
    CHECK(next_reboot_time(december_at(14, 15min), sunday_late) == december_at(14, 15min));
    CHECK(reboot_window_end(december_at(14, 15min), sunday_late) == december_at(14, 30min));
    CHECK(next_reboot_time(december_at(14, 1h), sunday_late) == december_at(20, 23h + 30min));
    CHECK_FALSE(reboot_window_end(december_at(14, 1h), sunday_late));
}

TEST_CASE("a daily window opens every day") {
    RebootWindow nightly = window("04:00", "30m");
    CHECK(next_reboot_time(december_at(10, 3h), nightly) == december_at(10, 4h));
    CHECK(next_reboot_time(december_at(10, 4h + 10min), nightly) == december_at(10, 4h + 10min));
    CHECK(next_reboot_time(december_at(10, 5h), nightly) == december_at(11, 4h));
    RebootWindow across_midnight = window("23:00", "2h");
    CHECK(next_reboot_time(december_at(11, 30min), across_midnight) == december_at(11, 30min));
    CHECK(next_reboot_time(december_at(11, 1h), across_midnight) == december_at(11, 23h));
}

TEST_CASE("the role runs when the command line has any keel.update word") {
    CHECK(update_role_requested(cmdline("quiet keel.update.health=web")));
    CHECK_FALSE(update_role_requested(cmdline("quiet keel.kv.name=m1 keel.updates=1")));
}
