// `keel oci ...` (see oci_commands.h): runc's verbs, options and output, on
// containers/containers.h.
#include "cli/oci_commands.h"

#include "base/json.h"
#include "base/signal_names.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/containers.h"

#include <climits>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace keel::cli {

namespace {

namespace ct = containers;
namespace oci = keel::oci;

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
constexpr size_t kOciIdWidth = 12;
constexpr size_t kOciPidWidth = 7;
constexpr size_t kStatusWidth = 9;
constexpr size_t kBundleWidth = 40;
constexpr size_t kOciCreatedWidth = 31;

const Positional kOciContainerId{.name = "ID", .noun = "container id"};

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
    .positionals = {kOciContainerId},
    .run = oci_create,
};

CommandResult oci_run(const ParsedArgs& args) {
    ct::RunMode mode = args.flag("--detach") ? ct::RunMode::Detach : ct::RunMode::Foreground;
    TRY(ct::ensure_sealed_binary(g_globals.argv));
    return TRY(ct::run(g_globals.runtime, create_options(args), mode));
}

const Command kOciRun{
    .names = {"run"},
    .summary = "create and start a container; without --detach, wait for it and delete it",
    .options = {kBundleOption,
                kPidFileOption,
                kConsoleSocketOption,
                {.name = "--detach", .short_name = 'd', .help = "return once it has started"},
                kNoPivotOption,
                kNoNewKeyringOption,
                kPreserveFdsOption},
    .positionals = {kOciContainerId},
    .notes = "In the foreground the exit status is the container's (128 + N when signal N "
             "ended it), and the runtime passes SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, "
             "SIGUSR2 and SIGWINCH on to it.\n",
    .run = oci_run,
};

// A number, or -1 for "no limit" where `signed_allowed`: the --memory,
// --cpu-quota, --pids-limit values of runc's update.
std::optional<int64_t> parse_limit(std::string_view text) {
    if (text == "-1")
        return -1;
    auto number = parse_u64(text);
    if (!number || *number > uint64_t(INT64_MAX))
        return std::nullopt;
    return int64_t(*number);
}

// --user: "UID" or "UID:GID", numbers only (a name would need the
// container's /etc/passwd, which runc's exec does not read either), into
// `options`; false when `text` is neither.
bool parse_user(std::string_view text, ct::ExecOptions& options) {
    std::string_view uid_text = text.substr(0, text.find(':'));
    auto uid = parse_u64(uid_text);
    if (!uid || *uid >= UINT32_MAX)
        return false;
    if (uid_text.size() < text.size()) {
        auto gid = parse_u64(text.substr(uid_text.size() + 1));
        if (!gid || *gid >= UINT32_MAX)
            return false;
        options.gid = uint32_t(*gid);
    }
    options.uid = uint32_t(*uid);
    return true;
}

std::expected<ct::ExecOptions, Failure> exec_options(const ParsedArgs& args) {
    ct::ExecOptions options;
    options.id = std::string(*args.positional("ID"));
    if (auto file = args.value("--process")) {
        std::string text = TRY_CTX(read_file(std::string(*file)), "--process");
        options.process = TRY_CTX(oci::parse_process(text), cat("--process ", quoted(*file)));
    }
    for (std::string_view word : args.positionals("COMMAND"))
        options.args.emplace_back(word);
    if (options.args.empty() && !options.process)
        return usage_error(args, "no command given (COMMAND or --process FILE)");
    for (std::string_view entry : args.values("--env")) {
        if (entry.find('=') == std::string_view::npos || entry.starts_with('='))
            return usage_error(args, cat("--env: expected KEY=VALUE, got ", quoted(entry)));
        options.env.emplace_back(entry);
    }
    options.cwd = std::string(args.value("--cwd").value_or(""));
    if (auto user = args.value("--user")) {
        if (!parse_user(*user, options))
            return usage_error(args,
                               cat("--user: expected UID[:GID] (numbers), got ", quoted(*user)));
    }
    for (std::string_view gid : args.values("--additional-gids")) {
        auto number = parse_u64(gid);
        if (!number || *number >= UINT32_MAX)
            return usage_error(args, cat("--additional-gids: expected a gid, got ", quoted(gid)));
        options.additional_gids.push_back(uint32_t(*number));
    }
    for (std::string_view name : args.values("--cap")) {
        auto number = oci::capability_number(name);
        if (!number)
            return usage_error(args, cat("--cap: unknown capability ", quoted(name)));
        options.added_capabilities.push_back(*number);
    }
    options.no_new_privileges = args.flag("--no-new-privs");
    options.pid_file = std::string(args.value("--pid-file").value_or(""));
    options.preserve_fds = int(args.number("--preserve-fds").value_or(0));
    if (args.flag("--tty"))
        options.terminal = ct::Terminal::Allocate;
    options.console_socket = std::string(args.value("--console-socket").value_or(""));
    return options;
}

CommandResult oci_exec(const ParsedArgs& args) {
    ct::ExecOptions options = TRY(exec_options(args));
    TRY(ct::ensure_sealed_binary(g_globals.argv));
    ct::RunMode mode = args.flag("--detach") ? ct::RunMode::Detach : ct::RunMode::Foreground;
    return TRY(ct::exec_attached(g_globals.runtime, options, mode));
}

const Command kExec{
    .names = {"exec"},
    .summary = "run a new process in a running container",
    .options = {{.name = "--process",
                 .short_name = 'p',
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "the process as process.json (config.json's `process`) says, not the "
                         "container's"},
                {.name = "--tty",
                 .short_name = 't',
                 .help = "a pty for the process: its master goes to --console-socket, or "
                         "without one keel relays it"},
                kConsoleSocketOption,
                {.name = "--cwd",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .help = "the working directory in the container"},
                {.name = "--env",
                 .short_name = 'e',
                 .value_name = "KEY=VALUE",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "set an environment variable (again for more)"},
                {.name = "--user",
                 .short_name = 'u',
                 .value_name = "UID[:GID]",
                 .type = ValueType::Text,
                 .help = "run as this user (and group), numbers in the container"},
                {.name = "--additional-gids",
                 .short_name = 'g',
                 .value_name = "GID",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "a supplementary group more (again for more)"},
                {.name = "--cap",
                 .short_name = 'c',
                 .value_name = "CAP",
                 .type = ValueType::Text,
                 .repeat = Repeat::Collect,
                 .help = "add a capability (CAP_NET_ADMIN) to the bounding, effective and "
                         "permitted sets"},
                {.name = "--no-new-privs", .help = "set no_new_privs for the process"},
                {.name = "--detach", .short_name = 'd', .help = "return once it has started"},
                {.name = "--pid-file",
                 .value_name = "FILE",
                 .type = ValueType::Text,
                 .help = "write the process's pid to FILE"},
                kPreserveFdsOption},
    .positionals = {kOciContainerId, {.name = "COMMAND", .count = Count::Any, .noun = "command"}},
    .options_end = OptionsEnd::AtLastPositional,
    .notes = "The process joins the container's namespaces, cgroup and root, with the "
             "container's process settings (user, env, cwd, capabilities, rlimits, "
             "noNewPrivileges, seccomp) unless --process or the options change them. Options "
             "end at COMMAND: what follows it are its arguments. In the foreground the exit "
             "status is the process's (128 + N when signal N ended it), and the signals `run` "
             "passes on are passed on to it.\n",
    .run = oci_exec,
};

// update's flags over `resources`: each one given sets its field.
std::expected<void, Failure> apply_update_flags(const ParsedArgs& args, oci::Resources& resources) {
    auto limit = [&](std::string_view name) -> std::expected<std::optional<int64_t>, Failure> {
        auto text = args.value(name);
        if (!text)
            return std::nullopt;
        auto value = parse_limit(*text);
        if (!value)
            return usage_error(args, cat(name, ": expected a number or -1, got ", quoted(*text)));
        return value;
    };
    auto memory = [&]() -> oci::MemoryResources& {
        return resources.memory ? *resources.memory : resources.memory.emplace();
    };
    auto cpu = [&]() -> oci::CpuResources& {
        return resources.cpu ? *resources.cpu : resources.cpu.emplace();
    };
    if (auto value = TRY(limit("--memory")))
        memory().limit = *value;
    if (auto value = TRY(limit("--memory-reservation")))
        memory().reservation = *value;
    if (auto value = TRY(limit("--memory-swap")))
        memory().swap = *value;
    if (auto value = TRY(limit("--cpu-quota")))
        cpu().quota = *value;
    if (auto value = args.number("--cpu-period"))
        cpu().period = *value;
    if (auto value = args.number("--cpu-shares"))
        cpu().shares = *value;
    if (auto value = args.value("--cpuset-cpus"))
        cpu().cpus = std::string(*value);
    if (auto value = args.value("--cpuset-mems"))
        cpu().mems = std::string(*value);
    if (auto value = TRY(limit("--pids-limit")))
        resources.pids_limit = *value;
    if (auto value = args.number("--blkio-weight")) {
        if (!resources.block_io)
            resources.block_io.emplace();
        resources.block_io->weight = uint16_t(*value);
    }
    return {};
}

CommandResult oci_update(const ParsedArgs& args) {
    oci::Resources resources;
    if (auto file = args.value("--resources")) {
        std::string text = *file == "-" ? TRY_CTX(read_all(STDIN_FILENO), "--resources -")
                                        : TRY_CTX(read_file(std::string(*file)), "--resources");
        resources = TRY_CTX(oci::parse_resources(text), cat("--resources ", quoted(*file)));
    }
    TRY(apply_update_flags(args, resources));
    TRY(ct::update(g_globals.runtime, *args.positional("ID"), resources));
    return kExitSuccess;
}

Option update_limit(std::string_view name, std::string_view help) {
    return {.name = name, .value_name = "N", .type = ValueType::Text, .help = help};
}

Option update_number(std::string_view name, uint64_t max, std::string_view help) {
    return {.name = name, .value_name = "N", .type = ValueType::Number, .max = max, .help = help};
}

const Command kUpdate{
    .names = {"update"},
    .summary = "change a container's cgroup limits",
    .options = {{.name = "--resources",
                 .short_name = 'r',
                 .value_name = "FILE|-",
                 .type = ValueType::Text,
                 .help = "linux.resources as config.json writes it, from FILE or stdin"},
                update_limit("--memory", "memory.limit in bytes (-1: none)"),
                update_limit("--memory-reservation", "memory.reservation in bytes (-1: none)"),
                update_limit("--memory-swap", "memory plus swap in bytes (-1: none)"),
                update_limit("--cpu-quota", "CPU time per period in microseconds (-1: none)"),
                update_number("--cpu-period", 1000000, "the CPU period in microseconds"),
                update_number("--cpu-shares", 262144, "CPU shares (cgroup v1's scale)"),
                {.name = "--cpuset-cpus",
                 .value_name = "LIST",
                 .type = ValueType::Text,
                 .help = "the CPUs allowed (0-3,7)"},
                {.name = "--cpuset-mems",
                 .value_name = "LIST",
                 .type = ValueType::Text,
                 .help = "the memory nodes allowed"},
                update_limit("--pids-limit", "the most processes (-1: none)"),
                update_number("--blkio-weight", 1000, "the block IO weight (10 to 1000)")},
    .positionals = {kOciContainerId},
    .notes = "The flags override what --resources sets. Only what is given changes; a value "
             "the kernel refuses leaves every limit as it was. The container's record keeps "
             "the config.json it was created with: the cgroup's files show what is in "
             "force.\n",
    .run = oci_update,
};

CommandResult oci_start(const ParsedArgs& args) {
    TRY(ct::start(g_globals.runtime, *args.positional("ID")));
    return kExitSuccess;
}

const Command kStart{
    .names = {"start"},
    .summary = "let a created container's process run its program",
    .positionals = {kOciContainerId},
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
    .positionals = {kOciContainerId},
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

const Command kOciKill{
    .names = {"kill"},
    .summary = "send a signal (default SIGTERM) to the container",
    .options = {{.name = "--all", .short_name = 'a', .help = "to every process of the container"}},
    .positionals = {kOciContainerId,
                    {.name = "SIGNAL", .count = Count::Optional, .noun = "signal"}},
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
    .positionals = {kOciContainerId},
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
        cat(cell("ID", kOciIdWidth), cell("PID", kOciPidWidth), cell("STATUS", kStatusWidth),
            cell("BUNDLE", kBundleWidth), cell("CREATED", kOciCreatedWidth), "OWNER\n");
    for (const ct::ContainerState& state : states)
        out += cat(cell(state.id, kOciIdWidth), cell(cat(state.pid), kOciPidWidth),
                   cell(ct::kStatusNames.name(state.status), kStatusWidth),
                   cell(state.bundle, kBundleWidth), cell(state.created, kOciCreatedWidth),
                   state.owner.empty() ? "root" : state.owner, "\n");
    print(out);
    return kExitSuccess;
}

const Command kOciList{
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
    std::string out = cat(cell("PID", kOciPidWidth), "CMD\n");
    for (pid_t pid : pids) {
        std::string command = read_file(cat("/proc/", pid, "/cmdline")).value_or("");
        for (char& c : command)
            if (c == '\0')
                c = ' ';
        out += cat(cell(cat(pid), kOciPidWidth), trim(command), "\n");
    }
    print(out);
    return kExitSuccess;
}

const Command kPs{
    .names = {"ps"},
    .summary = "the container's processes",
    .options = {kFormatOption},
    .positionals = {kOciContainerId},
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
    .positionals = {kOciContainerId},
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
            g_globals.runtime.systemd_cgroup = true;
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
text|json (where a failure is also written, for runc's callers), --debug,
--systemd-cgroup (linux.cgroupsPath is systemd's slice:prefix:name).
Linked or installed as `keel-oci`, keel takes the same command line without
the word `oci`.
)",
    .subcommands = {&kCreate, &kStart, &kState, &kOciKill, &kDelete, &kOciRun, &kExec, &kUpdate,
                    &kOciList, &kPs, &kPause},
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
