// Tests for containers/run_state.cpp: state.json written and read back,
// malformed state refused naming the field, the options container.json
// records read back for a start (and malformed ones refused), the health check's verdicts
// by Docker's rules, and OOM kills read from a cgroup's memory.events.
#include "containers/containers.h"

#include "base/strings.h"
#include "base/sys.h"
#include "containers/container_records.h"
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

TEST_CASE("the options a container was run with are read back from its container.json") {
    RunOptions options;
    options.image = "example.com/box:1";
    options.name = "web";
    options.removal = Removal::Keep;
    options.restart = RestartPolicy::OnFailure;
    options.restart_retries = 4;
    options.network = NetworkMode::Bridge;
    options.ports = {*parse_port_mapping("127.0.0.1:8080:80"), *parse_port_mapping("53/udp")};
    options.health = {.interval = std::chrono::milliseconds(1500),
                      .timeout = std::chrono::milliseconds(700),
                      .start_period = std::chrono::milliseconds(2000),
                      .retries = 5,
                      .command = "wget -q -O- localhost"};
    options.notify = NotifyWhen::Healthy;
    options.stop_signal = 3;
    options.stop_timeout_seconds = 4;
    options.memory_bytes = 64 << 20;
    options.terminal = Terminal::Allocate;
    options.command = {"sh", "-c", "echo \"hi\""};
    std::string json = container_metadata(options, "0123abcd", "web", "/var/lib/keel", {});
    Result<RunOptions> back = recorded_run_options(json);
    REQUIRE_MESSAGE(back, (back ? std::string() : back.error().to_string()));
    CHECK(back->image == "example.com/box:1");
    CHECK(back->image_source == ImageSource::Store);
    CHECK(back->image_store == "/var/lib/keel");
    CHECK(back->name == "web");
    CHECK(back->removal == Removal::Keep);
    CHECK(back->restart == RestartPolicy::OnFailure);
    CHECK(back->restart_retries == 4);
    CHECK(back->network == NetworkMode::Bridge);
    REQUIRE(back->ports.size() == 2);
    CHECK(format_port_mapping(back->ports[0]) == format_port_mapping(options.ports[0]));
    CHECK(back->ports[1].protocol == Protocol::Udp);
    CHECK(back->ports[1].host_port == 0);
    CHECK(back->health.command == "wget -q -O- localhost");
    CHECK(back->health.interval == std::chrono::milliseconds(1500));
    CHECK(back->health.timeout == std::chrono::milliseconds(700));
    CHECK(back->health.start_period == std::chrono::milliseconds(2000));
    CHECK(back->health.retries == 5);
    CHECK(back->notify == NotifyWhen::Healthy);
    CHECK(back->stop_signal == 3);
    CHECK(back->stop_timeout_seconds == 4);
    CHECK(back->memory_bytes == int64_t(64 << 20));
    CHECK(back->terminal == Terminal::Allocate);
    CHECK(back->stdin_mode == Stdin::Closed);
    CHECK(back->command == options.command);
}

TEST_CASE("a container.json from before the start options were recorded reads with Docker's "
          "defaults") {
    Result<RunOptions> back = recorded_run_options(
        R"({"id":"ab","name":"old","image":"box","source":"rootfs","removal":"on-exit",)"
        R"("restart":"always","network":"none","stop_signal":15,"stop_timeout":10,)"
        R"("command":["sh"]})");
    REQUIRE_MESSAGE(back, (back ? std::string() : back.error().to_string()));
    CHECK(back->image_source == ImageSource::Rootfs);
    CHECK(back->removal == Removal::OnExit);
    CHECK(back->restart == RestartPolicy::Always);
    CHECK(back->ports.empty());
    CHECK(back->health.command.empty());
    CHECK_FALSE(back->memory_bytes);
    CHECK(back->notify == NotifyWhen::Conmon);
}

TEST_CASE("a malformed container.json is refused naming the member") {
    auto refused = [](std::string_view members) {
        Result<RunOptions> back =
            recorded_run_options(cat(R"({"name":"x","image":"box",)", members, "}"));
        REQUIRE_FALSE(back);
        return back.error().to_string();
    };
    CHECK_FALSE(recorded_run_options(""));
    CHECK_FALSE(recorded_run_options("[]"));
    CHECK_FALSE(recorded_run_options(R"({"image":"box"})"));
    CHECK(refused(R"("restart":"sometimes")").find("restart") != std::string::npos);
    CHECK(refused(R"("network":"wifi")").find("network") != std::string::npos);
    CHECK(refused(R"("notify":1)").find("notify") != std::string::npos);
    CHECK(refused(R"("source":"cloud")").find("source") != std::string::npos);
    CHECK(refused(R"("removal":"later")").find("removal") != std::string::npos);
    CHECK(refused(R"("ports":["80:x"])").find("ports[0]") != std::string::npos);
    CHECK(refused(R"("ports":[80])").find("ports[0]") != std::string::npos);
    CHECK(refused(R"("stop_signal":0)").find("stop_signal") != std::string::npos);
    CHECK(refused(R"("memory":-1)").find("memory") != std::string::npos);
    CHECK(refused(R"("health":{"command":"true","interval_ms":0})").find("health") !=
          std::string::npos);
    CHECK(refused(R"("health":{"interval_ms":10})").find("health.command") != std::string::npos);
    CHECK(refused(R"("health":[])").find("health") != std::string::npos);
    CHECK(refused(R"("command":[1])").find("command[0]") != std::string::npos);
    CHECK(refused(R"("tty":"yes")").find("tty") != std::string::npos);
}
