// keel's entry point: picks the role (PID 1 runs init whatever argv says)
// or dispatches the subcommand.
#include "cli/cgroup_commands.h"
#include "cli/commands.h"
#include "cli/unit_commands.h"

#include <cstdio>
#include <span>
#include <string_view>
#include <unistd.h>

namespace {

constexpr std::string_view kUsage = R"(usage: keel <command> [options]

  init [--system|--container] [--control-socket PATH] [--units DIR]... [-- COMMAND...]
                      run as init (automatic when keel is PID 1)
  status [--json]     show init's state
  status UNIT... [-n LINES] [--json]
                      show units in detail with their latest log lines
  list-units [--all] [--failed] [--json] [PATTERN...]
                      list units (active, failed, queued or broken; --all: all)
  start | stop | restart | reload UNIT... [--no-block]
                      queue jobs and wait for them ("web" means web.service)
  enable | disable UNIT... [--now]
                      link units into the targets their [Install] names
  daemon-reload       re-read unit files
  logs [-f] [-n LINES] [--json] [UNIT]
                      the journal: service output and unit events
  notify [--ready] [--status=TEXT] [--pid[=PID]] [KEY=VALUE...]
                      send sd_notify messages from a service (like systemd-notify)
  poweroff | reboot | halt
                      end the system (or the container init)
  modprobe MODULE...  load kernel modules with their dependencies
  cgroup run|stats|kill|remove ...
                      a cgroup of keel.slice by hand (see `keel cgroup help`)
  patch load|unload|enable|disable|list|info|install|uninstall|sign ...
                      kernel live patches (keel patch help)
  sha256 FILE...      print SHA-256 digests, as sha256sum does
  version             print the version
  help                print this help

The control socket is $KEEL_CONTROL_SOCKET or /run/keel/init.sock.
)";

std::string_view basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

} // namespace

int main(int argc, char** argv) {
    std::span<char*> args(argv, size_t(argc));
    std::string_view name = args.empty() ? "keel" : basename_of(args[0]);
    std::string_view command = args.size() > 1 ? std::string_view(args[1]) : std::string_view();

    // The kernel starts /init (or init=) with whatever argv the command line
    // left over; as PID 1 keel is init unless told `keel init ...` explicitly.
    if (::getpid() == 1 && command != "init")
        return keel::command_init({});
    if (name == "init" && command != "init")
        return keel::command_init(args.subspan(std::min<size_t>(1, args.size())));

    if (command.empty() || command == "help" || command == "--help" || command == "-h") {
        std::fwrite(kUsage.data(), 1, kUsage.size(), command.empty() ? stderr : stdout);
        return command.empty() ? 2 : 0;
    }
    std::span<char*> rest = args.subspan(2);
    if (command == "version" || command == "--version") {
        std::printf("keel %s\n", KEEL_VERSION);
        return 0;
    }
    if (command == "init")
        return keel::command_init(rest);
    if (command == "poweroff" || command == "reboot" || command == "halt")
        return keel::command_power(command, rest);
    if (command == "status") {
        // With unit names, the units; without, init itself.
        for (size_t i = 0; i < rest.size(); ++i) {
            std::string_view arg = rest[i];
            if (arg == "-n" || arg == "--lines")
                ++i;
            else if (!arg.starts_with("-"))
                return keel::command_unit_status(rest);
        }
        return keel::command_status(rest);
    }
    if (command == "list-units")
        return keel::command_list_units(rest);
    if (command == "start" || command == "stop" || command == "restart" || command == "reload")
        return keel::command_unit_job(command, rest);
    if (command == "enable" || command == "disable")
        return keel::command_enable(command, rest);
    if (command == "daemon-reload")
        return keel::command_daemon_reload(rest);
    if (command == "logs")
        return keel::command_logs(rest);
    if (command == "notify")
        return keel::command_notify(rest);
    if (command == "cgroup")
        return keel::command_cgroup(rest);
    if (command == "sha256")
        return keel::command_sha256(rest);
    if (command == "modprobe")
        return keel::command_modprobe(rest);
    if (command == "patch")
        return keel::command_patch(rest);
    std::fprintf(stderr, "keel: unknown command `%.*s` (see `keel help`)\n", int(command.size()),
                 command.data());
    return 2;
}
