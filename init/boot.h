// What PID 1 sets up before anything runs: API filesystems, the console,
// kernel logging, the hostname, boot-time modules, the switch to a disk
// root. The end of the system is init/shutdown.h.
#pragma once

#include "base/cmdline.h"
#include "base/result.h"
#include "rootfs/rootfs.h"

#include <chrono>
#include <string>
#include <vector>

namespace keel {

/// Mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /dev/mqueue, /run, /tmp
/// and cgroup2 at /sys/fs/cgroup, skipping what is already mounted, and
/// makes / recursively shared. Returns the first fatal error (/proc, /sys,
/// /dev are fatal; the others are logged).
Result<void> mount_api_filesystems();

/// Makes sure fds 0-2 are open, on /dev/console when the kernel could not
/// give us one (an initramfs without a /dev/console node).
void attach_console();

/// Lifts the /dev/kmsg rate limit for PID 1's log unless the command line
/// sets printk.devkmsg, and sends kernel log lines from keel there.
void setup_kernel_logging(const KernelCommandLine& cmdline);

/// Sets the hostname from keel.hostname=, /etc/hostname, or "keel".
Result<void> set_hostname(const KernelCommandLine& cmdline);

/// Brings the loopback interface up, as systemd's PID 1 does: the kernel
/// gives it 127.0.0.1/8 and ::1 then. Services talking to localhost, and
/// ports a container publishes on 127.0.0.1, need it.
Result<void> bring_up_loopback();

/// Where modules-load.d(5) files are read from, as systemd does (a later
/// directory's file of the same name wins).
inline const std::vector<std::string> kModulesLoadDirectories = {
    "/usr/lib/modules-load.d", "/etc/modules-load.d", "/run/modules-load.d"};

/// Module names listed in the `*.conf` files of `directories`: one per line,
/// `#` and `;` start comments.
std::vector<std::string> configured_modules(const std::vector<std::string>& directories);

/// Loads the modules listed in modules-load.d and in keel.modules= (comma
/// separated, repeatable), with their dependencies and their `module.param=`
/// values. Failures are logged per module; the boot goes on.
void load_boot_modules(const KernelCommandLine& cmdline);

/// The updater's parts of the disk boot, given by the binary's main (init
/// has no link to update/); an unset one is not used.
struct DiskBootHooks {
    SlotChooser choose_slot;
    /// The slot's own dm-verity parameters (its signed manifest); where it
    /// has none (nullopt, or unset), keel.verity.root_hash= and
    /// keel.verity.hash_offset= from the command line
    /// (verity_lookup_from_command_line); see disk_verity_lookup.
    VerityLookup verity_for;
    SlotFailureHandler slot_failed;
    /// Starts a chosen slot's own kernel (update/'s kexec); unset: the
    /// running kernel boots every slot.
    SlotKernelBoot boot_slot_kernel;
};

/// The dm-verity lookup of a disk boot: the slot's own parameters
/// (`slot_manifest`, the signed manifest in its footer) when it gives
/// some, else keel.verity.root_hash= from `cmdline` when set, else the
/// slot's answer, which may refuse an unverified root (trusted update keys
/// and no signed manifest); keel.root= in `cmdline` lifts that refusal: the
/// operator named the partition to mount as it is.
VerityLookup disk_verity_lookup(const KernelCommandLine& cmdline, VerityLookup slot_manifest);

/// From an initramfs, boots the disk (rootfs/rootfs.h): keel.root= (default
/// PARTLABEL=ROOT-A, or the slot `hooks.choose_slot` picks on ROOT-A's
/// disk), keel.rootwait=, keel.state=wipe, the root through dm-verity when
/// `hooks.verity_for` says so. Does not return when the root was switched
/// (keel from the new root runs as PID 1); returns when / is not an
/// initramfs or there is no disk root to boot (no slot can boot included).
/// Reboots when the chosen slot failed and was marked bad; powers off when
/// a disk root was asked for or found but cannot be booted.
void boot_from_disk(const KernelCommandLine& cmdline, const DiskBootHooks& hooks);

} // namespace keel
