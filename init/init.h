// The init role: keel as PID 1 of the machine (system mode) or of a PID
// namespace (container mode, like tini).
#pragma once

#include "control/types.h" // InitMode
#include "rootfs/rootfs.h" // SlotChooser, VerityLookup, SlotFailureHandler

#include <string>
#include <vector>

namespace keel {

struct InitOptions {
    InitMode mode = InitMode::System;
    std::string control_socket;
    std::vector<std::string> unit_directories;
    /// The main command (argv after `--`). In container mode init exits with
    /// its status when it ends.
    std::vector<std::string> command;
    /// Which root slot of an A/B disk boots (the updater's choice, given
    /// by main so that init needs no link to update/); unset: ROOT-A.
    SlotChooser choose_slot;
    /// The dm-verity parameters of the chosen root (update/'s); unset: the
    /// kernel command line's keel.verity.* (init/boot.h).
    VerityLookup verity_for;
    /// Marks a chosen slot that failed to boot bad (update/'s); unset: a
    /// failed boot powers off.
    SlotFailureHandler slot_failed;
    /// Starts a chosen slot's own kernel (update/'s kexec, given by main);
    /// unset: the running kernel boots every slot.
    SlotKernelBoot boot_slot_kernel;
};

/// System mode when this is the kernel's first process (no /proc yet, or
/// the initial PID namespace), container mode otherwise.
InitMode detect_init_mode();

/// Runs init. Returns the exit status in container mode; never returns in
/// system mode.
int run_init(const InitOptions& options);

} // namespace keel
