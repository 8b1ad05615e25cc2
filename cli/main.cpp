// keel's entry point: picks the role (PID 1 runs init whatever argv says)
// or dispatches the subcommand.
#include "cli/commands.h"

#include <cstdio>
#include <span>
#include <string_view>
#include <unistd.h>

namespace {

constexpr std::string_view kUsage = R"(usage: keel <command> [options]

  init [--system|--container] [--control-socket PATH] [--units DIR]... [-- COMMAND...]
                      run as init (automatic when keel is PID 1)
  status [--json]     show init's state
  poweroff | reboot | halt
                      end the system (or the container init)
  modprobe MODULE...  load kernel modules with their dependencies
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
    if (command == "status")
        return keel::command_status(rest);
    if (command == "sha256")
        return keel::command_sha256(rest);
    if (command == "modprobe")
        return keel::command_modprobe(rest);
    std::fprintf(stderr, "keel: unknown command `%.*s` (see `keel help`)\n", int(command.size()),
                 command.data());
    return 2;
}
