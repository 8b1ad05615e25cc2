// `keel oci ...`: the OCI runtime with runc's command-line shape, so tools
// that drive runc (containerd's shim, conmon, podman --runtime) can drive
// keel: `keel oci [--root DIR] [--log FILE] [--log-format text|json] VERB`.
// Installed or linked as `keel-oci`, the binary takes the same command line
// without the `oci` word, as runc does.
#pragma once

#include "cli/args.h"

#include <span>
#include <string_view>

namespace keel::cli {

/// The `oci` group, for `keel help`.
extern const Command kOciCommand;

/// Runs `keel oci ARGS...`: runc's global options first, then a verb.
/// `argv` is the process's own, which create and run re-execute once
/// from a read-only binding of the binary (containers::ensure_sealed_binary).
CommandResult run_oci(std::span<const std::string_view> args, char** argv);

} // namespace keel::cli
