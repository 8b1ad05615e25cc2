// `docker VERB ...`: the binary installed or linked as `docker` takes
// Docker's container verbs and runs keel's commands for them, so unit files
// and scripts written for Docker (`ExecStart=/usr/bin/docker run ...`)
// work. A verb keel has no command for yet fails with "docker VERB: not
// supported by keel yet" and exit status 125, Docker's status for an error
// of its own (not the container's).
#pragma once

#include "cli/args.h"

#include <span>
#include <string_view>
#include <vector>

namespace keel::cli {

/// Docker's exit status for a failure of docker itself.
inline constexpr int kExitDockerError = 125;

/// One Docker verb and the words of the keel command it runs.
struct DockerVerb {
    std::string_view docker;
    std::vector<std::string_view> keel; ///< "image", "ls" for `docker images`
};

/// Docker's verbs keel answers, in the order `docker --help` lists them.
extern const std::vector<DockerVerb> kDockerVerbs;

/// The keel command line for `docker ARGS...`: the verb replaced by its
/// keel words, the rest as it is. An unknown verb, a global option before
/// it or no verb at all is an error (status 125) naming it.
std::expected<std::vector<std::string_view>, Failure>
docker_command_line(std::span<const std::string_view> args);

/// Runs `docker ARGS...` with the commands under `keel` (keel's top-level
/// group). A verb whose keel command is missing, or is one of `refused`
/// (the service manager's `stop` or `logs`, which act on units, not
/// containers), fails with status 125 instead of running it.
CommandResult run_docker(std::span<const std::string_view> args, const Command& keel,
                         std::span<const Command* const> refused);

} // namespace keel::cli
