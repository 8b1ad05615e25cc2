// containers/container_records: keel run's containers as records under
// ROOT/containers/ID: container.json (what keel run was told), state.json
// (what it saw), read back for ps, inspect, stop, kill and rm; the status
// text `keel ps` shows; removal of a container and everything it had.
#include "containers/container_records.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"
#include "containers/record.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <map>
#include <unistd.h>

namespace keel::containers {

namespace {

Result<RunContainer> read_container(const std::string& state_root, const std::string& id) {
    std::string path = cat(bundle_of(state_root, id), "/container.json");
    RunContainer out;
    out.json = TRY(read_file(path));
    auto parsed = [&]() -> Result<void> {
        JsonValue document = TRY(parse_json(out.json));
        JsonObjectCursor object = TRY(JsonCursor(document).object());
        out.id = TRY(object["id"].string());
        out.name = TRY(object["name"].string());
        out.image = TRY(object["image"].string());
        out.source = TRY(object["source"].value_or("rootfs"));
        out.store = TRY(object["store"].value_or(""));
        out.created = TRY(object["created"].value_or(""));
        out.removal = TRY(object["removal"].value_or("keep"));
        out.network = TRY(object["network"].value_or("none"));
        out.stop_signal = TRY(object["stop_signal"].value_or<int>(SIGTERM));
        out.stop_timeout = TRY(object["stop_timeout"].value_or<uint32_t>(10));
        for (const JsonCursor& word : TRY(object["command"].array()))
            out.command.push_back(TRY(word.string()));
        return {};
    }();
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(path));
    std::string state_path = cat(bundle_of(state_root, id), "/state.json");
    if (Result<std::string> text = read_file(state_path)) {
        Result<RunState> state = parse_run_state(*text);
        if (!state)
            return std::unexpected(std::move(state).error().wrap(state_path));
        out.state = std::move(*state);
    }
    return out;
}

// Seconds since an RFC 3339 time now_rfc3339() wrote; none when unreadable.
std::optional<int64_t> seconds_since(const std::string& when) {
    std::tm utc{};
    if (when.empty() || !::strptime(when.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc))
        return std::nullopt;
    return int64_t(std::time(nullptr)) - int64_t(::timegm(&utc));
}

// Docker's "3 seconds", "About a minute", "2 hours".
std::string human_duration(int64_t seconds) {
    if (seconds < 1)
        return "Less than a second";
    if (seconds < 60)
        return cat(seconds, seconds == 1 ? " second" : " seconds");
    int64_t minutes = seconds / 60;
    if (minutes == 1)
        return "About a minute";
    if (minutes < 60)
        return cat(minutes, " minutes");
    int64_t hours = minutes / 60;
    if (hours == 1)
        return "About an hour";
    if (hours < 48)
        return cat(hours, " hours");
    return cat(hours / 24, " days");
}

bool stopped(const std::string& state_root, const RunContainer& container) {
    return container_status(state_root, container) == "exited";
}

} // namespace

std::string now_rfc3339() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32] = {};
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::string run_root(const std::string& given) {
    return given.empty() ? std::string(kDefaultRunRoot) : given;
}

std::string records_root(const std::string& state_root) {
    return state_root == kDefaultRunRoot ? std::string(kDefaultRecordRoot) : state_root;
}

std::string containers_directory(const std::string& state_root) {
    return cat(records_root(state_root), "/containers");
}

std::string bundle_of(const std::string& state_root, std::string_view id) {
    return cat(containers_directory(state_root), "/", id);
}

std::string stop_request_path(const std::string& state_root, std::string_view id) {
    return cat(bundle_of(state_root, id), "/", kStopRequestedFile);
}

std::string container_log_of(const std::string& state_root, std::string_view id) {
    return cat(bundle_of(state_root, id), "/", kContainerLogFile);
}

RuntimeOptions runtime_of(const std::string& state_root) {
    return {.root = cat(state_root, "/run")};
}

ImageStoreOptions store_of(const std::string& given) {
    ImageStoreOptions store;
    if (!given.empty())
        store.root = given;
    else if (const char* env = std::getenv("KEEL_IMAGE_STORE"); env && *env)
        store.root = env;
    return store;
}

BridgeConfig bridge_of(const std::string& state_root) {
    BridgeConfig config;
    config.state_directory = cat(state_root, "/network");
    return config;
}

std::string container_metadata(const RunOptions& options, std::string_view id,
                               std::string_view name, const std::string& store,
                               const IdMaps& maps) {
    JsonWriter json;
    json.begin_object()
        .field("id", id)
        .field("name", name)
        .field("image", options.image)
        .field("source", options.image_source == ImageSource::Store ? "store" : "rootfs")
        .field("store", store)
        .field("created", now_rfc3339())
        .field("removal", options.removal == Removal::OnExit ? "on-exit" : "keep")
        .field("restart", kRestartPolicyNames.name(options.restart))
        .field("network", kNetworkModeNames.name(options.network))
        .field("stop_signal", options.stop_signal.value_or(SIGTERM))
        .field("stop_timeout", options.stop_timeout_seconds)
        // What a start of the container again (start_container) goes by
        // besides its config.json: recorded_run_options() reads it back.
        .field("restart_retries", options.restart_retries)
        .field("memory", options.memory_bytes)
        .field("notify", kNotifyWhenNames.name(options.notify))
        .field("tty", options.terminal == Terminal::Allocate)
        .field("interactive", options.stdin_mode == Stdin::Open);
    json.key("ports").begin_array();
    for (const PortMapping& port : options.ports)
        json.value(format_port_mapping(port));
    json.end_array();
    if (!options.health.command.empty())
        json.key("health")
            .begin_object()
            .field("command", options.health.command)
            .field("interval_ms", int64_t(options.health.interval.count()))
            .field("timeout_ms", int64_t(options.health.timeout.count()))
            .field("start_period_ms", int64_t(options.health.start_period.count()))
            .field("retries", options.health.retries)
            .end_object();
    if (!maps.empty())
        write_userns_record(json, options.userns.mode, maps);
    json.key("command").begin_array();
    for (const std::string& word : options.command)
        json.value(word);
    json.end_array().end_object();
    return json.text();
}

Result<void> write_run_state(const std::string& state_root, std::string_view id,
                             const RunState& state) {
    std::string path = cat(bundle_of(state_root, id), "/state.json");
    std::string temporary = path + ".new";
    ::unlink(temporary.c_str());
    TRY(write_new_file(temporary, run_state_json(state), 0600));
    if (::rename(temporary.c_str(), path.c_str()) < 0)
        return errno_error(cat("rename ", quoted(temporary)));
    return {};
}

void remove_bundle(const std::string& bundle) {
    for (std::string_view file : {"etc/hostname", "etc/hosts", "etc/resolv.conf"})
        ::unlink(cat(bundle, "/", file).c_str());
    ::rmdir(cat(bundle, "/etc").c_str());
    constexpr std::string_view kFiles[] = {"config.json",    "container.json",   "state.json",
                                           "state.json.new", kStopRequestedFile, kContainerLogFile,
                                           kRunLockFile};
    for (std::string_view file : kFiles)
        ::unlink(cat(bundle, "/", file).c_str());
    ::rmdir(bundle.c_str());
}

Result<std::vector<RunContainer>> list_containers(const std::string& state_root) {
    std::vector<RunContainer> out;
    std::string directory = containers_directory(state_root);
    if (!path_exists(directory))
        return out;
    for (const std::string& id : TRY(list_directory(directory))) {
        Result<RunContainer> container = read_container(state_root, id);
        if (container)
            out.push_back(std::move(*container));
    }
    std::ranges::sort(out, {}, &RunContainer::created);
    return out;
}

Result<RunContainer> find_container(const std::string& state_root, std::string_view reference) {
    std::vector<RunContainer> matches;
    for (RunContainer& container : TRY(list_containers(state_root))) {
        if (container.name == reference || container.id == reference)
            return std::move(container);
        if (!reference.empty() && container.id.starts_with(reference))
            matches.push_back(std::move(container));
    }
    if (matches.size() == 1)
        return std::move(matches.front());
    if (matches.empty())
        return errno_error(ENOENT, cat("no container ", quoted(reference)));
    return error(cat("more than one container's id starts with ", quoted(reference)));
}

std::string container_status(const std::string& state_root, const RunContainer& container) {
    Result<ContainerState> state = containers::state(runtime_of(state_root), container.id);
    if (!state || state->status == Status::Stopped)
        return "exited";
    return std::string(kStatusNames.name(state->status));
}

std::string container_status_text(const std::string& state_root, const RunContainer& container) {
    std::string status = container_status(state_root, container);
    const RunState& state = container.state;
    if (status == "running" || status == "paused") {
        std::string text = "Up";
        if (std::optional<int64_t> up = seconds_since(state.started))
            text += cat(" ", human_duration(*up));
        if (status == "paused")
            text += " (Paused)";
        else if (state.health != HealthStatus::None)
            text += cat(" (", kHealthStatusNames.name(state.health), ")");
        return text;
    }
    if (status == "created")
        return "Created";
    std::string text = cat("Exited (", state.exit_code.value_or(0), ")");
    if (state.oom_killed)
        return text + " OOM-killed";
    if (std::optional<int64_t> ago = seconds_since(state.finished))
        text += cat(" ", human_duration(*ago), " ago");
    return text;
}

Result<void> mark_stop_requested(const std::string& state_root, const RunContainer& container,
                                 std::optional<std::chrono::seconds> timeout) {
    std::string path = stop_request_path(state_root, container.id);
    if (!timeout && path_exists(path))
        return {};
    return write_new_file(path, timeout ? cat(timeout->count(), "\n") : std::string(), 0600);
}

bool stop_was_requested(const std::string& state_root, const RunContainer& container) {
    return path_exists(stop_request_path(state_root, container.id));
}

// Docker's exit code for a container found dead at the daemon's start.
constexpr int kInterruptedExitCode = 255;

Result<bool> record_interrupted_run(const std::string& state_root, const RunContainer& container) {
    const RunState& state = container.state;
    if (state.pid <= 0 || state.exit_code || !stopped(state_root, container))
        return false;
    RunState ended = state;
    ended.pid = 0;
    ended.exit_code = kInterruptedExitCode;
    ended.finished = now_rfc3339();
    ended.ports.clear();
    TRY(write_run_state(state_root, container.id, ended));
    return true;
}

// How long stop waits for a container to end after SIGKILL, in tenths of a second.
constexpr int kKillWaitTenths = 100;

Result<void> stop_container(const std::string& state_root, const RunContainer& container,
                            std::chrono::seconds timeout) {
    // Stopped on purpose: keel run is not to restart it (Docker's "manually
    // stopped"), also when it is between two runs, waiting for its restart.
    (void)mark_stop_requested(state_root, container);
    if (stopped(state_root, container))
        return {};
    RuntimeOptions runtime = runtime_of(state_root);
    TRY(kill(runtime, container.id, container.stop_signal));
    for (int64_t waited = 0; waited < timeout.count() * 10 && !stopped(state_root, container);
         ++waited)
        ::usleep(100000);
    if (stopped(state_root, container))
        return {};
    (void)kill(runtime, container.id, SIGKILL, KillScope::All);
    // As `docker stop`: done when the container is. A pid namespace's init
    // killed is still exiting (its namespaces already gone) until every
    // process in it has been reaped.
    for (int waited = 0; waited < kKillWaitTenths && !stopped(state_root, container); ++waited)
        ::usleep(100000);
    if (!stopped(state_root, container))
        return error(cat("container ", container.name, " did not stop ", kKillWaitTenths / 10,
                         " s after SIGKILL"));
    return {};
}

Result<void> kill_container(const std::string& state_root, const RunContainer& container,
                            int signal) {
    // Killed on purpose, as `docker kill`: not restarted when it ends.
    (void)mark_stop_requested(state_root, container);
    return kill(runtime_of(state_root), container.id, signal);
}

Result<void> remove_container(const std::string& state_root, const RunContainer& container,
                              DeleteMode mode) {
    // (Its keeper may delete the runtime's record at the same moment, once
    // the container has ended: gone is what was wanted.)
    if (Result<void> removed = remove(runtime_of(state_root), container.id, mode);
        !removed && removed.error().code() != int(ErrorCode::NoSuchContainer))
        return removed;
    if (Result<void> detached = detach_bridge(bridge_of(state_root), container.id);
        !detached && detached.error().code() != ENOENT)
        return std::unexpected(std::move(detached).error());
    if (container.source == "store") {
        Result<void> removed = remove_container_root(store_of(container.store), container.id);
        if (!removed && removed.error().code() != ENOENT)
            return std::unexpected(std::move(removed).error());
    }
    remove_bundle(bundle_of(state_root, container.id));
    return {};
}

Result<std::string> inspect_container(const std::string& state_root,
                                      const RunContainer& container) {
    JsonValue metadata = TRY(parse_json(container.json));
    std::string status = container_status(state_root, container);
    const RunState& state = container.state;
    bool running = status == "running" || status == "paused";
    JsonWriter json;
    json.begin_object()
        .field("Id", container.id)
        .field("Name", cat("/", container.name))
        .field("Created", container.created)
        .field("Status", status)
        .field("RestartCount", state.restart_count);
    json.key("State")
        .begin_object()
        .field("Status", status)
        .field("Running", status == "running")
        .field("Paused", status == "paused")
        .field("OOMKilled", state.oom_killed)
        .field("Pid", running ? state.pid : 0)
        .field("ExitCode", running ? 0 : state.exit_code.value_or(0))
        .field("StartedAt", state.started)
        .field("FinishedAt", state.finished);
    if (state.health != HealthStatus::None) {
        json.key("Health")
            .begin_object()
            .field("Status", kHealthStatusNames.name(state.health))
            .field("FailingStreak", state.failing_streak);
        json.key("Log").begin_array();
        for (const HealthProbe& probe : state.health_log)
            json.begin_object()
                .field("Start", probe.start)
                .field("End", probe.end)
                .field("ExitCode", probe.exit_code)
                .field("Output", probe.output)
                .end_object();
        json.end_array().end_object();
    }
    json.end_object();
    if (!state.address.empty() || !state.ports.empty()) {
        json.key("NetworkSettings").begin_object().field("IPAddress", state.address);
        // Docker's shape: "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}].
        std::vector<PortMapping> published = running ? state.ports : std::vector<PortMapping>();
        std::map<std::string, std::vector<const PortMapping*>> by_container_port;
        for (const PortMapping& port : published)
            by_container_port[cat(port.container_port, "/", kProtocolNames.name(port.protocol))]
                .push_back(&port);
        json.key("Ports").begin_object();
        for (const auto& [key, ports] : by_container_port) {
            json.key(key).begin_array();
            for (const PortMapping* port : ports)
                json.begin_object()
                    .field("HostIp", port->host_ip.empty() ? "0.0.0.0" : port->host_ip)
                    .field("HostPort", cat(port->host_port))
                    .end_object();
            json.end_array();
        }
        json.end_object().end_object();
    }
    if (running)
        if (std::optional<ContainerStats> stats = container_stats(state_root, container)) {
            json.key("Stats")
                .begin_object()
                .field("Cgroup", stats->cgroup)
                .field("MemoryCurrent", stats->memory_current)
                .field("MemoryMax", stats->memory_max)
                .field("PidsCurrent", stats->pids_current)
                .field("PidsMax", stats->pids_max)
                .field("CpuUsageUsec", stats->cpu_usage_usec)
                .field("OomKills", stats->oom_kills)
                .end_object();
        }
    json.key("Container").value(metadata);
    if (Result<std::string> config =
            read_file(bundle_of(state_root, container.id) + "/config.json"))
        if (Result<JsonValue> parsed = parse_json(*config))
            json.key("Config").value(*parsed);
    json.end_object();
    return json.text();
}

namespace {

// A cgroup file holding one number, or "max" (nullopt); nullopt too where
// the file is not there (its controller not enabled for the group).
Result<std::optional<uint64_t>> cgroup_number(const std::string& path) {
    if (!path_exists(path))
        return std::nullopt;
    std::string text = TRY(read_file(path));
    std::string_view value = trim(text);
    if (value == "max")
        return std::nullopt;
    std::optional<uint64_t> number = parse_u64(value);
    if (!number)
        return error(cat(quoted(path), ": not a number: ", quoted(value.substr(0, 40))));
    return *number;
}

// container_stats() of the group `cgroup` (relative to the cgroup root).
Result<ContainerStats> read_container_stats(const std::string& cgroup);

} // namespace

std::optional<ContainerStats> container_stats(const std::string& state_root,
                                              const RunContainer& container) {
    Result<Record> record = read_record(runtime_of(state_root), container.id);
    if (!record || record->cgroup.empty())
        return std::nullopt;
    Result<ContainerStats> read = read_container_stats(record->cgroup);
    if (!read)
        return std::nullopt;
    return std::move(*read);
}

namespace {

// The same from a cgroup v1 host's hierarchies: memory.usage_in_bytes,
// memory.limit_in_bytes (v1 applies its ancestors' through
// use_hierarchy, which reads as the lowest: hierarchical_memory_limit in
// memory.stat), pids.current, pids.max, cpuacct.usage (ns), the oom_kill
// count of memory.oom_control.
Result<ContainerStats> read_container_stats_v1(const Cgroup& group) {
    // The counters are the group's own (Cgroup::stats()); the limits in
    // force are read here.
    CgroupStats counters = TRY(group.stats());
    ContainerStats stats;
    stats.cpu_usage_usec = counters.cpu_usage_usec;
    stats.oom_kills = counters.oom_kills;
    if (std::optional<std::string> memory = group.directory_of("memory")) {
        stats.memory_current = counters.memory_current;
        std::string text = TRY(read_file(*memory + "/memory.stat"));
        for (std::string_view line : split(text, '\n'))
            if (line.starts_with("hierarchical_memory_limit "))
                stats.memory_max = parse_u64(line.substr(26));
        // v1's "no limit" is the largest page count, not "max".
        if (stats.memory_max && *stats.memory_max >= (uint64_t(1) << 62))
            stats.memory_max.reset();
    }
    if (std::optional<std::string> pids = group.directory_of("pids")) {
        stats.pids_current = counters.tasks_current;
        stats.pids_max = TRY(cgroup_number(*pids + "/pids.max"));
    }
    return stats;
}

Result<ContainerStats> read_container_stats(const std::string& cgroup) {
    if (Cgroup group = TRY(Cgroup::open(cgroup)); group.v1()) {
        ContainerStats stats = TRY(read_container_stats_v1(group));
        stats.cgroup = cgroup;
        return stats;
    }
    std::string directory = cat(kCgroupRoot, "/", cgroup);
    ContainerStats stats;
    stats.cgroup = cgroup;
    stats.memory_current = TRY(cgroup_number(directory + "/memory.current"));
    // The limit in force: the lowest of the group's and its ancestors'
    // (a unit's MemoryMax= over the container's group).
    for (std::string group = cgroup; !group.empty();) {
        if (std::optional<uint64_t> limit =
                TRY(cgroup_number(cat(kCgroupRoot, "/", group, "/memory.max"))))
            stats.memory_max = std::min(*limit, stats.memory_max.value_or(*limit));
        size_t slash = group.rfind('/');
        group.resize(slash == std::string::npos ? 0 : slash);
    }
    stats.pids_current = TRY(cgroup_number(directory + "/pids.current"));
    stats.pids_max = TRY(cgroup_number(directory + "/pids.max"));
    std::string cpu_stat = directory + "/cpu.stat";
    std::string text = TRY(read_file(cpu_stat));
    for (std::string_view line : split(text, '\n'))
        if (line.starts_with("usage_usec "))
            stats.cpu_usage_usec = parse_u64(line.substr(11)).value_or(0);
    if (path_exists(directory + "/memory.events"))
        stats.oom_kills = TRY(read_oom_kills(directory));
    return stats;
}

} // namespace

Result<uint64_t> read_oom_kills(const std::string& cgroup_directory) {
    // cgroup v1 has the same "oom_kill N" line (Linux 4.13) in memory.oom_control.
    std::string path = cgroup_directory + "/memory.events";
    if (!path_exists(path) && path_exists(cgroup_directory + "/memory.oom_control"))
        path = cgroup_directory + "/memory.oom_control";
    std::string text = TRY(read_file(path));
    return TRY_CTX(parse_oom_kills(text), path);
}

} // namespace keel::containers
