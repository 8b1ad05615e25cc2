// `keel run` (see run_commands.h): docker's flags declared for cli/args,
// turned into containers::RunOptions and handed to containers'
// run_container(); ps, rm, stop, kill and inspect print what containers/
// says of its containers.
#include "cli/run_commands.h"

#include "cli/container_units.h"
#include "cli/exec_commands.h"
#include "cli/image_commands.h"
#include "control/control.h"

#include "base/json.h"
#include "base/log.h"
#include "base/notify.h"
#include "base/signal_names.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace keel::cli {

namespace {

namespace ct = containers;

// Docker's floor for --memory.
constexpr int64_t kMinimumMemory = 6 << 20;
constexpr uint64_t kMaxRetries = 1 << 20;
constexpr uint64_t kMaxStopTimeout = 24 * 3600;

char** g_run_argv = nullptr;

// The usage line shows only the common options (docker's dozens would
// fill a screen); --help lists them all.
Option text_option(std::string_view name, char short_name, std::string_view value_name,
                   std::string_view help, Repeat repeat = Repeat::LastWins,
                   Shown shown = Shown::InOptionList) {
    return {.name = name,
            .short_name = short_name,
            .value_name = value_name,
            .type = ValueType::Text,
            .repeat = repeat,
            .shown = shown,
            .help = help};
}

Option flag_option(std::string_view name, char short_name, std::string_view help,
                   Shown shown = Shown::InOptionList) {
    return {.name = name, .short_name = short_name, .shown = shown, .help = help};
}

CommandResult command_run(const ParsedArgs& args);

std::optional<std::string> from_environment(std::string_view key) {
    const char* value = std::getenv(std::string(key).c_str());
    if (!value)
        return std::nullopt;
    return std::string(value);
}

// Wraps a value parser's error in the flag's name.
template <typename T> Result<T> for_flag(std::string_view flag, Result<T> result) {
    if (!result)
        return std::unexpected(std::move(result).error().wrap(std::string(flag)));
    return result;
}

Result<std::chrono::milliseconds> duration_flag(const ParsedArgs& args, std::string_view flag,
                                                std::chrono::milliseconds fallback) {
    std::optional<std::string_view> text = args.value(flag);
    if (!text)
        return fallback;
    return for_flag(flag, ct::parse_duration(*text));
}

Result<uint64_t> number_flag(std::string_view flag, std::string_view text, uint64_t max) {
    std::optional<uint64_t> n = parse_u64(text);
    if (!n || *n > max)
        return error(cat(flag, ": expected a number up to ", max, ", got ", quoted(text)));
    return *n;
}

// --security-opt: seccomp=unconfined|FILE, no-new-privileges[:true|false]
// (also with = as docker's newer spelling).
Result<void> apply_security_option(ct::RunOptions& options, std::string_view text) {
    if (text == "no-new-privileges" || text == "no-new-privileges:true" ||
        text == "no-new-privileges=true") {
        options.new_privileges = ct::NewPrivileges::Denied;
        return {};
    }
    if (text == "no-new-privileges:false" || text == "no-new-privileges=false") {
        options.new_privileges = ct::NewPrivileges::Allowed;
        return {};
    }
    if (text.starts_with("seccomp=") || text.starts_with("seccomp:")) {
        std::string_view value = text.substr(8);
        if (value == "unconfined") {
            options.seccomp = ct::SeccompChoice::Unconfined;
            return {};
        }
        if (value.empty())
            return error("--security-opt: seccomp= needs unconfined or a file");
        Result<std::string> profile = read_file(std::string(value));
        if (!profile)
            return std::unexpected(std::move(profile).error().wrap("--security-opt seccomp"));
        options.seccomp = ct::SeccompChoice::File;
        options.seccomp_profile = std::move(*profile);
        return {};
    }
    return error(cat("--security-opt: unknown option ", quoted(text),
                     " (expected seccomp=unconfined|FILE or no-new-privileges)"));
}

// --restart no|on-failure[:N]|always|unless-stopped.
Result<void> apply_restart(ct::RunOptions& options, std::string_view text) {
    size_t colon = text.find(':');
    options.restart =
        TRY_CTX(parse_choice(ct::kRestartPolicyNames, text.substr(0, colon)), "--restart");
    if (colon != std::string_view::npos) {
        if (options.restart != ct::RestartPolicy::OnFailure)
            return error(cat("--restart: only on-failure takes a count, got ", quoted(text)));
        options.restart_retries =
            uint32_t(TRY(number_flag("--restart", text.substr(colon + 1), kMaxRetries)));
    }
    return {};
}

} // namespace

const Command kRunCommand{
    .names = {"run"},
    .summary = "run a command in a new container, with docker's defaults and flags",
    .options =
        {
            flag_option("--detach", 'd', "run in the background and print the container's id",
                        Shown::InSynopsis),
            flag_option("--rm", '\0', "remove the container when it exits", Shown::InSynopsis),
            text_option("--name", '\0', "NAME", "the container's name (default: made up)",
                        Repeat::LastWins, Shown::InSynopsis),
            flag_option("--replace", '\0', "remove an existing container of the same name first"),
            text_option("--pull", '\0', "POLICY",
                        "missing (default: pull an image the store lacks), always or never"),
            text_option("--store", '\0', "DIR",
                        "the image store (default $KEEL_IMAGE_STORE or /var/lib/keel)"),
            text_option("--root", '\0', "DIR",
                        "where containers are kept (default /run/keel, with their records in "
                        "/var/lib/keel/records, which outlive a reboot)"),
            flag_option("--rootfs", '\0',
                        "IMAGE is a directory holding the root filesystem (as podman's)",
                        Shown::InSynopsis),
            text_option("--env", 'e', "KEY[=VALUE]",
                        "set a variable (KEY alone: keel's value); again for more", Repeat::Collect,
                        Shown::InSynopsis),
            text_option("--env-file", '\0', "FILE", "read KEY=VALUE lines from FILE",
                        Repeat::Collect),
            text_option("--volume", 'v', "HOST:CTR[:ro,idmap]", "bind-mount a host path",
                        Repeat::Collect, Shown::InSynopsis),
            text_option("--tmpfs", '\0', "PATH[:OPTS]", "mount a tmpfs at PATH", Repeat::Collect),
            text_option("--publish", 'p', "[IP:]HOST:CTR[/udp]", "publish a port", Repeat::Collect),
            text_option("--workdir", 'w', "DIR", "the process's working directory"),
            text_option("--user", 'u', "USER[:GROUP]", "run as USER (a name or uid)"),
            text_option("--hostname", 'h', "NAME", "the container's hostname"),
            text_option("--entrypoint", '\0', "CMD",
                        "replace the image's entrypoint (and drop its Cmd)"),
            text_option("--memory", 'm', "SIZE", "memory limit (b, k, m, g)"),
            text_option("--cpus", '\0', "N", "CPU limit, like 1.5"),
            text_option("--pids-limit", '\0', "N", "process limit (-1: none)"),
            text_option("--cgroup-parent", '\0', "PATH",
                        "the cgroup to make the container's under"),
            text_option("--ulimit", '\0', "NAME=SOFT[:HARD]", "a resource limit", Repeat::Collect),
            text_option("--network", '\0', "MODE", "bridge (default), host or none"),
            text_option("--net", '\0', "MODE", "the same as --network"),
            flag_option("--read-only", '\0', "mount the root filesystem read-only"),
            text_option("--cap-add", '\0', "CAP", "add a capability (or ALL)", Repeat::Collect),
            text_option("--cap-drop", '\0', "CAP", "drop a capability (or ALL)", Repeat::Collect),
            text_option("--security-opt", '\0', "OPT",
                        "seccomp=unconfined|FILE or no-new-privileges", Repeat::Collect),
            text_option("--restart", '\0', "POLICY",
                        "no, on-failure[:N], always or unless-stopped"),
            flag_option("--init", '\0', "run the command under an init that reaps zombies"),
            flag_option("--tty", 't', "give the process a terminal"),
            flag_option("--interactive", 'i', "keep stdin open"),
            text_option("--label", 'l', "KEY=VALUE", "a label", Repeat::Collect),
            text_option("--health-cmd", '\0', "CMD", "a command that checks the container"),
            text_option("--health-interval", '\0', "DURATION", "between checks (default 30s)"),
            text_option("--health-timeout", '\0', "DURATION", "a check's limit (default 30s)"),
            text_option("--health-start-period", '\0', "DURATION",
                        "failures before this do not count (default 0s)"),
            text_option("--health-retries", '\0', "N", "failures until unhealthy (default 3)"),
            text_option("--sdnotify", '\0', "WHEN",
                        "READY=1 at conmon (start), by the container, or when healthy"),
            text_option("--stop-signal", '\0', "SIGNAL", "the signal that stops the container"),
            text_option("--stop-timeout", '\0', "SECONDS",
                        "how long stop waits before SIGKILL (default 10)"),
            text_option("--userns", '\0', "MODE",
                        "host (default), auto or auto:size=N: a user namespace of free ids"),
            text_option("--uidmap", '\0', "CTR:HOST:SIZE", "a user namespace's uid mapping",
                        Repeat::Collect),
            text_option("--gidmap", '\0', "CTR:HOST:SIZE",
                        "a user namespace's gid mapping (default: as --uidmap)", Repeat::Collect),
        },
    .positionals = {{.name = "IMAGE", .noun = "image"},
                    {.name = "COMMAND", .count = Count::Any, .noun = "command"}},
    .options_end = OptionsEnd::AtFirstPositional,
    .short_options = ShortOptions::Combinable,
    .notes = "Options not in the usage line are listed above. Docker's defaults: 14 capabilities, "
             "its default seccomp profile, masked and "
             "read-only /proc and /sys paths, its own pid, mount, uts, ipc, cgroup and network "
             "namespaces. The options end at IMAGE: what follows is the command.",
    .run = command_run,
};

Result<std::vector<std::string>> environment_options(const ParsedArgs& args) {
    std::vector<std::string> env;
    for (const ParsedItem& item : args.items()) {
        if (!item.option || !item.value)
            continue;
        if (item.option->name == "--env") {
            std::string_view entry = *item.value;
            if (entry.empty() || entry.front() == '=')
                return error(cat("--env: bad variable ", quoted(entry)));
            if (entry.find('=') != std::string_view::npos)
                env.emplace_back(entry);
            else if (std::optional<std::string> value = from_environment(entry))
                env.push_back(cat(entry, "=", *value));
        } else if (item.option->name == "--env-file") {
            std::string path(*item.value);
            std::string text = TRY_CTX(read_file(path), "--env-file");
            for (std::string& entry :
                 TRY_CTX(ct::parse_env_file(text, path, from_environment), "--env-file"))
                env.push_back(std::move(entry));
        }
    }
    return env;
}

Result<ct::RunOptions> run_options(const ParsedArgs& args) {
    ct::RunOptions options;
    options.image = std::string(*args.positional("IMAGE"));
    for (std::string_view word : args.positionals("COMMAND"))
        options.command.emplace_back(word);
    if (auto root = args.value("--root"))
        options.state_root = std::string(*root);
    if (auto store = args.value("--store"))
        options.image_store = std::string(*store);
    if (args.flag("--rootfs"))
        options.image_source = ct::ImageSource::Rootfs;
    if (args.flag("--detach"))
        options.mode = ct::RunMode::Detach;
    if (args.flag("--rm"))
        options.removal = ct::Removal::OnExit;
    if (args.flag("--replace"))
        options.name_clash = ct::NameClash::Replace;
    if (args.flag("--tty"))
        options.terminal = ct::Terminal::Allocate;
    if (args.flag("--interactive"))
        options.stdin_mode = ct::Stdin::Open;
    if (args.flag("--read-only"))
        options.root_access = ct::Access::ReadOnly;
    if (args.flag("--init"))
        options.init = ct::InitProcess::Keel;
    if (auto name = args.value("--name")) {
        TRY_CTX(ct::check_container_name(*name), "--name");
        options.name = std::string(*name);
    }

    options.env = TRY(environment_options(args));
    for (std::string_view text : args.values("--volume"))
        options.volumes.push_back(TRY_CTX(ct::parse_volume(text), "--volume"));
    for (std::string_view text : args.values("--tmpfs"))
        options.tmpfs.push_back(TRY_CTX(ct::parse_tmpfs(text), "--tmpfs"));
    for (std::string_view text : args.values("--publish"))
        options.ports.push_back(TRY_CTX(ct::parse_port_mapping(text), "--publish"));
    for (std::string_view text : args.values("--ulimit"))
        options.ulimits.push_back(TRY_CTX(ct::parse_ulimit(text), "--ulimit"));
    for (std::string_view text : args.values("--cap-add"))
        options.cap_add.emplace_back(text);
    for (std::string_view text : args.values("--cap-drop"))
        options.cap_drop.emplace_back(text);
    TRY(ct::effective_capabilities(options.cap_add, options.cap_drop));
    for (std::string_view text : args.values("--security-opt"))
        TRY(apply_security_option(options, text));
    for (std::string_view text : args.values("--label")) {
        size_t equals = text.find('=');
        if (equals == 0)
            return error(cat("--label: bad label ", quoted(text), " (expected KEY=VALUE)"));
        options.labels[std::string(text.substr(0, equals))] =
            equals == std::string_view::npos ? "" : std::string(text.substr(equals + 1));
    }

    if (auto text = args.value("--workdir")) {
        if (!text->starts_with('/'))
            return error(cat("--workdir: ", quoted(*text), " is not an absolute path"));
        options.workdir = std::string(*text);
    }
    if (auto text = args.value("--user"))
        options.user = std::string(*text);
    if (auto text = args.value("--hostname"))
        options.hostname = std::string(*text);
    if (auto text = args.value("--entrypoint"))
        options.entrypoint = std::string(*text);
    if (auto text = args.value("--memory")) {
        int64_t bytes = TRY_CTX(ct::parse_memory_size(*text), "--memory");
        if (bytes < kMinimumMemory)
            return error(cat("--memory: ", quoted(*text), " is below the minimum of 6m"));
        options.memory_bytes = bytes;
    }
    if (auto text = args.value("--cpus"))
        options.cpu_micros = TRY_CTX(ct::parse_cpus(*text), "--cpus");
    if (auto text = args.value("--pids-limit")) {
        if (*text == "-1")
            options.pids_limit = -1;
        else
            options.pids_limit = int64_t(TRY(number_flag("--pids-limit", *text, INT64_MAX)));
    }
    if (auto text = args.value("--cgroup-parent"))
        options.cgroup_parent = std::string(*text);
    std::optional<std::string_view> network = args.value("--network");
    if (auto net = args.value("--net"); net && !network)
        network = net;
    if (network)
        options.network = TRY_CTX(parse_choice(ct::kNetworkModeNames, *network), "--network");
    if (!options.ports.empty() && options.network != ct::NetworkMode::Bridge)
        return error("--publish: ports are published only with --network bridge");
    if (auto text = args.value("--restart"))
        TRY(apply_restart(options, *text));
    if (options.restart != ct::RestartPolicy::No && options.removal == ct::Removal::OnExit)
        return error("--restart: a container removed on exit (--rm) cannot be restarted");
    if (auto text = args.value("--sdnotify"))
        options.notify = TRY_CTX(parse_choice(ct::kNotifyWhenNames, *text), "--sdnotify");
    if (auto text = args.value("--stop-signal")) {
        options.stop_signal = TRY_CTX(parse_signal(*text), "--stop-signal");
    }
    if (auto text = args.value("--stop-timeout"))
        options.stop_timeout_seconds =
            uint32_t(TRY(number_flag("--stop-timeout", *text, kMaxStopTimeout)));

    std::vector<std::string_view> uidmaps = args.values("--uidmap");
    std::vector<std::string_view> gidmaps = args.values("--gidmap");
    options.userns = TRY(ct::parse_userns_options(args.value("--userns"), uidmaps, gidmaps));
    if (options.userns.mode != ct::UsernsMode::Host &&
        options.image_source == ct::ImageSource::Rootfs)
        return error("--userns: needs an image from the store (a --rootfs directory's files "
                     "would not be owned by the container's root)");
    if (options.userns.mode == ct::UsernsMode::Host)
        for (const ct::VolumeMount& volume : options.volumes)
            if (volume.ids == ct::VolumeIds::Idmapped)
                return error(cat("--volume ", volume.source, ":", volume.destination,
                                 ":idmap: maps the files as the container's user namespace "
                                 "does, and there is none (add --userns auto or --uidmap)"));

    if (auto text = args.value("--health-cmd"))
        options.health.command = std::string(*text);
    options.health.interval =
        TRY(duration_flag(args, "--health-interval", options.health.interval));
    options.health.timeout = TRY(duration_flag(args, "--health-timeout", options.health.timeout));
    options.health.start_period =
        TRY(duration_flag(args, "--health-start-period", options.health.start_period));
    if (auto text = args.value("--health-retries"))
        options.health.retries = uint32_t(TRY(number_flag("--health-retries", *text, kMaxRetries)));
    if (options.notify == ct::NotifyWhen::Healthy && options.health.command.empty())
        return error("--sdnotify: healthy needs a health check (--health-cmd)");
    return options;
}

Result<ct::RunOptions> parse_run_args(std::span<const std::string_view> args) {
    ParsedArgs parsed = TRY(parse(kRunCommand, "run", args));
    if (parsed.help_requested())
        return error("run: --help given");
    Result<ct::RunOptions> options = run_options(parsed);
    if (!options)
        return std::unexpected(std::move(options).error().wrap("run"));
    return options;
}

namespace {

CommandResult command_run(const ParsedArgs& args) {
    Result<ct::RunOptions> options = run_options(args);
    if (!options)
        return usage_error(args, options.error().to_string());
    PullPolicy pull = PullPolicy::Missing;
    if (auto text = args.value("--pull")) {
        // podman's `newer` (pull when the registry has a newer one): a pull
        // every time gets the newest too.
        std::optional<PullPolicy> named =
            *text == "newer" ? PullPolicy::Always : kPullPolicyNames.parse(*text);
        if (!named)
            return usage_error(
                args, cat("--pull: expected missing, always, never or newer, got ", quoted(*text)));
        pull = *named;
    }
    // Pulled once, by the keel run the user started (not again by the one
    // that re-executes sealed, nor by the unit init supervises a detached
    // container with: docker does not pull again on a restart either).
    if (options->image_source == ct::ImageSource::Store && !std::getenv("KEEL_RUN_BINARY"))
        if (Result<void> pulled = pull_for_run(store_of(args), options->image, pull); !pulled)
            return std::unexpected(Failure(std::move(pulled).error()));
    // Under init, init supervises a detached container. KEEL_RUN_BINARY
    // says this is keel run re-executed sealed, past that choice.
    if (options->mode == ct::RunMode::Detach && !std::getenv("KEEL_RUN_BINARY")) {
        if (std::optional<CommandResult> supervised = run_detached_under_init(args, *options))
            return *supervised;
        if (options->removal == ct::Removal::OnExit)
            return usage_error(args, cat("--rm: a detached container is removed on exit only "
                                         "under init (none answers at ",
                                         control_socket_path(), ")"));
        log_notice(cat("run -d: init does not answer at ", control_socket_path(),
                       ": a keeper process of keel's waits for this container (its exit, "
                       "--restart) and keeps its output in the container's directory "
                       "(`keel container logs` shows it)"));
    }
    // A detached container's id is printed, as docker run -d prints it:
    // found by its name, made up here when none was given.
    bool detached = options->mode == ct::RunMode::Detach;
    if (detached && options->name.empty()) {
        Result<std::string> name = ct::generate_name();
        if (!name)
            return std::unexpected(Failure(std::move(name).error()));
        options->name = std::move(*name);
    }
    Result<int> status = ct::run_container(*options, g_run_argv);
    if (!status)
        return std::unexpected(Failure(std::move(status).error()));
    if (detached && *status == 0)
        if (Result<ct::RunContainer> made =
                ct::find_container(ct::run_root(options->state_root), options->name))
            print(cat(made->id, "\n"));
    return *status;
}

const Option kContainerRootOption{
    .name = "--root",
    .value_name = "DIR",
    .type = ValueType::Text,
    .shown = Shown::InOptionList,
    .help = "where containers are kept (default /run/keel, with their records in "
            "/var/lib/keel/records, which outlive a reboot)"};

std::string root_option(const ParsedArgs& args) {
    auto root = args.value("--root");
    return ct::run_root(root ? std::string(*root) : std::string());
}

CommandResult failed(Result<void> result) {
    if (!result)
        return std::unexpected(Failure(std::move(result).error()));
    return kExitSuccess;
}

// "CONTAINER ID  IMAGE  COMMAND  CREATED  STATUS  NAMES", as docker ps.
CommandResult command_ps(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    Result<std::vector<ct::RunContainer>> containers = ct::list_containers(state_root);
    if (!containers)
        return std::unexpected(Failure(std::move(containers).error()));
    bool all = args.flag("--all");
    bool quiet = args.flag("--quiet");
    std::string out;
    if (!quiet)
        out = cat(pad("CONTAINER ID", 14), pad("IMAGE", 24), pad("COMMAND", 24), pad("CREATED", 22),
                  pad("STATUS", 34), pad("PORTS", 26), "NAMES\n");
    for (const ct::RunContainer& container : *containers) {
        std::string status = ct::container_status(state_root, container);
        if (!all && status == "exited")
            continue;
        // Published while it runs, as docker ps shows them.
        std::string ports = status == "running" || status == "paused"
                                ? ct::published_ports_text(container.state.ports)
                                : std::string();
        std::string command;
        for (const std::string& word : container.command)
            command += cat(command.empty() ? "" : " ", word);
        if (quiet)
            out += cat(container.id.substr(0, 12), "\n");
        else
            out += cat(pad(container.id.substr(0, 12), 14), pad(container.image, 24),
                       pad(quoted(command.substr(0, 20)), 24), pad(container.created, 22),
                       pad(ct::container_status_text(state_root, container), 34), pad(ports, 26),
                       ports.size() >= 26 ? " " : "", container.name, "\n");
    }
    print(out);
    return kExitSuccess;
}

CommandResult command_rm(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return failed([&]() -> Result<void> {
        for (std::string_view reference : args.positionals("CONTAINER")) {
            Result<ct::RunContainer> found = ct::find_container(state_root, reference);
            // A container under a transient unit: the unit stopped first,
            // so init does not restart it (its --rm may take it away).
            std::string name = found ? found->name : std::string(reference);
            if (!found || args.flag("--force") ||
                ct::container_status(state_root, *found) == "exited")
                if (TRY(end_transient_unit(name))) {
                    found = ct::find_container(state_root, reference);
                    if (!found && found.error().code() == ENOENT) {
                        print(cat(reference, "\n"));
                        continue;
                    }
                }
            ct::RunContainer container = TRY(std::move(found));
            std::string status = ct::container_status(state_root, container);
            if (status != "exited" && !args.flag("--force"))
                return errno_error(EBUSY, cat("container ", quoted(reference), " is ", status,
                                              "; stop it first or give --force"));
            TRY_CTX(ct::remove_container(state_root, container,
                                         args.flag("--force") ? ct::DeleteMode::Force
                                                              : ct::DeleteMode::Stopped),
                    cat("remove ", quoted(reference)));
            print(cat(reference, "\n"));
        }
        return {};
    }());
}

// stop's and restart's -t (at most a day: kStopTimeOption).
std::optional<std::chrono::seconds> stop_timeout(const ParsedArgs& args) {
    return args.number("--time").transform(
        [](uint64_t seconds) { return std::chrono::seconds(int64_t(seconds)); });
}

CommandResult command_stop(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return failed([&]() -> Result<void> {
        for (std::string_view reference : args.positionals("CONTAINER")) {
            Result<ct::RunContainer> found = ct::find_container(state_root, reference);
            std::string name = found ? found->name : std::string(reference);
            // A manual stop, also when its unit's keel run is the one that
            // stops it: not started again at boot (unless-stopped). That
            // keel run reads -t here.
            if (found)
                (void)ct::mark_stop_requested(state_root, *found, stop_timeout(args));
            // Stopping its transient unit stops it (and keeps init from
            // restarting it); the unit's --rm removes it.
            if (TRY(end_transient_unit(name))) {
                print(cat(reference, "\n"));
                continue;
            }
            ct::RunContainer container = TRY(std::move(found));
            TRY(ct::stop_container(
                state_root, container,
                stop_timeout(args).value_or(std::chrono::seconds(container.stop_timeout))));
            print(cat(reference, "\n"));
        }
        return {};
    }());
}

// As docker start and restart: each container in turn, a failure reported
// and the rest done all the same, each one done printed; status 1 when one
// failed.
CommandResult each_container(const std::vector<std::string_view>& references,
                             const std::function<Result<void>(std::string_view)>& act) {
    int status = kExitSuccess;
    for (std::string_view reference : references) {
        if (Result<void> done = act(reference); !done) {
            report(done.error());
            status = kExitFailure;
            continue;
        }
        print(cat(reference, "\n"));
    }
    return status;
}

// `docker start`'s error for a name or id that is not there.
Result<ct::RunContainer> existing_container(const std::string& state_root,
                                            std::string_view reference) {
    Result<ct::RunContainer> found = ct::find_container(state_root, reference);
    if (!found && found.error().code() == ENOENT)
        return std::unexpected(Error::message(cat("No such container: ", reference)));
    return found;
}

// An exited container started again in the background: under init as its
// transient unit (whose keel run waits for it), else with a keeper.
Result<void> start_detached(const ParsedArgs& args, const std::string& state_root,
                            const ct::RunContainer& container) {
    auto given = args.value("--root");
    std::string given_root = given ? std::string(*given) : std::string();
    if (std::optional<CommandResult> supervised = start_under_init(given_root, container)) {
        if (!*supervised)
            return std::unexpected(std::move(supervised->error().error));
        return {};
    }
    TRY(ct::start_container(state_root, container, ct::RunMode::Detach, exec_argv()));
    return {};
}

// When init started (whole seconds since the epoch, rounded down): the
// kernel's boot (the real-time clock less CLOCK_BOOTTIME, to the
// nanosecond: /proc/stat's btime is whole seconds, rounded down) plus the
// start of /proc/1 (field 22, clock ticks after the boot), which is keel
// init also when it is PID 1 of a PID namespace (`--container`).
std::optional<int64_t> boot_time() {
    Result<std::string> init = read_file("/proc/1/stat");
    size_t end = init ? init->rfind(')') : std::string::npos;
    if (end == std::string::npos)
        return std::nullopt;
    // Fields 3 and on follow the command's closing parenthesis.
    std::vector<std::string_view> fields = split(std::string_view(*init).substr(end + 2), ' ');
    std::optional<uint64_t> ticks = fields.size() > 19 ? parse_u64(fields[19]) : std::nullopt;
    long per_second = ::sysconf(_SC_CLK_TCK);
    timespec now{};
    timespec since_boot{};
    if (!ticks || per_second <= 0 || ::clock_gettime(CLOCK_REALTIME, &now) != 0 ||
        ::clock_gettime(CLOCK_BOOTTIME, &since_boot) != 0)
        return std::nullopt;
    constexpr int64_t kNanoseconds = 1'000'000'000;
    int64_t booted = (int64_t(now.tv_sec) - since_boot.tv_sec) * kNanoseconds +
                     (now.tv_nsec - since_boot.tv_nsec);
    int64_t started = booted + int64_t(*ticks) * (kNanoseconds / per_second);
    return started / kNanoseconds;
}

// Whether the container was made before init started: one made since (by
// a unit running `keel run` beside docker.service) is its maker's to run.
bool made_before(const ct::RunContainer& container, std::optional<int64_t> boot) {
    std::tm utc{};
    if (!boot || !::strptime(container.created.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc))
        return true;
    return int64_t(::timegm(&utc)) < *boot;
}

// `keel container start --boot`: what Docker's daemon does as it starts.
// A container that ran when the machine went down is recorded as ended
// (ExitCode 255); containers left with --rm (the boot came before their end) are removed;
// those whose policy is always, unless-stopped and not stopped by hand, or
// on-failure, ended with a failure and not stopped by hand, are started again. One that fails is
// reported and the others go on.
CommandResult start_at_boot(const ParsedArgs& args, const std::string& state_root) {
    std::vector<ct::RunContainer> containers = TRY(ct::list_containers(state_root));
    std::optional<int64_t> boot = boot_time();
    for (const ct::RunContainer& container : containers) {
        if (!made_before(container, boot))
            continue;
        Result<ct::RunOptions> options = ct::recorded_run_options(container.json);
        if (!options) {
            report(std::move(options).error().wrap(cat("container ", container.name)));
            continue;
        }
        if (ct::container_status(state_root, container) != "exited")
            continue;
        // It ran when the machine went down: ended, as Docker's daemon sees it.
        std::optional<int> exit_code = container.state.exit_code;
        if (Result<bool> ended = ct::record_interrupted_run(state_root, container); !ended)
            report(std::move(ended).error().wrap(cat("container ", container.name)));
        else if (*ended)
            exit_code = 255;
        if (options->removal == ct::Removal::OnExit) {
            Result<void> removed =
                ct::remove_container(state_root, container, ct::DeleteMode::Force);
            if (removed)
                print(cat("container ", container.name, " removed (--rm)\n"));
            else
                report(std::move(removed).error().wrap(cat("remove ", container.name)));
            continue;
        }
        // Docker's daemon's rule at its start (its restart count begins anew).
        bool wanted = false;
        switch (options->restart) {
        case ct::RestartPolicy::No:
            break;
        case ct::RestartPolicy::Always:
            wanted = true;
            break;
        case ct::RestartPolicy::UnlessStopped:
            wanted = !ct::stop_was_requested(state_root, container);
            break;
        case ct::RestartPolicy::OnFailure:
            wanted = exit_code.value_or(0) != 0 && !ct::stop_was_requested(state_root, container);
            break;
        }
        if (!wanted)
            continue;
        if (Result<void> started = start_detached(args, state_root, container); !started) {
            report(std::move(started).error().wrap(cat("start ", container.name)));
            continue;
        }
        print(cat("container ", container.name, " started (--restart ",
                  ct::kRestartPolicyNames.name(options->restart), ")\n"));
    }
    return kExitSuccess;
}

CommandResult command_container_start(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    std::vector<std::string_view> references = args.positionals("CONTAINER");
    if (args.flag("--boot")) {
        if (!references.empty() || args.flag("--attach"))
            return usage_error(args, "--boot starts the containers their policy names: no "
                                     "CONTAINER or --attach with it");
        return start_at_boot(args, state_root);
    }
    if (references.empty())
        return usage_error(args, "no container given");
    if (args.flag("--attach")) {
        if (references.size() > 1)
            return usage_error(args, "--attach: one container at a time");
        ct::RunContainer container = TRY(existing_container(state_root, references.front()));
        if (ct::container_status(state_root, container) != "exited")
            return std::unexpected(
                Failure(Error::from_errno(EBUSY, cat("container ", references.front(), " is ",
                                                     ct::container_status(state_root, container))),
                        kExitFailure));
        return TRY(
            ct::start_container(state_root, container, ct::RunMode::Foreground, exec_argv()));
    }
    return each_container(references, [&](std::string_view reference) -> Result<void> {
        ct::RunContainer container = TRY(existing_container(state_root, reference));
        // A running one is left as it is.
        if (ct::container_status(state_root, container) == "exited")
            TRY(start_detached(args, state_root, container));
        return {};
    });
}

// `docker restart`: stopped (its stop signal, SIGKILL after the timeout)
// and started again, or started when it was not running.
CommandResult command_container_restart(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return each_container(
        args.positionals("CONTAINER"), [&](std::string_view reference) -> Result<void> {
            ct::RunContainer container = TRY(existing_container(state_root, reference));
            if (ct::container_status(state_root, container) != "exited") {
                // Under init its unit's keel run stops it, with -t (a start
                // clears the note).
                (void)ct::mark_stop_requested(state_root, container, stop_timeout(args));
                if (!TRY(end_transient_unit(container.name)))
                    TRY(ct::stop_container(
                        state_root, container,
                        stop_timeout(args).value_or(std::chrono::seconds(container.stop_timeout))));
            }
            container = TRY(existing_container(state_root, reference));
            return start_detached(args, state_root, container);
        });
}

CommandResult command_kill(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return failed([&]() -> Result<void> {
        int signal = SIGKILL;
        if (auto text = args.value("--signal"))
            signal = TRY_CTX(parse_signal(*text), "--signal");
        for (std::string_view reference : args.positionals("CONTAINER")) {
            ct::RunContainer container = TRY(ct::find_container(state_root, reference));
            TRY(ct::kill_container(state_root, container, signal));
            print(cat(reference, "\n"));
        }
        return {};
    }());
}

CommandResult command_inspect(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return failed([&]() -> Result<void> {
        std::string out = "[";
        for (std::string_view reference : args.positionals("CONTAINER")) {
            ct::RunContainer container = TRY(ct::find_container(state_root, reference));
            out +=
                cat(out.size() > 1 ? "," : "", TRY(ct::inspect_container(state_root, container)));
        }
        print(cat(out, "]\n"));
        return {};
    }());
}

// "12.34%".
std::string percent(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f%%", value);
    return text;
}

// The machine's memory, the limit docker stats shows for a group without one.
uint64_t machine_memory() {
    Result<std::string> meminfo = read_file("/proc/meminfo");
    if (!meminfo)
        return 0;
    for (std::string_view line : split(*meminfo, '\n'))
        if (line.starts_with("MemTotal:"))
            return parse_u64(trim(line.substr(9, line.find(" kB") - 9))).value_or(0) * 1024;
    return 0;
}

// `docker stats --no-stream`: each running container's CPU % (over half a
// second), memory use against its limit, and tasks, from its cgroup.
CommandResult command_container_stats(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    return failed([&]() -> Result<void> {
        std::vector<ct::RunContainer> chosen;
        if (args.positionals("CONTAINER").empty()) {
            for (ct::RunContainer& container : TRY(ct::list_containers(state_root)))
                if (ct::container_status(state_root, container) == "running")
                    chosen.push_back(std::move(container));
        } else {
            for (std::string_view reference : args.positionals("CONTAINER"))
                chosen.push_back(TRY(ct::find_container(state_root, reference)));
        }
        constexpr uint64_t kSampleUsec = 500000;
        std::vector<std::optional<ct::ContainerStats>> before;
        for (const ct::RunContainer& container : chosen)
            before.push_back(ct::container_stats(state_root, container));
        uint64_t started = monotonic_usec();
        ::usleep(kSampleUsec);
        uint64_t elapsed = std::max<uint64_t>(1, monotonic_usec() - started);
        uint64_t memory = machine_memory();
        std::string out = cat(pad("CONTAINER ID", 15), pad("NAME", 20), pad("CPU %", 10),
                              pad("MEM USAGE / LIMIT", 24), pad("MEM %", 10), "PIDS\n");
        for (size_t i = 0; i < chosen.size(); ++i) {
            std::optional<ct::ContainerStats> now = ct::container_stats(state_root, chosen[i]);
            std::string cpu = "--", usage = "-- / --", share = "--", pids = "--";
            if (now) {
                uint64_t used = before[i] && now->cpu_usage_usec >= before[i]->cpu_usage_usec
                                    ? now->cpu_usage_usec - before[i]->cpu_usage_usec
                                    : 0;
                cpu = percent(100.0 * double(used) / double(elapsed));
                uint64_t limit = now->memory_max.value_or(memory);
                if (now->memory_current) {
                    usage = cat(human_size(*now->memory_current, SizeUnits::Binary), " / ",
                                human_size(limit, SizeUnits::Binary));
                    if (limit > 0)
                        share = percent(100.0 * double(*now->memory_current) / double(limit));
                }
                if (now->pids_current)
                    pids = cat(*now->pids_current);
            }
            out += cat(pad(chosen[i].id.substr(0, 12), 15), pad(chosen[i].name, 20), pad(cpu, 10),
                       pad(usage, 24), pad(share, 10), pids, "\n");
        }
        print(out);
        return {};
    }());
}

// `docker port`: "80/tcp -> 0.0.0.0:32768" for each published port, or
// with PORT ("80", "80/udp") just where it is published.
CommandResult command_port(const ParsedArgs& args) {
    std::string state_root = root_option(args);
    std::string_view reference = *args.positional("CONTAINER");
    ct::RunContainer container = TRY(ct::find_container(state_root, reference));
    std::string status = ct::container_status(state_root, container);
    std::vector<ct::PortMapping> published;
    if (status == "running" || status == "paused")
        published = container.state.ports;
    std::optional<std::string_view> wanted = args.positional("PORT");
    std::vector<ct::PortMapping> ports = ct::ports_for(published, wanted.value_or(""));
    if (wanted && ports.empty()) {
        std::string port(*wanted);
        if (port.find('/') == std::string::npos)
            port += "/tcp";
        return std::unexpected(Failure(
            Error::message(cat("no public port ", quoted(port), " published for ", reference))));
    }
    std::string out;
    for (const ct::PortMapping& port : ports) {
        std::string host =
            cat(port.host_ip.empty() ? "0.0.0.0" : port.host_ip, ":", port.host_port);
        out += wanted ? cat(host, "\n")
                      : cat(port.container_port, "/", ct::kProtocolNames.name(port.protocol),
                            " -> ", host, "\n");
    }
    print(out);
    return kExitSuccess;
}

} // namespace

const Command kPortCommand{
    .names = {"port"},
    .summary = "the host ports a container's ports are published on",
    .options = {kContainerRootOption},
    .positionals = {{.name = "CONTAINER", .noun = "container"},
                    {.name = "PORT", .count = Count::Optional, .noun = "port"}},
    .run = command_port,
};

const Command kStatsCommand{
    .names = {"stats"},
    .summary = "the running containers' CPU, memory and tasks, from their cgroups (docker stats)",
    .options = {kContainerRootOption,
                {.name = "--no-stream", .help = "one sample (the only way keel prints them)"}},
    .positionals = {{.name = "CONTAINER", .count = Count::Any, .noun = "container"}},
    .notes = "CPU % is over half a second (100% is one CPU's time); without a memory limit the "
             "machine's memory is the limit. A container without a group of its own (no cgroup "
             "v2) shows --.",
    .run = command_container_stats,
};

const Command kPsCommand{
    .names = {"ps", "ls"},
    .summary = "list the containers keel run made",
    .options = {kContainerRootOption,
                {.name = "--all", .short_name = 'a', .help = "the exited ones too"},
                {.name = "--quiet", .short_name = 'q', .help = "only the ids"}},
    .run = command_ps,
};

// stop's and restart's -t.

const Command kRmCommand{
    .names = {"rm"},
    .summary = "remove containers (their root and record)",
    .options = {kContainerRootOption,
                {.name = "--force", .short_name = 'f', .help = "kill a running one first"}},
    .positionals = {{.name = "CONTAINER", .count = Count::OneOrMore, .noun = "container"}},
    .run = command_rm,
};

const Command kStopCommand{
    .names = {"stop"},
    .summary = "stop containers: their stop signal, then SIGKILL after the timeout",
    .options = {kContainerRootOption, kStopTimeOption},
    .positionals = {{.name = "CONTAINER", .count = Count::OneOrMore, .noun = "container"}},
    .run = command_stop,
};

const Command kContainerStartCommand{
    .names = {"start"},
    .summary = "start exited containers again: the same container, its root and options",
    .options = {kContainerRootOption,
                {.name = "--attach",
                 .short_name = 'a',
                 .help = "wait for it in the foreground (its output, its exit status)"},
                {.name = "--boot",
                 .help = "every container whose --restart says so after a boot: always, "
                         "unless-stopped and on-failure (after a failure) unless stopped by "
                         "hand; --rm ones left are removed"}},
    .positionals = {{.name = "CONTAINER", .count = Count::Any, .noun = "container"}},
    .notes = "Under init a container runs as its transient unit container-NAME.service, as "
             "keel run -d makes it; without init a keeper process waits for it. A running "
             "container is left as it is (its name is printed all the same).",
    .run = command_container_start,
};

const Command kContainerRestartCommand{
    .names = {"restart"},
    .summary = "stop containers (if they run) and start them again",
    .options = {kContainerRootOption, kStopTimeOption},
    .positionals = {{.name = "CONTAINER", .count = Count::OneOrMore, .noun = "container"}},
    .run = command_container_restart,
};

const Command kKillCommand{
    .names = {"kill"},
    .summary = "send a signal to containers' first process",
    .options = {kContainerRootOption,
                {.name = "--signal",
                 .short_name = 's',
                 .value_name = "SIGNAL",
                 .type = ValueType::Text,
                 .help = "the signal (default SIGKILL)"}},
    .positionals = {{.name = "CONTAINER", .count = Count::OneOrMore, .noun = "container"}},
    .run = command_kill,
};

const Command kInspectCommand{
    .names = {"inspect"},
    .summary = "show containers: what keel run was told, their status and config.json",
    .options = {kContainerRootOption},
    .positionals = {{.name = "CONTAINER", .count = Count::OneOrMore, .noun = "container"}},
    .run = command_inspect,
};

const Command kContainerCommand{
    .names = {"container"},
    .summary = "the containers keel run made: ps, exec, start, restart, stop, kill, rm, "
               "inspect, logs, port, stats",
    .notes = "ps, exec, rm, inspect, kill, port and stats are also top-level; `keel start`, "
             "`stop`, `restart` and `logs` are the service manager's, and take a container's "
             "name where no unit has it.",
    .subcommands = {&kPsCommand, &kExecCommand, &kContainerStartCommand, &kContainerRestartCommand,
                    &kStopCommand, &kKillCommand, &kRmCommand, &kInspectCommand,
                    &kContainerLogsCommand, &kPortCommand, &kStatsCommand},
};

CommandResult run_run(std::span<const std::string_view> args, char** argv) {
    g_run_argv = argv;
    return dispatch(kRunCommand, "run", args);
}

} // namespace keel::cli
