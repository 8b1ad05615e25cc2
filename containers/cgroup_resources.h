// linux.resources as cgroup v2 control files: the spec's (cgroup v1
// shaped) values converted the way runc and crun convert them, then
// written into the container's group. The conversion is pure, so every
// rule is tested without a cgroup; applying is only opening and writing
// files relative to a directory fd.
//
// linux.resources.devices is not a file in cgroup v2 (the kernel takes a
// BPF program instead) and is not handled here.
#pragma once

#include "base/result.h"
#include "cgroups/cgroups.h"
#include "containers/spec.h"

#include <string>
#include <string_view>
#include <vector>

namespace keel::oci {

/// What apply_cgroup_writes() does when a write's file does not exist.
enum class IfMissing {
    Fail,        // the controller is not enabled (or the kernel lacks the file): an error
    Skip,        // a refinement newer kernels offer (hugetlb.2MB.rsvd.max): left out
    UseFallback, // the fallback write is made instead (io.bfq.weight -> io.weight)
};

/// One value for one control file of the group: {"memory.max", "536870912"}.
struct CgroupWrite {
    std::string file;
    std::string value;
    IfMissing if_missing = IfMissing::Fail;
    /// For IfMissing::UseFallback: the file and value written instead; a
    /// missing fallback file fails.
    std::string fallback_file;
    std::string fallback_value;

    bool operator==(const CgroupWrite&) const = default;
};

/// linux.resources as the writes that set it, in the order they are made:
///   cpuset.cpus, cpuset.mems (cpus, mems; lists like "0-3,7");
///   memory.low (reservation), memory.max (limit), memory.swap.max (swap
///     minus limit: the spec's swap counts memory and swap together, v2's
///     only swap); -1 is "max", 0 (reservation, limit, swap) is unset, as
///     runc reads them; a swap with no limit, or below the limit, is an error;
///   cpu.weight (shares, 2 to 262144, as 1 + (shares - 2) * 9999 / 262142),
///     cpu.max ("quota period", quota -1 or 0 is "max", an absent period
///     leaves the kernel's), cpu.max.burst, cpu.idle;
///   pids.max (limit, 0 or below is "max");
///   io.bfq.weight (blockIO weight, 10 to 1000, and per-device weights),
///     falling back to io.weight with the weight scaled to 1 to 10000 where
///     BFQ is not the disk's scheduler; io.max, one line per device
///     ("8:0 rbps=1048576 wiops=max"; a rate of 0 is "max", as v1 read it);
///   hugetlb.<size>.max and hugetlb.<size>.rsvd.max (the latter where the
///     kernel has it);
///   unified, verbatim and last, so that it overrides the conversions.
/// v1-only settings that cgroup v2 cannot honour (memory.swappiness,
/// disableOOMKiller, realtime cpu, leaf weights) are errors rather than
/// quietly dropped, as are values the kernel would refuse; each names its
/// field: "linux.resources.memory.swap: less than memory.limit".
/// unified keys must be "<controller>.<file>" with no "/" or "..", and may
/// not move processes (cgroup.procs, cgroup.threads).
Result<std::vector<CgroupWrite>> cgroup_v2_writes(const Resources& resources);

/// The controllers the writes need, each once, in the order first needed:
/// "memory", "cpu", "pids", "io", "cpuset", "hugetlb", or another prefix
/// of a unified key ("misc"). cgroup.* core files need none.
std::vector<std::string> controllers_needed(const std::vector<CgroupWrite>& writes);

/// linux.cgroupsPath in systemd's form, "SLICE:PREFIX:NAME" (what runc
/// and crun take with --systemd-cgroup, and containerd and podman pass
/// with their systemd cgroup driver), as the group relative to the cgroup
/// root that systemd gives the unit: the slice and its parents, one
/// directory each ("a-b.slice" is "a.slice/a-b.slice"; "-.slice" is the
/// root; empty is "system.slice"), then the scope "PREFIX-NAME.scope"
/// ("NAME.scope" without a prefix). keel makes these directories itself:
/// there is no systemd to ask over D-Bus. Malformed slice names (systemd's
/// rules: a ".slice" suffix, no "--", no leading or trailing "-", letters,
/// digits and ":_.\-" only), a NAME that is a slice, and any "/" are
/// errors that say which part: "slice `a--b.slice`: ...".
Result<std::string> systemd_cgroup_path(std::string_view path);

/// Enables `controllers` for the children of every group from the cgroup
/// root down to the parent of the group `relative` (to the cgroup root),
/// creating the parents that are missing (also when `controllers` is
/// empty), so that the group itself has them and can be made (create and
/// update call it before applying writes).
Result<void> enable_controllers(std::string_view relative,
                                const std::vector<std::string>& controllers);

/// Writes each value with one write(2) into the group open at
/// `cgroup_directory_fd`. Every file is looked up before anything is
/// written, so a controller that is not enabled is reported with nothing
/// changed: "hugetlb.3MB.max: no such limit in this cgroup (controller
/// hugetlb not enabled or size unsupported)" (errno ENOENT). A value the
/// kernel refuses stops there, naming file and value: "memory.max = 12:
/// Invalid argument"; the writes before it stay made.
Result<void> apply_cgroup_writes(int cgroup_directory_fd, const std::vector<CgroupWrite>& writes);

/// linux.resources as cgroup v1 files, for a host whose cgroups are v1 or
/// hybrid, as runc's v1 driver writes them: the spec's values mostly as
/// they are (they are v1's): cpuset.cpus, cpuset.mems;
/// memory.soft_limit_in_bytes (reservation), memory.limit_in_bytes,
/// memory.memsw.limit_in_bytes (swap: memory+swap), memory.swappiness,
/// memory.oom_control (disableOOMKiller); cpu.shares, cpu.cfs_period_us,
/// cpu.cfs_quota_us, cpu.cfs_burst_us, cpu.idle, cpu.rt_period_us,
/// cpu.rt_runtime_us; pids.max; blkio.weight (blkio.bfq.weight where CFQ
/// is gone), blkio.leaf_weight, the per-device weights and
/// blkio.throttle.*_device; hugetlb.<size>.limit_in_bytes. -1 is written
/// as -1 (unlimited), 0 is unset, as in cgroup_v2_writes(), with the same
/// checks. unified (cgroup v2 files) is an error: it cannot be honoured.
Result<std::vector<CgroupWrite>> cgroup_v1_writes(const Resources& resources);

/// Whether `resources` sets any limit at all (a cgroup file either
/// version would write).
bool sets_limits(const Resources& resources);

/// Writes into `group` (v1 or v2), each file in the directory of its
/// controller (its name's prefix: "memory.limit_in_bytes" in the memory
/// hierarchy), consecutive ones to a directory as one apply_cgroup_writes().
/// A controller with no hierarchy fails the whole set before anything is
/// written. memory.memsw.limit_in_bytes is written before
/// memory.limit_in_bytes where the new memory limit is above the group's
/// current memory+swap (the kernel keeps memory <= memory+swap).
Result<void> apply_cgroup_writes(const Cgroup& group, std::vector<CgroupWrite> writes);

} // namespace keel::oci
