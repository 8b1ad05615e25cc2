// `keel kv serve`: hands etcd's command line and the environment to the KV;
// `keel kv role`: PID 1's kv role, settings from the kernel command line.
#include "cli/kv_commands.h"

#include "kv/kv.h"

#include <map>
#include <string>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace keel::cli {

namespace {

constexpr std::string_view kKvUsage = R"(usage: keel kv serve [ETCD FLAGS...]
       keel kv role

`keel kv serve` runs a member of keel's embedded KV store, which speaks
etcd's v3 API: etcdctl and etcd's client libraries work against it. It
takes etcd's flags and ETCD_* variables; `keel kv serve --help` lists them.

`keel kv role` is what PID 1's keel-kv.service runs: the same member, with
keel.kv.FLAG=VALUE words of the kernel command line as etcd's --FLAG=VALUE,
over ETCD_* variables (the unit reads them from /etc/keel/kv.conf), and the
data in /var/lib/keel/kv unless they say otherwise.
)";

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> variables;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string_view text(*entry);
        size_t equals = text.find('=');
        if (equals != std::string_view::npos)
            variables.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
    return variables;
}

CommandResult command_kv(const ParsedArgs&) {
    print(kKvUsage);
    return kExitSuccess;
}

} // namespace

const Command kKvCommand{
    .names = {"kv"},
    .summary = "the embedded KV store: `keel kv serve` runs a member with etcd's flags, "
               "`keel kv role` the member PID 1 runs",
    .run = command_kv,
};

CommandResult run_kv(std::span<const std::string_view> args) {
    if (!args.empty() && args[0] == "serve")
        return run_kv_serve(args.subspan(1));
    if (args.size() == 1 && args[0] == "role") {
        auto served = kv::serve_role(environment());
        if (!served)
            return std::unexpected(Failure(std::move(served).error()));
        return kExitSuccess;
    }
    if (!args.empty() && (args[0] == "help" || args[0] == "--help" || args[0] == "-h")) {
        print(kKvUsage);
        return kExitSuccess;
    }
    return usage_error(
        std::string(args.empty() ? "keel kv: no command given\n" : "keel kv: unknown command\n") +
        std::string(kKvUsage));
}

CommandResult run_kv_serve(std::span<const std::string_view> args) {
    for (std::string_view arg : args) {
        if (arg == "--help" || arg == "-h") {
            print(kv::serve_usage());
            return kExitSuccess;
        }
    }
    std::vector<std::string> owned(args.begin(), args.end());
    auto served = kv::serve(owned, environment());
    if (!served)
        return std::unexpected(Failure(std::move(served).error()));
    return kExitSuccess;
}

} // namespace keel::cli
