// The service manager's verbs on the command line: requests to init over the
// control socket, answers printed like systemctl and journalctl print them
// (or as JSON with --json), and `keel notify` straight to $NOTIFY_SOCKET.
#include "cli/unit_commands.h"

#include "cli/run_commands.h"
#include "containers/containers.h"

#include "base/json.h"
#include "base/notify.h"
#include "base/strings.h"
#include "base/sys.h"
#include "control/control.h"
#include "control/types.h"

#include <algorithm>
#include <cstdlib>
#include <fnmatch.h>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace keel::cli {

namespace {

// `keel status UNIT...` exits as `systemctl status` does: 3 when a unit is
// not running, 4 when one is unknown.
constexpr int kExitUnitNotActive = 3;
constexpr int kExitUnitUnknown = 4;

// Log lines `keel status UNIT` shows unless -n says otherwise.
constexpr uint32_t kStatusLogLines = 10;
// The most log lines -n asks for.
constexpr uint64_t kMaxLogLines = 100000;

// Columns of init's process table (each followed by a space).
constexpr size_t kUnitPidWidth = 8;
constexpr size_t kUnitStateWidth = 9;
constexpr size_t kExitWidth = 5;
// `keel status UNIT` right-aligns its field names ("Main PID: ...") to this.
constexpr size_t kFieldNameWidth = 11;
// list-units' columns are at least as wide as their headings.
constexpr std::string_view kUnitHeading = "UNIT";
constexpr std::string_view kLoadHeading = "LOAD";
constexpr std::string_view kActiveHeading = "ACTIVE";
constexpr std::string_view kSubHeading = "SUB";

constexpr std::string_view kBullet = "\u25cf";
constexpr std::string_view kHollowBullet = "\u25cb";

std::string log_line(const control::LogEntry& entry) {
    return cat(short_time(entry.realtime_usec()), " ", entry.unit(), ": ", entry.message(), "\n");
}

void write_log(JsonWriter& json, const control::LogEntry& entry) {
    json.begin_object()
        .field("realtime_usec", entry.realtime_usec())
        .field("boottime_usec", entry.boottime_usec())
        .field("unit", entry.unit())
        .field("stream", entry.stream())
        .field("priority", entry.priority())
        .field("message", entry.message())
        .end_object();
}

// A protocol enum's name for JSON: "" when not given (a target's
// service_type, no job), "?" for a value this keel does not know.
template <typename Enum> std::string_view json_name(int number) {
    return number == 0 ? std::string_view() : describe_wire<Enum>(number);
}

void write_unit(JsonWriter& json, const control::Unit& unit) {
    json.begin_object()
        .field("name", unit.name())
        .field("description", unit.description())
        .field("type", json_name<UnitType>(unit.type()))
        .field("service_type", json_name<ServiceType>(unit.service_type()))
        .field("load_state", json_name<LoadState>(unit.load_state()))
        .field("load_error", unit.load_error())
        .field("active_state", json_name<ActiveState>(unit.active_state()))
        .field("sub_state", unit.sub_state())
        .field("enabled", json_name<EnableState>(unit.enabled()))
        .field("job", json_name<JobType>(unit.job()))
        .field("main_pid", unit.main_pid())
        .field("main_command", unit.main_command())
        .field("control_pid", unit.control_pid())
        .field("exit_status", unit.exit_status())
        .field("last_exit", unit.last_exit())
        .field("result", json_name<ServiceResult>(unit.result()))
        .field("restarts", unit.restarts())
        .field("status_text", unit.status_text())
        .field("condition_failed", unit.condition_failed())
        .field("state_since_usec", unit.state_since_usec())
        .field("memory_current", unit.memory_current())
        .field("tasks_current", unit.tasks_current())
        .field("path", unit.path());
    json.key("dropins").begin_array();
    for (const std::string& dropin : unit.dropins())
        json.value(dropin);
    json.end_array().end_object();
}

// "1.2M" for memory sizes.
std::string human_bytes(uint64_t bytes) {
    constexpr std::string_view kUnits = "BKMGTPE";
    constexpr double kStep = 1024;
    double value = double(bytes);
    size_t unit = 0;
    while (value >= kStep && unit + 1 < kUnits.size()) {
        value /= kStep;
        ++unit;
    }
    if (unit == 0)
        return cat(bytes, "B");
    uint64_t tenths = uint64_t(value * 10 + 0.5);
    return cat(tenths / 10, tenths % 10 ? cat(".", tenths % 10) : std::string(), kUnits[unit]);
}

// A unit's state change in CLOCK_REALTIME (init reports CLOCK_BOOTTIME).
uint64_t since_realtime(uint64_t since_boottime) {
    uint64_t boot_now = boottime_usec();
    uint64_t real_now = realtime_usec();
    if (!since_boottime || since_boottime > boot_now)
        return 0;
    return real_now - (boot_now - since_boottime);
}

// A unit's states from the wire (nullopt for a value this keel does not
// know), and their names.
std::optional<ActiveState> active_state(const control::Unit& unit) {
    return from_wire<ActiveState>(unit.active_state());
}
bool loaded(const control::Unit& unit) {
    return from_wire<LoadState>(unit.load_state()) == LoadState::Loaded;
}
std::string active_name(const control::Unit& unit) {
    return std::string(describe_wire<ActiveState>(unit.active_state()));
}
std::string load_name(const control::Unit& unit) {
    return std::string(describe_wire<LoadState>(unit.load_state()));
}
bool has_job(const control::Unit& unit) {
    return from_wire<JobType>(unit.job()).has_value();
}

// The bullet systemctl puts before a unit: red for failed, green for active.
std::string bullet(const control::Unit& unit, Coloring coloring) {
    std::optional<ActiveState> state = active_state(unit);
    if (state == ActiveState::Failed || !loaded(unit))
        return colored(kBullet, Color::Red, coloring);
    if (state == ActiveState::Active || state == ActiveState::Reloading)
        return colored(kBullet, Color::Green, coloring);
    if (state == ActiveState::Inactive)
        return std::string(kHollowBullet);
    return std::string(kBullet);
}

std::string status_text(const control::Unit& unit, const control::Response& response,
                        Coloring coloring) {
    std::string out = cat(bullet(unit, coloring), " ", unit.name());
    if (unit.description() != unit.name())
        out += cat(" - ", unit.description());
    out += "\n";
    auto label = [](std::string_view name) {
        return cat(std::string(kFieldNameWidth - std::min(kFieldNameWidth, name.size()), ' '), name,
                   ": ");
    };
    auto field = [&](std::string_view name, const std::string& value) {
        out += cat(label(name), value, "\n");
    };
    if (loaded(unit))
        field("Loaded", cat("loaded (", unit.path().empty() ? "built in" : unit.path(), "; ",
                            describe_wire<EnableState>(unit.enabled()), ")"));
    else
        field("Loaded", cat(load_name(unit), " (Reason: ", unit.load_error(), ")"));
    for (int i = 0; i < unit.dropins_size(); ++i)
        out += cat(i == 0 ? label("Drop-In") : std::string(label("").size(), ' '), unit.dropins(i),
                   "\n");
    std::optional<ActiveState> state = active_state(unit);
    std::string active = unit.sub_state() == active_name(unit) || unit.sub_state() == "dead"
                             ? active_name(unit)
                             : cat(active_name(unit), " (", unit.sub_state(), ")");
    if (state == ActiveState::Inactive)
        active = "inactive (dead)";
    if (state == ActiveState::Active || state == ActiveState::Reloading ||
        state == ActiveState::Activating || state == ActiveState::Deactivating)
        active =
            colored(active, state == ActiveState::Active ? Color::Green : Color::Yellow, coloring);
    std::optional<ServiceResult> result = from_wire<ServiceResult>(unit.result());
    if (result && result != ServiceResult::Success && state != ActiveState::Active)
        active = cat(state == ActiveState::Failed ? colored(active, Color::Red, coloring) : active,
                     " (Result: ", describe(*result), ")");
    if (uint64_t since = since_realtime(unit.state_since_usec()))
        active +=
            cat(" since ", long_time(since), "; ", time_span(realtime_usec() - since), " ago");
    field("Active", active);
    if (has_job(unit))
        field("Job", std::string(describe_wire<JobType>(unit.job())));
    if (!unit.condition_failed().empty())
        field("Condition", cat("start condition unmet: ", unit.condition_failed()));
    if (unit.main_pid()) {
        const std::string& name = unit.main_command();
        field("Main PID", cat(unit.main_pid(), name.empty() ? "" : cat(" (", name, ")")));
    } else if (!unit.last_exit().empty()) {
        field("Process", cat("main process ", unit.last_exit()));
    }
    if (unit.control_pid())
        field("Control", cat(unit.control_pid()));
    if (!unit.status_text().empty())
        field("Status", cat("\"", unit.status_text(), "\""));
    if (unit.restarts())
        field("Restarts", cat(unit.restarts()));
    if (unit.tasks_current())
        field("Tasks", cat(unit.tasks_current()));
    if (unit.memory_current())
        field("Memory", human_bytes(unit.memory_current()));
    if (response.entries_size() > 0) {
        out += "\n";
        for (const control::LogEntry& entry : response.entries())
            out += log_line(entry);
    }
    return out;
}

// Whether list-units shows a unit without --all: systemctl shows what is
// active, failed, has a job, or did not load.
bool listed_by_default(const control::Unit& unit) {
    return active_state(unit) != ActiveState::Inactive || has_job(unit) || !loaded(unit);
}

// `keel status` without units: init itself.
CommandResult show_init_status(const ParsedArgs& args) {
    control::Request request;
    request.mutable_status();
    control::Response response = TRY(ask_init(request));
    const control::StatusResponse& status = response.status();
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_object()
            .field("version", status.version())
            .field("pid", status.pid())
            .field("mode", describe_wire<InitMode>(status.mode()))
            .field("ready_usec", status.ready_usec())
            .field("uptime_usec", status.uptime_usec())
            .field("reaped_orphans", status.reaped_orphans())
            .field("system_state", describe_wire<SystemState>(status.system_state()))
            .field("units_loaded", status.units_loaded())
            .field("units_active", status.units_active())
            .field("units_failed", status.units_failed())
            .field("jobs", status.jobs());
        json.key("processes").begin_array();
        for (const control::Process& process : status.processes())
            json.begin_object()
                .field("name", process.name())
                .field("pid", process.pid())
                .field("state", describe_wire<ProcessState>(process.state()))
                .field("exit_status", process.exit_status())
                .end_object();
        json.end_array().end_object();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    std::optional<InitMode> mode = from_wire<InitMode>(status.mode());
    std::string out =
        cat("keel ", status.version(), ": ", describe_wire<InitMode>(status.mode()), " init, pid ",
            status.pid(), "\n  ready:          ", format_seconds(status.ready_usec()), " s",
            mode == InitMode::System ? " after kernel start" : " after start",
            "\n  uptime:         ", format_seconds(status.uptime_usec()), " s",
            "\n  orphans reaped: ", status.reaped_orphans(), "\n");
    if (from_wire<SystemState>(status.system_state()))
        out += cat("  state:          ", describe_wire<SystemState>(status.system_state()), " (",
                   status.units_active(), " units active, ", status.units_failed(), " failed, ",
                   status.jobs(), " jobs queued)\n");
    if (status.processes_size() > 0) {
        out += cat("\n  ", cell("PID", kUnitPidWidth), cell("STATE", kUnitStateWidth),
                   cell("EXIT", kExitWidth), "NAME\n");
        for (const control::Process& process : status.processes()) {
            std::string pid = process.pid() ? cat(process.pid()) : "-";
            std::optional<ProcessState> state = from_wire<ProcessState>(process.state());
            std::string code = state == ProcessState::Running ? "-" : cat(process.exit_status());
            out += cat("  ", cell(pid, kUnitPidWidth),
                       cell(describe_wire<ProcessState>(process.state()), kUnitStateWidth),
                       cell(code, kExitWidth), process.name(), "\n");
        }
    }
    print(out);
    return kExitSuccess;
}

// `keel status UNIT...`.
CommandResult show_unit_status(const ParsedArgs& args) {
    bool json = args.flag("--json");
    auto lines = args.number("--lines");
    Coloring coloring = terminal_coloring();
    int status = kExitSuccess;
    std::vector<std::string_view> names = args.positionals("UNIT");
    for (size_t i = 0; i < names.size(); ++i) {
        control::Request request;
        request.mutable_unit_status()->set_unit(unit_name_argument(names[i]));
        request.mutable_unit_status()->set_log_lines(lines ? uint32_t(*lines) : kStatusLogLines);
        control::Response response = TRY(call_init(request));
        if (!response.ok() || response.units_size() == 0) {
            report(Error::message(response.error()));
            status = kExitUnitUnknown;
            continue;
        }
        const control::Unit& unit = response.units(0);
        if (json) {
            JsonWriter out;
            out.begin_object().key("unit");
            write_unit(out, unit);
            out.key("logs").begin_array();
            for (const control::LogEntry& entry : response.entries())
                write_log(out, entry);
            out.end_array().end_object();
            print(out.text() + "\n");
        } else {
            print(cat(i ? "\n" : "", status_text(unit, response, coloring)));
        }
        if (active_state(unit) != ActiveState::Active &&
            active_state(unit) != ActiveState::Reloading && status == kExitSuccess)
            status = kExitUnitNotActive;
    }
    return status;
}

CommandResult command_status(const ParsedArgs& args) {
    if (!args.positional("UNIT"))
        return args.flag("--lines") ? usage_error(args, "-n/--lines is for units' log lines")
                                    : show_init_status(args);
    return show_unit_status(args);
}

CommandResult command_list_units(const ParsedArgs& args) {
    bool all = args.flag("--all");
    bool failed = args.flag("--failed");
    std::vector<std::string_view> patterns = args.positionals("PATTERN");
    control::Request request;
    request.mutable_list_units();
    control::Response response = TRY(ask_init(request));
    std::vector<const control::Unit*> units;
    for (const control::Unit& unit : response.units()) {
        if (failed && active_state(unit) != ActiveState::Failed)
            continue;
        if (!all && !failed && patterns.empty() && !listed_by_default(unit))
            continue;
        if (!patterns.empty() &&
            std::none_of(patterns.begin(), patterns.end(), [&](std::string_view pattern) {
                return ::fnmatch(std::string(pattern).c_str(), unit.name().c_str(), 0) == 0 ||
                       ::fnmatch(unit_name_argument(pattern).c_str(), unit.name().c_str(), 0) == 0;
            }))
            continue;
        units.push_back(&unit);
    }
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_array();
        for (const control::Unit* unit : units)
            write_unit(json, *unit);
        json.end_array();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    size_t name_width = kUnitHeading.size(), load_width = kLoadHeading.size(),
           active_width = kActiveHeading.size(), sub_width = kSubHeading.size();
    for (const control::Unit* unit : units) {
        name_width = std::max(name_width, unit->name().size());
        load_width = std::max(load_width, load_name(*unit).size());
        active_width = std::max(active_width, active_name(*unit).size());
        sub_width = std::max(sub_width, unit->sub_state().size());
    }
    Coloring coloring = terminal_coloring();
    std::string out =
        cat("  ", cell(kUnitHeading, name_width), cell(kLoadHeading, load_width),
            cell(kActiveHeading, active_width), cell(kSubHeading, sub_width), "DESCRIPTION\n");
    for (const control::Unit* unit : units) {
        bool bad = active_state(*unit) == ActiveState::Failed || !loaded(*unit);
        std::string mark = bad ? colored(kBullet, Color::Red, coloring) + " " : "  ";
        std::string line = cat(cell(unit->name(), name_width), cell(load_name(*unit), load_width),
                               cell(active_name(*unit), active_width),
                               cell(unit->sub_state(), sub_width), unit->description());
        out += cat(mark, bad ? colored(line, Color::Red, coloring) : line, "\n");
    }
    out += cat("\nLOAD   = Whether the unit file was loaded (error: see `keel status UNIT`).\n"
               "ACTIVE = The high-level activation state.\n"
               "SUB    = The low-level state, which depends on the unit type.\n\n",
               units.size(), " units listed.",
               all || failed ? "" : " Pass --all to see loaded but inactive units, too.", "\n");
    print(out);
    return kExitSuccess;
}

// When a job request is answered.
enum class Wait {
    UntilDone,   ///< when the job has finished
    UntilQueued, ///< as soon as it is queued (--no-block)
};

// Queues one job per unit and waits for every answer; returns the exit status.
int run_jobs(JobType type, const std::vector<std::string>& names, Wait wait) {
    // All jobs are queued at once, each request on its own connection (they
    // run in parallel where ordering allows), then each answer is waited for.
    std::vector<Result<ControlConnection>> connections;
    for (const std::string& name : names) {
        control::Request request;
        request.mutable_unit()->set_job(control::JobType(to_wire(type)));
        request.mutable_unit()->set_unit(name);
        request.mutable_unit()->set_no_block(wait == Wait::UntilQueued);
        connections.push_back(ControlConnection::send(request));
    }
    int status = kExitSuccess;
    for (auto& connection : connections) {
        if (!connection) {
            report(connection.error());
            status = kExitFailure;
            continue;
        }
        auto response = connection->receive();
        if (!response) {
            report(response.error());
            status = kExitFailure;
        } else if (!response->ok()) {
            report(Error::message(response->error()));
            status = kExitFailure;
        }
    }
    return status;
}

std::vector<std::string> unit_names(const ParsedArgs& args) {
    std::vector<std::string> names;
    for (std::string_view name : args.positionals("UNIT"))
        names.push_back(unit_name_argument(name));
    return names;
}

// Whether each of `names` is a container keel run made (in the default
// root) and no unit init has loaded: `keel stop web` then stops the
// container, as `docker stop web` does. A name with a dot is a unit's.
bool names_containers(std::span<const std::string_view> names) {
    if (names.empty())
        return false;
    std::vector<std::string> loaded;
    control::Request request;
    request.mutable_list_units();
    if (Result<control::Response> response = call_init(request); response && response->ok())
        for (const control::Unit& unit : response->units())
            loaded.push_back(unit.name());
    std::string root = containers::run_root("");
    return std::ranges::all_of(names, [&](std::string_view name) {
        if (name.find('.') != std::string_view::npos ||
            std::ranges::find(loaded, cat(name, ".service")) != loaded.end())
            return false;
        // By its name only: an id prefix could be anything.
        Result<containers::RunContainer> found = containers::find_container(root, name);
        return found && found->name == name;
    });
}

CommandResult command_unit_job(const ParsedArgs& args) {
    std::optional<JobType> type = kJobTypeNames.parse(args.verb());
    if (!type) // the command table routes only the four job verbs here
        return error(cat("not a job: ", quoted(args.verb())));
    std::optional<std::string_view> time = args.value("--time");
    if (time && *type != JobType::Stop && *type != JobType::Restart)
        return usage_error(args, "--time is for stop and restart");
    if (*type != JobType::Reload && names_containers(args.positionals("UNIT"))) {
        std::vector<std::string_view> words = {args.verb()};
        if (time)
            words.insert(words.end(), {"--time", *time});
        for (std::string_view name : args.positionals("UNIT"))
            words.push_back(name);
        return dispatch(kContainerCommand, "container", words);
    }
    if (time)
        return usage_error(args, "--time is for containers (a unit waits its TimeoutStopSec=)");
    return run_jobs(*type, unit_names(args),
                    args.flag("--no-block") ? Wait::UntilQueued : Wait::UntilDone);
}

CommandResult command_enable(const ParsedArgs& args) {
    std::optional<EnableAction> action = kEnableActionNames.parse(args.verb());
    if (!action) // the command table routes only enable and disable here
        return error(cat("not enable or disable: ", quoted(args.verb())));
    std::vector<std::string> names = unit_names(args);
    int status = kExitSuccess;
    for (const std::string& name : names) {
        control::Request request;
        request.mutable_enable()->set_action(control::EnableAction(to_wire(*action)));
        request.mutable_enable()->set_unit(name);
        auto response = ask_init(request);
        if (!response) {
            report(response.error());
            status = kExitFailure;
            continue;
        }
        for (const std::string& change : response->changes())
            print(change + "\n");
    }
    if (args.flag("--now") && status == kExitSuccess)
        return run_jobs(*action == EnableAction::Enable ? JobType::Start : JobType::Stop, names,
                        Wait::UntilDone);
    return status;
}

CommandResult command_daemon_reload(const ParsedArgs&) {
    control::Request request;
    request.mutable_daemon_reload();
    TRY(ask_init(request));
    return kExitSuccess;
}

CommandResult command_logs(const ParsedArgs& args) {
    // A unit named twice is refused, except that -u after UNIT replaces it.
    std::string unit;
    for (const ParsedItem& item : args.items()) {
        if (item.option && item.option->name == "--unit") {
            unit = unit_name_argument(*item.value);
        } else if (item.positional) {
            if (!unit.empty())
                return usage_error(args, "one unit at a time");
            unit = unit_name_argument(*item.value);
        }
    }
    auto lines = args.number("--lines");
    // A container's name (not a unit's): its output, as `docker logs`.
    if (std::optional<std::string_view> name = args.positional("UNIT");
        name && !args.value("--unit") && !args.flag("--json") &&
        names_containers(std::span(&*name, 1))) {
        std::string count = lines ? cat(*lines) : std::string();
        std::vector<std::string_view> words = {"logs", *name};
        if (args.flag("--follow"))
            words.push_back("--follow");
        if (lines) {
            words.push_back("--lines");
            words.push_back(count);
        }
        return dispatch(kContainerCommand, "container", words);
    }
    TRY(show_logs({.unit = unit,
                   .lines = lines ? std::max<uint32_t>(uint32_t(*lines), 1) : 0,
                   .follow = args.flag("--follow") ? Follow::Yes : Follow::No,
                   .format = args.flag("--json") ? LogFormat::Json : LogFormat::Text}));
    return kExitSuccess;
}

CommandResult command_notify(const ParsedArgs& args) {
    std::string message;
    std::string socket;
    pid_t as_pid = ::getppid(); // the service's script, as systemd-notify does
    for (const ParsedItem& item : args.items()) {
        std::string_view option = item.option ? item.option->name : std::string_view();
        if (option == "--ready") {
            message += "READY=1\n";
        } else if (option == "--status") {
            message += cat("STATUS=", *item.value, "\n");
        } else if (option == "--pid") {
            message += item.value ? cat("MAINPID=", *item.value, "\n")
                                  : cat("MAINPID=", ::getppid(), "\n");
        } else if (option == "--self") {
            as_pid = ::getpid();
        } else if (option == "--socket") {
            socket = *item.value;
        } else if (item.positional) {
            if (item.value->find('=') == std::string::npos)
                return usage_error(args, cat(quoted(*item.value), " is not KEY=VALUE"));
            message += cat(*item.value, "\n");
        }
    }
    if (message.empty())
        return usage_error("notify: nothing to send (try --ready or READY=1)");
    if (auto parsed = parse_notify_message(message); !parsed)
        return usage_error(cat("notify: ", parsed.error().to_string()));
    if (socket.empty()) {
        const char* variable = std::getenv("NOTIFY_SOCKET");
        if (!variable || !*variable)
            return std::unexpected(
                Error::message("notify: $NOTIFY_SOCKET is not set (is this running in a unit "
                               "with Type=notify or NotifyAccess=?)"));
        socket = variable;
    }
    TRY_CTX(send_notify(socket, message, as_pid), "notify");
    return kExitSuccess;
}

} // namespace

Result<void> show_logs(const LogQuery& query) {
    control::Request request;
    request.mutable_logs()->set_unit(query.unit);
    request.mutable_logs()->set_lines(query.lines);
    request.mutable_logs()->set_follow(query.follow == Follow::Yes);
    std::optional<std::string> refused;
    TRY(call_init_stream(request, [&](const control::Response& response) {
        if (!response.ok()) {
            refused = response.error();
            return false;
        }
        std::string out;
        for (const control::LogEntry& entry : response.entries()) {
            if (query.format == LogFormat::Json) {
                JsonWriter line;
                write_log(line, entry);
                out += line.text() + "\n";
            } else {
                out += log_line(entry);
            }
        }
        print(out);
        return true;
    }));
    if (refused)
        return error(*refused);
    return {};
}

const Command kStatusCommand{
    .names = {"status"},
    .summary = "show init's state; with units, show them in detail with their latest log lines",
    .options = {kJsonOption,
                {.name = "--lines",
                 .short_name = 'n',
                 .value_name = "N",
                 .type = ValueType::Number,
                 .max = kMaxLogLines,
                 .expected = "a number of lines",
                 .help = "show each unit's last N log lines (default 10)"}},
    .positionals = {{.name = "UNIT", .count = Count::Any, .noun = "unit"}},
    .notes = "\"web\" means web.service. Exits 3 when a unit is not active, 4 when one is "
             "unknown.\n",
    .run = command_status,
};

const Command kListUnitsCommand{
    .names = {"list-units"},
    .summary = "list units (active, failed, queued or broken; --all: all)",
    .options = {{.name = "--all", .short_name = 'a', .help = "every loaded unit, inactive too"},
                {.name = "--failed", .help = "only failed units"},
                kJsonOption},
    .positionals = {{.name = "PATTERN", .count = Count::Any, .noun = "pattern"}},
    .notes = "A PATTERN is a shell glob (\"web*\"); without a dot it also matches services.\n",
    .run = command_list_units,
};

const Command kUnitJobCommand{
    .names = {"start", "stop", "restart", "reload"},
    .summary = "queue jobs and wait for them (\"web\" means web.service)",
    .options = {{.name = "--no-block", .help = "return once the jobs are queued"}, kStopTimeOption},
    .positionals = {{.name = "UNIT", .count = Count::OneOrMore, .noun = "unit"}},
    .run = command_unit_job,
};

const Command kEnableCommand{
    .names = {"enable", "disable"},
    .summary = "link units into the targets their [Install] names",
    .options = {{.name = "--now", .help = "start (or stop) them too"}},
    .positionals = {{.name = "UNIT", .count = Count::OneOrMore, .noun = "unit"}},
    .run = command_enable,
};

const Command kDaemonReloadCommand{
    .names = {"daemon-reload"},
    .summary = "re-read unit files",
    .run = command_daemon_reload,
};

const Command kLogsCommand{
    .names = {"logs"},
    .summary = "the journal: service output and unit events",
    .options = {{.name = "--follow",
                 .short_name = 'f',
                 .help = "keep printing new lines as they come"},
                {.name = "--lines",
                 .short_name = 'n',
                 .value_name = "N",
                 .type = ValueType::Number,
                 .max = kMaxLogLines,
                 .expected = "a number of lines",
                 .help = "the last N lines first (default 50)"},
                kJsonOption,
                {.name = "--unit",
                 .short_name = 'u',
                 .value_name = "UNIT",
                 .type = ValueType::Text,
                 .shown = Shown::InOptionList,
                 .help = "the unit's lines only, as UNIT does"}},
    .positionals = {{.name = "UNIT", .count = Count::Optional, .noun = "unit"}},
    .notes = "UNIT is a unit (\"web\" means web.service), or kernel, or keel for init's own "
             "lines.\n",
    .run = command_logs,
};

const Command kNotifyCommand{
    .names = {"notify"},
    .summary = "send sd_notify messages from a service (like systemd-notify)",
    .options = {{.name = "--ready", .help = "READY=1: the service is up"},
                {.name = "--status",
                 .value_name = "TEXT",
                 .type = ValueType::Text,
                 .help = "STATUS=TEXT: what `keel status` shows"},
                {.name = "--pid",
                 .value_name = "PID",
                 .type = ValueType::Text,
                 .need = ValueNeed::Optional,
                 .help = "MAINPID=PID: the service's main process (default: the caller)"},
                {.name = "--self",
                 .shown = Shown::InOptionList,
                 .help = "send as this process, not as the calling script"},
                {.name = "--socket",
                 .value_name = "PATH",
                 .type = ValueType::Text,
                 .shown = Shown::InOptionList,
                 .help = "send to PATH instead of $NOTIFY_SOCKET"}},
    .positionals = {{.name = "KEY=VALUE", .count = Count::Any, .noun = "assignment"}},
    .run = command_notify,
};

} // namespace keel::cli
