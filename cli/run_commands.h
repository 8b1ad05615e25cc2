// `keel run`: a container from an image (or, as Podman's --rootfs, from a
// directory), with docker's command line: short and long flags, `-e K=V`,
// `-eK=V`, `--env=K=V`, repeated flags, `-it`, and the image ending the
// options (what follows is the container's command). The flags become a
// containers::RunOptions; containers/run_spec.h makes its config.json.
#pragma once

#include "base/result.h"
#include "cli/args.h"
#include "containers/containers.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::cli {

/// `keel run`.
extern const Command kRunCommand;

/// `keel ps [-a]`, `keel rm [-f]`, `keel stop`, `keel kill`, `keel inspect`:
/// over the containers `keel run` made (ROOT/containers/ID/container.json),
/// by name, id or a unique id prefix.
extern const Command kPsCommand;
extern const Command kRmCommand;
extern const Command kStopCommand;
extern const Command kKillCommand;
extern const Command kInspectCommand;
/// `keel container start [-a] CONTAINER...`, `--boot`, and `keel container
/// restart [-t N] CONTAINER...`: exited containers started again
/// (containers::start_container), under init as transient units.
extern const Command kContainerStartCommand;
extern const Command kContainerRestartCommand;
/// `keel port CONTAINER [PORT]`: where its ports are published.
extern const Command kPortCommand;
extern const Command kStatsCommand;
/// `keel container ps|stop|kill|rm|inspect` (top-level `keel stop` and
/// `keel kill` are the service manager's).
extern const Command kContainerCommand;
/// stop's and restart's -t/--time SECONDS (keel stop NAME passes it on to a
/// container's stop).
inline constexpr Option kStopTimeOption{
    .name = "--time",
    .short_name = 't',
    .value_name = "SECONDS",
    .type = ValueType::Number,
    .max = 24 * 3600,
    .help = "seconds before SIGKILL (default: the container's --stop-timeout)",
};

/// The environment -e and --env-file give, in the order given (a later one
/// wins); `-e KEY` and an --env-file line without `=` take keel's own
/// value of KEY, and are left out when keel has none. Errors name the flag.
/// keel run's and keel exec's.
Result<std::vector<std::string>> environment_options(const ParsedArgs& args);

/// The options `args` (what follows `run`) give; errors name the flag:
/// "run: --memory: bad size `12x` (...)". Variables `-e KEY` and an
/// --env-file name without a value are taken from keel's environment.
Result<containers::RunOptions> parse_run_args(std::span<const std::string_view> args);

/// Runs `keel run ARGS...`; `argv` is the process's own, which run
/// re-executes once from a read-only binding of the binary
/// (containers::ensure_sealed_binary).
CommandResult run_run(std::span<const std::string_view> args, char** argv);

/// The options a parsed `keel run` command line gives (parse_run_args()
/// after the parse).
Result<containers::RunOptions> run_options(const ParsedArgs& args);

} // namespace keel::cli
