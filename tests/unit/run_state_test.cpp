// Tests for containers/run_state.cpp: state.json written and read back,
// malformed state refused naming the field, the health check's verdicts
// by Docker's rules, and OOM kills read from a cgroup's memory.events.
#include "containers/containers.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

HealthProbe probe(int exit_code, std::string output = {}) {
    return {.exit_code = exit_code, .start = "s", .end = "e", .output = std::move(output)};
}

} // namespace

TEST_CASE("what keel run saw of a container is read back as it was written") {
    RunState state{
        .health = HealthStatus::Unhealthy,
        .failing_streak = 3,
        .restart_count = 2,
        .oom_killed = true,
        .exit_code = 137,
        .memory_limit = 64 << 20,
        .pid = 42,
        .address = "10.88.0.2",
        .ports = {*parse_port_mapping("32768:80"), *parse_port_mapping("127.0.0.1:5353:53/udp")},
        .started = "2026-01-02T03:04:05Z",
        .finished = "2026-01-02T03:04:09Z",
        .health_log = {probe(1, "no\n\"quoted\"")}};
    Result<RunState> back = parse_run_state(run_state_json(state));
    REQUIRE_MESSAGE(back, (back ? std::string() : back.error().to_string()));
    CHECK(back->health == HealthStatus::Unhealthy);
    CHECK(back->failing_streak == 3);
    CHECK(back->oom_killed);
    CHECK(back->exit_code == 137);
    CHECK(back->memory_limit == 64 << 20);
    CHECK(back->address == "10.88.0.2");
    REQUIRE(back->ports.size() == 2);
    CHECK(back->ports[0].host_port == 32768);
    CHECK(back->ports[0].container_port == 80);
    CHECK(back->ports[1].host_ip == "127.0.0.1");
    CHECK(back->ports[1].protocol == Protocol::Udp);
    CHECK(back->restart_count == 2);
    CHECK(back->finished == "2026-01-02T03:04:09Z");
    REQUIRE(back->health_log.size() == 1);
    CHECK(back->health_log[0].output == "no\n\"quoted\"");

    Result<RunState> empty = parse_run_state("{}");
    REQUIRE(empty);
    CHECK(empty->health == HealthStatus::None);
    CHECK_FALSE(empty->exit_code);
}

TEST_CASE("a malformed state.json is refused naming what is wrong") {
    CHECK_FALSE(parse_run_state(""));
    CHECK_FALSE(parse_run_state("[]"));
    Result<RunState> health = parse_run_state(R"({"health":"fine"})");
    REQUIRE_FALSE(health);
    CHECK(health.error().to_string().find("fine") != std::string::npos);
    Result<RunState> code = parse_run_state(R"({"exit_code":"x"})");
    REQUIRE_FALSE(code);
    CHECK(code.error().to_string().find("exit_code") != std::string::npos);
    CHECK_FALSE(parse_run_state(R"({"exit_code":300})"));
    CHECK_FALSE(parse_run_state(R"({"health_log":[1]})"));
    CHECK_FALSE(parse_run_state(R"({"oom_killed":"yes"})"));
    Result<RunState> port = parse_run_state(R"({"ports":[{"mapping":"80:x"}]})");
    REQUIRE_FALSE(port);
    CHECK(port.error().to_string().find("ports[0].mapping") != std::string::npos);
    CHECK_FALSE(parse_run_state(R"({"ports":[{"mapping":"80/tcp"}]})"));
    CHECK_FALSE(parse_run_state(R"({"ports":["80:80"]})"));
    CHECK_FALSE(parse_run_state(R"({"restart_count":-1})"));
}

TEST_CASE("a container is starting until a check passes, then healthy, and unhealthy after "
          "retries failures in a row") {
    containers::HealthCheck check{.retries = 2, .command = "test -e /ready"};
    RunState state{.health = HealthStatus::Starting};
    record_probe(state, check, probe(1), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Starting);
    CHECK(state.failing_streak == 1);
    record_probe(state, check, probe(0), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Healthy);
    CHECK(state.failing_streak == 0);
    record_probe(state, check, probe(1), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Healthy);
    record_probe(state, check, probe(1), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Unhealthy);
    CHECK(state.failing_streak == 2);
    record_probe(state, check, probe(0), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Healthy);
}

TEST_CASE("failures in the start period do not count, and the log keeps the last five checks") {
    containers::HealthCheck check{.retries = 1, .command = "false"};
    RunState state{.health = HealthStatus::Starting};
    for (int i = 0; i < 7; ++i)
        record_probe(state, check, probe(i + 1), HealthPhase::StartPeriod);
    CHECK(state.health == HealthStatus::Starting);
    CHECK(state.failing_streak == 0);
    REQUIRE(state.health_log.size() == kHealthLogLength);
    CHECK(state.health_log.front().exit_code == 3);
    CHECK(state.health_log.back().exit_code == 7);
    record_probe(state, check, probe(1), HealthPhase::Counting);
    CHECK(state.health == HealthStatus::Unhealthy);
}

TEST_CASE("an OOM kill is read from the cgroup's memory.events") {
    TempDir cgroup;
    CHECK(read_oom_kills(cgroup.path()).error().code() == ENOENT);
    REQUIRE(write_new_file(cgroup / "memory.events",
                           "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"));
    CHECK(read_oom_kills(cgroup.path()) == 1u);
    CHECK(parse_oom_kills("low 0\nmax 0\n") == 0u);
    Result<uint64_t> bad = parse_oom_kills("low 0\noom_kill many\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("line 2") != std::string::npos);
    CHECK_FALSE(parse_oom_kills("oom_kill\n"));
}
