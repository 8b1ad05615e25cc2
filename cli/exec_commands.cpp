// `keel exec` (see exec_commands.h): docker exec's flags declared for
// cli/args, turned into containers::ContainerExec and handed to
// containers' exec_in_container(); the container found by name or id as
// `keel rm` finds it, and Docker's exit statuses for what went wrong.
#include "cli/exec_commands.h"

#include "cli/run_commands.h"

#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstdlib>

namespace keel::cli {

namespace {

namespace ct = containers;

char** g_exec_argv = nullptr;

// Docker's statuses for a process that could not be started.
constexpr int kExitCannotRun = 126;
constexpr int kExitNotFound = 127;

CommandResult command_exec(const ParsedArgs& args) {
    Result<ct::ContainerExec> request = exec_request(args);
    if (!request)
        return usage_error(args, request.error().to_string());
    auto root = args.value("--root");
    std::string state_root = ct::run_root(root ? std::string(*root) : std::string());
    std::string_view reference = *args.positional("CONTAINER");
    Result<ct::RunContainer> container = ct::find_container(state_root, reference);
    if (!container) {
        if (container.error().code() == ENOENT)
            return std::unexpected(Failure(Error::message(cat("No such container: ", reference))));
        return std::unexpected(Failure(std::move(container).error()));
    }
    if (ct::container_status(state_root, *container) != "running")
        return std::unexpected(
            Failure(Error::message(cat("container ", container->name, " is not running"))));
    TRY(ct::ensure_sealed_binary(g_exec_argv));
    Result<int> status = ct::exec_in_container(state_root, *container, *request);
    if (!status) {
        // The process did not start: Docker's 127 when the command is not
        // found (exec_in_container's ENOENT is only that), else 126 (not
        // executable, a missing working directory, a bad user, ...).
        int exit = status.error().code() == ENOENT ? kExitNotFound : kExitCannotRun;
        return std::unexpected(Failure(std::move(status).error(), exit));
    }
    return *status;
}

Option synopsis_text_option(std::string_view name, char short_name, std::string_view value_name,
                            std::string_view help, Repeat repeat = Repeat::LastWins) {
    return {.name = name,
            .short_name = short_name,
            .value_name = value_name,
            .type = ValueType::Text,
            .repeat = repeat,
            .help = help};
}

} // namespace

const Command kExecCommand{
    .names = {"exec"},
    .summary = "run a command in a running container keel run made",
    .options =
        {
            {.name = "--detach", .short_name = 'd', .help = "return once the command runs"},
            {.name = "--interactive", .short_name = 'i', .help = "pass keel's stdin on to it"},
            {.name = "--tty", .short_name = 't', .help = "give the command a terminal"},
            synopsis_text_option("--env", 'e', "KEY[=VALUE]",
                                 "set a variable (KEY alone: keel's value); again for more",
                                 Repeat::Collect),
            synopsis_text_option("--env-file", '\0', "FILE", "read KEY=VALUE lines from FILE",
                                 Repeat::Collect),
            synopsis_text_option("--user", 'u', "USER[:GROUP]",
                                 "run as USER (a name or uid in the container)"),
            synopsis_text_option("--workdir", 'w', "DIR", "the working directory in the container"),
            {.name = "--root",
             .value_name = "DIR",
             .type = ValueType::Text,
             .shown = Shown::InOptionList,
             .help = "where containers are kept (default /run/keel, with their records in "
                     "/var/lib/keel/records, which outlive a reboot)"},
        },
    .positionals = {{.name = "CONTAINER", .noun = "container"},
                    {.name = "COMMAND", .count = Count::OneOrMore, .noun = "command"}},
    .options_end = OptionsEnd::AtFirstPositional,
    .short_options = ShortOptions::Combinable,
    .notes = "CONTAINER is a name, an id or a unique prefix of an id. The command joins the "
             "container's namespaces, cgroup and root, with its environment, user and working "
             "directory unless the options change them. The exit status is the command's; 127 "
             "when it is not found, 126 when it cannot be run, 1 when the container is not "
             "running or does not exist.",
    .run = command_exec,
};

void set_exec_argv(char** argv) {
    g_exec_argv = argv;
}

char** exec_argv() {
    return g_exec_argv;
}

Result<ct::ContainerExec> exec_request(const ParsedArgs& args) {
    ct::ContainerExec request;
    for (std::string_view word : args.positionals("COMMAND"))
        request.command.emplace_back(word);
    if (args.flag("--detach"))
        request.mode = ct::RunMode::Detach;
    if (args.flag("--tty"))
        request.terminal = ct::Terminal::Allocate;
    if (args.flag("--interactive"))
        request.input = ct::Stdin::Open;
    request.env = TRY(environment_options(args));
    if (auto user = args.value("--user")) {
        if (user->empty())
            return error("--user: no user given");
        request.user = std::string(*user);
    }
    if (auto workdir = args.value("--workdir")) {
        if (!workdir->starts_with('/'))
            return error(cat("--workdir: ", quoted(*workdir), " is not an absolute path"));
        request.workdir = std::string(*workdir);
    }
    return request;
}

Result<ct::ContainerExec> parse_exec_args(std::span<const std::string_view> args) {
    ParsedArgs parsed = TRY(parse(kExecCommand, "exec", args));
    if (parsed.help_requested())
        return error("exec: --help given");
    Result<ct::ContainerExec> request = exec_request(parsed);
    if (!request)
        return std::unexpected(std::move(request).error().wrap("exec"));
    return request;
}

} // namespace keel::cli
