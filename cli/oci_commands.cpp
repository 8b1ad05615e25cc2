// `keel oci ...` (see oci_commands.h): runc's verbs, options and output, on
// containers/containers.h.
#include "cli/oci_commands.h"

#include "base/json.h"
#include "base/signal_names.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"

#include <csignal>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace keel::cli {

namespace {

namespace ct = containers;

// runc's global options, taken before the verb.
struct Globals {
    ct::RuntimeOptions runtime;
    std::string log_file;
    bool json_log = false;
    // The runtime's own command line, for re-executing it sealed.
    char** argv = nullptr;
};
Globals g_globals;

// The largest --preserve-fds: far beyond any fd table a runtime is handed.
constexpr uint64_t kMaxPreservedFds = 1 << 20;
// `list`'s columns (each followed by a space).
constexpr size_t kIdWidth = 12;
constexpr size_t kPidWidth = 7;
constexpr size_t kStatusWidth = 9;
constexpr size_t kBundleWidth = 40;
constexpr size_t kCreatedWidth = 31;

const Positional kId{.name = "ID", .noun = "container id"};

const Option kBundleOption{.name = "--bundle",
                           .short_name = 'b',
                           .value_name = "DIR",
                           .type = ValueType::Text,
                           .help = "the bundle: config.json and the root (default: the current "
                                   "directory)"};
const Option kPidFileOption{.name = "--pid-file",
                            .value_name = "FILE",
                            .type = ValueType::Text,
                            .help = "write the container's pid to FILE"};
const Option kConsoleSocketOption{.name = "--console-socket",
                                  .value_name = "PATH",
                                  .type = ValueType::Text,
                                  .help = "an AF_UNIX socket that receives the pty's master "
                                          "(process.terminal)"};
const Option kNoPivotOption{.name = "--no-pivot",
                            .help = "enter the root with MS_MOVE + chroot, not pivot_root (a "
                                    "root on ramfs)"};
const Option kNoNewKeyringOption{.name = "--no-new-keyring",
                                 .help = "accepted for runc's callers; keel makes no session "
                                         "keyring"};
const Option kPreserveFdsOption{.name = "--preserve-fds",
                                .value_name = "N",
                                .type = ValueType::Number,
                                .max = kMaxPreservedFds,
                                .help = "pass fds 3 to 3+N-1 to the container"};
const Option kFormatOption{.name = "--format",
                           .short_name = 'f',
                           .value_name = "table|json",
                           .type = ValueType::Text,
                           .help = "the output's form (default table)"};

ct::CreateOptions create_options(const ParsedArgs& args) {
    ct::CreateOptions options;
    options.id = std::string(*args.positional("ID"));
    options.bundle = std::string(args.value("--bundle").value_or("."));
    options.pid_file = std::string(args.value("--pid-file").value_or(""));
    options.console_socket = std::string(args.value("--console-socket").value_or(""));
    options.preserve_fds = int(args.number("--preserve-fds").value_or(0));
    options.root_entry =
        args.flag("--no-pivot") ? ct::RootEntry::MoveAndChroot : ct::RootEntry::PivotRoot;
    return options;
}

// Whether --format asks for JSON.
std::expected<bool, Failure> json_format(const ParsedArgs& args) {
    std::string_view format = args.value("--format").value_or("table");
    if (format != "table" && format != "json")
        return usage_error(args, cat("--format: expected table or json, got ", quoted(format)));
    return format == "json";
}

CommandResult oci_create(const ParsedArgs& args) {
    TRY(ct::ensure_sealed_binary(g_globals.argv));
    TRY(ct::create(g_globals.runtime, create_options(args)));
    return kExitSuccess;
}

const Command kCreate{
    .names = {"create"},
    .summary = "make a container from a bundle; its process waits for `start`",
    .options = {kBundleOption, kPidFileOption, kConsoleSocketOption, kNoPivotOption,
                kNoNewKeyringOption, kPreserveFdsOption},
    .positionals = {kId},
    .run = oci_create,
};

CommandResult oci_run(const ParsedArgs& args) {
    ct::RunMode mode = args.flag("--detach") ? ct::RunMode::Detach : ct::RunMode::Foreground;
    TRY(ct::ensure_sealed_binary(g_globals.argv));
    return TRY(ct::run(g_globals.runtime, create_options(args), mode));
}

const Command kRun{
    .names = {"run"},
    .summary = "create and start a container; without --detach, wait for it and delete it",
    .options = {kBundleOption,
                kPidFileOption,
                kConsoleSocketOption,
                {.name = "--detach", .short_name = 'd', .help = "return once it has started"},
                kNoPivotOption,
                kNoNewKeyringOption,
                kPreserveFdsOption},
    .positionals = {kId},
    .notes = "In the foreground the exit status is the container's (128 + N when signal N "
             "ended it), and the runtime passes SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, "
             "SIGUSR2 and SIGWINCH on to it.\n",
    .run = oci_run,
};

CommandResult oci_start(const ParsedArgs& args) {
    TRY(ct::start(g_globals.runtime, *args.positional("ID")));
    return kExitSuccess;
}

const Command kStart{
    .names = {"start"},
    .summary = "let a created container's process run its program",
    .positionals = {kId},
    .run = oci_start,
};

CommandResult oci_state(const ParsedArgs& args) {
    ct::ContainerState state = TRY(ct::state(g_globals.runtime, *args.positional("ID")));
    print(ct::state_json(state) + "\n");
    return kExitSuccess;
}

const Command kState{
    .names = {"state"},
    .summary = "the container's state as the OCI runtime spec's JSON",
    .positionals = {kId},
    .run = oci_state,
};

CommandResult oci_kill(const ParsedArgs& args) {
    int signal = SIGTERM;
    if (auto name = args.positional("SIGNAL")) {
        auto parsed = parse_signal(*name);
        if (!parsed)
            return usage_error(args, parsed.error().root());
        signal = *parsed;
    }
    ct::KillScope scope = args.flag("--all") ? ct::KillScope::All : ct::KillScope::Init;
    TRY(ct::kill(g_globals.runtime, *args.positional("ID"), signal, scope));
    return kExitSuccess;
}

const Command kKill{
    .names = {"kill"},
    .summary = "send a signal (default SIGTERM) to the container",
    .options = {{.name = "--all", .short_name = 'a', .help = "to every process of the container"}},
    .positionals = {kId, {.name = "SIGNAL", .count = Count::Optional, .noun = "signal"}},
    .run = oci_kill,
};

CommandResult oci_delete(const ParsedArgs& args) {
    ct::DeleteMode mode = args.flag("--force") ? ct::DeleteMode::Force : ct::DeleteMode::Stopped;
    TRY(ct::remove(g_globals.runtime, *args.positional("ID"), mode));
    return kExitSuccess;
}

const Command kDelete{
    .names = {"delete"},
    .summary = "remove a stopped (or created) container",
    .options = {{.name = "--force", .short_name = 'f', .help = "kill it first if it still runs"}},
    .positionals = {kId},
    .run = oci_delete,
};

void write_state(JsonWriter& json, const ct::ContainerState& state) {
    JsonValue parsed = parse_json(ct::state_json(state)).value_or(JsonValue());
    json.value(parsed);
}

CommandResult oci_list(const ParsedArgs& args) {
    bool json_output = TRY(json_format(args));
    std::vector<ct::ContainerState> states = TRY(ct::list(g_globals.runtime));
    if (args.flag("--quiet")) {
        for (const ct::ContainerState& state : states)
            print(state.id + "\n");
        return kExitSuccess;
    }
    if (json_output) {
        JsonWriter json;
        json.begin_array();
        for (const ct::ContainerState& state : states)
            write_state(json, state);
        json.end_array();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    std::string out =
        cat(cell("ID", kIdWidth), cell("PID", kPidWidth), cell("STATUS", kStatusWidth),
            cell("BUNDLE", kBundleWidth), cell("CREATED", kCreatedWidth), "OWNER\n");
    for (const ct::ContainerState& state : states)
        out += cat(cell(state.id, kIdWidth), cell(cat(state.pid), kPidWidth),
                   cell(ct::kStatusNames.name(state.status), kStatusWidth),
                   cell(state.bundle, kBundleWidth), cell(state.created, kCreatedWidth),
                   state.owner.empty() ? "root" : state.owner, "\n");
    print(out);
    return kExitSuccess;
}

const Command kList{
    .names = {"list"},
    .summary = "the containers under the runtime's root",
    .options = {kFormatOption, {.name = "--quiet", .short_name = 'q', .help = "only their ids"}},
    .run = oci_list,
};

CommandResult oci_ps(const ParsedArgs& args) {
    bool json_output = TRY(json_format(args));
    std::vector<pid_t> pids = TRY(ct::processes(g_globals.runtime, *args.positional("ID")));
    if (json_output) {
        JsonWriter json;
        json.begin_array();
        for (pid_t pid : pids)
            json.value(int64_t(pid));
        json.end_array();
        print(json.text() + "\n");
        return kExitSuccess;
    }
    std::string out = cat(cell("PID", kPidWidth), "CMD\n");
    for (pid_t pid : pids) {
        std::string command = read_file(cat("/proc/", pid, "/cmdline")).value_or("");
        for (char& c : command)
            if (c == '\0')
                c = ' ';
        out += cat(cell(cat(pid), kPidWidth), trim(command), "\n");
    }
    print(out);
    return kExitSuccess;
}

const Command kPs{
    .names = {"ps"},
    .summary = "the container's processes",
    .options = {kFormatOption},
    .positionals = {kId},
    .run = oci_ps,
};

CommandResult oci_pause(const ParsedArgs& args) {
    std::string_view id = *args.positional("ID");
    if (args.verb() == "pause")
        TRY(ct::pause(g_globals.runtime, id));
    else
        TRY(ct::resume(g_globals.runtime, id));
    return kExitSuccess;
}

const Command kPause{
    .names = {"pause", "resume"},
    .summary = "freeze or thaw every process of the container (cgroup v2)",
    .positionals = {kId},
    .run = oci_pause,
};

// The global options' names that take a value.
bool takes_value(std::string_view name) {
    return name == "--root" || name == "--log" || name == "--log-format" || name == "--rootless" ||
           name == "--criu";
}

// Takes runc's global options off the front of `args`; returns the rest.
Result<std::span<const std::string_view>> take_globals(std::span<const std::string_view> args) {
    while (!args.empty() && args[0].starts_with("--")) {
        std::string_view arg = args[0];
        std::string_view name = arg.substr(0, arg.find('='));
        std::optional<std::string_view> value;
        if (name.size() < arg.size()) {
            value = arg.substr(name.size() + 1);
        } else if (takes_value(name)) {
            if (args.size() < 2)
                return error(cat(name, ": needs a value"));
            value = args[1];
            args = args.subspan(1);
        }
        args = args.subspan(1);
        if (name == "--root") {
            g_globals.runtime.root = std::string(*value);
        } else if (name == "--log") {
            g_globals.log_file = std::string(*value);
        } else if (name == "--log-format") {
            if (*value != "text" && *value != "json")
                return error(cat("--log-format: expected text or json, got ", quoted(*value)));
            g_globals.json_log = *value == "json";
        } else if (name == "--rootless") {
            if (*value == "true")
                return error("--rootless true: keel runs containers as root only, for now");
        } else if (name == "--systemd-cgroup") {
            return error("--systemd-cgroup: keel is the service manager; cgroups are its own");
        } else if (name == "--debug" || name == "--criu") {
            // Accepted for runc's callers; nothing to do.
        } else if (name == "--help" || name == "--version") {
            break;
        } else {
            return error(cat("unknown option ", quoted(name), " (see `keel oci help`)"));
        }
        if (name == "--help" || name == "--version")
            break;
    }
    return args;
}

// runc's callers read the error from --log: one line, text or JSON.
void log_failure(const Failure& failure) {
    if (g_globals.log_file.empty())
        return;
    std::string message = failure.error.to_string();
    std::string line;
    if (g_globals.json_log) {
        JsonWriter json;
        json.begin_object().field("level", "error").field("msg", message).end_object();
        line = json.text();
    } else {
        line = cat("level=error msg=", json_string(message));
    }
    Fd log(::open(g_globals.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (log)
        (void)write_all(log.get(), line + "\n");
}

} // namespace

const Command kOciCommand{
    .names = {"oci"},
    .summary = "the OCI runtime, runc's verbs and options (keel oci help)",
    .notes = R"(Global options, before the verb as runc takes them: --root DIR (the
containers' records, default /run/keel/oci), --log FILE and --log-format
text|json (where a failure is also written, for runc's callers), --debug.
Linked or installed as `keel-oci`, keel takes the same command line without
the word `oci`.
)",
    .subcommands = {&kCreate, &kStart, &kState, &kKill, &kDelete, &kRun, &kList, &kPs, &kPause},
};

CommandResult run_oci(std::span<const std::string_view> args, char** argv) {
    g_globals.argv = argv;
    auto rest = take_globals(args);
    if (!rest) {
        Failure failure(std::move(rest).error().wrap("oci"), kExitUsage);
        log_failure(failure);
        return std::unexpected(std::move(failure));
    }
    CommandResult result = dispatch(kOciCommand, "oci", *rest);
    if (!result)
        log_failure(result.error());
    return result;
}

} // namespace keel::cli
