// init, poweroff/reboot/halt, modprobe and sha256 on the command line: their
// declarations and what runs them.
#include "cli/commands.h"

#include "base/cmdline.h"
#include "base/digest.h"
#include "base/strings.h"
#include "base/sys.h"
#include "control/control.h"
#include "init/init.h"
#include "kmod/kmod.h"
#include "update/kexec.h"
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
    options.choose_slot = update::boot_slot_after_kexec;
    options.verity_for = [](const std::string& partition) {
        return update::slot_verity(partition);
    };
    options.slot_failed = update::boot_slot_failed;
    options.boot_slot_kernel = update::boot_slot_kernel;
    if (options.mode == InitMode::System && ::getpid() != 1)
        return usage_error("init --system must run as PID 1");
    return run_init(options);
}

// `reboot --kexec`: the kernel to start, from the options; by default the
// booted root's /boot/vmlinuz with its /boot/initrd.img and the running
// command line (less keel.kexec=: the initramfs chooses the slot again).
Result<update::KexecImage> kexec_image(const ParsedArgs& args) {
    update::KexecImage image;
    std::optional<std::string_view> kernel = args.value("--kernel");
    std::optional<std::string_view> initrd = args.value("--initrd");
    image.kernel = kernel ? std::string(*kernel) : std::string(update::kSlotKernelPath);
    if (initrd)
        image.initrd = std::string(*initrd);
    else if (!kernel)
        image.initrd = std::string(update::kSlotInitrdPath);
    if (!kernel && !path_exists(image.kernel))
        return error(cat("the booted root has no ", update::kSlotKernelPath,
                         ": give the kernel with --kernel PATH (and --initrd PATH)"));
    std::optional<std::string_view> append = args.value("--append");
    std::string running;
    if (!append || args.flag("--reuse-cmdline"))
        running = TRY(read_file("/proc/cmdline"));
    std::string extra(append.value_or(""));
    // The booted slot's own kernel, and that slot boots next anyway: the
    // initramfs need not choose and start it a second time.
    if (!kernel)
        if (std::optional<update::SlotName> slot = update::running_reboot_kexec_slot())
            extra = cat(extra, " ", update::kKexecParameter, "=", update::kSlotNames.name(*slot));
    image.command_line = update::kexec_command_line(running, extra);
    return image;
}

CommandResult command_power(const ParsedArgs& args) {
    std::string_view verb = args.verb();
    bool kexec = args.flag("--kexec");
    for (std::string_view option : {"--kernel", "--initrd", "--append", "--reuse-cmdline"})
        if (args.flag(option) && !kexec)
            return usage_error(args, cat(option, " is for reboot --kexec"));
    if (kexec && verb != "reboot")
        return usage_error(args, cat("--kexec is for reboot, not ", verb));
    control::Request request;
    request.mutable_power()->set_action(kexec                ? control::POWER_ACTION_KEXEC
                                        : verb == "poweroff" ? control::POWER_ACTION_POWEROFF
                                        : verb == "reboot"   ? control::POWER_ACTION_REBOOT
                                                             : control::POWER_ACTION_HALT);
    // Loaded before init is asked: a kernel that does not load is an error
    // here, and the machine keeps running.
    if (kexec) {
        update::KexecImage image = TRY_CTX(kexec_image(args), "reboot --kexec");
        TRY_CTX(update::load_kexec_image(image), "reboot --kexec");
    }
    Result<control::Response> response = call_init(request);
    if (!response || !response->ok()) {
        if (kexec) // nothing is to start it: not left loaded for a later reboot
            (void)kexec_file_unload();
        if (!response)
            return std::unexpected(std::move(response).error());
        return std::unexpected(Error::message(response->error()));
    }
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
    .options =
        {
            {.name = "--kexec",
             .help = "reboot: start another kernel without the firmware (kexec), loaded now: "
                     "by default the booted root's /boot/vmlinuz and /boot/initrd.img"},
            {.name = "--kernel",
             .value_name = "PATH",
             .type = ValueType::Text,
             .help = "with --kexec: the kernel to start (no initramfs unless --initrd)"},
            {.name = "--initrd",
             .value_name = "PATH",
             .type = ValueType::Text,
             .help = "with --kexec: the initramfs to start it with"},
            {.name = "--append",
             .value_name = "CMDLINE",
             .type = ValueType::Text,
             .help = "with --kexec: the new kernel's command line (after the running one "
                     "with --reuse-cmdline)"},
            {.name = "--reuse-cmdline",
             .help = "with --kexec: the running kernel's command line (the default when "
                     "--append is not given), less keel.kexec="},
        },
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
