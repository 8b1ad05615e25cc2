// The mount table as /proc/<pid>/mountinfo describes it (proc(5)), parsed:
// the root filesystem's steps (rootfs/), the runtime's mounts (containers/)
// and the cgroup v1 hierarchies (cgroups/) read it.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

/// One line of /proc/<pid>/mountinfo (proc(5)), names unescaped.
struct MountEntry {
    uint32_t id = 0;
    uint32_t parent_id = 0;
    uint32_t major = 0, minor = 0; // the filesystem's device (st_dev); major 0: no block device
    std::string root;              // the directory of the filesystem mounted here
    std::string point;             // where, as the reading process sees it
    std::string options;           // per mount: "rw,noatime"
    std::string type;              // "ext4", "overlay"
    std::string source;            // "/dev/vda3", "tmpfs"
    std::string super_options;     // the filesystem's: "rw,errors=remount-ro"

    bool read_only() const;            // this mount
    bool superblock_read_only() const; // the filesystem under every mount of it
};

/// Parses mountinfo text, in mount order. Errors name the line.
Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text);
/// Reads and parses a mountinfo file.
Result<std::vector<MountEntry>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

} // namespace keel
