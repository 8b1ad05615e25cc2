// Subcommands: argument parsing and output for people (and --json for scripts).
#include "cli/commands.h"

#include "base/cmdline.h"
#include "base/digest.h"
#include "base/strings.h"
#include "cli/output.h"
#include "control/control.h"
#include "init/init.h"
#include "kmod/kmod.h"

#include <cstdio>
#include <string>
#include <unistd.h>

namespace keel {

namespace {

int fail(std::string_view message, int status = 1) {
    std::fprintf(stderr, "keel: %.*s\n", int(message.size()), message.data());
    return status;
}

} // namespace

int command_init(std::span<char*> args) {
    InitOptions options;
    options.mode = detect_init_mode();
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size())
                return std::nullopt;
            return std::string(args[++i]);
        };
        if (arg == "--system") {
            options.mode = InitMode::System;
        } else if (arg == "--container") {
            options.mode = InitMode::Container;
        } else if (arg == "--control-socket" || arg == "--units") {
            auto given = value();
            if (!given)
                return fail(cat(arg, " needs a value"), 2);
            if (arg == "--units")
                options.unit_directories.push_back(*given);
            else
                options.control_socket = *given;
        } else if (arg == "--") {
            for (++i; i < args.size(); ++i)
                options.command.emplace_back(args[i]);
        } else {
            return fail(cat("init: unknown option ", quoted(arg), " (see `keel help`)"), 2);
        }
    }
    if (options.mode == InitMode::System && ::getpid() != 1)
        return fail("init --system must run as PID 1", 2);
    return run_init(options);
}

int command_power(std::string_view verb, std::span<char*> args) {
    if (!args.empty())
        return fail(cat(verb, " takes no arguments"), 2);
    control::Request request;
    request.mutable_power()->set_action(verb == "poweroff" ? control::POWER_ACTION_POWEROFF
                                        : verb == "reboot" ? control::POWER_ACTION_REBOOT
                                                           : control::POWER_ACTION_HALT);
    auto response = call_init(request);
    if (!response)
        return fail(response.error().to_string());
    if (!response->ok())
        return fail(response->error());
    return 0;
}

int command_status(std::span<char*> args) {
    bool json = false;
    for (std::string_view arg : args) {
        if (arg != "--json")
            return fail(cat("status: unknown option ", quoted(arg)), 2);
        json = true;
    }
    control::Request request;
    request.mutable_status();
    auto response = call_init(request);
    if (!response)
        return fail(response.error().to_string());
    if (!response->ok())
        return fail(response->error());
    const control::StatusResponse& status = response->status();
    if (json) {
        std::string out =
            cat("{\"version\":", json_string(status.version()), ",\"pid\":", status.pid(),
                ",\"mode\":", json_string(status.mode()), ",\"ready_usec\":", status.ready_usec(),
                ",\"uptime_usec\":", status.uptime_usec(),
                ",\"reaped_orphans\":", status.reaped_orphans(),
                ",\"system_state\":", json_string(status.system_state()),
                ",\"units_loaded\":", status.units_loaded(),
                ",\"units_active\":", status.units_active(),
                ",\"units_failed\":", status.units_failed(), ",\"jobs\":", status.jobs(),
                ",\"processes\":[");
        for (int i = 0; i < status.processes_size(); ++i) {
            const control::Process& process = status.processes(i);
            out += cat(i ? "," : "", "{\"name\":", json_string(process.name()),
                       ",\"pid\":", process.pid(), ",\"state\":", json_string(process.state()),
                       ",\"exit_status\":", process.exit_status(), "}");
        }
        print(out + "]}\n");
        return 0;
    }
    std::string out = cat("keel ", status.version(), ": ", status.mode(), " init, pid ",
                          status.pid(), "\n  ready:          ", format_seconds(status.ready_usec()),
                          " s", status.mode() == "system" ? " after kernel start" : " after start",
                          "\n  uptime:         ", format_seconds(status.uptime_usec()), " s",
                          "\n  orphans reaped: ", status.reaped_orphans(), "\n");
    if (!status.system_state().empty())
        out += cat("  state:          ", status.system_state(), " (", status.units_active(),
                   " units active, ", status.units_failed(), " failed, ", status.jobs(),
                   " jobs queued)\n");
    if (status.processes_size() > 0) {
        out += "\n  PID      STATE     EXIT  NAME\n";
        for (const control::Process& process : status.processes()) {
            std::string pid = process.pid() ? cat(process.pid()) : "-";
            std::string state = process.state();
            std::string code = process.state() == "running" ? "-" : cat(process.exit_status());
            out +=
                cat("  ", pid, std::string(9 - std::min<size_t>(8, pid.size()), ' '), state,
                    std::string(10 - std::min<size_t>(9, state.size()), ' '), code,
                    std::string(6 - std::min<size_t>(5, code.size()), ' '), process.name(), "\n");
        }
    }
    print(out);
    return 0;
}

int command_sha256(std::span<char*> args) {
    if (args.empty())
        return fail("sha256: no files given", 2);
    int status = 0;
    for (const char* path : args) {
        auto digest = sha256_file(path);
        if (!digest) {
            status = fail(digest.error().to_string());
            continue;
        }
        print(cat(*digest, "  ", path, "\n"));
    }
    return status;
}

int command_modprobe(std::span<char*> args) {
    if (args.empty())
        return fail("modprobe: no modules given", 2);
    auto index = ModuleIndex::load();
    if (!index)
        return fail(index.error().to_string());
    auto cmdline = KernelCommandLine::read();
    auto parameters = [&](std::string_view module) {
        return cmdline ? cmdline->module_parameters(module) : std::string();
    };
    int status = 0;
    for (const char* name : args) {
        auto outcomes = load_module(*index, name, parameters);
        if (!outcomes) {
            status = fail(cat("modprobe ", quoted(name), ": ", outcomes.error().to_string()));
            continue;
        }
        for (const auto& [module, outcome] : *outcomes)
            print(cat(module, ": ", describe(outcome), "\n"));
    }
    return status;
}

} // namespace keel
