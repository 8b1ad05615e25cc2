// containers/run_state: state.json, what keel run saw of a container
// (health, exit, OOM kill), read and written; the health state machine's
// one step (record_probe); a cgroup's memory.events read for OOM kills.
// Pure parsing and arithmetic, so the fuzz build takes it alone.
#include "containers/containers.h"

#include "base/json.h"
#include "base/strings.h"

namespace keel::containers {

Result<RunState> parse_run_state(std::string_view text) {
    RunState out;
    JsonValue document = TRY(parse_json(text));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    out.health = TRY(parse_choice(kHealthStatusNames, TRY(object["health"].value_or("none"))));
    out.failing_streak = TRY(object["failing_streak"].value_or<uint32_t>(0));
    out.restart_count = TRY(object["restart_count"].value_or<uint32_t>(0));
    out.oom_killed = TRY(object["oom_killed"].value_or(false));
    if (!object["exit_code"].missing() && !object["exit_code"].null())
        out.exit_code = TRY(object["exit_code"].integer<int>(0, 255));
    if (!object["memory_limit"].missing() && !object["memory_limit"].null())
        out.memory_limit = TRY(object["memory_limit"].integer<int64_t>(0));
    out.pid = TRY(object["pid"].value_or<pid_t>(0));
    out.address = TRY(object["address"].value_or(""));
    for (const JsonCursor& entry : TRY(object["ports"].array())) {
        JsonObjectCursor port = TRY(entry.object());
        // The form -p takes back (host ports are never 0 once attached).
        PortMapping mapping =
            TRY_CTX(parse_port_mapping(TRY(port["mapping"].string())), port["mapping"].path());
        if (mapping.host_port == 0)
            return error(cat(port["mapping"].path(), ": no host port"));
        out.ports.push_back(std::move(mapping));
    }
    out.started = TRY(object["started"].value_or(""));
    out.finished = TRY(object["finished"].value_or(""));
    for (const JsonCursor& entry : TRY(object["health_log"].array())) {
        JsonObjectCursor probe = TRY(entry.object());
        out.health_log.push_back({.exit_code = TRY(probe["exit_code"].value_or<int>(0)),
                                  .start = TRY(probe["start"].value_or("")),
                                  .end = TRY(probe["end"].value_or("")),
                                  .output = TRY(probe["output"].value_or(""))});
    }
    return out;
}

std::string run_state_json(const RunState& state) {
    JsonWriter json;
    json.begin_object()
        .field("health", kHealthStatusNames.name(state.health))
        .field("failing_streak", state.failing_streak)
        .field("restart_count", state.restart_count)
        .field("oom_killed", state.oom_killed)
        .field("exit_code", state.exit_code)
        .field("memory_limit", state.memory_limit)
        .field("pid", state.pid)
        .field("address", state.address)
        .field("started", state.started)
        .field("finished", state.finished);
    json.key("ports").begin_array();
    for (const PortMapping& port : state.ports)
        json.begin_object().field("mapping", format_port_mapping(port)).end_object();
    json.end_array();
    json.key("health_log").begin_array();
    for (const HealthProbe& probe : state.health_log)
        json.begin_object()
            .field("exit_code", probe.exit_code)
            .field("start", probe.start)
            .field("end", probe.end)
            .field("output", std::string_view(probe.output).substr(0, kMaxHealthOutput))
            .end_object();
    json.end_array().end_object();
    return json.text();
}

Result<uint64_t> parse_oom_kills(std::string_view memory_events) {
    uint64_t kills = 0;
    size_t number = 0;
    for (std::string_view line : split(memory_events, '\n')) {
        ++number;
        if (line.empty())
            continue;
        size_t space = line.find(' ');
        std::optional<uint64_t> value =
            space == std::string_view::npos ? std::nullopt : parse_u64(line.substr(space + 1));
        if (!value)
            return error(
                cat("memory.events line ", number, ": expected `KEY COUNT`, got ", quoted(line)));
        if (line.substr(0, space) == "oom_kill")
            kills = *value;
    }
    return kills;
}

void record_probe(RunState& state, const HealthCheck& check, HealthProbe probe, HealthPhase phase) {
    bool passed = probe.exit_code == 0;
    state.health_log.push_back(std::move(probe));
    if (state.health_log.size() > kHealthLogLength)
        state.health_log.erase(state.health_log.begin());
    if (passed) {
        state.health = HealthStatus::Healthy;
        state.failing_streak = 0;
        return;
    }
    if (phase == HealthPhase::StartPeriod)
        return;
    ++state.failing_streak;
    if (state.failing_streak >= check.retries)
        state.health = HealthStatus::Unhealthy;
}

} // namespace keel::containers
