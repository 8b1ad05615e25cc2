// cgroup v2 (see cgroups.h): parsing systemd's limit spellings, the
// keel.slice tree, and a group's control files; at the end, the same group
// on a cgroup v1 host (one directory per hierarchy).
//
// Everything goes through paths under a root passed in by the caller, so the
// file-level logic runs against a fake tree of plain files in unit tests.
// Each control-file write is one write(2) of the whole value (cgroupfs takes
// one value per write), opened with O_TRUNC so that plain files in a fake
// tree hold exactly the last value written, as a control file reads back.
#include "cgroups/cgroups.h"

#include "base/mountinfo.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <mutex>
#include <poll.h>
#include <ranges>
#include <set>
#include <span>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kControllers[] = {"memory", "cpu", "pids"};
// Enabled when the kernel has it, never missed: only IOWeight= and
// IO*BandwidthMax= need it, and they are skipped without it.
constexpr std::string_view kOptionalControllers[] = {"io"};
// cpu.weight's and io.weight's range and default.
constexpr uint64_t kMaxWeight = 10000;
constexpr uint64_t kDefaultWeight = 100;
// pids.max accepts up to the kernel's PID_MAX_LIMIT.
constexpr uint64_t kMaxTasks = 4194304;
constexpr uint64_t kMaxCpuPercent = 100000;
constexpr std::chrono::milliseconds kFreezeTimeout{1000};
// Rounds of the SIGKILL-each-pid fallback before giving up on a group that
// keeps producing new processes faster than they are killed.
constexpr int kKillRounds = 1000;

std::string join_path(std::string_view root, std::string_view relative) {
    std::string out(root);
    while (out.size() > 1 && out.back() == '/')
        out.pop_back();
    return cat(out, "/", relative);
}

// Writes `value` to a control file with a single write(2).
Result<void> write_control(const std::string& path, std::string_view value) {
    Fd fd = TRY(open_file(path, O_WRONLY | O_TRUNC));
    ssize_t n;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno_error(cat("write ", quoted(value), " to ", quoted(path)));
    if (size_t(n) != value.size())
        return error(cat("write ", quoted(value), " to ", quoted(path), ": short write"));
    return {};
}

// The value of `key` in a flat-keyed file ("usage_usec 123\n..."), or
// nullopt when the key is absent.
Result<std::optional<uint64_t>> keyed_value(std::string_view text, std::string_view key,
                                            const std::string& path) {
    for (std::string_view line : split(text, '\n')) {
        std::vector<std::string_view> words = split(trim(line), ' ');
        if (words.size() != 2 || words[0] != key)
            continue;
        auto value = parse_u64(words[1]);
        if (!value)
            return error(cat(quoted(path), ": ", key, " is not a number: ", quoted(words[1])));
        return value;
    }
    return std::optional<uint64_t>();
}

// A single-number file (memory.current); 0 when the file does not exist,
// i.e. the controller is not enabled for the group.
Result<uint64_t> counter_file(const std::string& path) {
    if (!path_exists(path))
        return 0;
    std::string text = TRY(read_file(path));
    auto value = parse_u64(trim(text));
    if (!value)
        return error(cat(quoted(path), ": not a number: ", quoted(trim(text))));
    return *value;
}

// Relative group paths: "keel.slice/web.service". Never absolute, never
// climbing out of the root.
Result<void> check_relative(std::string_view relative) {
    if (relative.empty())
        return error("cgroup name is empty");
    for (std::string_view part : split(relative, '/')) {
        if (part.empty() || part == "." || part == "..")
            return error(cat("cgroup name ", quoted(relative),
                             " must be names joined by `/`, without empty parts, `.` or `..`"));
        for (char c : part)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return error(cat("cgroup name ", quoted(relative), " has a control character"));
    }
    return {};
}

Result<std::vector<std::string>> available_controllers(const std::string& group) {
    std::string text = TRY(read_file(join_path(group, "cgroup.controllers")));
    std::vector<std::string> out;
    for (std::string_view word : split(trim(text), ' '))
        if (!word.empty())
            out.emplace_back(word);
    return out;
}

Result<std::vector<pid_t>> read_pids(const std::string& path) {
    std::string text = TRY(read_file(path));
    std::vector<pid_t> pids;
    for (std::string_view line : split(text, '\n')) {
        if (line.empty())
            continue;
        auto pid = parse_u64(line);
        if (!pid || *pid == 0 || *pid > uint64_t(INT32_MAX))
            return error(cat(quoted(path), ": not a pid: ", quoted(line)));
        pids.push_back(pid_t(*pid));
    }
    return pids;
}

// Moves every process of `from` into the group `to` (created if needed).
Result<void> move_processes(const std::string& from, const std::string& to) {
    if (::mkdir(to.c_str(), 0755) < 0 && errno != EEXIST)
        return errno_error(cat("create cgroup ", quoted(to)));
    std::vector<pid_t> pids = TRY(read_pids(join_path(from, "cgroup.procs")));
    for (pid_t pid : pids) {
        auto moved = write_control(join_path(to, "cgroup.procs"), cat(pid));
        // A process that exited meanwhile is not an error.
        if (!moved && moved.error().code() != ESRCH)
            return std::unexpected(std::move(moved).error());
    }
    return {};
}

Result<void> enable_controllers(const std::string& group, const std::vector<std::string>& names,
                                bool move_own_processes) {
    if (names.empty())
        return {};
    std::string request;
    for (const std::string& name : names)
        request += cat(request.empty() ? "" : " ", "+", name);
    std::string control = join_path(group, "cgroup.subtree_control");
    auto enabled = write_control(control, request);
    if (!enabled && enabled.error().code() == EBUSY && move_own_processes) {
        // "No internal processes": a non-root group with processes of its
        // own cannot give controllers to children. Move them to a leaf.
        TRY_CTX(move_processes(group, join_path(group, "init.scope")),
                cat("move the processes of ", quoted(group), " to init.scope"));
        enabled = write_control(control, request);
    }
    if (!enabled && enabled.error().code() == EBUSY)
        return errno_error(EBUSY, cat("enable ", request, " in ", quoted(group),
                                      ": the group has processes of its own and is not the "
                                      "root (cgroup v2 allows controllers for children only "
                                      "in groups without processes)"));
    if (!enabled && enabled.error().code() == ENOENT)
        return errno_error(ENOENT, cat("enable ", request, " in ", quoted(group),
                                       ": not a cgroup v2 directory, or a controller is not "
                                       "available to it"));
    if (!enabled)
        return std::unexpected(
            std::move(enabled).error().wrap(cat("enable controllers in ", quoted(group))));
    return {};
}

// Splits "1.5G" into its number and suffix and scales it (base 1024).
Result<uint64_t> parse_size(std::string_view value, std::string_view key) {
    auto bad = [&](std::string_view why) { return error(cat(key, "=", value, ": ", why)); };
    size_t digits = 0;
    while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9')
        ++digits;
    std::string_view integer = value.substr(0, digits);
    std::string_view fraction;
    std::string_view rest = value.substr(digits);
    if (!rest.empty() && rest[0] == '.') {
        size_t end = 1;
        while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9')
            ++end;
        fraction = rest.substr(1, end - 1);
        if (fraction.empty())
            return bad("not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
                       "infinity)");
        rest.remove_prefix(end);
    }
    if (integer.empty())
        return bad("not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
                   "infinity)");
    constexpr std::string_view kSuffixes = "KMGTPE";
    uint64_t multiplier = 1;
    if (rest.size() > 1 ||
        (rest.size() == 1 && rest != "B" && kSuffixes.find(rest[0]) == std::string_view::npos))
        return bad(cat("unknown suffix ", quoted(rest), " (K, M, G, T, P or E: powers of 1024)"));
    if (rest.size() == 1 && rest != "B")
        multiplier = uint64_t(1) << (10 * (kSuffixes.find(rest[0]) + 1));
    if (!fraction.empty() && multiplier == 1)
        return bad(cat("a fraction needs a suffix (", integer, ".", fraction, "G)"));
    if (fraction.size() > 9)
        return bad("more than 9 decimals");

    auto whole = parse_u64(integer);
    if (!whole)
        return bad("too large");
    unsigned __int128 bytes = (unsigned __int128)*whole * multiplier;
    if (!fraction.empty()) {
        uint64_t scale = 1;
        for (size_t i = 0; i < fraction.size(); ++i)
            scale *= 10;
        bytes += (unsigned __int128)*parse_u64(fraction) * multiplier / scale;
    }
    if (bytes > UINT64_MAX)
        return bad("too large");
    return uint64_t(bytes);
}

// MemoryMax= and MemoryHigh=: a size, "infinity", or empty for no limit.
Result<std::optional<uint64_t>> parse_memory_limit(std::string_view value, std::string_view key) {
    if (value.empty() || value == "infinity")
        return std::optional<uint64_t>();
    if (value.back() == '%')
        return error(cat(key, "=", value,
                         ": a percentage of RAM is not supported; give a size such as 512M"));
    uint64_t bytes = TRY(parse_size(value, key));
    if (bytes == 0)
        return error(cat(key, "=", value, ": must be at least 1 byte"));
    return bytes;
}

// CPUWeight= and IOWeight=: cgroup v2's weights share one range and default.
Result<std::optional<uint32_t>> parse_weight(std::string_view value, std::string_view key) {
    if (value.empty())
        return std::optional<uint32_t>();
    auto weight = parse_u64(value);
    if (!weight || *weight == 0 || *weight > kMaxWeight)
        return error(cat(key, "=", value, ": expected a weight from 1 to ", kMaxWeight, " (",
                         kDefaultWeight, " is the default)"));
    return uint32_t(*weight);
}

} // namespace

Result<std::optional<uint64_t>> parse_memory_max(std::string_view value) {
    return parse_memory_limit(value, "MemoryMax");
}

Result<std::optional<uint64_t>> parse_memory_high(std::string_view value) {
    return parse_memory_limit(value, "MemoryHigh");
}

Result<std::optional<uint32_t>> parse_cpu_quota(std::string_view value) {
    if (value.empty())
        return std::optional<uint32_t>();
    if (value.back() != '%')
        return error(
            cat("CPUQuota=", value, ": not a percentage (50% is half a CPU, 150% one and a half)"));
    std::string_view number = value.substr(0, value.size() - 1);
    auto percent = parse_u64(number);
    if (!percent && number.find('.') != std::string_view::npos)
        return error(cat("CPUQuota=", value, ": whole percentages only"));
    if (!percent)
        return error(
            cat("CPUQuota=", value, ": not a percentage (50% is half a CPU, 150% one and a half)"));
    if (*percent == 0)
        return error(cat("CPUQuota=", value, ": must be at least 1%"));
    if (*percent > kMaxCpuPercent)
        return error(cat("CPUQuota=", value, ": too large (at most ", kMaxCpuPercent, "%)"));
    return uint32_t(*percent);
}

Result<std::optional<uint64_t>> parse_tasks_max(std::string_view value) {
    if (value.empty() || value == "infinity")
        return std::optional<uint64_t>();
    if (value.back() == '%')
        return error(cat("TasksMax=", value,
                         ": a percentage of the system's limit is not supported; give a number"));
    auto tasks = parse_u64(value);
    if (!tasks && !value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos)
        return error(cat("TasksMax=", value, ": too large (at most ", kMaxTasks, ")"));
    if (!tasks)
        return error(cat("TasksMax=", value, ": not a number of tasks (or infinity)"));
    if (*tasks == 0)
        return error(cat("TasksMax=", value, ": must be at least 1"));
    if (*tasks > kMaxTasks)
        return error(cat("TasksMax=", value, ": too large (at most ", kMaxTasks, ")"));
    return *tasks;
}

Result<std::optional<uint32_t>> parse_cpu_weight(std::string_view value) {
    return parse_weight(value, "CPUWeight");
}

Result<std::optional<uint32_t>> parse_io_weight(std::string_view value) {
    return parse_weight(value, "IOWeight");
}

Result<void> parse_io_bandwidth(std::string_view value, IoDirection direction,
                                std::vector<IoBandwidthLimit>& limits) {
    std::string_view key =
        direction == IoDirection::Read ? "IOReadBandwidthMax" : "IOWriteBandwidthMax";
    auto field = [direction](IoBandwidthLimit& limit) -> std::optional<uint64_t>& {
        return direction == IoDirection::Read ? limit.read_bytes_per_second
                                              : limit.write_bytes_per_second;
    };
    if (trim(value).empty()) {
        for (IoBandwidthLimit& limit : limits)
            field(limit).reset();
        std::erase_if(limits, [](const IoBandwidthLimit& limit) {
            return !limit.read_bytes_per_second && !limit.write_bytes_per_second;
        });
        return {};
    }
    std::string_view text = trim(value);
    size_t space = text.find_last_of(" \t");
    if (space == std::string_view::npos)
        return error(cat(key, "=", value, ": expected a device and a rate, such as /dev/vda 20M"));
    std::string_view device = trim(text.substr(0, space));
    std::string_view rate = text.substr(space + 1);
    if (!device.starts_with('/'))
        return error(cat(key, "=", value, ": ", quoted(device), " is not an absolute path"));
    std::optional<uint64_t> bytes;
    if (rate != "infinity") {
        uint64_t multiplier = 1;
        std::string_view digits = rate;
        if (!digits.empty()) {
            switch (digits.back()) {
            case 'K':
                multiplier = 1000ULL;
                break;
            case 'M':
                multiplier = 1000ULL * 1000;
                break;
            case 'G':
                multiplier = 1000ULL * 1000 * 1000;
                break;
            case 'T':
                multiplier = 1000ULL * 1000 * 1000 * 1000;
                break;
            default:
                break;
            }
            if (multiplier != 1)
                digits.remove_suffix(1);
        }
        auto number = parse_u64(digits);
        if (!number || *number == 0 || *number > UINT64_MAX / multiplier)
            return error(cat(key, "=", value, ": ", quoted(rate),
                             " is not a rate (bytes per second, with K, M, G or T, or infinity)"));
        bytes = *number * multiplier;
    }
    auto it = std::find_if(limits.begin(), limits.end(),
                           [&](const IoBandwidthLimit& limit) { return limit.device == device; });
    if (it == limits.end()) {
        limits.push_back(IoBandwidthLimit{.device = std::string(device)});
        it = std::prev(limits.end());
    }
    field(*it) = bytes;
    return {};
}

void resolve_io_devices(CgroupLimits& limits, std::string_view sys_dev_block) {
    for (IoBandwidthLimit& limit : limits.io_bandwidth) {
        limit.number.clear();
        struct stat st {};
        if (::stat(limit.device.c_str(), &st) < 0)
            continue;
        dev_t device = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
        if (major(device) == 0)
            continue; // tmpfs, overlay: on no disk
        std::string number = cat(major(device), ":", minor(device));
        std::string entry = cat(sys_dev_block, "/", number);
        if (path_exists(cat(entry, "/partition"))) {
            // A partition's sysfs directory sits in its disk's.
            auto disk = read_file(cat(entry, "/../dev"));
            if (!disk)
                continue;
            number = std::string(trim(*disk));
        }
        limit.number = std::move(number);
    }
}

bool cgroup2_available(std::string_view root) {
    return path_exists(join_path(root, "cgroup.controllers"));
}

Result<std::vector<std::string>> missing_cgroup_controllers(std::string_view root) {
    std::vector<std::string> available = TRY(available_controllers(std::string(root)));
    std::vector<std::string> missing;
    for (std::string_view name : kControllers)
        if (std::find(available.begin(), available.end(), name) == available.end())
            missing.emplace_back(name);
    return missing;
}

Result<void> setup_cgroup_tree(std::string_view root_view) {
    std::string root(root_view);
    if (!cgroup2_available(root))
        return error(cat("cgroup v2 is not mounted at ", quoted(root), " (no cgroup.controllers)"));
    std::vector<std::string> available = TRY(available_controllers(root));
    std::vector<std::string> wanted;
    for (std::span<const std::string_view> names :
         {std::span<const std::string_view>(kControllers),
          std::span<const std::string_view>(kOptionalControllers)})
        for (std::string_view name : names)
            if (std::find(available.begin(), available.end(), name) != available.end())
                wanted.emplace_back(name);
    // The hierarchy's root (the only group without cgroup.events) may hold
    // processes; a delegated subtree's root may need its own moved away.
    bool is_hierarchy_root = !path_exists(join_path(root, "cgroup.events"));
    TRY(enable_controllers(root, wanted, !is_hierarchy_root));

    std::string slice = join_path(root, kKeelSlice);
    if (::mkdir(slice.c_str(), 0755) < 0 && errno != EEXIST)
        return errno_error(cat("create cgroup ", quoted(slice)));
    if (!is_directory(slice))
        return error(cat(quoted(slice), " exists and is not a directory"));
    TRY(enable_controllers(slice, wanted, false));
    return {};
}

Result<Cgroup> Cgroup::create(std::string relative, const CgroupLimits& limits,
                              std::string_view root, IfExists if_exists) {
    TRY(check_relative(relative));
    if (!cgroup2_available(root))
        if (std::vector<CgroupHierarchy> hierarchies = cgroup_v1_hierarchies(root);
            !hierarchies.empty())
            return create_v1(relative, limits, hierarchies, if_exists);
    std::string path = join_path(root, relative);
    // mkdir that takes an existing group as it is; true when it made one.
    auto make = [](const std::string& directory) -> Result<bool> {
        if (::mkdir(directory.c_str(), 0755) == 0)
            return true;
        if (errno != EEXIST)
            return errno_error(cat("create cgroup ", quoted(directory)));
        if (!is_directory(directory))
            return error(cat("create cgroup ", quoted(directory), ": exists and is not a group"));
        return false;
    };
    // The leaf first: its parents exist but for the first group below them.
    Result<bool> made = make(path);
    if (!made && made.error().code() == ENOENT) {
        std::string partial(root);
        for (std::string_view part : split(relative, '/')) {
            partial = join_path(partial, part);
            if (!(made = make(partial)))
                break;
        }
    }
    bool created = TRY(std::move(made));
    if (!created && if_exists == IfExists::Fail)
        return errno_error(EEXIST, cat("cgroup ", quoted(relative), " exists already"));
    Cgroup group(path);
    if (auto applied = group.apply(limits, created ? Knobs::Fresh : Knobs::AsFound); !applied) {
        if (created)
            ::rmdir(path.c_str()); // the half-made group goes; parents may be shared
        return std::unexpected(
            std::move(applied).error().wrap(cat("create cgroup ", quoted(path))));
    }
    return group;
}

Result<Cgroup> Cgroup::open(std::string relative, std::string_view root) {
    TRY(check_relative(relative));
    if (!cgroup2_available(root))
        if (std::vector<CgroupHierarchy> hierarchies = cgroup_v1_hierarchies(root);
            !hierarchies.empty())
            return open_v1(relative, hierarchies);
    std::string path = join_path(root, relative);
    if (!is_directory(path))
        return errno_error(ENOENT, cat("cgroup ", quoted(path)));
    return Cgroup(path);
}

Result<Fd> Cgroup::open_directory() const {
    return open_file(m_path, O_RDONLY | O_DIRECTORY);
}

std::optional<std::string> Cgroup::directory_of(std::string_view controller) const {
    if (m_v1.empty())
        return m_path;
    for (const CgroupV1Directory& directory : m_v1)
        if (std::ranges::find(directory.controllers, controller) != directory.controllers.end())
            return directory.path;
    return std::nullopt;
}

Result<std::vector<Fd>> Cgroup::open_directories() const {
    std::vector<Fd> out;
    if (m_v1.empty())
        out.push_back(TRY(open_directory()));
    for (const CgroupV1Directory& directory : m_v1)
        out.push_back(TRY(open_file(directory.path, O_RDONLY | O_DIRECTORY)));
    return out;
}

Result<void> Cgroup::add_process(pid_t pid) const {
    if (m_v1.empty()) {
        TRY_CTX(write_control(join_path(m_path, "cgroup.procs"), cat(pid)),
                cat("move pid ", pid, " into cgroup ", quoted(m_path)));
    }
    for (const CgroupV1Directory& directory : m_v1)
        TRY_CTX(write_control(join_path(directory.path, "cgroup.procs"), cat(pid)),
                cat("move pid ", pid, " into cgroup ", quoted(directory.path)));
    return {};
}

namespace {

// cgroup.procs of `path` and of every group below it.
Result<void> collect_pids(const std::string& path, std::vector<pid_t>& out) {
    for (pid_t pid : TRY(read_pids(join_path(path, "cgroup.procs"))))
        out.push_back(pid);
    for (const std::string& name : TRY(list_subdirectories(path))) {
        std::string child = join_path(path, name);
        // A group removed meanwhile (a container that ended) has none.
        if (Result<void> below = collect_pids(child, out); !below && below.error().code() != ENOENT)
            return below;
    }
    return {};
}

} // namespace

Result<std::vector<pid_t>> Cgroup::processes() const {
    std::vector<pid_t> pids;
    TRY(collect_pids(m_path, pids));
    return pids;
}

Result<CgroupStats> Cgroup::stats() const {
    if (!m_v1.empty())
        return stats_v1();
    CgroupStats stats;
    stats.memory_current = TRY(counter_file(join_path(m_path, "memory.current")));
    stats.tasks_current = TRY(counter_file(join_path(m_path, "pids.current")));
    std::string cpu_stat = join_path(m_path, "cpu.stat");
    if (path_exists(cpu_stat)) {
        std::string text = TRY(read_file(cpu_stat));
        stats.cpu_usage_usec = TRY(keyed_value(text, "usage_usec", cpu_stat)).value_or(0);
    }
    std::string events = join_path(m_path, "memory.events");
    if (path_exists(events)) {
        std::string text = TRY(read_file(events));
        stats.oom_kills = TRY(keyed_value(text, "oom_kill", events)).value_or(0);
    }
    return stats;
}

Result<void> Cgroup::apply(const CgroupLimits& limits, Knobs state) const {
    if (!m_v1.empty()) {
        if (limits.empty())
            return {};
        return error(cat("cgroup ", quoted(m_path),
                         ": the host's cgroups are v1, and keel sets a unit's limits only "
                         "through cgroup v2"));
    }
    struct Knob {
        std::string_view file;
        std::string_view controller;
        bool limited;
        std::string value;
    };
    Knob settings[] = {
        {"memory.max", "memory", limits.memory_max.has_value(),
         limits.memory_max ? cat(*limits.memory_max) : "max"},
        {"memory.high", "memory", limits.memory_high.has_value(),
         limits.memory_high ? cat(*limits.memory_high) : "max"},
        {"cpu.max", "cpu", limits.cpu_quota_percent.has_value(),
         limits.cpu_quota_percent
             ? cat(uint64_t(*limits.cpu_quota_percent) * (kCpuPeriodUsec / 100), " ",
                   kCpuPeriodUsec)
             : cat("max ", kCpuPeriodUsec)},
        {"pids.max", "pids", limits.tasks_max.has_value(),
         limits.tasks_max ? cat(*limits.tasks_max) : "max"},
        {"cpu.weight", "cpu", limits.cpu_weight.has_value(),
         cat(limits.cpu_weight.value_or(kDefaultWeight))},
        // A bare number would do too; "default N" is how the file reads back.
        {"io.weight", "io", limits.io_weight.has_value(),
         cat("default ", limits.io_weight.value_or(kDefaultWeight))},
    };
    // A knob of an optional controller (io) is best effort, as in systemd:
    // without the controller it is skipped, not an error.
    auto optional = [](const Knob& knob) {
        return std::ranges::find(kOptionalControllers, knob.controller) !=
               std::end(kOptionalControllers);
    };
    // Check every knob before writing any, so a missing controller changes
    // nothing.
    for (const Knob& knob : settings)
        if (knob.limited && !optional(knob) && !path_exists(join_path(m_path, knob.file)))
            return error(cat("set ", knob.file, " of ", quoted(m_path), ": the ", knob.controller,
                             " controller is not enabled for this group"));

    for (const Knob& knob : settings) {
        if (!knob.limited && state == Knobs::Fresh)
            continue; // a new group's knobs read "max" (weights: 100) already
        std::string file = join_path(m_path, knob.file);
        if ((!knob.limited || optional(knob)) && !path_exists(file))
            continue; // no limit asked, or an optional controller missing: nothing to write
        TRY_CTX(write_control(file, knob.value), cat("set ", knob.file, " of ", quoted(m_path)));
    }
    TRY(apply_io_bandwidth(limits, state));
    return {};
}

Result<void> Cgroup::apply_io_bandwidth(const CgroupLimits& limits, Knobs state) const {
    std::string file = join_path(m_path, "io.max");
    if (!path_exists(file))
        return {}; // no io controller: skipped, as systemd does
    std::vector<std::string> lines;
    std::set<std::string> limited_disks;
    for (const IoBandwidthLimit& limit : limits.io_bandwidth) {
        if (limit.number.empty())
            continue;
        auto rate = [](const std::optional<uint64_t>& bytes) {
            return bytes ? cat(*bytes) : std::string("max");
        };
        lines.push_back(cat(limit.number, " rbps=", rate(limit.read_bytes_per_second),
                            " wbps=", rate(limit.write_bytes_per_second)));
        limited_disks.insert(limit.number);
    }
    if (state == Knobs::AsFound) {
        // Disks limited before but not now go back to no limit.
        std::string old = TRY(read_file(file));
        for (std::string_view line : split(old, '\n')) {
            std::string_view disk = line.substr(0, line.find(' '));
            if (!disk.empty() && !limited_disks.contains(std::string(disk)))
                lines.push_back(cat(disk, " rbps=max wbps=max riops=max wiops=max"));
        }
    }
    // io.max takes one disk's line per write. A line the kernel refuses (a
    // disk it does not throttle) is skipped, as systemd does: a throttle
    // must not keep a service (the update role) from starting.
    for (const std::string& line : lines)
        (void)write_control(file, line);
    return {};
}

Result<void> Cgroup::kill() const {
    std::string control = join_path(m_path, "cgroup.kill");
    if (path_exists(control)) {
        TRY_CTX(write_control(control, "1"), cat("kill cgroup ", quoted(m_path)));
        return {};
    }
    // Before 5.14, and on v1: signal each process; a fork racing with us
    // adds new pids, so repeat until a pass finds nobody new. A v1 group is
    // frozen meanwhile where it can be (SIGKILL reaches frozen processes),
    // unless it is empty: then it has nobody to fork.
    bool thaw_after = !m_v1.empty() && directory_of("freezer") && TRY(populated());
    if (thaw_after)
        (void)freeze(); // a group still FREEZING after its timeout is killed all the same
    auto killed = kill_each();
    if (thaw_after)
        (void)thaw();
    return killed;
}

Result<void> Cgroup::kill_each() const {
    std::set<pid_t> signalled;
    for (int round = 0; round < kKillRounds; ++round) {
        std::vector<pid_t> pids = TRY_CTX(processes(), cat("kill cgroup ", quoted(m_path)));
        bool found_new = false;
        for (pid_t pid : pids) {
            if (!signalled.insert(pid).second)
                continue;
            found_new = true;
            if (::kill(pid, SIGKILL) < 0 && errno != ESRCH)
                return errno_error(cat("kill cgroup ", quoted(m_path), ": kill pid ", pid));
        }
        if (!found_new)
            return {};
    }
    return error(cat("kill cgroup ", quoted(m_path), ": new processes keep appearing"));
}

Result<void> Cgroup::freeze() const {
    return set_freezer(Freezer::Frozen);
}

Result<void> Cgroup::thaw() const {
    return set_freezer(Freezer::Thawed);
}

Result<void> Cgroup::set_freezer(Freezer state) const {
    if (!m_v1.empty())
        return set_freezer_v1(state);
    bool frozen = state == Freezer::Frozen;
    std::string control = join_path(m_path, "cgroup.freeze");
    if (!path_exists(control))
        return error(cat("freeze cgroup ", quoted(m_path),
                         ": no cgroup.freeze (the kernel is older than 5.2)"));
    std::string_view verb = frozen ? "freeze" : "thaw";
    TRY_CTX(write_control(control, frozen ? "1" : "0"), cat(verb, " cgroup ", quoted(m_path)));

    // cgroup.events changes with a POLLPRI notification; poll in short
    // slices anyway, so a plain file (tests) or a missed wakeup only costs
    // a little time.
    std::string events = join_path(m_path, "cgroup.events");
    Fd fd = TRY_CTX(open_file(events, O_RDONLY), cat(verb, " cgroup ", quoted(m_path)));
    auto deadline = std::chrono::steady_clock::now() + kFreezeTimeout;
    for (;;) {
        std::string text;
        char buffer[512];
        ssize_t n;
        if (::lseek(fd.get(), 0, SEEK_SET) < 0)
            return errno_error(cat(verb, " cgroup ", quoted(m_path), ": rewind cgroup.events"));
        while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0)
            text.append(buffer, size_t(n));
        if (n < 0 && errno != EINTR)
            return errno_error(cat(verb, " cgroup ", quoted(m_path), ": read cgroup.events"));
        auto state = TRY(keyed_value(text, "frozen", events));
        if (state && *state == (frozen ? 1u : 0u))
            return {};
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            return errno_error(ETIMEDOUT, cat(verb, " cgroup ", quoted(m_path), ": not ",
                                              frozen ? "frozen" : "thawed", " after ",
                                              kFreezeTimeout.count(), " ms"));
        pollfd wait{fd.get(), POLLPRI, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        ::poll(&wait, 1, int(std::min<int64_t>(left.count() + 1, 100)));
    }
}

Result<bool> Cgroup::frozen() const {
    if (!m_v1.empty()) {
        std::optional<std::string> freezer = directory_of("freezer");
        if (!freezer)
            return false;
        return trim(TRY(read_file(join_path(*freezer, "freezer.state")))) == "FROZEN";
    }
    return trim(TRY(read_file(join_path(m_path, "cgroup.freeze")))) == "1";
}

Result<bool> Cgroup::populated() const {
    if (!m_v1.empty())
        return !TRY(processes()).empty();
    std::string events = join_path(m_path, "cgroup.events");
    std::string text = TRY(read_file(events));
    auto value = TRY(keyed_value(text, "populated", events));
    if (!value)
        return error(cat(quoted(events), ": no `populated` line"));
    return *value != 0;
}

Result<void> Cgroup::remove() const {
    if (!m_v1.empty())
        return remove_v1(false);
    if (::rmdir(m_path.c_str()) == 0)
        return {};
    if (errno == EBUSY || errno == ENOTEMPTY)
        return errno_error(
            cat("remove cgroup ", quoted(m_path), ": it still has processes or child groups"));
    return errno_error(cat("remove cgroup ", quoted(m_path)));
}

namespace {
// rmdir of every group below `path`, deepest first (a group's interface
// files go with its rmdir; only directories are groups).
Result<void> remove_child_groups(const std::string& path) {
    for (const std::string& name : TRY(list_subdirectories(path))) {
        std::string child = cat(path, "/", name);
        TRY(remove_child_groups(child));
        if (::rmdir(child.c_str()) != 0)
            return errno_error(cat("remove cgroup ", quoted(child)));
    }
    return {};
}
} // namespace

Result<void> Cgroup::remove_tree() const {
    if (!m_v1.empty())
        return remove_v1(true);
    TRY(remove_child_groups(m_path));
    return remove();
}

std::optional<std::string> unit_of_process(std::string_view pid) {
    Result<std::string> text = read_file(cat("/proc/", pid, "/cgroup"));
    if (!text)
        return std::nullopt;
    std::string prefix = cat("0::/", kKeelSlice, "/");
    for (std::string_view line : split(*text, '\n')) {
        if (!line.starts_with(prefix))
            continue;
        std::string_view rest = line.substr(prefix.size());
        return std::string(rest.substr(0, rest.find('/')));
    }
    return std::nullopt;
}

std::optional<std::string> own_unit_group(std::string_view root) {
    if (!cgroup2_available(root))
        return std::nullopt;
    std::optional<std::string> unit = unit_of_process("self");
    if (!unit || !unit->ends_with(".service"))
        return std::nullopt;
    return cat(kKeelSlice, "/", *unit);
}

Result<void> move_into_supervisor(const std::string& group, std::string_view root) {
    std::string path = join_path(root, group);
    std::string supervisor = join_path(path, kSupervisorGroup);
    constexpr int kMoveRounds = 10;
    for (int round = 0; round < kMoveRounds; ++round) {
        TRY_CTX(move_processes(path, supervisor),
                cat("move the processes of ", quoted(group), " into ", kSupervisorGroup));
        if (TRY(read_pids(join_path(path, "cgroup.procs"))).empty())
            return {};
    }
    return error(cat("cgroup ", quoted(group), ": processes keep appearing in it"));
}

} // namespace keel

// ---- cgroup v1 ------------------------------------------------------------
//
// A v1 host mounts one hierarchy per controller (or a few together, as
// "cpu,cpuacct"); a group is a directory of the same relative path in each,
// and a process joins each by its cgroup.procs. Only containers use it:
// keel's units and their limits are cgroup v2's (init runs on v2).

namespace keel {

namespace {

bool is_group(const std::string& directory) {
    return path_exists(join_path(directory, "cgroup.procs"));
}

// mkdir of `relative` below `top`, each missing level made; the levels made
// are appended to `made` (parents first). A cpuset level with no cpus or
// mems gets its parent's: v1 leaves them empty, and a group with no cpus
// takes no process.
Result<void> make_v1_group(const std::string& top, std::string_view relative, bool cpuset,
                           std::vector<std::string>& made) {
    std::string parent = top;
    for (std::string_view part : split(relative, '/')) {
        std::string directory = join_path(parent, part);
        if (::mkdir(directory.c_str(), 0755) == 0)
            made.push_back(directory);
        else if (errno != EEXIST)
            return errno_error(cat("create cgroup ", quoted(directory)));
        else if (!is_directory(directory))
            return error(cat("create cgroup ", quoted(directory), ": exists and is not a group"));
        // Every level, made here or not: another create may have made one
        // and not filled it in yet.
        if (cpuset)
            for (std::string_view file : {"cpuset.cpus", "cpuset.mems"}) {
                std::string mine = join_path(directory, file);
                std::string inherited(trim(TRY(read_file(join_path(parent, file)))));
                if (trim(TRY(read_file(mine))).empty() && !inherited.empty())
                    TRY(write_control(mine, inherited));
            }
        parent = std::move(directory);
    }
    return {};
}

} // namespace

namespace {

// The mount options of a cgroup v1 mount that are not its controllers (the
// named hierarchy's "name=X" is kept: it tells the hierarchy apart).
bool is_controller_option(std::string_view option) {
    constexpr std::string_view kNotControllers[] = {
        "rw",   "ro",     "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
        "none", "nosuid", "nodev", "noexec",   "relatime",       "noatime"};
    return !option.empty() && !option.starts_with("release_agent=") &&
           std::ranges::find(kNotControllers, option) == std::end(kNotControllers);
}

} // namespace

std::vector<CgroupHierarchy> cgroup_v1_mounts(std::span<const MountEntry> mounts,
                                              std::string_view root) {
    std::vector<CgroupHierarchy> out;
    std::string_view under = root;
    while (under.size() > 1 && under.ends_with('/'))
        under.remove_suffix(1);
    for (const MountEntry& mount : mounts) {
        size_t slash = mount.point.rfind('/');
        if (mount.type != "cgroup" || slash == std::string::npos ||
            std::string_view(mount.point).substr(0, slash) != under ||
            slash + 1 == mount.point.size())
            continue;
        std::vector<std::string> controllers;
        for (std::string_view option : split(mount.super_options, ','))
            if (is_controller_option(option))
                controllers.emplace_back(option);
        std::erase_if(out, [&](const CgroupHierarchy& h) { return h.directory == mount.point; });
        out.push_back({std::move(controllers), mount.point});
    }
    std::ranges::sort(out, {}, &CgroupHierarchy::directory);
    return out;
}

namespace {

// The directories under `root` that are v1 hierarchies, by their names.
std::vector<CgroupHierarchy> named_v1_hierarchies(const std::string& root) {
    std::vector<CgroupHierarchy> out;
    // Not symlinks ("cpu" -> "cpu,cpuacct"), which are second names of one.
    Result<std::vector<std::string>> names = list_subdirectories(root);
    if (!names)
        return out;
    for (const std::string& name : *names) {
        std::string directory = join_path(root, name);
        // A cgroup2 mount (a hybrid host's "unified") is no v1 hierarchy.
        if (!is_group(directory) || cgroup2_available(directory))
            continue;
        std::vector<std::string> controllers;
        for (std::string_view controller : split(name, ','))
            controllers.emplace_back(controller);
        out.push_back({std::move(controllers), std::move(directory)});
    }
    return out;
}

std::vector<CgroupHierarchy> find_v1_hierarchies(const std::string& root) {
    std::vector<CgroupHierarchy> out;
    if (Result<std::vector<MountEntry>> mounts = read_mountinfo())
        out = cgroup_v1_mounts(*mounts, root);
    if (out.empty())
        out = named_v1_hierarchies(root);
    // The freezer's first: path() and processes() read it, and kill
    // freezes it.
    std::ranges::stable_partition(out, [](const CgroupHierarchy& hierarchy) {
        return std::ranges::find(hierarchy.controllers, "freezer") != hierarchy.controllers.end();
    });
    return out;
}

} // namespace

std::vector<CgroupHierarchy> cgroup_v1_hierarchies(std::string_view root_view) {
    std::string root(root_view);
    if (cgroup2_available(root))
        return {};
    // Looked up once a process for a root, as long as the root directory
    // is the same and unchanged (a hierarchy mounted later made its mount
    // point there): a container's create asks many times, and each look
    // is a few dozen stats.
    struct Cached {
        std::string root;
        dev_t device;
        ino_t inode;
        timespec changed;
        std::vector<CgroupHierarchy> hierarchies;
    };
    static std::mutex lock;
    static std::optional<Cached> cached;
    struct stat info;
    if (::stat(root.c_str(), &info) != 0)
        return {};
    std::lock_guard guard(lock);
    if (!cached || cached->root != root || cached->device != info.st_dev ||
        cached->inode != info.st_ino || cached->changed.tv_sec != info.st_mtim.tv_sec ||
        cached->changed.tv_nsec != info.st_mtim.tv_nsec)
        cached = Cached{root, info.st_dev, info.st_ino, info.st_mtim, find_v1_hierarchies(root)};
    return cached->hierarchies;
}

bool device_cgroup_available(std::string_view root) {
    if (cgroup2_available(root))
        return true;
    return std::ranges::any_of(cgroup_v1_hierarchies(root), [](const CgroupHierarchy& hierarchy) {
        return std::ranges::find(hierarchy.controllers, "devices") != hierarchy.controllers.end();
    });
}

Result<Cgroup> Cgroup::create_v1(const std::string& relative, const CgroupLimits& limits,
                                 const std::vector<CgroupHierarchy>& hierarchies,
                                 IfExists if_exists) {
    if (!limits.empty())
        return error(cat("create cgroup ", quoted(relative),
                         ": the host's cgroups are v1, and keel sets a unit's limits only "
                         "through cgroup v2"));
    std::vector<std::string> made;
    std::vector<CgroupV1Directory> directories;
    for (const CgroupHierarchy& hierarchy : hierarchies) {
        bool cpuset =
            std::ranges::find(hierarchy.controllers, "cpuset") != hierarchy.controllers.end();
        std::string path = join_path(hierarchy.directory, relative);
        Result<void> ok = make_v1_group(hierarchy.directory, relative, cpuset, made);
        // The first hierarchy's leaf is the claim.
        if (ok && if_exists == IfExists::Fail && directories.empty() &&
            (made.empty() || made.back() != path))
            ok = errno_error(EEXIST, cat("cgroup ", quoted(relative), " exists already"));
        if (!ok) {
            for (const std::string& directory : std::views::reverse(made))
                ::rmdir(directory.c_str());
            return std::unexpected(std::move(ok).error());
        }
        directories.push_back({hierarchy.controllers, std::move(path)});
    }
    return Cgroup(std::move(directories));
}

Result<Cgroup> Cgroup::open_v1(const std::string& relative,
                               const std::vector<CgroupHierarchy>& hierarchies) {
    std::vector<CgroupV1Directory> directories;
    for (const CgroupHierarchy& hierarchy : hierarchies)
        if (std::string path = join_path(hierarchy.directory, relative); is_directory(path))
            directories.push_back({hierarchy.controllers, std::move(path)});
    if (directories.empty())
        return errno_error(ENOENT, cat("cgroup ", quoted(relative), " (in no v1 hierarchy)"));
    return Cgroup(std::move(directories));
}

Result<CgroupStats> Cgroup::stats_v1() const {
    CgroupStats stats;
    if (std::optional<std::string> memory = directory_of("memory")) {
        stats.memory_current = TRY(counter_file(join_path(*memory, "memory.usage_in_bytes")));
        // "oom_kill N" since Linux 4.13.
        std::string control = join_path(*memory, "memory.oom_control");
        if (path_exists(control))
            stats.oom_kills =
                TRY(keyed_value(TRY(read_file(control)), "oom_kill", control)).value_or(0);
    }
    if (std::optional<std::string> pids = directory_of("pids"))
        stats.tasks_current = TRY(counter_file(join_path(*pids, "pids.current")));
    if (std::optional<std::string> cpuacct = directory_of("cpuacct"))
        stats.cpu_usage_usec = TRY(counter_file(join_path(*cpuacct, "cpuacct.usage"))) / 1000;
    return stats;
}

Result<void> Cgroup::set_freezer_v1(Freezer state) const {
    bool frozen = state == Freezer::Frozen;
    std::string_view verb = frozen ? "freeze" : "thaw";
    std::optional<std::string> freezer = directory_of("freezer");
    if (!freezer)
        return error(
            cat(verb, " cgroup ", quoted(m_path), ": the host has no cgroup v1 freezer hierarchy"));
    std::string control = join_path(*freezer, "freezer.state");
    std::string_view wanted = frozen ? "FROZEN" : "THAWED";
    // v1 freezes in the background: FREEZING until every task stopped.
    // Writing FROZEN again nudges tasks that were busy the first time.
    auto deadline = std::chrono::steady_clock::now() + kFreezeTimeout;
    for (;;) {
        TRY_CTX(write_control(control, wanted), cat(verb, " cgroup ", quoted(*freezer)));
        if (trim(TRY(read_file(control))) == wanted)
            return {};
        if (std::chrono::steady_clock::now() >= deadline) {
            // Not left half frozen (FREEZING): thawed again, as runc does.
            if (frozen)
                (void)write_control(control, "THAWED");
            return errno_error(ETIMEDOUT, cat(verb, " cgroup ", quoted(*freezer), ": not ", wanted,
                                              " after ", kFreezeTimeout.count(), " ms"));
        }
        ::usleep(1000);
    }
}

Result<void> Cgroup::remove_v1(bool tree) const {
    // Every hierarchy's, even after one fails; the first error is reported.
    Result<void> first;
    for (const CgroupV1Directory& directory : m_v1) {
        Result<void> removed = tree ? remove_child_groups(directory.path) : Result<void>();
        if (removed && ::rmdir(directory.path.c_str()) != 0 && errno != ENOENT)
            removed = errno_error(cat("remove cgroup ", quoted(directory.path)));
        if (!removed && first)
            first = std::move(removed);
    }
    return first;
}

} // namespace keel
