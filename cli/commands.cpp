// init, poweroff/reboot/halt, modprobe and sha256 on the command line: their
// declarations and what runs them.
#include "cli/commands.h"

#include "base/cmdline.h"
#include "base/digest.h"
#include "base/strings.h"
#include "control/control.h"
#include "init/init.h"
#include "kmod/kmod.h"
#include "update/slot_verity.h"
#include "update/update.h"

#include <unistd.h>

namespace keel::cli {

namespace {

CommandResult command_init(const ParsedArgs& args) {
    InitOptions options;
    options.mode = detect_init_mode();
    // Given both, the last one counts.
    for (const ParsedItem& item : args.items()) {
        if (item.option && item.option->name == "--system")
            options.mode = InitMode::System;
        else if (item.option && item.option->name == "--container")
            options.mode = InitMode::Container;
    }
    if (auto socket = args.value("--control-socket"))
        options.control_socket = *socket;
    for (std::string_view directory : args.values("--units"))
        options.unit_directories.emplace_back(directory);
    options.command = args.passed_through();
    options.choose_slot = update::boot_slot;
    options.verity_for = [](const std::string& partition) {
        return update::slot_verity(partition);
    };
    options.slot_failed = update::boot_slot_failed;
    if (options.mode == InitMode::System && ::getpid() != 1)
        return usage_error("init --system must run as PID 1");
    return run_init(options);
}

CommandResult command_power(const ParsedArgs& args) {
    std::string_view verb = args.verb();
    control::Request request;
    request.mutable_power()->set_action(verb == "poweroff" ? control::POWER_ACTION_POWEROFF
                                        : verb == "reboot" ? control::POWER_ACTION_REBOOT
                                                           : control::POWER_ACTION_HALT);
    control::Response response = TRY(call_init(request));
    if (!response.ok())
        return std::unexpected(Error::message(response.error()));
    return kExitSuccess;
}

CommandResult command_sha256(const ParsedArgs& args) {
    int status = kExitSuccess;
    for (std::string_view path : args.positionals("FILE")) {
        auto digest = sha256_file(std::string(path));
        if (!digest) {
            report(digest.error());
            status = kExitFailure;
            continue;
        }
        print(cat(*digest, "  ", path, "\n"));
    }
    return status;
}

CommandResult command_modprobe(const ParsedArgs& args) {
    ModuleIndex index = TRY(ModuleIndex::load());
    auto cmdline = KernelCommandLine::read();
    auto parameters = [&](std::string_view module) {
        return cmdline ? cmdline->module_parameters(module) : std::string();
    };
    int status = kExitSuccess;
    for (std::string_view name : args.positionals("MODULE")) {
        auto outcomes = load_module(index, name, parameters);
        if (!outcomes) {
            report(std::move(outcomes).error().wrap(cat("modprobe ", quoted(name))));
            status = kExitFailure;
            continue;
        }
        for (const auto& [module, outcome] : *outcomes)
            print(cat(module, ": ", describe(outcome), "\n"));
    }
    return status;
}

} // namespace

const Command kInitCommand{
    .names = {"init"},
    .summary = "run as init (automatic when keel is PID 1)",
    .options =
        {
            {.name = "--system", .help = "the machine's init: must be PID 1 (the default there)"},
            {.name = "--container",
             .help = "a container's init, like tini: reaps, forwards signals to COMMAND and "
                     "exits with its status (the default in a PID namespace)"},
            {.name = "--control-socket",
             .value_name = "PATH",
             .type = ValueType::Text,
             .help = "listen for keel's commands at PATH (default $KEEL_CONTROL_SOCKET or "
                     "/run/keel/init.sock)"},
            {.name = "--units",
             .value_name = "DIR",
             .type = ValueType::Text,
             .repeat = Repeat::Collect,
             .help = "read unit files from DIR instead of the usual directories; a later "
                     "DIR overrides an earlier one"},
        },
    .after_dashes = Positional{.name = "COMMAND", .count = Count::Any, .noun = "command"},
    .run = command_init,
};

const Command kPowerCommand{
    .names = {"poweroff", "reboot", "halt"},
    .summary = "end the system (or the container init)",
    .run = command_power,
};

const Command kModprobeCommand{
    .names = {"modprobe"},
    .summary = "load kernel modules with their dependencies",
    .positionals = {{.name = "MODULE", .count = Count::OneOrMore, .noun = "modules"}},
    .run = command_modprobe,
};

const Command kSha256Command{
    .names = {"sha256"},
    .summary = "print SHA-256 digests, as sha256sum does",
    .positionals = {{.name = "FILE", .count = Count::OneOrMore, .noun = "files"}},
    .run = command_sha256,
};

} // namespace keel::cli
