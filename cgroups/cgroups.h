// cgroup v2: one group per unit under keel.slice, with the limits systemd's
// MemoryMax=, MemoryHigh=, CPUQuota=, TasksMax=, CPUWeight=, IOWeight= and
// IO*BandwidthMax= describe, process placement, stats, freeze and kill.
// On a host whose cgroups are v1 (or hybrid: cgroup2 holds no controllers
// there), a Cgroup is one directory in each v1 hierarchy instead, for
// containers; unit limits stay cgroup v2's.
#pragma once

#include "base/fd.h"
#include "base/mountinfo.h"
#include "base/result.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel {

/// Where cgroup2 is mounted.
inline constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

/// One block device's bandwidth limits in io.max (IOReadBandwidthMax=,
/// IOWriteBandwidthMax=).
struct IoBandwidthLimit {
    /// As the unit names it: a block device node ("/dev/vda"), or a path on
    /// a filesystem, which means the disk holding that filesystem.
    std::string device;
    std::optional<uint64_t> read_bytes_per_second;  ///< rbps
    std::optional<uint64_t> write_bytes_per_second; ///< wbps
    /// The whole disk's "MAJ:MIN", filled in by resolve_io_devices(); a
    /// limit without one is not written (its device was not found).
    std::string number;
};

struct CgroupLimits {
    std::optional<uint64_t> memory_max;         // bytes (memory.max)
    std::optional<uint64_t> memory_high;        // MemoryHigh= -> memory.high (throttle, no OOM)
    std::optional<uint32_t> cpu_quota_percent;  // CPUQuota=50% -> cpu.max "50000 100000"
    std::optional<uint64_t> tasks_max;          // pids.max
    std::optional<uint32_t> cpu_weight;         // CPUWeight= -> cpu.weight (1 to 10000)
    std::optional<uint32_t> io_weight;          // IOWeight= -> io.weight "default N" (1 to 10000)
    std::vector<IoBandwidthLimit> io_bandwidth; // IO*BandwidthMax= -> io.max, one line a disk

    bool empty() const {
        return !memory_max && !memory_high && !cpu_quota_percent && !tasks_max && !cpu_weight &&
               !io_weight && io_bandwidth.empty();
    }
};

/// Parses systemd's spellings: MemoryMax=512M|1G|infinity|50%? (percent of
/// RAM is not supported), CPUQuota=150%, TasksMax=100|infinity. Errors name
/// the key and the value.
///
/// MemoryMax, MemoryHigh: bytes, or a number with K, M, G, T, P or E (powers
/// of 1024, as systemd; uppercase only), a decimal fraction allowed with a
/// suffix ("1.5G" = 1610612736, rounded down to a byte); at least 1 byte.
/// CPUQuota: a whole percentage of one CPU, 1% to 100000%. TasksMax: 1 to
/// 4194304 (the kernel's PID_MAX_LIMIT). nullopt means no limit: "infinity"
/// (MemoryMax, MemoryHigh, TasksMax) or an empty value (all, systemd's "reset").
Result<std::optional<uint64_t>> parse_memory_max(std::string_view value);
Result<std::optional<uint64_t>> parse_memory_high(std::string_view value);
Result<std::optional<uint32_t>> parse_cpu_quota(std::string_view value);
Result<std::optional<uint64_t>> parse_tasks_max(std::string_view value);

/// CPUWeight=: 1 to 10000 (cpu.weight; 100 is every group's default), or
/// empty for the default. systemd's "idle" is not supported.
Result<std::optional<uint32_t>> parse_cpu_weight(std::string_view value);

/// IOWeight=: 1 to 10000 (io.weight's default weight; 100 is every group's
/// default), or empty for the default. Per-device IODeviceWeight= is not
/// supported.
Result<std::optional<uint32_t>> parse_io_weight(std::string_view value);

/// Which way an IO bandwidth limit applies.
enum class IoDirection { Read, Write };

/// IOReadBandwidthMax= / IOWriteBandwidthMax= ("DEVICE BYTES", systemd's
/// syntax: BYTES per second with K, M, G or T as powers of 1000, or
/// infinity) into `limits`: a later setting for the same device replaces
/// the earlier one; an empty value clears every limit of that direction.
/// Errors name the key and the value.
Result<void> parse_io_bandwidth(std::string_view value, IoDirection direction,
                                std::vector<IoBandwidthLimit>& limits);

/// Fills in each limit's disk number: the device node's, or the device of
/// the filesystem a path is on, and for a partition its whole disk (io.max
/// takes disks), found through `sys_dev_block`. As systemd, a device that
/// cannot be found (no such path, a filesystem on no block device) keeps
/// an empty number and is skipped.
void resolve_io_devices(CgroupLimits& limits, std::string_view sys_dev_block = "/sys/dev/block");

/// The period keel writes to cpu.max: quota = percent * 1000 of 100000 us.
inline constexpr uint64_t kCpuPeriodUsec = 100000;

struct CgroupStats {
    uint64_t memory_current = 0;
    uint64_t tasks_current = 0;
    uint64_t cpu_usage_usec = 0;
    uint64_t oom_kills = 0; // memory.events oom_kill
};

/// True when cgroup v2 is mounted at `root` (cgroup.controllers exists).
bool cgroup2_available(std::string_view root = kCgroupRoot);

/// Whether device access can be limited per group: cgroup v2 at `root`
/// (with a BPF program), or a cgroup v1 devices hierarchy under it.
bool device_cgroup_available(std::string_view root = kCgroupRoot);

/// One cgroup v1 hierarchy: its controllers and where it is mounted.
struct CgroupHierarchy {
    std::vector<std::string> controllers; // {"cpu", "cpuacct"}
    std::string directory;                // "/sys/fs/cgroup/cpu,cpuacct"
};

/// The cgroup v1 hierarchies mounted under `root` (a v1 or hybrid host):
/// the mount table's cgroup (v1) mounts directly under it, each with the
/// controllers its mount options name ("rw,cpu,cpuacct" gives {"cpu",
/// "cpuacct"}, "rw,xattr,name=systemd" gives {"name=systemd"}), whatever
/// its directory is called. Where the table lists none there (a copy of
/// the layout, as the tests make, or no /proc), the directories with a
/// cgroup.procs that are neither symlinks (a second name of one) nor
/// cgroup2 (a hybrid host's "unified"), each named by its controllers as
/// systemd and cgroupfs-mount name them ("memory", "cpu,cpuacct").
/// Sorted by directory, but the freezer's first. Empty where `root` is
/// cgroup2 or none is found.
std::vector<CgroupHierarchy> cgroup_v1_hierarchies(std::string_view root = kCgroupRoot);
/// The cgroup v1 mounts of a mount table directly under `root` (the last
/// one at a place, which hides those before it), with their controllers,
/// sorted by directory: cgroup_v1_hierarchies()'s first look.
std::vector<CgroupHierarchy> cgroup_v1_mounts(std::span<const MountEntry> mounts,
                                              std::string_view root);

/// Enables the memory, cpu and pids controllers (and io, when the kernel
/// has it) for children of `root` and creates keel.slice with them enabled
/// too.
///
/// Idempotent. The root of the hierarchy may hold processes (PID 1 does);
/// any other group may not both hold processes and enable controllers
/// (cgroup v2's "no internal processes" rule): when `root` is such a group
/// (keel as init of a container given a delegated subtree), its processes
/// are moved to `root`/init.scope first, as systemd does. A controller the
/// kernel lacks (cgroup_disable=memory) is skipped, not an error: groups
/// still track and kill processes, and a limit that needs the missing
/// controller fails in Cgroup::apply, naming it.
Result<void> setup_cgroup_tree(std::string_view root = kCgroupRoot);

/// Which of memory, cpu and pids `root` cannot offer (for a boot warning).
Result<std::vector<std::string>> missing_cgroup_controllers(std::string_view root = kCgroupRoot);

/// The group of units: `root`/keel.slice.
inline constexpr std::string_view kKeelSlice = "keel.slice";

/// A group's directory in one cgroup v1 hierarchy.
struct CgroupV1Directory {
    std::vector<std::string> controllers;
    std::string path;
};

/// What Cgroup::create does with a group that is there already.
enum class IfExists {
    Reuse, // take it as it is (a unit's group across restarts)
    Fail,  // EEXIST: the mkdir is the claim (a container's group)
};

class Cgroup {
public:
    /// Creates (or reuses) `root`/`relative` (e.g. "keel.slice/web.service")
    /// and applies `limits`.
    /// `relative` is one or more names joined by "/" (no "", ".", ".."); a
    /// group that had to be created is removed again if the limits cannot
    /// be applied.
    /// Where `root` is not cgroup2 but v1 hierarchies are mounted under it,
    /// the group is made in each of them (its cpuset levels with their
    /// parent's cpus and mems where empty), and limits are refused: they
    /// are cgroup v2 files. With IfExists::Fail a group that is there (in
    /// the first hierarchy, on v1) is EEXIST: "cgroup `X` exists already".
    static Result<Cgroup> create(std::string relative, const CgroupLimits& limits,
                                 std::string_view root = kCgroupRoot,
                                 IfExists if_exists = IfExists::Reuse);
    /// An existing group, unchanged (for stats, kill, remove); on v1, its
    /// directories in the hierarchies that have it (ENOENT where none has).
    static Result<Cgroup> open(std::string relative, std::string_view root = kCgroupRoot);
    /// The group's directory; on v1, its directory in the first hierarchy.
    const std::string& path() const { return m_path; }
    /// True where the group is a set of cgroup v1 directories.
    bool v1() const { return !m_v1.empty(); }
    /// Where `controller`'s files ("memory.max", "memory.limit_in_bytes")
    /// are: the group's directory on v2; on v1 its directory in that
    /// controller's hierarchy, nullopt where none is mounted.
    std::optional<std::string> directory_of(std::string_view controller) const;
    /// The group's directory, for spawn (the child joins before exec).
    Result<Fd> open_directory() const;
    /// Every directory of the group: the one on v2, one per hierarchy on v1
    /// (spawn's cgroup_fd and more_cgroup_fds).
    Result<std::vector<Fd>> open_directories() const;
    Result<void> add_process(pid_t pid) const;
    /// The processes in the group and in every group below it (a unit's
    /// supervisor and container groups).
    Result<std::vector<pid_t>> processes() const;
    /// Counters of controllers that are not enabled for the group read 0.
    Result<CgroupStats> stats() const;
    /// How far a group's knobs can be trusted to read "max".
    enum class Knobs {
        AsFound, // a group that was there: any knob may hold an old limit
        Fresh,   // a group just made: every knob reads "max"
    };
    /// Sets memory.max, memory.high, cpu.max, pids.max, cpu.weight,
    /// io.weight and io.max; a limit left unset is written as "max"
    /// (cpu.weight as 100, io.weight as "default 100", a disk io.max lists
    /// but the limits do not name as "max"), so re-applying removes an old
    /// limit, except into Fresh knobs. The io knobs are best effort, as in
    /// systemd: without the io controller (or, for io.weight, a kernel
    /// without blk-iocost), or for a disk the kernel refuses, they are
    /// skipped. Any other limit whose controller is not enabled for the
    /// group is an error, found before anything is written.
    Result<void> apply(const CgroupLimits& limits, Knobs knobs = Knobs::AsFound) const;
    /// cgroup.kill (SIGKILL to every process in the group, kernel >= 5.14);
    /// on older kernels and v1, SIGKILL to each pid in cgroup.procs until
    /// no new one appears (on v1 frozen meanwhile where a freezer is, as
    /// runc does, so that none forks away). Returns once all were signalled: they may still be
    /// exiting, see populated().
    Result<void> kill() const;
    /// Writes cgroup.freeze and waits (at most 1 s) until cgroup.events
    /// says the group is frozen: its processes stop where they are. On v1,
    /// freezer.state, until it reads FROZEN.
    Result<void> freeze() const;
    /// The same back: the group's processes run again.
    Result<void> thaw() const;
    /// Whether the group is frozen (cgroup.freeze is 1; on v1, freezer.state
    /// reads FROZEN).
    Result<bool> frozen() const;
    /// True while the group or a descendant has a live process
    /// (cgroup.events "populated"; on v1, any pid in cgroup.procs below).
    Result<bool> populated() const;
    /// Removes the (empty) group.
    Result<void> remove() const;
    /// Removes the group's child groups, deepest first, then the group:
    /// what a container with a cgroup namespace of its own made inside
    /// its group (every group in the tree must be empty of processes).
    Result<void> remove_tree() const;

private:
    explicit Cgroup(std::string path) : m_path(std::move(path)) {}
    explicit Cgroup(std::vector<CgroupV1Directory> directories)
        : m_path(directories.front().path), m_v1(std::move(directories)) {}
    Result<void> apply_io_bandwidth(const CgroupLimits& limits, Knobs knobs) const;
    enum class Freezer { Frozen, Thawed };
    Result<void> set_freezer(Freezer state) const;
    // The v1 side.
    static Result<Cgroup> create_v1(const std::string& relative, const CgroupLimits& limits,
                                    const std::vector<CgroupHierarchy>& hierarchies,
                                    IfExists if_exists);
    static Result<Cgroup> open_v1(const std::string& relative,
                                  const std::vector<CgroupHierarchy>& hierarchies);
    Result<CgroupStats> stats_v1() const;
    Result<void> set_freezer_v1(Freezer state) const;
    Result<void> kill_each() const;
    Result<void> remove_v1(bool tree) const;
    std::string m_path;
    std::vector<CgroupV1Directory> m_v1; // empty on cgroup v2
};

/// The child group of a unit's group that holds the unit's own processes
/// once a container has a group of its own below the unit's (cgroup v2
/// lets only a group without processes give controllers to children).
/// init starts a unit's processes there when it exists.
inline constexpr std::string_view kSupervisorGroup = "supervisor";

/// The unit (a keel.slice child: "web.service") process `pid` runs in,
/// from /proc/PID/cgroup ("self" for the caller); nullopt when it runs in
/// none of keel.slice's groups or is gone.
std::optional<std::string> unit_of_process(std::string_view pid);

/// The group of the keel unit the calling process runs in, relative to
/// the cgroup root ("keel.slice/web.service"; its supervisor child counts
/// as the unit's own); nullopt when it runs in none (another group, or no
/// cgroup v2 at `root`).
std::optional<std::string> own_unit_group(std::string_view root = kCgroupRoot);

/// Moves every process of `group` (relative to `root`) into its
/// supervisor child, made if missing, until none is left (a fork may race
/// the move: a few rounds), so that the group can have children with
/// controllers.
Result<void> move_into_supervisor(const std::string& group, std::string_view root = kCgroupRoot);

} // namespace keel
