// OCI hooks, private to containers/: a hook is a program run at one point
// of a container's life (prestart, createRuntime, createContainer,
// startContainer, poststart, poststop) with the container's state JSON on
// its stdin, bounded by its timeout.
#pragma once

#include "base/result.h"
#include "containers/spec.h"

#include <string_view>
#include <vector>

namespace keel::containers {

/// Runs `hooks` in order, each with `state_json` on stdin; stops at the
/// first that fails (exits non-zero, is killed, or outlives its timeout,
/// after which it is killed). Errors name the hook: "createRuntime hook
/// `/usr/bin/x`: exited with status 1". `stage` is the spec's name of the
/// point ("createRuntime").
Result<void> run_hooks(std::string_view stage, const std::vector<oci::Hook>& hooks,
                       std::string_view state_json);

} // namespace keel::containers
