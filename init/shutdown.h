// The end of a system PID 1: every process ended, the filesystems left
// clean, reboot(2).
#pragma once

#include "control/types.h"

#include <chrono>
#include <string_view>

namespace keel {

/// SIGTERM to every process, up to `grace` to exit (reaping), then SIGKILL.
/// Only for a PID 1: kill(-1) reaches everything in the PID namespace.
void terminate_all_processes(std::chrono::milliseconds grace);

/// The API filesystems, which stay mounted to the end: the kernel does not
/// need them unmounted, and PID 1 still reads /proc.
inline constexpr std::string_view kApiMountPoints[] = {
    "/",        "/proc", "/sys", "/dev",           "/dev/pts",
    "/dev/shm", "/run",  "/tmp", "/sys/fs/cgroup", "/dev/mqueue"};

/// Where writable block-device filesystems are pinned while their mounts
/// go (rootfs/rootfs.h, unmount_all).
inline constexpr std::string_view kShutdownPinDirectory = "/run/keel/shutdown";

/// sync; unmount everything but the API filesystems as rootfs's
/// unmount_all does (what stays is remounted read-only and what holds it
/// is named on the console); remount / read-only; reboot(2) (for Kexec:
/// into the loaded kernel, or a plain reboot when that fails). Call it after
/// every process has ended and PID 1 has closed its own files (the
/// journal's): what PID 1 holds open keeps a filesystem busy too.
[[noreturn]] void end_system(PowerAction action);

} // namespace keel
