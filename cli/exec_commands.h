// `keel exec` (also `keel container exec` and `docker exec`): a command in
// a running container that `keel run` made, with docker exec's command
// line: -d, -i, -t (combinable: -it), -e, --env-file, -u, -w, and the
// container ending the options (what follows is the command).
#pragma once

#include "base/result.h"
#include "cli/args.h"
#include "containers/containers.h"

#include <span>
#include <string_view>

namespace keel::cli {

/// `keel exec`.
extern const Command kExecCommand;

/// Gives `keel exec` the process's argv: the runtime re-executes keel from
/// a read-only binding of its binary before a container's process is made
/// (containers::ensure_sealed_binary). main() calls it first.
void set_exec_argv(char** argv);
/// The argv set_exec_argv() was given (for `keel container start`, which
/// re-executes too).
char** exec_argv();

/// What a parsed `keel exec` command line asks (errors name the flag:
/// "--workdir: `tmp` is not an absolute path"). Variables `-e KEY` and an
/// --env-file line without a value take keel's own.
Result<containers::ContainerExec> exec_request(const ParsedArgs& args);

/// exec_request() of `args` (what follows `exec`).
Result<containers::ContainerExec> parse_exec_args(std::span<const std::string_view> args);

} // namespace keel::cli
