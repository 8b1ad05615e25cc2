// The service manager's verbs on the command line: requests to init over the
// control socket, answers printed like systemctl and journalctl print them
// (or as JSON with --json), and `keel notify` straight to $NOTIFY_SOCKET.
#include "cli/unit_commands.h"

#include "base/notify.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cli/output.h"
#include "control/control.h"

#include <algorithm>
#include <cstdio>
#include <fnmatch.h>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace keel {

namespace {

int fail(std::string_view message, int status = 1) {
    std::fprintf(stderr, "keel: %.*s\n", int(message.size()), message.data());
    return status;
}

// "web" means web.service, as with systemctl.
std::string unit_argument(std::string_view name) {
    if (name.find('.') != std::string_view::npos || name.empty())
        return std::string(name);
    return cat(name, ".service");
}

// The answer to one request, or the exit status to return after an error.
std::optional<control::Response> ask(const control::Request& request, int& status) {
    auto response = call_init(request);
    if (!response) {
        status = fail(response.error().to_string());
        return std::nullopt;
    }
    if (!response->ok()) {
        status = fail(response->error());
        return std::nullopt;
    }
    return *response;
}

std::string log_line(const control::LogEntry& entry) {
    return cat(short_time(entry.realtime_usec()), " ", entry.unit(), ": ", entry.message(), "\n");
}

std::string log_json(const control::LogEntry& entry) {
    return cat(
        "{\"realtime_usec\":", entry.realtime_usec(), ",\"boottime_usec\":", entry.boottime_usec(),
        ",\"unit\":", json_string(entry.unit()), ",\"stream\":", json_string(entry.stream()),
        ",\"priority\":", entry.priority(), ",\"message\":", json_string(entry.message()), "}");
}

std::string unit_json(const control::Unit& unit) {
    std::string dropins;
    for (const std::string& dropin : unit.dropins())
        dropins += cat(dropins.empty() ? "" : ",", json_string(dropin));
    return cat(
        "{\"name\":", json_string(unit.name()),
        ",\"description\":", json_string(unit.description()),
        ",\"type\":", json_string(unit.type()),
        ",\"service_type\":", json_string(unit.service_type()),
        ",\"load_state\":", json_string(unit.load_state()),
        ",\"load_error\":", json_string(unit.load_error()),
        ",\"active_state\":", json_string(unit.active_state()),
        ",\"sub_state\":", json_string(unit.sub_state()),
        ",\"enabled\":", json_string(unit.enabled()), ",\"job\":", json_string(unit.job()),
        ",\"main_pid\":", unit.main_pid(), ",\"main_command\":", json_string(unit.main_command()),
        ",\"control_pid\":", unit.control_pid(), ",\"exit_status\":", unit.exit_status(),
        ",\"last_exit\":", json_string(unit.last_exit()),
        ",\"result\":", json_string(unit.result()), ",\"restarts\":", unit.restarts(),
        ",\"status_text\":", json_string(unit.status_text()),
        ",\"condition_failed\":", json_string(unit.condition_failed()),
        ",\"state_since_usec\":", unit.state_since_usec(),
        ",\"memory_current\":", unit.memory_current(), ",\"tasks_current\":", unit.tasks_current(),
        ",\"path\":", json_string(unit.path()), ",\"dropins\":[", dropins, "]}");
}

std::string pad(std::string_view text, size_t width) {
    std::string out(text);
    if (out.size() < width)
        out.append(width - out.size(), ' ');
    return out;
}

// "1.2M" for memory sizes.
std::string human_bytes(uint64_t bytes) {
    constexpr std::string_view units = "BKMGTPE";
    double value = double(bytes);
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    if (unit == 0)
        return cat(bytes, "B");
    uint64_t tenths = uint64_t(value * 10 + 0.5);
    return cat(tenths / 10, tenths % 10 ? cat(".", tenths % 10) : std::string(), units[unit]);
}

// A unit's state change in CLOCK_REALTIME (init reports CLOCK_BOOTTIME).
uint64_t since_realtime(uint64_t since_boottime) {
    uint64_t boot_now = boottime_usec();
    uint64_t real_now = realtime_usec();
    if (!since_boottime || since_boottime > boot_now)
        return 0;
    return real_now - (boot_now - since_boottime);
}

// The bullet systemctl puts before a unit: red for failed, green for active.
std::string bullet(const control::Unit& unit, bool color) {
    if (unit.active_state() == "failed" || unit.load_state() != "loaded")
        return colored("\u25cf", 31, color);
    if (unit.active_state() == "active" || unit.active_state() == "reloading")
        return colored("\u25cf", 32, color);
    if (unit.active_state() == "inactive")
        return "\u25cb";
    return "\u25cf";
}

std::string status_text(const control::Unit& unit, const control::Response& response, bool color) {
    std::string out = cat(bullet(unit, color), " ", unit.name());
    if (unit.description() != unit.name())
        out += cat(" - ", unit.description());
    out += "\n";
    auto field = [&](std::string_view name, const std::string& value) {
        out +=
            cat(std::string(11 - std::min<size_t>(11, name.size()), ' '), name, ": ", value, "\n");
    };
    if (unit.load_state() == "loaded")
        field("Loaded", cat("loaded (", unit.path().empty() ? "built in" : unit.path(), "; ",
                            unit.enabled(), ")"));
    else
        field("Loaded", cat(unit.load_state(), " (Reason: ", unit.load_error(), ")"));
    for (int i = 0; i < unit.dropins_size(); ++i)
        out += cat(i == 0 ? "    Drop-In: " : "             ", unit.dropins(i), "\n");
    std::string active = unit.sub_state() == unit.active_state() || unit.sub_state() == "dead"
                             ? unit.active_state()
                             : cat(unit.active_state(), " (", unit.sub_state(), ")");
    if (unit.active_state() == "inactive")
        active = "inactive (dead)";
    if (unit.active_state() == "active" || unit.active_state() == "reloading" ||
        unit.active_state() == "activating" || unit.active_state() == "deactivating")
        active = colored(active, unit.active_state() == "active" ? 32 : 33, color);
    if (unit.result() != "success" && !unit.result().empty() && unit.active_state() != "active")
        active = cat(unit.active_state() == "failed" ? colored(active, 31, color) : active,
                     " (Result: ", unit.result(), ")");
    if (uint64_t since = since_realtime(unit.state_since_usec()))
        active +=
            cat(" since ", long_time(since), "; ", time_span(realtime_usec() - since), " ago");
    field("Active", active);
    if (!unit.job().empty())
        field("Job", unit.job());
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
    return unit.active_state() != "inactive" || !unit.job().empty() ||
           unit.load_state() != "loaded";
}

struct LinesOption {
    uint32_t lines = 0;
    bool given = false;
};

// Parses -n N / --lines N / --lines=N at args[i]; false when args[i] is not it.
std::optional<std::string> lines_option(std::span<char*> args, size_t& i, LinesOption& out) {
    std::string_view arg = args[i];
    std::string_view value;
    if (arg == "-n" || arg == "--lines") {
        if (i + 1 >= args.size())
            return cat(arg, " needs a number");
        value = args[++i];
    } else if (arg.starts_with("--lines=")) {
        value = arg.substr(8);
    } else if (arg.starts_with("-n") && arg.size() > 2) {
        value = arg.substr(2);
    } else {
        return std::string();
    }
    auto number = parse_u64(value);
    if (!number || *number > 100000)
        return cat("invalid number of lines ", quoted(value));
    out.lines = uint32_t(*number);
    out.given = true;
    return std::nullopt;
}

} // namespace

int command_list_units(std::span<char*> args) {
    bool json = false, all = false, failed = false;
    std::vector<std::string> patterns;
    for (std::string_view arg : args) {
        if (arg == "--json")
            json = true;
        else if (arg == "--all" || arg == "-a")
            all = true;
        else if (arg == "--failed")
            failed = true;
        else if (arg.starts_with("-"))
            return fail(cat("list-units: unknown option ", quoted(arg)), 2);
        else
            patterns.emplace_back(arg);
    }
    control::Request request;
    request.mutable_list_units();
    int status = 0;
    auto response = ask(request, status);
    if (!response)
        return status;
    std::vector<const control::Unit*> units;
    for (const control::Unit& unit : response->units()) {
        if (failed && unit.active_state() != "failed")
            continue;
        if (!all && !failed && patterns.empty() && !listed_by_default(unit))
            continue;
        if (!patterns.empty() &&
            std::none_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
                return ::fnmatch(pattern.c_str(), unit.name().c_str(), 0) == 0 ||
                       ::fnmatch(unit_argument(pattern).c_str(), unit.name().c_str(), 0) == 0;
            }))
            continue;
        units.push_back(&unit);
    }
    if (json) {
        std::string out = "[";
        for (size_t i = 0; i < units.size(); ++i)
            out += cat(i ? "," : "", unit_json(*units[i]));
        print(out + "]\n");
        return 0;
    }
    size_t name_width = 4, load_width = 4, active_width = 6, sub_width = 3;
    for (const control::Unit* unit : units) {
        name_width = std::max(name_width, unit->name().size());
        load_width = std::max(load_width, unit->load_state().size());
        active_width = std::max(active_width, unit->active_state().size());
        sub_width = std::max(sub_width, unit->sub_state().size());
    }
    bool color = use_color();
    std::string out =
        cat("  ", pad("UNIT", name_width), " ", pad("LOAD", load_width), " ",
            pad("ACTIVE", active_width), " ", pad("SUB", sub_width), " DESCRIPTION\n");
    for (const control::Unit* unit : units) {
        bool bad = unit->active_state() == "failed" || unit->load_state() != "loaded";
        std::string mark = bad ? colored("\u25cf", 31, color) + " " : "  ";
        std::string line =
            cat(pad(unit->name(), name_width), " ", pad(unit->load_state(), load_width), " ",
                pad(unit->active_state(), active_width), " ", pad(unit->sub_state(), sub_width),
                " ", unit->description());
        out += cat(mark, bad ? colored(line, 31, color) : line, "\n");
    }
    out += cat("\nLOAD   = Whether the unit file was loaded (error: see `keel status UNIT`).\n"
               "ACTIVE = The high-level activation state.\n"
               "SUB    = The low-level state, which depends on the unit type.\n\n",
               units.size(), " units listed.",
               all || failed ? "" : " Pass --all to see loaded but inactive units, too.", "\n");
    print(out);
    return 0;
}

int command_unit_status(std::span<char*> args) {
    bool json = false;
    LinesOption lines;
    std::vector<std::string> names;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (auto problem = lines_option(args, i, lines); !problem || !problem->empty()) {
            if (problem)
                return fail(cat("status: ", *problem), 2);
            continue;
        }
        if (arg == "--json")
            json = true;
        else if (arg.starts_with("-"))
            return fail(cat("status: unknown option ", quoted(arg)), 2);
        else
            names.push_back(unit_argument(arg));
    }
    bool color = use_color();
    int status = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        control::Request request;
        request.mutable_unit_status()->set_unit(names[i]);
        request.mutable_unit_status()->set_log_lines(lines.given ? lines.lines : 10);
        auto response = call_init(request);
        if (!response)
            return fail(response.error().to_string());
        if (!response->ok() || response->units_size() == 0) {
            fail(response->error());
            status = 4;
            continue;
        }
        const control::Unit& unit = response->units(0);
        if (json) {
            std::string logs;
            for (const control::LogEntry& entry : response->entries())
                logs += cat(logs.empty() ? "" : ",", log_json(entry));
            print(cat("{\"unit\":", unit_json(unit), ",\"logs\":[", logs, "]}\n"));
        } else {
            print(cat(i ? "\n" : "", status_text(unit, *response, color)));
        }
        if (unit.active_state() != "active" && unit.active_state() != "reloading" && status == 0)
            status = 3; // systemctl's "not running"
    }
    return status;
}

int command_unit_job(std::string_view verb, std::span<char*> args) {
    bool no_block = false;
    std::vector<std::string> names;
    for (std::string_view arg : args) {
        if (arg == "--no-block")
            no_block = true;
        else if (arg.starts_with("-"))
            return fail(cat(verb, ": unknown option ", quoted(arg)), 2);
        else
            names.push_back(unit_argument(arg));
    }
    if (names.empty())
        return fail(cat(verb, ": no unit given"), 2);
    control::UnitRequest::Verb code = verb == "start"     ? control::UnitRequest::VERB_START
                                      : verb == "stop"    ? control::UnitRequest::VERB_STOP
                                      : verb == "restart" ? control::UnitRequest::VERB_RESTART
                                                          : control::UnitRequest::VERB_RELOAD;
    // All jobs are queued at once, each request on its own connection (they
    // run in parallel where ordering allows), then each answer is waited for.
    std::vector<Result<ControlConnection>> connections;
    for (const std::string& name : names) {
        control::Request request;
        request.mutable_unit()->set_verb(code);
        request.mutable_unit()->set_unit(name);
        request.mutable_unit()->set_no_block(no_block);
        connections.push_back(ControlConnection::send(request));
    }
    int status = 0;
    for (auto& connection : connections) {
        if (!connection) {
            status = fail(connection.error().to_string());
            continue;
        }
        auto response = connection->receive();
        if (!response)
            status = fail(response.error().to_string());
        else if (!response->ok())
            status = fail(response->error());
    }
    return status;
}

int command_enable(std::string_view verb, std::span<char*> args) {
    bool now = false;
    std::vector<std::string> names;
    for (std::string_view arg : args) {
        if (arg == "--now")
            now = true;
        else if (arg.starts_with("-"))
            return fail(cat(verb, ": unknown option ", quoted(arg)), 2);
        else
            names.push_back(unit_argument(arg));
    }
    if (names.empty())
        return fail(cat(verb, ": no unit given"), 2);
    int status = 0;
    for (const std::string& name : names) {
        control::Request request;
        request.mutable_unit()->set_verb(verb == "enable" ? control::UnitRequest::VERB_ENABLE
                                                          : control::UnitRequest::VERB_DISABLE);
        request.mutable_unit()->set_unit(name);
        auto response = ask(request, status);
        if (!response)
            continue;
        for (const std::string& change : response->changes())
            print(change + "\n");
    }
    if (now && status == 0) {
        std::vector<char*> rest;
        for (std::string& name : names)
            rest.push_back(name.data());
        return command_unit_job(verb == "enable" ? "start" : "stop", rest);
    }
    return status;
}

int command_daemon_reload(std::span<char*> args) {
    if (!args.empty())
        return fail("daemon-reload takes no arguments", 2);
    control::Request request;
    request.mutable_daemon_reload();
    int status = 0;
    return ask(request, status) ? 0 : status;
}

int command_logs(std::span<char*> args) {
    bool json = false, follow = false;
    LinesOption lines;
    std::string unit;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (auto problem = lines_option(args, i, lines); !problem || !problem->empty()) {
            if (problem)
                return fail(cat("logs: ", *problem), 2);
            continue;
        }
        if (arg == "--json") {
            json = true;
        } else if (arg == "-f" || arg == "--follow") {
            follow = true;
        } else if (arg == "-u" || arg == "--unit") {
            if (i + 1 >= args.size())
                return fail(cat("logs: ", arg, " needs a unit"), 2);
            unit = unit_argument(args[++i]);
        } else if (arg.starts_with("-")) {
            return fail(cat("logs: unknown option ", quoted(arg)), 2);
        } else if (unit.empty()) {
            unit = arg == "kernel" || arg == "keel" ? std::string(arg) : unit_argument(arg);
        } else {
            return fail("logs: one unit at a time", 2);
        }
    }
    control::Request request;
    request.mutable_logs()->set_unit(unit);
    request.mutable_logs()->set_lines(lines.given ? std::max<uint32_t>(lines.lines, 1) : 0);
    request.mutable_logs()->set_follow(follow);
    std::optional<std::string> refused;
    auto streamed = call_init_stream(request, [&](const control::Response& response) {
        if (!response.ok()) {
            refused = response.error();
            return false;
        }
        std::string out;
        for (const control::LogEntry& entry : response.entries())
            out += json ? log_json(entry) + "\n" : log_line(entry);
        print(out);
        std::fflush(stdout);
        return true;
    });
    if (!streamed)
        return fail(streamed.error().to_string());
    if (refused)
        return fail(*refused);
    return 0;
}

int command_notify(std::span<char*> args) {
    std::string message;
    std::string socket;
    pid_t as_pid = ::getppid(); // the service's script, as systemd-notify does
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--ready") {
            message += "READY=1\n";
        } else if (arg.starts_with("--status=")) {
            message += cat("STATUS=", arg.substr(9), "\n");
        } else if (arg == "--pid") {
            message += cat("MAINPID=", ::getppid(), "\n");
        } else if (arg.starts_with("--pid=")) {
            message += cat("MAINPID=", arg.substr(6), "\n");
        } else if (arg == "--self") {
            as_pid = ::getpid();
        } else if (arg == "--socket") {
            if (i + 1 >= args.size())
                return fail("notify: --socket needs a path", 2);
            socket = args[++i];
        } else if (arg.starts_with("-")) {
            return fail(cat("notify: unknown option ", quoted(arg)), 2);
        } else if (arg.find('=') == std::string_view::npos) {
            return fail(cat("notify: ", quoted(arg), " is not KEY=VALUE"), 2);
        } else {
            message += cat(arg, "\n");
        }
    }
    if (message.empty())
        return fail("notify: nothing to send (try --ready or READY=1)", 2);
    if (auto parsed = parse_notify_message(message); !parsed)
        return fail(cat("notify: ", parsed.error().to_string()), 2);
    if (socket.empty()) {
        const char* variable = std::getenv("NOTIFY_SOCKET");
        if (!variable || !*variable)
            return fail("notify: $NOTIFY_SOCKET is not set (is this running in a unit with "
                        "Type=notify or NotifyAccess=?)");
        socket = variable;
    }
    if (auto sent = send_notify(socket, message, as_pid); !sent)
        return fail(cat("notify: ", sent.error().to_string()));
    return 0;
}

} // namespace keel
