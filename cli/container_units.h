// `keel run -d` under init: a detached container becomes the transient
// unit container-NAME.service in init's runtime unit directory, whose
// ExecStart is `keel run --replace --rm --name=NAME --sdnotify=conmon` and
// the user's own options, so init restarts it, keeps its output in the
// journal and gives it a cgroup; and the container commands that follow
// such a container to its unit (`keel container logs`, and `rm -f` and
// `container stop` stopping the unit first so it is not restarted).
#pragma once

#include "base/result.h"
#include "cli/args.h"
#include "cli/output.h"
#include "containers/containers.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::cli {

/// The transient unit of container `name`: "container-web.service".
std::string transient_unit_name(std::string_view container_name);

/// The words of the ExecStart= of a detached container: `binary run
/// --replace --rm --name=NAME --sdnotify=conmon`, then each option of
/// `args` (a parsed `keel run` line) as `--long=VALUE` but -d, --rm,
/// --replace and --name, then IMAGE and the command. `-e KEY` without a
/// value is written with the value the caller's environment gives it (init's
/// would be another), and dropped when unset, as keel run drops it. With
/// --restart on-failure:N (N > 0) keel run restarts the container itself:
/// --restart is kept and --rm left out, so that it stays once exited.
std::vector<std::string> supervised_run_words(std::string_view binary,
                                              std::string_view container_name,
                                              const ParsedArgs& args);

/// What goes into a transient container unit besides its command.
struct TransientUnit {
    containers::RestartPolicy restart = containers::RestartPolicy::No;
    /// The caller's working directory: relative paths (--rootfs DIR,
    /// --env-file) mean what they meant to it.
    std::string working_directory;
    /// KEY=VALUE lines for Environment= ($KEEL_IMAGE_STORE).
    std::vector<std::string> environment;
    std::string container_name;
    std::vector<std::string> exec_start;
    /// The container's --stop-timeout: keel run's SIGKILL follows a stop
    /// after it, init's after a minute more (TimeoutStopSec=, as podman's
    /// generated units have it).
    uint32_t stop_timeout_seconds = 10;
    /// The command that wrote the unit, for its comment and Description=.
    std::string written_by = "keel run -d";
};

/// The unit file's text: Type=notify, NotifyAccess=all, KillMode=mixed,
/// TimeoutStopSec= the stop timeout and a minute, Restart= from --restart
/// (unless-stopped as always).
std::string transient_unit_text(const TransientUnit& unit);

/// `keel run -d` when init's control socket answers: writes and starts the
/// container's transient unit, waits until it is active, prints the
/// container's id and returns 0; a unit that fails has its last journal
/// lines printed and gives status 125. nullopt when init does not answer
/// (the caller runs the container detached by itself).
std::optional<CommandResult> run_detached_under_init(const ParsedArgs& args,
                                                     const containers::RunOptions& options);

/// The words of the ExecStart= of a container started again under init
/// (`keel container start`): `binary container start --attach
/// [--root=ROOT] ID`, whose keel run waits for it and restarts it by its
/// recorded policy, as a detached container's keel run does.
std::vector<std::string> supervised_start_words(std::string_view binary,
                                                std::string_view given_root,
                                                std::string_view container_id);

/// `keel container start` of an exited container when init's control
/// socket answers: its transient unit container-NAME.service (written
/// anew) runs supervised_start_words(); returns 0 once the unit is active,
/// 125 with its last journal lines when it fails. nullopt when init does
/// not answer (the caller leaves a keeper). `given_root` is --root as given.
std::optional<CommandResult> start_under_init(const std::string& given_root,
                                              const containers::RunContainer& container);

/// When container `name` has a transient unit and init answers: stops the
/// unit (so it is not restarted), removes its file and reloads init. True
/// when it did.
Result<bool> end_transient_unit(std::string_view container_name);

/// `keel container logs [-f] [-n N] CONTAINER`.
extern const Command kContainerLogsCommand;

} // namespace keel::cli
