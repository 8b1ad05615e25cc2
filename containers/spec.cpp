// config.json into a typed Spec: every member containers/spec.h names is
// read, checked and turned into numbers, bit masks and enums here, once, so
// that the runtime's setup steps never meet a name they do not know.
//
// What the spec leaves to Go's encoding/json (runc's reader) keel follows:
// unknown members are ignored, duplicate keys take the last value, and a
// missing or null optional member is its zero value. What would only fail
// later, half-way through making a container (an unknown capability, a
// relative mount destination, a limit out of its range), is refused here
// with the JSON path of the offending value, before anything is created.
#include "containers/spec.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

namespace keel::oci {

namespace {

// Indexed by number, as <linux/capability.h> numbers them.
constexpr std::string_view kCapabilityNames[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
static_assert(std::size(kCapabilityNames) == kLastCapability + 1);

struct RlimitName {
    int resource;
    std::string_view name;
};
constexpr RlimitName kRlimitNames[] = {
    {RLIMIT_CPU, "RLIMIT_CPU"},           {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
    {RLIMIT_DATA, "RLIMIT_DATA"},         {RLIMIT_STACK, "RLIMIT_STACK"},
    {RLIMIT_CORE, "RLIMIT_CORE"},         {RLIMIT_RSS, "RLIMIT_RSS"},
    {RLIMIT_NPROC, "RLIMIT_NPROC"},       {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
    {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},   {RLIMIT_AS, "RLIMIT_AS"},
    {RLIMIT_LOCKS, "RLIMIT_LOCKS"},       {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
    {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {RLIMIT_NICE, "RLIMIT_NICE"},
    {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},     {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
};

// libseccomp's architecture names, which the spec adopts.
constexpr std::string_view kSeccompArchitectures[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

constexpr std::string_view kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

struct PersonalityFlag {
    std::string_view name;
    unsigned long flag;
};
// <sys/personality.h>'s flags, spelt as personality(2) does.
constexpr PersonalityFlag kPersonalityFlags[] = {
    {"UNAME26", UNAME26},
    {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    {"SHORT_INODE", SHORT_INODE},
    {"WHOLE_SECONDS", WHOLE_SECONDS},
    {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
};

// The largest uid or gid: (uid_t)-1 means "no id" to the kernel.
constexpr uint32_t kMaxId = std::numeric_limits<uint32_t>::max() - 1;

// Text from the file echoed in a message: quoted, shortened, with control
// bytes made visible.
std::string shown(std::string_view text) {
    constexpr size_t kMax = 60;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size() && i < kMax; ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += text[i];
        }
    }
    if (text.size() > kMax)
        out += "...";
    return quoted(out);
}

// A string that reaches a syscall: one with a NUL in it would be cut there.
Result<std::string> text(const JsonCursor& at) {
    std::string value = TRY(at.string());
    if (value.find('\0') != std::string::npos)
        return at.fail("contains a NUL character");
    return value;
}

Result<std::string> text_or_empty(const JsonCursor& at) {
    if (!at.present())
        return std::string();
    return text(at);
}

Result<std::string> absolute_path(const JsonCursor& at) {
    std::string path = TRY(text(at));
    if (!path.starts_with('/'))
        return at.fail("must be an absolute path");
    return path;
}

Result<std::vector<std::string>> texts(const JsonCursor& at) {
    std::vector<std::string> out;
    for (const JsonCursor& element : TRY(at.array()))
        out.push_back(TRY(text(element)));
    return out;
}

Result<std::vector<std::string>> absolute_paths(const JsonCursor& at) {
    std::vector<std::string> out;
    for (const JsonCursor& element : TRY(at.array()))
        out.push_back(TRY(absolute_path(element)));
    return out;
}

// A map of strings whose keys and values reach the kernel (sysctl, cgroup
// files).
Result<std::map<std::string, std::string>> text_map(const JsonCursor& at) {
    std::map<std::string, std::string> out = TRY(at.map<std::string>());
    for (const auto& [key, value] : out)
        if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
            return at.fail(cat(shown(key), " contains a NUL character"));
    return out;
}

template <std::integral T>
Result<std::optional<T>> optional_integer(const JsonCursor& at,
                                          T min = std::numeric_limits<T>::min(),
                                          T max = std::numeric_limits<T>::max()) {
    if (!at.present())
        return std::nullopt;
    return TRY(at.integer<T>(min, max));
}

template <std::integral T>
Result<T> integer_or(const JsonCursor& at, T fallback, T min = std::numeric_limits<T>::min(),
                     T max = std::numeric_limits<T>::max()) {
    std::optional<T> value = TRY(optional_integer<T>(at, min, max));
    return value.value_or(fallback);
}

Result<std::optional<bool>> optional_boolean(const JsonCursor& at) {
    if (!at.present())
        return std::nullopt;
    return TRY(at.boolean());
}

Result<uint32_t> id(const JsonCursor& at) {
    return integer_or<uint32_t>(at, 0, 0, kMaxId);
}

// 1.0.0 up to 1.2.x, with any pre-release or build suffix ("1.0.2-dev",
// "1.1.0-rc.1"): later minor versions may add meaning keel would miss.
bool supported_version(std::string_view version) {
    if (!version.starts_with("1.") || version.size() < 5)
        return false;
    char minor = version[2];
    if (minor < '0' || minor > '2' || version[3] != '.')
        return false;
    std::string_view rest = version.substr(4);
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
        ++digits;
    if (digits == 0 || (digits > 1 && rest[0] == '0'))
        return false;
    rest.remove_prefix(digits);
    return rest.empty() || ((rest[0] == '-' || rest[0] == '+') && rest.size() > 1);
}

Result<CapabilityMask> capability_set(const JsonCursor& at) {
    CapabilityMask mask = 0;
    for (const JsonCursor& element : TRY(at.array())) {
        std::string name = TRY(element.string());
        std::optional<int> number = capability_number(name);
        if (!number)
            return element.fail(cat("unknown capability ", shown(name)));
        mask |= CapabilityMask(1) << *number;
    }
    return mask;
}

Result<Capabilities> read_capabilities(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Capabilities out;
    out.bounding = TRY(capability_set(object["bounding"]));
    out.effective = TRY(capability_set(object["effective"]));
    out.inheritable = TRY(capability_set(object["inheritable"]));
    out.permitted = TRY(capability_set(object["permitted"]));
    out.ambient = TRY(capability_set(object["ambient"]));
    return out;
}

Result<std::vector<Rlimit>> read_rlimits(const JsonCursor& at) {
    std::vector<Rlimit> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        JsonCursor type = object["type"];
        std::string name = TRY(type.string());
        std::optional<int> resource = rlimit_number(name);
        if (!resource)
            return type.fail(cat("unknown rlimit ", shown(name)));
        for (const Rlimit& earlier : out)
            if (earlier.resource == *resource)
                return type.fail(cat(shown(name), " is given twice"));
        Rlimit limit{.resource = *resource};
        limit.soft = TRY(object["soft"].integer<uint64_t>());
        limit.hard = TRY(object["hard"].integer<uint64_t>());
        if (limit.soft > limit.hard)
            return object["soft"].fail(cat(limit.soft, " is above the hard limit ", limit.hard));
        out.push_back(limit);
    }
    return out;
}

Result<User> read_user(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    User out;
    out.uid = TRY(id(object["uid"]));
    out.gid = TRY(id(object["gid"]));
    out.umask = TRY(optional_integer<uint32_t>(object["umask"], 0, 0777));
    for (const JsonCursor& element : TRY(object["additionalGids"].array()))
        out.additional_gids.push_back(TRY(element.integer<uint32_t>(0, kMaxId)));
    return out;
}

Result<Process> read_process(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Process out;
    out.terminal = TRY(object["terminal"].value_or(false));
    if (JsonCursor size = object["consoleSize"]; size.present()) {
        JsonObjectCursor members = TRY(size.object());
        ConsoleSize console;
        console.height = TRY(integer_or<uint32_t>(members["height"], 0));
        console.width = TRY(integer_or<uint32_t>(members["width"], 0));
        out.console_size = console;
    }
    if (JsonCursor user = object["user"]; user.present())
        out.user = TRY(read_user(user));

    JsonCursor args = object["args"];
    if (args.missing())
        return args.fail("missing");
    out.args = TRY(texts(args));
    if (out.args.empty())
        return args.fail("must name the program to run");
    out.env = TRY(texts(object["env"]));
    out.cwd = TRY(absolute_path(object["cwd"]));

    if (JsonCursor capabilities = object["capabilities"]; capabilities.present())
        out.capabilities = TRY(read_capabilities(capabilities));
    out.rlimits = TRY(read_rlimits(object["rlimits"]));
    out.no_new_privileges = TRY(object["noNewPrivileges"].value_or(false));
    out.oom_score_adj = TRY(optional_integer<int>(object["oomScoreAdj"], -1000, 1000));
    out.apparmor_profile = TRY(object["apparmorProfile"].value_or(""));
    out.selinux_label = TRY(object["selinuxLabel"].value_or(""));
    return out;
}

Result<Root> read_root(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Root out;
    JsonCursor path = object["path"];
    out.path = TRY(text(path));
    if (out.path.empty())
        return path.fail("must not be empty");
    out.readonly = TRY(object["readonly"].value_or(false));
    return out;
}

Result<std::vector<IdMapping>> read_id_mappings(const JsonCursor& at) {
    std::vector<IdMapping> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        IdMapping mapping;
        mapping.container_id = TRY(object["containerID"].integer<uint32_t>());
        mapping.host_id = TRY(object["hostID"].integer<uint32_t>());
        mapping.size = TRY(object["size"].integer<uint32_t>(1));
        out.push_back(mapping);
    }
    return out;
}

Result<std::vector<Mount>> read_mounts(const JsonCursor& at) {
    std::vector<Mount> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        Mount mount;
        mount.destination = TRY(absolute_path(object["destination"]));
        mount.source = TRY(text_or_empty(object["source"]));
        mount.type = TRY(text_or_empty(object["type"]));
        mount.options = TRY(texts(object["options"]));
        mount.parsed = parse_mount_options(mount.options);
        mount.uid_mappings = TRY(read_id_mappings(object["uidMappings"]));
        mount.gid_mappings = TRY(read_id_mappings(object["gidMappings"]));
        out.push_back(std::move(mount));
    }
    return out;
}

Result<std::vector<Hook>> read_hook_list(const JsonCursor& at) {
    std::vector<Hook> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        Hook hook;
        hook.path = TRY(absolute_path(object["path"]));
        hook.args = TRY(texts(object["args"]));
        hook.env = TRY(texts(object["env"]));
        hook.timeout = TRY(optional_integer<uint32_t>(object["timeout"], 1));
        out.push_back(std::move(hook));
    }
    return out;
}

Result<Hooks> read_hooks(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Hooks out;
    out.prestart = TRY(read_hook_list(object["prestart"]));
    out.create_runtime = TRY(read_hook_list(object["createRuntime"]));
    out.create_container = TRY(read_hook_list(object["createContainer"]));
    out.start_container = TRY(read_hook_list(object["startContainer"]));
    out.poststart = TRY(read_hook_list(object["poststart"]));
    out.poststop = TRY(read_hook_list(object["poststop"]));
    return out;
}

Result<std::vector<Namespace>> read_namespaces(const JsonCursor& at) {
    std::vector<Namespace> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        JsonCursor type = object["type"];
        std::string name = TRY(type.string());
        std::optional<NamespaceType> parsed = kNamespaceTypeNames.parse(name);
        if (!parsed)
            return type.fail(cat("unknown namespace type ", shown(name), " (expected ",
                                 kNamespaceTypeNames.names(", ", " or "), ")"));
        for (const Namespace& earlier : out)
            if (earlier.type == *parsed)
                return type.fail(cat(shown(name), " is given twice"));
        Namespace entry{.type = *parsed};
        JsonCursor path = object["path"];
        entry.path = TRY(text_or_empty(path));
        if (!entry.path.empty() && !entry.path.starts_with('/'))
            return path.fail("must be an absolute path");
        out.push_back(std::move(entry));
    }
    return out;
}

Result<std::vector<Device>> read_devices(const JsonCursor& at) {
    std::vector<Device> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        Device device;
        JsonCursor type = object["type"];
        std::string letter = TRY(type.string());
        if (letter != "c" && letter != "u" && letter != "b" && letter != "p")
            return type.fail(
                cat("unknown device type ", shown(letter), " (expected c, u, b or p)"));
        device.type = letter[0];
        device.path = TRY(absolute_path(object["path"]));
        if (device.type == 'p') {
            device.major = TRY(integer_or<int64_t>(object["major"], 0));
            device.minor = TRY(integer_or<int64_t>(object["minor"], 0));
        } else {
            // makedev() takes 32 bits of each.
            device.major = TRY(object["major"].integer<int64_t>(0, 0xffffffff));
            device.minor = TRY(object["minor"].integer<int64_t>(0, 0xffffffff));
        }
        device.file_mode = TRY(optional_integer<uint32_t>(object["fileMode"], 0, 07777));
        device.uid = TRY(optional_integer<uint32_t>(object["uid"], 0, kMaxId));
        device.gid = TRY(optional_integer<uint32_t>(object["gid"], 0, kMaxId));
        out.push_back(std::move(device));
    }
    return out;
}

// A device number in a cgroup rule: absent or -1 means any.
Result<std::optional<int64_t>> device_number_or_any(const JsonCursor& at) {
    std::optional<int64_t> number = TRY(optional_integer<int64_t>(at, -1));
    if (number == -1)
        return std::nullopt;
    return number;
}

Result<std::vector<DeviceRule>> read_device_rules(const JsonCursor& at) {
    std::vector<DeviceRule> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        DeviceRule rule;
        rule.allow = TRY(object["allow"].boolean());
        JsonCursor type = object["type"];
        std::string letter = TRY(type.value_or("a"));
        if (letter != "a" && letter != "c" && letter != "b")
            return type.fail(cat("unknown device type ", shown(letter), " (expected a, c or b)"));
        rule.type = letter[0];
        rule.major = TRY(device_number_or_any(object["major"]));
        rule.minor = TRY(device_number_or_any(object["minor"]));
        JsonCursor access = object["access"];
        rule.access = TRY(access.value_or(""));
        if (rule.access.find_first_not_of("rwm") != std::string::npos)
            return access.fail(cat(shown(rule.access), " is not made of r, w and m"));
        out.push_back(std::move(rule));
    }
    return out;
}

// Memory sizes in bytes: -1 is unlimited, other negatives mean nothing.
Result<std::optional<int64_t>> memory_size(const JsonCursor& at) {
    return optional_integer<int64_t>(at, -1);
}

// Fills `out`: libc++ 16 would keep a Result<MemoryResources>'s flag in the
// struct's tail padding (see base/result.h).
Result<void> read_memory(const JsonCursor& at, MemoryResources& out) {
    JsonObjectCursor object = TRY(at.object());
    out.limit = TRY(memory_size(object["limit"]));
    out.reservation = TRY(memory_size(object["reservation"]));
    out.swap = TRY(memory_size(object["swap"]));
    out.swappiness = TRY(optional_integer<uint64_t>(object["swappiness"], 0, 100));
    out.disable_oom_killer = TRY(object["disableOOMKiller"].value_or(false));
    out.use_hierarchy = TRY(optional_boolean(object["useHierarchy"]));
    out.check_before_update = TRY(optional_boolean(object["checkBeforeUpdate"]));
    return {};
}

Result<CpuResources> read_cpu(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    CpuResources out;
    out.shares = TRY(optional_integer<uint64_t>(object["shares"]));
    out.quota = TRY(optional_integer<int64_t>(object["quota"], -1));
    out.burst = TRY(optional_integer<uint64_t>(object["burst"]));
    out.period = TRY(optional_integer<uint64_t>(object["period"]));
    out.realtime_runtime = TRY(optional_integer<int64_t>(object["realtimeRuntime"], -1));
    out.realtime_period = TRY(optional_integer<uint64_t>(object["realtimePeriod"]));
    out.cpus = TRY(text_or_empty(object["cpus"]));
    out.mems = TRY(text_or_empty(object["mems"]));
    out.idle = TRY(optional_integer<int64_t>(object["idle"], 0, 1));
    return out;
}

Result<std::vector<ThrottleDevice>> read_throttle_devices(const JsonCursor& at) {
    std::vector<ThrottleDevice> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        ThrottleDevice device;
        device.major = TRY(object["major"].integer<int64_t>(0));
        device.minor = TRY(object["minor"].integer<int64_t>(0));
        device.rate = TRY(object["rate"].integer<uint64_t>());
        out.push_back(device);
    }
    return out;
}

Result<BlockIoResources> read_block_io(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    BlockIoResources out;
    out.weight = TRY(optional_integer<uint16_t>(object["weight"]));
    out.leaf_weight = TRY(optional_integer<uint16_t>(object["leafWeight"]));
    for (const JsonCursor& element : TRY(object["weightDevice"].array())) {
        JsonObjectCursor device = TRY(element.object());
        WeightDevice entry;
        entry.major = TRY(device["major"].integer<int64_t>(0));
        entry.minor = TRY(device["minor"].integer<int64_t>(0));
        entry.weight = TRY(optional_integer<uint16_t>(device["weight"]));
        entry.leaf_weight = TRY(optional_integer<uint16_t>(device["leafWeight"]));
        out.weight_devices.push_back(entry);
    }
    out.throttle_read_bps = TRY(read_throttle_devices(object["throttleReadBpsDevice"]));
    out.throttle_write_bps = TRY(read_throttle_devices(object["throttleWriteBpsDevice"]));
    out.throttle_read_iops = TRY(read_throttle_devices(object["throttleReadIOPSDevice"]));
    out.throttle_write_iops = TRY(read_throttle_devices(object["throttleWriteIOPSDevice"]));
    return out;
}

Result<Resources> read_resources(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Resources out;
    out.devices = TRY(read_device_rules(object["devices"]));
    if (JsonCursor memory = object["memory"]; memory.present())
        TRY(read_memory(memory, out.memory.emplace()));
    if (JsonCursor cpu = object["cpu"]; cpu.present())
        out.cpu = TRY(read_cpu(cpu));
    if (JsonCursor pids = object["pids"]; pids.present()) {
        JsonObjectCursor members = TRY(pids.object());
        out.pids_limit = TRY(members["limit"].integer<int64_t>());
    }
    if (JsonCursor block_io = object["blockIO"]; block_io.present())
        out.block_io = TRY(read_block_io(block_io));
    for (const JsonCursor& element : TRY(object["hugepageLimits"].array())) {
        JsonObjectCursor limit = TRY(element.object());
        HugepageLimit entry;
        JsonCursor page_size = limit["pageSize"];
        entry.page_size = TRY(text(page_size));
        if (entry.page_size.empty())
            return page_size.fail("must not be empty");
        entry.limit = TRY(limit["limit"].integer<uint64_t>());
        out.hugepage_limits.push_back(std::move(entry));
    }
    out.unified = TRY(text_map(object["unified"]));
    return out;
}

Result<SeccompAction> seccomp_action(const JsonCursor& at) {
    std::string name = TRY(at.string());
    if (name == "SCMP_ACT_KILL")
        return SeccompAction::KillThread;
    if (std::optional<SeccompAction> action = kSeccompActionNames.parse(name))
        return *action;
    return at.fail(cat("unknown seccomp action ", shown(name)));
}

Result<std::vector<SeccompArgument>> read_seccomp_arguments(const JsonCursor& at) {
    std::vector<SeccompArgument> out;
    for (const JsonCursor& element : TRY(at.array())) {
        JsonObjectCursor object = TRY(element.object());
        SeccompArgument argument;
        argument.index = TRY(object["index"].integer<uint32_t>(0, 5));
        argument.value = TRY(object["value"].integer<uint64_t>());
        argument.value_two = TRY(integer_or<uint64_t>(object["valueTwo"], 0));
        JsonCursor op = object["op"];
        std::string name = TRY(op.string());
        std::optional<SeccompOperator> parsed = kSeccompOperatorNames.parse(name);
        if (!parsed)
            return op.fail(cat("unknown seccomp operator ", shown(name)));
        argument.op = *parsed;
        out.push_back(argument);
    }
    return out;
}

Result<Seccomp> read_seccomp(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Seccomp out;
    JsonCursor default_action = object["defaultAction"];
    out.default_action = TRY(seccomp_action(default_action));
    // The kernel has nobody to notify before a listener exists.
    if (out.default_action == SeccompAction::Notify)
        return default_action.fail("SCMP_ACT_NOTIFY cannot be the default action");
    out.default_errno_ret = TRY(optional_integer<uint32_t>(object["defaultErrnoRet"]));
    for (const JsonCursor& element : TRY(object["architectures"].array())) {
        std::string name = TRY(element.string());
        if (std::ranges::find(kSeccompArchitectures, name) == std::end(kSeccompArchitectures))
            return element.fail(cat("unknown architecture ", shown(name)));
        out.architectures.push_back(std::move(name));
    }
    for (const JsonCursor& element : TRY(object["flags"].array())) {
        std::string name = TRY(element.string());
        if (std::ranges::find(kSeccompFlags, name) == std::end(kSeccompFlags))
            return element.fail(cat("unknown seccomp flag ", shown(name)));
        out.flags.push_back(std::move(name));
    }
    JsonCursor listener_path = object["listenerPath"];
    out.listener_path = TRY(text_or_empty(listener_path));
    if (!out.listener_path.empty() && !out.listener_path.starts_with('/'))
        return listener_path.fail("must be an absolute path");
    out.listener_metadata = TRY(object["listenerMetadata"].value_or(""));

    for (const JsonCursor& element : TRY(object["syscalls"].array())) {
        JsonObjectCursor syscall = TRY(element.object());
        SeccompRule rule;
        JsonCursor names = syscall["names"];
        rule.names = TRY(texts(names));
        if (rule.names.empty())
            return names.fail("must name at least one syscall");
        JsonCursor action = syscall["action"];
        rule.action = TRY(seccomp_action(action));
        if (rule.action == SeccompAction::Notify && out.listener_path.empty())
            return action.fail("SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
        // The listener leaves the container's process by sendmsg, the one
        // system call between the filter and the hand-over: notified, it
        // would wait for an agent that has nothing to listen on yet (runc
        // refuses write, its own such call, for the same reason).
        if (rule.action == SeccompAction::Notify &&
            std::find(rule.names.begin(), rule.names.end(), "sendmsg") != rule.names.end())
            return action.fail("SCMP_ACT_NOTIFY cannot be used for sendmsg, which hands the "
                               "listener to the agent");
        rule.errno_ret = TRY(optional_integer<uint32_t>(syscall["errnoRet"]));
        rule.args = TRY(read_seccomp_arguments(syscall["args"]));
        out.syscalls.push_back(std::move(rule));
    }
    return out;
}

Result<Personality> read_personality(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    Personality out;
    JsonCursor domain = object["domain"];
    std::string name = TRY(domain.string());
    if (name == "LINUX")
        out.domain = PER_LINUX;
    else if (name == "LINUX32")
        out.domain = PER_LINUX32;
    else
        return domain.fail(
            cat("unknown personality domain ", shown(name), " (expected LINUX or LINUX32)"));
    for (const JsonCursor& element : TRY(object["flags"].array())) {
        std::string flag = TRY(element.string());
        const PersonalityFlag* found = nullptr;
        for (const PersonalityFlag& known : kPersonalityFlags)
            if (known.name == flag)
                found = &known;
        if (!found)
            return element.fail(cat("unknown personality flag ", shown(flag)));
        out.domain |= found->flag;
    }
    return out;
}

Result<TimeOffset> read_time_offset(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    TimeOffset out;
    out.secs = TRY(integer_or<int64_t>(object["secs"], 0));
    out.nanosecs = TRY(integer_or<uint32_t>(object["nanosecs"], 0, 0, 999'999'999));
    return out;
}

Result<PropagationSetting> rootfs_propagation(const JsonCursor& at) {
    std::string name = TRY(at.value_or(""));
    if (name.empty())
        return PropagationSetting{};
    std::optional<PropagationSetting> setting = parse_propagation(name);
    if (!setting)
        return at.fail(cat("unknown propagation ", shown(name),
                           " (expected private, rprivate, shared, rshared, slave, rslave, "
                           "unbindable or runbindable)"));
    return *setting;
}

Result<LinuxConfig> read_linux(const JsonCursor& at) {
    JsonObjectCursor object = TRY(at.object());
    LinuxConfig out;
    out.namespaces = TRY(read_namespaces(object["namespaces"]));
    out.uid_mappings = TRY(read_id_mappings(object["uidMappings"]));
    out.gid_mappings = TRY(read_id_mappings(object["gidMappings"]));
    out.devices = TRY(read_devices(object["devices"]));
    out.cgroups_path = TRY(text_or_empty(object["cgroupsPath"]));
    if (JsonCursor resources = object["resources"]; resources.present())
        out.resources = TRY(read_resources(resources));
    out.sysctl = TRY(text_map(object["sysctl"]));
    if (JsonCursor seccomp = object["seccomp"]; seccomp.present())
        out.seccomp = TRY(read_seccomp(seccomp));
    PropagationSetting propagation = TRY(rootfs_propagation(object["rootfsPropagation"]));
    out.rootfs_propagation = propagation.propagation;
    out.rootfs_propagation_recursive = propagation.recursive;
    out.masked_paths = TRY(absolute_paths(object["maskedPaths"]));
    out.readonly_paths = TRY(absolute_paths(object["readonlyPaths"]));
    out.mount_label = TRY(object["mountLabel"].value_or(""));
    if (JsonCursor personality = object["personality"]; personality.present())
        out.personality = TRY(read_personality(personality));
    if (JsonCursor offsets = object["timeOffsets"]; offsets.present()) {
        JsonObjectCursor clocks = TRY(offsets.object());
        for (const auto& [clock, offset] : clocks.members()) {
            if (clock == "monotonic")
                out.monotonic_offset = TRY(read_time_offset(offset));
            else if (clock == "boottime")
                out.boottime_offset = TRY(read_time_offset(offset));
            else
                return offset.fail("unknown clock (expected monotonic or boottime)");
        }
    }
    return out;
}

// The most config.json may hold: Docker's largest configs are some 100 KiB.
constexpr size_t kMaxConfigSize = 16 << 20;

Result<std::string> read_config_file(const std::string& path) {
    Result<Fd> fd = open_file(path, O_RDONLY);
    if (!fd)
        return errno_error(fd.error().code(), path);
    std::string out;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd->get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(path);
        if (n == 0)
            return out;
        if (out.size() + size_t(n) > kMaxConfigSize)
            return error(cat(path, ": larger than 16 MiB"));
        out.append(buffer, size_t(n));
    }
}

} // namespace

std::optional<int> capability_number(std::string_view name) {
    for (int number = 0; number <= kLastCapability; ++number)
        if (kCapabilityNames[number] == name)
            return number;
    return std::nullopt;
}

std::string_view capability_name(int number) {
    if (number < 0 || number > kLastCapability)
        return "?";
    return kCapabilityNames[number];
}

std::optional<int> rlimit_number(std::string_view name) {
    for (const RlimitName& entry : kRlimitNames)
        if (entry.name == name)
            return entry.resource;
    return std::nullopt;
}

std::string_view rlimit_name(int resource) {
    for (const RlimitName& entry : kRlimitNames)
        if (entry.resource == resource)
            return entry.name;
    return "?";
}

bool Mount::is_bind() const {
    return (parsed.flags & MS_BIND) != 0 || type == "bind";
}

const Namespace* LinuxConfig::find_namespace(NamespaceType type) const {
    for (const Namespace& entry : namespaces)
        if (entry.type == type)
            return &entry;
    return nullptr;
}

Result<Spec> parse_spec(std::string_view json_text) {
    JsonValue document = TRY(parse_json(json_text));
    JsonObjectCursor root = TRY(JsonCursor(document).object());
    Spec spec;

    JsonCursor version = root["ociVersion"];
    spec.oci_version = TRY(version.string());
    if (!supported_version(spec.oci_version))
        return version.fail(
            cat("unsupported version ", shown(spec.oci_version), " (keel reads 1.0.0 to 1.2.x)"));

    if (JsonCursor process = root["process"]; process.present())
        spec.process = TRY(read_process(process));
    // The spec lets other platforms leave root out; on Linux it is required.
    spec.root = TRY(read_root(root["root"]));
    spec.mounts = TRY(read_mounts(root["mounts"]));
    spec.hostname = TRY(text_or_empty(root["hostname"]));
    spec.domainname = TRY(text_or_empty(root["domainname"]));
    if (JsonCursor hooks = root["hooks"]; hooks.present())
        spec.hooks = TRY(read_hooks(hooks));
    spec.annotations = TRY(root["annotations"].map<std::string>());
    if (JsonCursor linux_config = root["linux"]; linux_config.present())
        spec.linux_config = TRY(read_linux(linux_config));
    return spec;
}

Result<Process> parse_process(std::string_view json_text) {
    JsonValue document = TRY(parse_json(json_text));
    return read_process(JsonCursor(document, "process"));
}

Result<Resources> parse_resources(std::string_view json_text) {
    JsonValue document = TRY(parse_json(json_text));
    return read_resources(JsonCursor(document, "linux.resources"));
}

Result<Spec> read_spec(const std::string& bundle) {
    std::string path = bundle.ends_with('/') ? bundle + "config.json" : bundle + "/config.json";
    std::string text = TRY(read_config_file(path));
    return TRY_CTX(parse_spec(text), path);
}

} // namespace keel::oci
