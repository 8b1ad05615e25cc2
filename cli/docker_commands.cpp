// `docker VERB ...` mapped onto keel's commands: the table of verbs, and
// the checks that a verb reaches a container command or fails with
// Docker's status 125.
#include "cli/docker_commands.h"

#include "base/strings.h"

#include <algorithm>

namespace keel::cli {

const std::vector<DockerVerb> kDockerVerbs = {
    {"run", {"run"}},
    {"ps", {"ps"}},
    {"stop", {"container", "stop"}},
    {"kill", {"container", "kill"}},
    {"rm", {"rm"}},
    {"logs", {"container", "logs"}},
    {"exec", {"exec"}},
    {"inspect", {"inspect"}},
    {"images", {"image", "ls"}},
    {"pull", {"image", "pull"}},
    {"load", {"image", "load"}},
    {"import", {"image", "import"}},
    {"rmi", {"image", "rm"}},
    {"port", {"port"}},
    {"start", {"container", "start"}},
    {"restart", {"container", "restart"}},
    {"stats", {"stats"}},
};

namespace {

std::unexpected<Failure> docker_error(std::string message) {
    return std::unexpected(Failure(Error::message(std::move(message)), kExitDockerError));
}

std::string verb_list() {
    std::string out;
    for (const DockerVerb& verb : kDockerVerbs)
        out += cat(out.empty() ? "" : ", ", verb.docker);
    return out;
}

// The command `words` name under `group`, or nullptr.
const Command* find_command(const Command& group, std::span<const std::string_view> words) {
    const Command* current = &group;
    for (std::string_view word : words) {
        const Command* next = nullptr;
        for (const Command* sub : current->subcommands)
            if (std::ranges::find(sub->names, word) != sub->names.end())
                next = sub;
        if (!next)
            return nullptr;
        current = next;
    }
    return current;
}

} // namespace

std::expected<std::vector<std::string_view>, Failure>
docker_command_line(std::span<const std::string_view> args) {
    if (args.empty())
        return docker_error(cat("docker: no command given (keel takes ", verb_list(), ")"));
    std::string_view verb = args[0];
    if (verb.starts_with('-'))
        return docker_error(
            cat("docker: global option ", quoted(verb), " is not supported by keel yet"));
    auto found = std::ranges::find(kDockerVerbs, verb, &DockerVerb::docker);
    if (found == kDockerVerbs.end())
        return docker_error(cat("docker ", verb, ": not supported by keel yet"));
    std::vector<std::string_view> line(found->keel.begin(), found->keel.end());
    line.insert(line.end(), args.begin() + 1, args.end());
    return line;
}

CommandResult run_docker(std::span<const std::string_view> args, const Command& keel,
                         std::span<const Command* const> refused) {
    if (!args.empty() && (args[0] == "--version" || args[0] == "version"))
        return dispatch(keel, "", std::vector<std::string_view>{"version"});
    if (!args.empty() && (args[0] == "--help" || args[0] == "help")) {
        print(cat("Usage: docker COMMAND ...\n\nkeel answers these Docker commands: ", verb_list(),
                  ".\n"));
        return kExitSuccess;
    }
    std::vector<std::string_view> line = TRY(docker_command_line(args));
    size_t words = std::ranges::find(kDockerVerbs, args[0], &DockerVerb::docker)->keel.size();
    const Command* command = find_command(keel, std::span(line).first(words));
    if (!command || std::ranges::find(refused, command) != refused.end())
        return docker_error(cat("docker ", args[0], ": not supported by keel yet"));
    return dispatch(keel, "", line);
}

} // namespace keel::cli
