// update/reboot_semaphore.cpp: locksmith's semaphore as JSON (what is refused, and
// why), and what take, release and set-max do to it. The compare-and-swap
// against a real KV is tested by tests/host/update_lock.sh.
#include "update/update.h"

#include <doctest/doctest.h>

namespace up = keel::update;

namespace {

std::string semaphore_error(const keel::Result<up::RebootSemaphore>& result) {
    REQUIRE_FALSE(result);
    return result.error().to_string();
}

up::RebootSemaphore parsed_semaphore(std::string_view json) {
    auto semaphore = up::parse_reboot_semaphore(json);
    REQUIRE(semaphore);
    return *semaphore;
}

} // namespace

TEST_CASE("the reboot semaphore reads and writes locksmith's JSON") {
    up::RebootSemaphore semaphore = parsed_semaphore(R"({"semaphore":1,"max":2,"holders":["m1"]})");
    CHECK(semaphore.semaphore == 1);
    CHECK(semaphore.max == 2);
    CHECK(semaphore.holders == std::vector<std::string>{"m1"});
    CHECK(up::encode_reboot_semaphore(semaphore) == R"({"semaphore":1,"max":2,"holders":["m1"]})");
    // locksmith wrote a missing list as null.
    CHECK(parsed_semaphore(R"({"semaphore":1,"max":1,"holders":null})").holders.empty());
    CHECK(up::encode_reboot_semaphore({}) == R"({"semaphore":1,"max":1,"holders":[]})");
}

TEST_CASE("a reboot semaphore that does not add up or is not JSON is refused, naming why") {
    CHECK(
        semaphore_error(up::parse_reboot_semaphore(R"({"semaphore":1,"max":1,"holders":["a"]})")) ==
        "semaphore 1 and 1 holders do not add up to max 1");
    CHECK(semaphore_error(up::parse_reboot_semaphore(
              R"({"semaphore":0,"max":2,"holders":["a","a"]})")) == "holders: `a` is there twice");
    CHECK(semaphore_error(up::parse_reboot_semaphore(R"({"semaphore":"1","max":1})"))
              .find("semaphore") != std::string::npos);
    CHECK_FALSE(up::parse_reboot_semaphore("{"));
    CHECK_FALSE(up::parse_reboot_semaphore(R"({"max":1,"holders":[]})"));
}

TEST_CASE("taking the reboot lock twice keeps one unit; with none left the holders are named") {
    auto taken = up::take_reboot_lock({}, "m1");
    REQUIRE(taken);
    CHECK(taken->semaphore == 0);
    CHECK(taken->holders == std::vector<std::string>{"m1"});
    auto again = up::take_reboot_lock(*taken, "m1");
    REQUIRE(again);
    CHECK(again->semaphore == 0);
    CHECK(again->holders == std::vector<std::string>{"m1"});
    CHECK(semaphore_error(up::take_reboot_lock(*taken, "m2")) ==
          "the reboot lock is taken: 1 of 1 held, by m1");
}

TEST_CASE("releasing gives a unit back; a machine without one changes nothing") {
    up::RebootSemaphore held = parsed_semaphore(R"({"semaphore":0,"max":2,"holders":["m1","m2"]})");
    up::RebootSemaphore released = up::release_reboot_lock(held, "m1");
    CHECK(released.semaphore == 1);
    CHECK(released.holders == std::vector<std::string>{"m2"});
    up::RebootSemaphore same = up::release_reboot_lock(released, "m9");
    CHECK(same.semaphore == 1);
    CHECK(same.holders == released.holders);
}

TEST_CASE("a new maximum moves the free units with it, never below the holders") {
    up::RebootSemaphore held = parsed_semaphore(R"({"semaphore":0,"max":2,"holders":["m1","m2"]})");
    auto raised = up::set_reboot_lock_max(held, 3);
    REQUIRE(raised);
    CHECK(raised->semaphore == 1);
    CHECK(raised->max == 3);
    CHECK(semaphore_error(up::set_reboot_lock_max(held, 1)) ==
          "2 machines hold the reboot lock (m1, m2): more than a maximum of 1");
    CHECK(semaphore_error(up::set_reboot_lock_max({}, 0)) ==
          "a maximum of 0: at least 1 machine must be able to reboot");
}

TEST_CASE("the reboot lock's key is locksmith's, per group too") {
    CHECK(up::reboot_lock_key("") == "coreos.com/updateengine/rebootlock/semaphore");
    CHECK(up::reboot_lock_key("db") == "coreos.com/updateengine/rebootlock/groups/db/semaphore");
}
