// linux.resources to cgroup v2 files (see cgroup_resources.h). The
// conversions follow runc's libcontainer/cgroups/fs2 and crun's
// cgroup-resources.c, including reading 0 as "unset" where their v1-era
// structures did; the bounds are the kernel's, so that a value it would
// refuse is reported against the config's field before anything is
// written.
#include "containers/cgroup_resources.h"

#include "base/fd.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::oci {

namespace {

constexpr std::string_view kResourcesField = "linux.resources";

// cpu.max: the kernel's min_cfs_quota_period and max_cfs_quota_period (us).
constexpr uint64_t kMinCpuPeriod = 1000;
constexpr uint64_t kMaxCpuPeriod = 1000000;
constexpr int64_t kMinCpuQuota = 1000;
// cpu.shares of cgroup v1 (MIN_SHARES, MAX_SHARES) and cpu.weight of v2.
constexpr uint64_t kMinShares = 2;
constexpr uint64_t kMaxShares = 262144;
constexpr uint64_t kMaxWeight = 10000;
// blkio.weight of v1; io.bfq.weight takes the same range.
constexpr uint16_t kMinBlockWeight = 10;
constexpr uint16_t kMaxBlockWeight = 1000;

std::string field_name(std::string_view path) {
    return cat(kResourcesField, ".", path);
}

// "0-3,7": what cpuset.cpus and cpuset.mems take.
bool is_id_list(std::string_view text) {
    for (std::string_view range : split(text, ',')) {
        std::vector<std::string_view> ends = split(range, '-');
        if (ends.size() > 2)
            return false;
        for (std::string_view end : ends)
            if (!parse_u64(end))
                return false;
    }
    return true;
}

// The files of the memory limits in each version, and how each writes
// "no limit".
struct MemoryFiles {
    std::string_view reservation, limit, swap, unlimited;
    bool swap_counts_memory; // v1's memsw is memory+swap, as the spec's swap
};
constexpr MemoryFiles kMemoryFilesV2{"memory.low", "memory.max", "memory.swap.max", "max", false};
constexpr MemoryFiles kMemoryFilesV1{"memory.soft_limit_in_bytes", "memory.limit_in_bytes",
                                     "memory.memsw.limit_in_bytes", "-1", true};

// reservation, limit and swap, checked alike for both versions: -1 is no
// limit, 0 (as runc reads them) unset; a swap needs a limit to count from.
// (Each value is had before its write is built: GCC 12 leaks the file name
// of a braced CgroupWrite whose later member returns early.)
Result<void> memory_limit_writes(const MemoryResources& memory, const MemoryFiles& files,
                                 std::vector<CgroupWrite>& out) {
    auto limit_text = [&](int64_t value, std::string_view path) -> Result<std::string> {
        if (value == -1)
            return std::string(files.unlimited);
        if (value < 0)
            return error(
                cat(field_name(path), ": ", value, " is negative (only -1, unlimited, is)"));
        return cat(value);
    };
    int64_t limit = memory.limit.value_or(0);
    if (memory.reservation && *memory.reservation != 0) {
        std::string value = TRY(limit_text(*memory.reservation, "memory.reservation"));
        out.push_back({std::string(files.reservation), std::move(value)});
    }
    if (limit != 0) {
        std::string value = TRY(limit_text(limit, "memory.limit"));
        out.push_back({std::string(files.limit), std::move(value)});
    }
    if (memory.swap) {
        int64_t swap = *memory.swap;
        std::string field = field_name("memory.swap");
        // As runc: an unlimited memory with swap unset makes swap unlimited
        // too ("memory and swap unlimited" in v1's terms); otherwise v2's
        // swap is the spec's memory+swap less memory.
        if (swap == -1 || (swap == 0 && limit == -1)) {
            out.push_back({std::string(files.swap), std::string(files.unlimited)});
        } else if (swap < -1) {
            return error(cat(field, ": ", swap, " is negative (only -1, unlimited, is)"));
        } else if (swap > 0) {
            if (limit <= 0)
                return error(cat(field, ": needs a memory.limit (swap counts memory and swap)"));
            if (swap < limit)
                return error(cat(field, ": less than memory.limit"));
            out.push_back(
                {std::string(files.swap), cat(files.swap_counts_memory ? swap : swap - limit)});
        }
    }
    return {};
}

Result<void> memory_writes(const MemoryResources& memory, std::vector<CgroupWrite>& out) {
    TRY(memory_limit_writes(memory, kMemoryFilesV2, out));
    if (memory.swappiness)
        return error(field_name("memory.swappiness: cgroup v2 has no per-group swappiness"));
    if (memory.disable_oom_killer)
        return error(
            field_name("memory.disableOOMKiller: cgroup v2 cannot turn the OOM killer off"));
    // useHierarchy is always on in v2; checkBeforeUpdate concerns updates.
    return {};
}

// The bandwidth values both versions take, in the kernel's bounds.
Result<void> check_cpu_values(const CpuResources& cpu) {
    int64_t quota = cpu.quota.value_or(0);
    uint64_t period = cpu.period.value_or(0);
    if (quota < -1)
        return error(
            cat(field_name("cpu.quota"), ": ", quota, " is negative (only -1, unlimited, is)"));
    if (quota > 0 && quota < kMinCpuQuota)
        return error(
            cat(field_name("cpu.quota"), ": ", quota, " is below ", kMinCpuQuota, " microseconds"));
    if (period != 0 && (period < kMinCpuPeriod || period > kMaxCpuPeriod))
        return error(cat(field_name("cpu.period"), ": ", period, " is not ", kMinCpuPeriod, " to ",
                         kMaxCpuPeriod, " microseconds"));
    if (cpu.burst && quota > 0 && *cpu.burst > uint64_t(quota))
        return error(cat(field_name("cpu.burst"), ": ", *cpu.burst, " is above cpu.quota"));
    if (cpu.idle && *cpu.idle != 0 && *cpu.idle != 1)
        return error(cat(field_name("cpu.idle"), ": ", *cpu.idle, " is not 0 or 1"));
    return {};
}

Result<void> cpu_writes(const CpuResources& cpu, std::vector<CgroupWrite>& out) {
    TRY(check_cpu_values(cpu));
    if (cpu.shares && *cpu.shares != 0) {
        // v1 clamped shares to its range; the formula maps that range onto
        // cpu.weight's 1 to 10000.
        uint64_t shares = std::clamp(*cpu.shares, kMinShares, kMaxShares);
        uint64_t weight =
            1 + ((shares - kMinShares) * (kMaxWeight - 1)) / (kMaxShares - kMinShares);
        out.push_back({"cpu.weight", cat(weight)});
    }
    int64_t quota = cpu.quota.value_or(0);
    uint64_t period = cpu.period.value_or(0);
    if (quota != 0 || period != 0) {
        // "max" alone, or a quota alone, leaves the period as it was.
        std::string value = quota > 0 ? cat(quota) : std::string("max");
        if (period != 0)
            value += cat(" ", period);
        out.push_back({"cpu.max", value});
    }
    if (cpu.burst)
        out.push_back({"cpu.max.burst", cat(*cpu.burst)});
    if (cpu.idle)
        out.push_back({"cpu.idle", cat(*cpu.idle)});
    if (cpu.realtime_runtime.value_or(0) != 0 || cpu.realtime_period.value_or(0) != 0)
        return error(field_name("cpu.realtimeRuntime: cgroup v2 has no real-time groups"));
    return {};
}

Result<void> cpuset_writes(const CpuResources& cpu, std::vector<CgroupWrite>& out) {
    if (!cpu.cpus.empty()) {
        if (!is_id_list(cpu.cpus))
            return error(cat(field_name("cpu.cpus"), ": ", quoted(cpu.cpus),
                             " is not a CPU list like `0-3,7`"));
        out.push_back({"cpuset.cpus", cpu.cpus});
    }
    if (!cpu.mems.empty()) {
        if (!is_id_list(cpu.mems))
            return error(cat(field_name("cpu.mems"), ": ", quoted(cpu.mems),
                             " is not a memory node list like `0-1`"));
        out.push_back({"cpuset.mems", cpu.mems});
    }
    return {};
}

Result<std::string> device_number(int64_t major, int64_t minor, std::string_view path) {
    if (major < 0 || minor < 0 || major > 0xfff || minor > 0xfffff)
        return error(cat(field_name(path), ": no device ", major, ":", minor));
    return cat(major, ":", minor);
}

Result<uint16_t> block_weight(uint16_t weight, std::string_view path) {
    if (weight < kMinBlockWeight || weight > kMaxBlockWeight)
        return error(cat(field_name(path), ": ", weight, " is not ", kMinBlockWeight, " to ",
                         kMaxBlockWeight));
    return weight;
}

// blkio.weight's 10 to 1000 onto io.weight's 1 to 10000 (runc's formula).
uint64_t io_weight(uint16_t weight) {
    return 1 + (uint64_t(weight) - kMinBlockWeight) * (kMaxWeight - 1) /
                   (kMaxBlockWeight - kMinBlockWeight);
}

// One io.max line per device, its keys in the order they were first set.
struct IoMaxLine {
    std::string device;
    std::vector<std::pair<std::string_view, std::string>> limits;
};

Result<void> add_throttles(const std::vector<ThrottleDevice>& devices, std::string_view key,
                           std::string_view path, std::vector<IoMaxLine>& lines) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const ThrottleDevice& device = devices[i];
        std::string number = TRY(device_number(device.major, device.minor, cat(path, "[", i, "]")));
        auto line = std::find_if(lines.begin(), lines.end(),
                                 [&](const IoMaxLine& l) { return l.device == number; });
        if (line == lines.end())
            line = lines.insert(lines.end(), IoMaxLine{number, {}});
        // v1 took 0 as "no limit"; io.max refuses 0 and says "max".
        std::string value = device.rate == 0 ? std::string("max") : cat(device.rate);
        auto limit = std::find_if(line->limits.begin(), line->limits.end(),
                                  [&](const auto& l) { return l.first == key; });
        if (limit != line->limits.end())
            limit->second = value;
        else
            line->limits.emplace_back(key, value);
    }
    return {};
}

Result<void> io_writes(const BlockIoResources& io, std::vector<CgroupWrite>& out) {
    // BFQ takes v1's weights as they are; without it io.weight (the io
    // cost model) takes them scaled.
    if (io.weight && *io.weight != 0) {
        uint16_t weight = TRY(block_weight(*io.weight, "blockIO.weight"));
        out.push_back({"io.bfq.weight", cat(weight), IfMissing::UseFallback, "io.weight",
                       cat(io_weight(weight))});
    }
    if (io.leaf_weight.value_or(0) != 0)
        return error(field_name("blockIO.leafWeight: cgroup v2 has no leaf weights"));
    for (size_t i = 0; i < io.weight_devices.size(); ++i) {
        const WeightDevice& device = io.weight_devices[i];
        std::string path = cat("blockIO.weightDevice[", i, "]");
        std::string number = TRY(device_number(device.major, device.minor, path));
        if (device.leaf_weight.value_or(0) != 0)
            return error(cat(field_name(path), ".leafWeight: cgroup v2 has no leaf weights"));
        if (device.weight.value_or(0) == 0)
            continue;
        uint16_t weight = TRY(block_weight(*device.weight, cat(path, ".weight")));
        out.push_back({"io.bfq.weight", cat(number, " ", weight), IfMissing::UseFallback,
                       "io.weight", cat(number, " ", io_weight(weight))});
    }
    std::vector<IoMaxLine> lines;
    TRY(add_throttles(io.throttle_read_bps, "rbps", "blockIO.throttleReadBpsDevice", lines));
    TRY(add_throttles(io.throttle_write_bps, "wbps", "blockIO.throttleWriteBpsDevice", lines));
    TRY(add_throttles(io.throttle_read_iops, "riops", "blockIO.throttleReadIOPSDevice", lines));
    TRY(add_throttles(io.throttle_write_iops, "wiops", "blockIO.throttleWriteIOPSDevice", lines));
    for (const IoMaxLine& line : lines) {
        std::string value = line.device;
        for (const auto& [key, limit] : line.limits)
            value += cat(" ", key, "=", limit);
        out.push_back({"io.max", value});
    }
    return {};
}

// "2MB", "1GB", "64KB": how the kernel names hugetlb page sizes.
bool is_page_size(std::string_view size) {
    if (size.size() < 3 || !size.ends_with("B"))
        return false;
    char unit = size[size.size() - 2];
    if (unit != 'K' && unit != 'M' && unit != 'G')
        return false;
    auto number = parse_u64(size.substr(0, size.size() - 2));
    return number && *number > 0;
}

Result<void> hugetlb_writes(const std::vector<HugepageLimit>& limits,
                            std::vector<CgroupWrite>& out) {
    for (size_t i = 0; i < limits.size(); ++i) {
        const HugepageLimit& limit = limits[i];
        if (!is_page_size(limit.page_size))
            return error(cat(field_name(cat("hugepageLimits[", i, "].pageSize")), ": ",
                             quoted(limit.page_size), " is not a page size like `2MB`"));
        std::string prefix = cat("hugetlb.", limit.page_size);
        out.push_back({cat(prefix, ".max"), cat(limit.limit)});
        // Reservations (Linux 5.7) count what mmap reserved, not only what
        // faulted in; limit both as runc does.
        out.push_back({cat(prefix, ".rsvd.max"), cat(limit.limit), IfMissing::Skip});
    }
    return {};
}

Result<void> unified_writes(const std::map<std::string, std::string>& unified,
                            std::vector<CgroupWrite>& out) {
    for (const auto& [key, value] : unified) {
        std::string field = cat(field_name("unified"), "[", quoted(key), "]");
        size_t dot = key.find('.');
        if (key.find('/') != std::string::npos || key.find("..") != std::string::npos || dot == 0 ||
            dot == std::string::npos || key.back() == '.')
            return error(cat(field, ": not a file name like `memory.high`"));
        for (char c : key)
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
                return error(cat(field, ": not a file name like `memory.high`"));
        if (key == "cgroup.procs" || key == "cgroup.threads")
            return error(cat(field, ": moves processes, sets no limit"));
        out.push_back({key, value});
    }
    return {};
}

std::string_view controller_of(std::string_view file) {
    return file.substr(0, file.find('.'));
}

// What a missing file most likely means, for the error.
std::string missing_reason(std::string_view file) {
    std::string_view controller = controller_of(file);
    if (controller == "cgroup")
        return "no such file in this cgroup";
    std::string reason =
        cat("no such limit in this cgroup (controller ", controller, " not enabled");
    if (controller == "hugetlb")
        reason += " or size unsupported";
    else if (starts_with(file, "memory.swap.") || starts_with(file, "memory.memsw."))
        reason += " or swap accounting off";
    else if (file == "cpu.max.burst")
        reason += " or kernel before 5.14";
    else if (file == "cpu.idle")
        reason += " or kernel before 5.15";
    else if (file == "io.weight")
        reason += " or no io cost model in the kernel";
    return cat(reason, ")");
}

Result<bool> file_exists(int directory, const std::string& file) {
    struct stat info;
    if (::fstatat(directory, file.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0)
        return true;
    if (errno == ENOENT)
        return false;
    return errno_error(cat("stat ", quoted(file)));
}

Result<void> write_control(int directory, const std::string& file, const std::string& value) {
    int fd;
    do {
        fd = ::openat(directory, file.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno_error(cat("open ", quoted(file)));
    keel::Fd owned(fd);
    // cgroupfs takes one value per write(2): never split it.
    ssize_t n;
    do {
        n = ::write(fd, value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno_error(cat(file, " = ", value));
    if (size_t(n) != value.size())
        return errno_error(EIO, cat(file, " = ", value, ": short write"));
    return {};
}

} // namespace

Result<std::vector<CgroupWrite>> cgroup_v2_writes(const Resources& resources) {
    std::vector<CgroupWrite> out;
    if (resources.cpu)
        TRY(cpuset_writes(*resources.cpu, out));
    if (resources.memory)
        TRY(memory_writes(*resources.memory, out));
    if (resources.cpu)
        TRY(cpu_writes(*resources.cpu, out));
    if (resources.pids_limit)
        out.push_back({"pids.max", *resources.pids_limit > 0 ? cat(*resources.pids_limit)
                                                             : std::string("max")});
    if (resources.block_io)
        TRY(io_writes(*resources.block_io, out));
    TRY(hugetlb_writes(resources.hugepage_limits, out));
    TRY(unified_writes(resources.unified, out));
    return out;
}

std::vector<std::string> controllers_needed(const std::vector<CgroupWrite>& writes) {
    std::vector<std::string> out;
    for (const CgroupWrite& write : writes) {
        std::string controller(controller_of(write.file));
        if (controller != "cgroup" && std::find(out.begin(), out.end(), controller) == out.end())
            out.push_back(controller);
    }
    return out;
}

namespace {

constexpr std::string_view kSliceSuffix = ".slice";

// A unit name's characters, as systemd allows them.
bool unit_name_characters(std::string_view name) {
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == ':' || c == '_' || c == '.' || c == '\\' || c == '-';
    });
}

// "a-b-c.slice" as "a.slice/a-b.slice/a-b-c.slice" ("" for "-.slice").
Result<std::string> expand_slice(std::string_view slice) {
    auto refuse = [&](std::string_view why) {
        return error(cat("slice ", quoted(slice), ": ", why));
    };
    if (!slice.ends_with(kSliceSuffix))
        return refuse("a slice's name ends with .slice");
    if (slice == "-.slice")
        return std::string();
    std::string_view name = slice.substr(0, slice.size() - kSliceSuffix.size());
    if (name.empty() || !unit_name_characters(name))
        return refuse("not a unit name (letters, digits and :_.\\- only)");
    if (name.starts_with('-') || name.ends_with('-') || name.find("--") != std::string_view::npos)
        return refuse("a dash may not start or end it, nor follow another");
    std::string path;
    for (size_t dash = name.find('-'); dash != std::string_view::npos;
         dash = name.find('-', dash + 1))
        path += cat(name.substr(0, dash), kSliceSuffix, "/");
    return cat(path, slice);
}

} // namespace

Result<std::string> systemd_cgroup_path(std::string_view path) {
    std::vector<std::string_view> parts = split(path, ':');
    if (parts.size() != 3)
        return error(cat("expected systemd's form slice:prefix:name, got ", quoted(path)));
    std::string_view slice = parts[0], prefix = parts[1], name = parts[2];
    if (path.find('/') != std::string_view::npos)
        return error(cat(quoted(path), ": systemd's form has no /"));
    if (name.empty())
        return error(cat(quoted(path), ": the name is empty"));
    if (name.ends_with(kSliceSuffix))
        return error(
            cat(quoted(path), ": the name is a slice; keel makes a scope for a container"));
    std::string unit = prefix.empty() ? cat(name, ".scope") : cat(prefix, "-", name, ".scope");
    if (!unit_name_characters(unit))
        return error(
            cat("scope ", quoted(unit), ": not a unit name (letters, digits and :_.\\- only)"));
    std::string parent = TRY(expand_slice(slice.empty() ? "system.slice" : slice));
    return parent.empty() ? unit : cat(parent, "/", unit);
}

Result<void> enable_controllers(std::string_view relative,
                                const std::vector<std::string>& controllers) {
    std::string request;
    for (const std::string& controller : controllers)
        request += cat(request.empty() ? "" : " ", "+", controller);
    // With no controller to enable, the parents are still made: a group
    // cannot be created under one that does not exist.
    auto enable = [&](const std::string& group) -> Result<void> {
        if (request.empty())
            return {};
        return write_existing_file(group + "/cgroup.subtree_control", request);
    };
    std::string directory(kCgroupRoot);
    std::vector<std::string_view> parts = split(relative, '/');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        TRY(enable(directory));
        directory = cat(directory, "/", parts[i]);
        // A parent group (keel.oci) is shared by containers and stays.
        if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST)
            return errno_error(cat("create ", quoted(directory)));
    }
    return enable(directory);
}

namespace {

// One write as it will be made: the directory, the file (or its fallback)
// and the value.
struct Target {
    int directory;
    const std::string* file;
    const std::string* value;
};

// Where each of `writes` goes in the group open at `directory`, appended
// to `out`; a file that is not there (nor its fallback) is an error.
Result<void> find_targets(int directory, const std::vector<CgroupWrite>& writes,
                          std::vector<Target>& out) {
    for (const CgroupWrite& write : writes) {
        if (TRY(file_exists(directory, write.file))) {
            out.push_back({directory, &write.file, &write.value});
            continue;
        }
        if (write.if_missing == IfMissing::Skip)
            continue;
        if (write.if_missing == IfMissing::UseFallback &&
            TRY(file_exists(directory, write.fallback_file))) {
            out.push_back({directory, &write.fallback_file, &write.fallback_value});
            continue;
        }
        const std::string& file =
            write.if_missing == IfMissing::UseFallback ? write.fallback_file : write.file;
        return errno_error(ENOENT, cat(file, ": ", missing_reason(file)));
    }
    return {};
}

Result<void> write_targets(const std::vector<Target>& targets) {
    for (const Target& target : targets)
        TRY(write_control(target.directory, *target.file, *target.value));
    return {};
}

} // namespace

Result<void> apply_cgroup_writes(int cgroup_directory_fd, const std::vector<CgroupWrite>& writes) {
    // First where each value goes, so that a controller that is not there
    // fails the whole set before any of it is written.
    std::vector<Target> targets;
    TRY(find_targets(cgroup_directory_fd, writes, targets));
    return write_targets(targets);
}

// ---- cgroup v1 ------------------------------------------------------------

namespace {

Result<void> memory_writes_v1(const MemoryResources& memory, std::vector<CgroupWrite>& out) {
    TRY(memory_limit_writes(memory, kMemoryFilesV1, out));
    // As runc: an unlimited memory with swap unset makes memory+swap
    // unlimited too, where there is swap accounting (memory may not go
    // above memory+swap).
    if (memory.limit == -1 && !memory.swap)
        out.push_back({"memory.memsw.limit_in_bytes", "-1", IfMissing::Skip});
    if (memory.swappiness) {
        if (*memory.swappiness > 100)
            return error(
                cat(field_name("memory.swappiness"), ": ", *memory.swappiness, " is not 0 to 100"));
        out.push_back({"memory.swappiness", cat(*memory.swappiness)});
    }
    if (memory.disable_oom_killer)
        out.push_back({"memory.oom_control", "1"});
    return {};
}

Result<void> cpu_writes_v1(const CpuResources& cpu, std::vector<CgroupWrite>& out) {
    TRY(check_cpu_values(cpu));
    if (cpu.shares && *cpu.shares != 0)
        out.push_back({"cpu.shares", cat(std::clamp(*cpu.shares, kMinShares, kMaxShares))});
    int64_t quota = cpu.quota.value_or(0);
    uint64_t period = cpu.period.value_or(0);
    // The period first: a quota is checked against the period in force.
    if (period != 0)
        out.push_back({"cpu.cfs_period_us", cat(period)});
    if (quota != 0)
        out.push_back({"cpu.cfs_quota_us", cat(quota)});
    if (cpu.burst)
        out.push_back({"cpu.cfs_burst_us", cat(*cpu.burst)});
    if (cpu.idle)
        out.push_back({"cpu.idle", cat(*cpu.idle)});
    // Real-time groups: the period before the runtime, as runc writes them.
    if (cpu.realtime_period.value_or(0) != 0)
        out.push_back({"cpu.rt_period_us", cat(*cpu.realtime_period)});
    if (cpu.realtime_runtime.value_or(0) != 0)
        out.push_back({"cpu.rt_runtime_us", cat(*cpu.realtime_runtime)});
    return {};
}

// "8:0 1048576" per device; a rate of 0 removes the device's limit, as v1
// reads it.
Result<void> throttle_writes_v1(const std::vector<ThrottleDevice>& devices, std::string_view file,
                                std::string_view path, std::vector<CgroupWrite>& out) {
    for (size_t i = 0; i < devices.size(); ++i) {
        const ThrottleDevice& device = devices[i];
        std::string number = TRY(device_number(device.major, device.minor, cat(path, "[", i, "]")));
        out.push_back({std::string(file), cat(number, " ", device.rate)});
    }
    return {};
}

Result<void> io_writes_v1(const BlockIoResources& io, std::vector<CgroupWrite>& out) {
    // blkio.weight is CFQ's, gone with it (Linux 5.0): BFQ takes the same
    // weights under its own name.
    if (io.weight && *io.weight != 0) {
        uint16_t weight = TRY(block_weight(*io.weight, "blockIO.weight"));
        out.push_back(
            {"blkio.weight", cat(weight), IfMissing::UseFallback, "blkio.bfq.weight", cat(weight)});
    }
    if (io.leaf_weight && *io.leaf_weight != 0) {
        uint16_t weight = TRY(block_weight(*io.leaf_weight, "blockIO.leafWeight"));
        out.push_back({"blkio.leaf_weight", cat(weight)});
    }
    for (size_t i = 0; i < io.weight_devices.size(); ++i) {
        const WeightDevice& device = io.weight_devices[i];
        std::string path = cat("blockIO.weightDevice[", i, "]");
        std::string number = TRY(device_number(device.major, device.minor, path));
        if (device.weight.value_or(0) != 0) {
            uint16_t weight = TRY(block_weight(*device.weight, cat(path, ".weight")));
            out.push_back({"blkio.weight_device", cat(number, " ", weight), IfMissing::UseFallback,
                           "blkio.bfq.weight_device", cat(number, " ", weight)});
        }
        if (device.leaf_weight.value_or(0) != 0) {
            uint16_t weight = TRY(block_weight(*device.leaf_weight, cat(path, ".leafWeight")));
            out.push_back({"blkio.leaf_weight_device", cat(number, " ", weight)});
        }
    }
    TRY(throttle_writes_v1(io.throttle_read_bps, "blkio.throttle.read_bps_device",
                           "blockIO.throttleReadBpsDevice", out));
    TRY(throttle_writes_v1(io.throttle_write_bps, "blkio.throttle.write_bps_device",
                           "blockIO.throttleWriteBpsDevice", out));
    TRY(throttle_writes_v1(io.throttle_read_iops, "blkio.throttle.read_iops_device",
                           "blockIO.throttleReadIOPSDevice", out));
    TRY(throttle_writes_v1(io.throttle_write_iops, "blkio.throttle.write_iops_device",
                           "blockIO.throttleWriteIOPSDevice", out));
    return {};
}

// A v1 byte count as a number to compare ("-1" and v1's "max" as the
// largest).
uint64_t v1_bytes(std::string_view text) {
    if (text == "-1")
        return UINT64_MAX;
    return parse_u64(trim(text)).value_or(UINT64_MAX);
}

} // namespace

Result<std::vector<CgroupWrite>> cgroup_v1_writes(const Resources& resources) {
    std::vector<CgroupWrite> out;
    if (resources.cpu)
        TRY(cpuset_writes(*resources.cpu, out));
    if (resources.memory)
        TRY(memory_writes_v1(*resources.memory, out));
    if (resources.cpu)
        TRY(cpu_writes_v1(*resources.cpu, out));
    if (resources.pids_limit)
        out.push_back({"pids.max", *resources.pids_limit > 0 ? cat(*resources.pids_limit)
                                                             : std::string("max")});
    if (resources.block_io)
        TRY(io_writes_v1(*resources.block_io, out));
    for (size_t i = 0; i < resources.hugepage_limits.size(); ++i) {
        const HugepageLimit& limit = resources.hugepage_limits[i];
        if (!is_page_size(limit.page_size))
            return error(cat(field_name(cat("hugepageLimits[", i, "].pageSize")), ": ",
                             quoted(limit.page_size), " is not a page size like `2MB`"));
        out.push_back({cat("hugetlb.", limit.page_size, ".limit_in_bytes"), cat(limit.limit)});
        out.push_back({cat("hugetlb.", limit.page_size, ".rsvd.limit_in_bytes"), cat(limit.limit),
                       IfMissing::Skip});
    }
    if (!resources.unified.empty())
        return error(cat(field_name("unified"), ": cgroup v2 files (",
                         quoted(resources.unified.begin()->first),
                         ") cannot be written: the host's cgroups are v1"));
    return out;
}

bool sets_limits(const Resources& resources) {
    // v1's writes take every setting; one they refuse (unified) is set too.
    Result<std::vector<CgroupWrite>> writes = cgroup_v1_writes(resources);
    return !writes || !writes->empty();
}

Result<void> apply_cgroup_writes(const Cgroup& group, std::vector<CgroupWrite> writes) {
    // memory+swap may never be below memory: raising memory above the
    // current memory+swap needs memory+swap raised first, otherwise memory
    // goes first.
    auto limit = std::ranges::find(writes, "memory.limit_in_bytes", &CgroupWrite::file);
    auto memsw = std::ranges::find(writes, "memory.memsw.limit_in_bytes", &CgroupWrite::file);
    if (limit != writes.end() && memsw != writes.end() && memsw > limit) {
        std::optional<std::string> memory = group.directory_of("memory");
        Result<std::string> current = std::string();
        if (memory)
            current = read_file(cat(*memory, "/memory.memsw.limit_in_bytes"));
        if (current && !current->empty() && v1_bytes(limit->value) > v1_bytes(*current))
            std::iter_swap(limit, memsw);
    }
    // Consecutive writes to one directory go together. Every file is found
    // before anything is written: a hierarchy that is not mounted, or a
    // file a hierarchy lacks, fails the set with nothing changed.
    std::vector<std::pair<std::string, std::vector<CgroupWrite>>> batches;
    for (CgroupWrite& write : writes) {
        std::string_view controller = controller_of(write.file);
        std::optional<std::string> directory = group.directory_of(controller);
        if (!directory)
            return errno_error(ENOENT, cat(write.file, ": the host mounts no cgroup v1 ",
                                           controller, " hierarchy"));
        if (batches.empty() || batches.back().first != *directory)
            batches.emplace_back(std::move(*directory), std::vector<CgroupWrite>());
        batches.back().second.push_back(std::move(write));
    }
    std::vector<Fd> directories;
    std::vector<Target> targets;
    for (const auto& [directory, batch] : batches) {
        directories.push_back(TRY(open_file(directory, O_RDONLY | O_DIRECTORY)));
        TRY(find_targets(directories.back().get(), batch, targets));
    }
    return write_targets(targets);
}

} // namespace keel::oci
