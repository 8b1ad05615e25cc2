// cgroup v2: one group per unit under keel.slice, with the limits systemd's
// MemoryMax=, CPUQuota= and TasksMax= describe, process placement, stats,
// freeze and kill.
#pragma once

#include "base/fd.h"
#include "base/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel {

/// Where cgroup2 is mounted.
inline constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

struct CgroupLimits {
    std::optional<uint64_t> memory_max;        // bytes (memory.max)
    std::optional<uint32_t> cpu_quota_percent; // CPUQuota=50% -> cpu.max "50000 100000"
    std::optional<uint64_t> tasks_max;         // pids.max
};

/// Parses systemd's spellings: MemoryMax=512M|1G|infinity|50%? (percent of
/// RAM is not supported), CPUQuota=150%, TasksMax=100|infinity. Errors name
/// the key and the value.
Result<std::optional<uint64_t>> parse_memory_max(std::string_view value);
Result<std::optional<uint32_t>> parse_cpu_quota(std::string_view value);
Result<std::optional<uint64_t>> parse_tasks_max(std::string_view value);

struct CgroupStats {
    uint64_t memory_current = 0;
    uint64_t tasks_current = 0;
    uint64_t cpu_usage_usec = 0;
    uint64_t oom_kills = 0; // memory.events oom_kill
};

/// True when cgroup v2 is mounted at `root` (cgroup.controllers exists).
bool cgroup2_available(std::string_view root = kCgroupRoot);

/// Enables the memory, cpu and pids controllers for children of `root`
/// and creates keel.slice with them enabled too.
Result<void> setup_cgroup_tree(std::string_view root = kCgroupRoot);

class Cgroup {
public:
    /// Creates (or reuses) `root`/`relative` (e.g. "keel.slice/web.service")
    /// and applies `limits`.
    static Result<Cgroup> create(std::string relative, const CgroupLimits& limits,
                                 std::string_view root = kCgroupRoot);
    const std::string& path() const { return m_path; }
    /// The group's directory, for spawn (the child joins before exec).
    Result<Fd> open_directory() const;
    Result<void> add_process(pid_t pid) const;
    Result<std::vector<pid_t>> processes() const;
    Result<CgroupStats> stats() const;
    Result<void> apply(const CgroupLimits& limits) const;
    /// cgroup.kill (SIGKILL to every process in the group).
    Result<void> kill() const;
    Result<void> freeze(bool frozen) const;
    /// Removes the (empty) group.
    Result<void> remove() const;

private:
    std::string m_path;
};

} // namespace keel
