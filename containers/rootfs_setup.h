// The container's root filesystem, as the runtime's child builds it in its
// new mount namespace before exec: the rootfs bound onto itself, the spec's
// mounts under it, /dev, then the switch into it (pivot_root or MS_MOVE +
// chroot), then what has to happen inside (sysctls, masked and read-only
// paths, a read-only root).
//
// Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT):
// a symlink in the image ("/etc" -> "/..", "dev/null" -> "/etc/shadow") is
// followed as if the rootfs were "/", never out of it onto the host, and
// mounts are made on the opened file (/proc/self/fd/N, or fd to fd with the
// new mount API), so nothing can swap the target between the check and the
// mount.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "containers/containers.h"
#include "containers/spec.h"

#include <span>
#include <string>
#include <vector>

namespace keel::oci {

/// How enter_rootfs() makes the rootfs "/" (containers.h, as `create`
/// takes it).
using RootEntry = containers::RootEntry;

/// In the child, in its new mount namespace, before the rootfs is entered:
/// - makes "/" as linux.rootfsPropagation says (default rslave, as runc: the
///   host's later mounts still reach the container, none of the container's
///   reach the host), and the mount holding the rootfs private when that is
///   shared (pivot_root refuses a shared parent);
/// - binds `rootfs` (relative: to `bundle`) onto itself, recursively;
/// - mounts a tmpfs on /dev (mode 755) unless a spec mount is at /dev;
/// - mounts every spec.mounts[] entry in order: bind and rbind (sources
///   relative to `bundle`) with their flags and propagation, and new
///   filesystems (tmpfs, proc, sysfs, mqueue, devpts, ...); "cgroup" is
///   cgroup2 when the host's /sys/fs/cgroup is, else a recursive bind of the
///   host's /sys/fs/cgroup. Missing targets are made (a file for a bind of a
///   file); proc and sysfs are never mounted over a symlink. Read-only on a
///   bind mount waits for finish_rootfs(), so later mounts can still make
///   their targets under it. An idmapped bind mount ("idmap", "ridmap") is
///   attached from `idmapped_trees` (prepare_idmapped_mounts());
/// - unless /dev is a spec bind mount: the default devices (null, zero,
///   full, random, urandom, tty; bound from the host's when mknod is not
///   allowed, as in a user namespace), linux.devices, /dev/pts (devpts
///   newinstance, ptmxmode=0666, mode=620) and /dev/shm unless the spec
///   mounts them, and the links fd, stdin, stdout, stderr and ptmx.
/// Errors name the spec entry: "mounts[3] (/proc): mount proc: Operation not
/// permitted".
Result<void> prepare_rootfs(const Spec& spec, const std::string& rootfs, const std::string& bundle,
                            std::span<const Fd> idmapped_trees);

/// In the runtime, before the container's process exists: for each
/// mounts[] entry with "idmap" or "ridmap" (bind mounts only), a detached
/// bind mount of its source idmapped through a user namespace made for it
/// with the entry's uidMappings and gidMappings, or the container's own
/// mappings when it has none ("ridmap": its submounts too). Made here,
/// where the runtime holds the rights over the source's filesystem that a
/// process in the container's user namespace lacks; the child attaches
/// them. One element per mount, empty for the others. Mappings without
/// idmap, or idmap on anything but a bind mount, are refused.
Result<std::vector<Fd>> prepare_idmapped_mounts(const Spec& spec, const std::string& bundle);

/// Makes the prepared `rootfs` "/" as `entry` says, then chdir("/").
Result<void> enter_rootfs(const std::string& rootfs, RootEntry entry);

/// Inside the new root, in this order: linux.sysctl written under /proc/sys
/// (which must be a procfs); linux.maskedPaths (a file gets /dev/null bound
/// over it, a directory a read-only empty tmpfs; missing paths are skipped);
/// linux.readonlyPaths (bound onto themselves read-only, nosuid, nodev,
/// noexec, with their submounts; missing ones skipped); the read-only flag
/// of the spec's bind mounts; root.readonly. The /dev/null used for masks
/// must be the character device 1:3 itself, not a symlink nor another file
/// the image put there (the runc /dev/null swap): else masking fails.
Result<void> finish_rootfs(const Spec& spec);

/// Before anything is created: each linux.sysctl key must be one a new
/// namespace of the spec isolates, as runc checks: kernel.msg{max,mnb,mni},
/// kernel.sem, kernel.shm{all,max,mni}, kernel.shm_rmid_forced and fs.mqueue.*
/// need an ipc namespace, net.* a network namespace, kernel.domainname a uts
/// namespace, kernel.hostname a uts namespace and no `hostname` in the spec
/// (which would set it too); anything else is refused. A namespace joined by
/// path that is the runtime's own counts as none.
Result<void> check_sysctls(const Spec& spec);

} // namespace keel::oci
