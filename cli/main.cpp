// keel's entry point: picks the role (PID 1 runs init whatever argv says)
// or hands the command line to the table of commands.
#include "base/strings.h"
#include "cli/cgroup_commands.h"
#include "cli/commands.h"
#include "cli/docker_commands.h"
#include "cli/exec_commands.h"
#include "cli/image_commands.h"
#include "cli/kv_commands.h"
#include "cli/network_commands.h"
#include "cli/oci_commands.h"
#include "cli/patch_commands.h"
#include "cli/run_commands.h"
#include "cli/unit_commands.h"
#include "cli/update_commands.h"

#include <string_view>
#include <unistd.h>
#include <vector>

namespace keel::cli {
namespace {

CommandResult command_version(const ParsedArgs&) {
    print(cat("keel ", KEEL_VERSION, "\n"));
    return kExitSuccess;
}

const Command kVersionCommand{
    .names = {"version"},
    .summary = "print the version",
    .run = command_version,
};

// Every command, in the order `keel help` lists them.
const Command kKeel{
    .names = {"keel"},
    .summary = "keel's commands",
    .notes = "The control socket is $KEEL_CONTROL_SOCKET or /run/keel/init.sock.\n",
    .subcommands = {&kInitCommand,     &kStatusCommand,    &kListUnitsCommand,
                    &kUnitJobCommand,  &kEnableCommand,    &kDaemonReloadCommand,
                    &kLogsCommand,     &kNotifyCommand,    &kPowerCommand,
                    &kModprobeCommand, &kCgroupCommand,    &kOciCommand,
                    &kImageCommand,    &kNetworkCommand,   &kRunCommand,
                    &kExecCommand,     &kContainerCommand, &kPsCommand,
                    &kRmCommand,       &kInspectCommand,   &kKillCommand,
                    &kPortCommand,     &kStatsCommand,     &kKvCommand,
                    &kPatchCommand,    &kUpdateCommand,    &kSha256Command,
                    &kVersionCommand},
};

std::string_view basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

} // namespace
} // namespace keel::cli

int main(int argc, char** argv) {
    using namespace keel::cli;
    set_exec_argv(argv);
    std::string_view name = argc > 0 ? basename_of(argv[0]) : "keel";
    std::vector<std::string_view> args;
    for (int i = 1; i < argc; ++i)
        args.emplace_back(argv[i]);
    std::string_view command = args.empty() ? std::string_view() : args[0];

    // The kernel starts /init (or init=) with whatever argv the command line
    // left over; as PID 1 keel is init unless told `keel init ...` explicitly.
    if (::getpid() == 1 && command != "init")
        return finish(dispatch(kInitCommand, "init", {}));
    if (name == "init" && command != "init")
        return finish(dispatch(kInitCommand, "init", args));

    // Unit files and scripts written for Docker run /usr/bin/docker; the
    // service manager's `stop` acts on units, so `docker stop` must not
    // reach it (`docker stop` and `docker logs` are the container verbs).
    if (name == "docker") {
        // `run` re-executes the binary (containers::ensure_sealed_binary): it needs argv.
        if (command == "run")
            return finish(run_run(std::span(args).subspan(1), argv));
        const Command* unit_verbs[] = {&kUnitJobCommand};
        return finish(run_docker(args, kKeel, unit_verbs));
    }
    // runc's callers run the runtime binary with runc's command line.
    if (name == "keel-oci")
        return finish(run_oci(args, argv));
    if (command == "oci")
        return finish(run_oci(std::span(args).subspan(1), argv));
    // etcd's command line runs as it is with keel linked as `etcd`.
    if (name == "etcd")
        return finish(run_kv_serve(args));
    if (command == "kv")
        return finish(run_kv(std::span(args).subspan(1)));
    if (command == "run")
        return finish(run_run(std::span(args).subspan(1), argv));
    if (command == "--version")
        args[0] = "version";
    return finish(dispatch(kKeel, "", args));
}
