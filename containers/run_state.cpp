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
        // (Member by member: GCC 12 leaks the members of a braced
        // initializer built before a later one returns early.)
        auto& check = out.health_log.emplace_back();
        check.exit_code = TRY(probe["exit_code"].value_or<int>(0));
        check.start = TRY(probe["start"].value_or(""));
        check.end = TRY(probe["end"].value_or(""));
        check.output = TRY(probe["output"].value_or(""));
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

namespace {

// container.json's member `key`, one of `table`'s names; errors name it.
template <typename Enum, std::size_t N>
Result<Enum> recorded_choice(const JsonObjectCursor& object, std::string_view key,
                             const NameTable<Enum, N>& table, const char* fallback) {
    JsonCursor field = object[key];
    std::string text = TRY(field.value_or(fallback));
    return TRY_CTX(parse_choice(table, text), field.path());
}

} // namespace

Result<RunOptions> recorded_run_options(std::string_view container_json) {
    RunOptions out;
    JsonValue document = TRY(parse_json(container_json));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    out.name = TRY(object["name"].string());
    out.image = TRY(object["image"].string());
    std::string source = TRY(object["source"].value_or("rootfs"));
    if (source != "store" && source != "rootfs")
        return error(cat("source: unknown value ", quoted(source), " (expected store or rootfs)"));
    out.image_source = source == "store" ? ImageSource::Store : ImageSource::Rootfs;
    out.image_store = TRY(object["store"].value_or(""));
    std::string removal = TRY(object["removal"].value_or("keep"));
    if (removal != "keep" && removal != "on-exit")
        return error(
            cat("removal: unknown value ", quoted(removal), " (expected keep or on-exit)"));
    out.removal = removal == "on-exit" ? Removal::OnExit : Removal::Keep;
    out.restart = TRY(recorded_choice(object, "restart", kRestartPolicyNames, "no"));
    out.restart_retries = TRY(object["restart_retries"].value_or<uint32_t>(0));
    out.network = TRY(recorded_choice(object, "network", kNetworkModeNames, "none"));
    out.notify = TRY(recorded_choice(object, "notify", kNotifyWhenNames, "conmon"));
    out.stop_signal = TRY(object["stop_signal"].value_or<int>(15));
    if (*out.stop_signal < 1 || *out.stop_signal > 64)
        return error(cat(object["stop_signal"].path(), ": not a signal number"));
    out.stop_timeout_seconds = TRY(object["stop_timeout"].value_or<uint32_t>(10));
    if (object["memory"].present())
        out.memory_bytes = TRY(object["memory"].integer<int64_t>(0));
    if (TRY(object["tty"].value_or(false)))
        out.terminal = Terminal::Allocate;
    if (TRY(object["interactive"].value_or(false)))
        out.stdin_mode = Stdin::Open;
    for (const JsonCursor& entry : TRY(object["ports"].array()))
        out.ports.push_back(TRY_CTX(parse_port_mapping(TRY(entry.string())), entry.path()));
    if (object["health"].present()) {
        JsonObjectCursor health = TRY(object["health"].object());
        using std::chrono::milliseconds;
        auto duration = [&](std::string_view key, milliseconds fallback) -> Result<milliseconds> {
            return milliseconds(TRY(health[key].value_or<int64_t>(fallback.count())));
        };
        out.health.command = TRY(health["command"].string());
        out.health.interval = TRY(duration("interval_ms", out.health.interval));
        out.health.timeout = TRY(duration("timeout_ms", out.health.timeout));
        out.health.start_period = TRY(duration("start_period_ms", out.health.start_period));
        out.health.retries = TRY(health["retries"].value_or<uint32_t>(out.health.retries));
        for (milliseconds each : {out.health.interval, out.health.timeout})
            if (each.count() <= 0)
                return error(cat(object["health"].path(), ": an interval and timeout above 0"));
        if (out.health.start_period.count() < 0)
            return error(cat(object["health"].path(), ": a negative start period"));
    }
    for (const JsonCursor& word : TRY(object["command"].array()))
        out.command.push_back(TRY(word.string()));
    return out;
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
