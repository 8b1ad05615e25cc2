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

/// What a failing hook means. The runtime spec: a failing prestart,
/// createRuntime, createContainer or startContainer hook fails the
/// operation; a failing poststart or poststop hook is a warning, and the
/// hooks after it still run.
enum class HookFailure { Fails, Warns };

/// Runs `hooks` in order, each with `state_json` on stdin. A hook fails by
/// exiting non-zero, being killed, or outliving its timeout (it is then
/// killed); with HookFailure::Fails the first failure stops the run and is
/// returned, with Warns it is logged and the next hook runs. Failures name
/// the hook: "createRuntime hook `/usr/bin/x`: exited with status 1".
/// `stage` is the spec's name of the point ("createRuntime").
Result<void> run_hooks(std::string_view stage, const std::vector<oci::Hook>& hooks,
                       std::string_view state_json, HookFailure on_failure = HookFailure::Fails);

} // namespace keel::containers
