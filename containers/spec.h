// An OCI runtime bundle's config.json (runtime spec 1.0 to 1.2) as typed
// values: what parse_spec() reads and refuses, and what the runtime's setup
// steps (rootfs, namespaces, capabilities, seccomp, resources) consume.
// Names follow the spec's JSON fields in snake_case; every string that the
// spec draws from a fixed set (namespace types, rlimits, capabilities,
// seccomp actions and operators, propagation) is an enum or a number here,
// checked once at parse time, so the setup code never meets an unknown name.
//
// Units and ranges are the spec's: memory in bytes, -1 = unlimited where the
// spec says so; unset optional fields leave the kernel's or the parent's
// value alone.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::oci {

/// The ociVersion values keel reads: 1.0.0 up to 1.2.x (and their -rc/-dev
/// forms); others are refused, as their meaning may differ.
inline constexpr std::string_view kOciVersion = "1.2.0";

/// process.user.
struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additional_gids;
};

/// process.consoleSize.
struct ConsoleSize {
    uint32_t height = 0;
    uint32_t width = 0;
};

/// A set of capabilities as a bit mask: bit N is capability number N
/// (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
using CapabilityMask = uint64_t;

/// process.capabilities: the five sets. An absent set is empty.
struct Capabilities {
    CapabilityMask bounding = 0;
    CapabilityMask effective = 0;
    CapabilityMask inheritable = 0;
    CapabilityMask permitted = 0;
    CapabilityMask ambient = 0;
};

/// The capability named `name` ("CAP_NET_ADMIN"), or nullopt.
std::optional<int> capability_number(std::string_view name);
/// The name of capability `number`, or "?" when it has none.
std::string_view capability_name(int number);
/// The highest capability number keel knows (CAP_CHECKPOINT_RESTORE).
inline constexpr int kLastCapability = 40;

/// process.rlimits[]: `type` resolved to the RLIMIT_* number.
struct Rlimit {
    int resource = 0;
    uint64_t soft = 0;
    uint64_t hard = 0;
};

/// The RLIMIT_* number named `name` ("RLIMIT_NOFILE"), or nullopt.
std::optional<int> rlimit_number(std::string_view name);
/// The name of RLIMIT_* number `resource`, or "?".
std::string_view rlimit_name(int resource);

/// process.
struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> console_size;
    User user;
    /// At least one element (the spec requires args for start).
    std::vector<std::string> args;
    /// "KEY=value" entries as given.
    std::vector<std::string> env;
    /// Absolute.
    std::string cwd = "/";
    /// Absent: the runtime's default set stays (keel: none kept).
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::optional<int> oom_score_adj;
    std::string apparmor_profile;
    std::string selinux_label;
};

/// root.
struct Root {
    /// As written: relative paths are relative to the bundle.
    std::string path = "rootfs";
    bool readonly = false;
};

/// Mount propagation, for rootfsPropagation and mount options.
enum class Propagation { Unchanged, Private, Shared, Slave, Unbindable };

/// mounts[].options, split into what mount(2) and mount_setattr(2) take.
/// Options that are not flags ("mode=755", "newinstance") go into `data`,
/// comma-joined in their order.
struct MountOptions {
    /// MS_* flags to set (MS_RDONLY, MS_NOSUID, ...; MS_BIND for "bind" and
    /// "rbind", with MS_REC for "rbind").
    unsigned long flags = 0;
    /// MS_* flags an option turned off again ("rw" after "ro", "suid"...).
    unsigned long cleared = 0;
    /// The propagation to apply after mounting, and whether recursively
    /// ("rprivate", "rslave", ...).
    Propagation propagation = Propagation::Unchanged;
    bool propagation_recursive = false;
    /// MOUNT_ATTR_* bits set and cleared recursively ("rro", "rnosuid", ...).
    uint64_t recursive_set = 0;
    uint64_t recursive_clear = 0;
    /// "tmpcopyup": a tmpfs gets a copy of what was below it.
    bool copy_up = false;
    /// "idmap" or "ridmap" (recursive): an idmapped bind mount, with the
    /// mount's own uid/gid mappings or, without them, the container's.
    bool idmap = false;
    bool idmap_recursive = false;
    std::string data;
};

/// Splits mount options: MS_* flags ("ro", "nosuid", "rbind", ...),
/// recursive attributes ("rro", "rnosuid", ...), a propagation ("rslave"),
/// "tmpcopyup" and "idmap"/"ridmap"; all others go into `data`. Later
/// options win over earlier ones, as with mount(8); empty ones are skipped.
MountOptions parse_mount_options(const std::vector<std::string>& options);

/// A propagation as a mount option or rootfsPropagation names it.
struct PropagationSetting {
    Propagation propagation = Propagation::Unchanged;
    /// "rprivate", "rslave", ...: the whole tree below too.
    bool recursive = false;
};

/// "private", "rprivate", "shared", "rshared", "slave", "rslave",
/// "unbindable" or "runbindable", or nullopt for any other name.
std::optional<PropagationSetting> parse_propagation(std::string_view name);

/// An id mapping of a user namespace or an idmapped mount.
struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
};

/// mounts[].
struct Mount {
    /// Absolute, inside the container.
    std::string destination;
    /// Optional: for bind mounts a host path (relative: to the bundle).
    std::string source;
    /// Optional for bind mounts ("bind" or empty).
    std::string type;
    /// As written, for state and hooks.
    std::vector<std::string> options;
    MountOptions parsed;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;

    bool is_bind() const;
};

/// hooks.*[].
struct Hook {
    /// Absolute path of the program.
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    /// Seconds; absent: no limit.
    std::optional<uint32_t> timeout;
};

/// hooks.
struct Hooks {
    std::vector<Hook> prestart; // deprecated in the spec, still run
    std::vector<Hook> create_runtime;
    std::vector<Hook> create_container;
    std::vector<Hook> start_container;
    std::vector<Hook> poststart;
    std::vector<Hook> poststop;
};

/// linux.namespaces[].type.
enum class NamespaceType { Pid, Network, Mount, Ipc, Uts, User, Cgroup, Time };

inline constexpr auto kNamespaceTypeNames = name_table<NamespaceType>({
    {NamespaceType::Pid, "pid"},
    {NamespaceType::Network, "network"},
    {NamespaceType::Mount, "mount"},
    {NamespaceType::Ipc, "ipc"},
    {NamespaceType::Uts, "uts"},
    {NamespaceType::User, "user"},
    {NamespaceType::Cgroup, "cgroup"},
    {NamespaceType::Time, "time"},
});

/// linux.namespaces[]: a new namespace, or one to join when `path` is set.
/// Each type appears at most once (the parser refuses duplicates).
struct Namespace {
    NamespaceType type = NamespaceType::Mount;
    std::string path;
};

/// linux.devices[]: a node made in the container's /dev.
struct Device {
    /// 'c' (or 'u'), 'b' or 'p'.
    char type = 'c';
    /// Absolute, inside the container.
    std::string path;
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint32_t> file_mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

/// linux.resources.devices[]: a device cgroup rule.
struct DeviceRule {
    bool allow = false;
    /// 'a' (all), 'c' or 'b'.
    char type = 'a';
    /// Absent: any.
    std::optional<int64_t> major;
    std::optional<int64_t> minor;
    /// Some of "rwm"; empty means all three.
    std::string access;
};

struct MemoryResources {
    std::optional<int64_t> limit;
    std::optional<int64_t> reservation;
    /// memory + swap, as in cgroup v1 (the runtime converts for v2).
    std::optional<int64_t> swap;
    std::optional<uint64_t> swappiness;
    bool disable_oom_killer = false;
    std::optional<bool> use_hierarchy;
    std::optional<bool> check_before_update;
};

struct CpuResources {
    std::optional<uint64_t> shares;
    std::optional<int64_t> quota;
    std::optional<uint64_t> burst;
    std::optional<uint64_t> period;
    std::optional<int64_t> realtime_runtime;
    std::optional<uint64_t> realtime_period;
    std::string cpus;
    std::string mems;
    std::optional<int64_t> idle;
};

struct WeightDevice {
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint16_t> weight;
    std::optional<uint16_t> leaf_weight;
};

struct ThrottleDevice {
    int64_t major = 0;
    int64_t minor = 0;
    uint64_t rate = 0;
};

struct BlockIoResources {
    std::optional<uint16_t> weight;
    std::optional<uint16_t> leaf_weight;
    std::vector<WeightDevice> weight_devices;
    std::vector<ThrottleDevice> throttle_read_bps;
    std::vector<ThrottleDevice> throttle_write_bps;
    std::vector<ThrottleDevice> throttle_read_iops;
    std::vector<ThrottleDevice> throttle_write_iops;
};

struct HugepageLimit {
    /// "2MB", "1GB", as the spec writes them.
    std::string page_size;
    uint64_t limit = 0;
};

/// linux.resources.
struct Resources {
    std::vector<DeviceRule> devices;
    std::optional<MemoryResources> memory;
    std::optional<CpuResources> cpu;
    /// pids.limit; 0 or below: unlimited.
    std::optional<int64_t> pids_limit;
    std::optional<BlockIoResources> block_io;
    std::vector<HugepageLimit> hugepage_limits;
    /// cgroup v2 files written as they are ("memory.high": "1G").
    std::map<std::string, std::string> unified;
};

/// linux.seccomp.defaultAction and syscalls[].action.
enum class SeccompAction { KillThread, KillProcess, Trap, Errno, Trace, Allow, Log, Notify };

/// The spec's names. SCMP_ACT_KILL, an older name for killing the thread,
/// is read as KillThread too (the parser maps it).
inline constexpr auto kSeccompActionNames = name_table<SeccompAction>({
    {SeccompAction::KillThread, "SCMP_ACT_KILL_THREAD"},
    {SeccompAction::KillProcess, "SCMP_ACT_KILL_PROCESS"},
    {SeccompAction::Trap, "SCMP_ACT_TRAP"},
    {SeccompAction::Errno, "SCMP_ACT_ERRNO"},
    {SeccompAction::Trace, "SCMP_ACT_TRACE"},
    {SeccompAction::Allow, "SCMP_ACT_ALLOW"},
    {SeccompAction::Log, "SCMP_ACT_LOG"},
    {SeccompAction::Notify, "SCMP_ACT_NOTIFY"},
});

/// linux.seccomp.syscalls[].args[].op.
enum class SeccompOperator {
    NotEqual,
    LessThan,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    GreaterThan,
    MaskedEqual
};

inline constexpr auto kSeccompOperatorNames = name_table<SeccompOperator>({
    {SeccompOperator::NotEqual, "SCMP_CMP_NE"},
    {SeccompOperator::LessThan, "SCMP_CMP_LT"},
    {SeccompOperator::LessOrEqual, "SCMP_CMP_LE"},
    {SeccompOperator::Equal, "SCMP_CMP_EQ"},
    {SeccompOperator::GreaterOrEqual, "SCMP_CMP_GE"},
    {SeccompOperator::GreaterThan, "SCMP_CMP_GT"},
    {SeccompOperator::MaskedEqual, "SCMP_CMP_MASKED_EQ"},
});

/// linux.seccomp.syscalls[].args[].
struct SeccompArgument {
    /// 0 to 5.
    uint32_t index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    SeccompOperator op = SeccompOperator::Equal;
};

/// linux.seccomp.syscalls[].
struct SeccompRule {
    /// Names as written; names this kernel or architecture does not know are
    /// skipped when the profile is compiled (profiles list syscalls for
    /// many kernels), as runc and crun do.
    std::vector<std::string> names;
    SeccompAction action = SeccompAction::Allow;
    /// For Errno (default EPERM) and Trace.
    std::optional<uint32_t> errno_ret;
    std::vector<SeccompArgument> args;
};

/// linux.seccomp.
struct Seccomp {
    SeccompAction default_action = SeccompAction::Allow;
    std::optional<uint32_t> default_errno_ret;
    /// "SCMP_ARCH_X86_64", ... as written (checked against the known names).
    std::vector<std::string> architectures;
    /// "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
    /// "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".
    std::vector<std::string> flags;
    std::string listener_path;
    std::string listener_metadata;
    std::vector<SeccompRule> syscalls;
};

/// linux.personality.
struct Personality {
    /// PER_LINUX or PER_LINUX32, with the flags (ADDR_NO_RANDOMIZE, ...)
    /// or'd in: the value personality(2) takes.
    unsigned long domain = 0;
};

/// linux.timeOffsets.{monotonic,boottime}.
struct TimeOffset {
    int64_t secs = 0;
    uint32_t nanosecs = 0;
};

/// linux. (Named so because `linux` is a predefined macro in GNU C++.)
struct LinuxConfig {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;
    std::vector<Device> devices;
    /// Relative paths are under the runtime's cgroup root; empty: the
    /// runtime picks one.
    std::string cgroups_path;
    std::optional<Resources> resources;
    std::map<std::string, std::string> sysctl;
    std::optional<Seccomp> seccomp;
    Propagation rootfs_propagation = Propagation::Unchanged;
    bool rootfs_propagation_recursive = false;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::string mount_label;
    std::optional<Personality> personality;
    std::optional<TimeOffset> monotonic_offset;
    std::optional<TimeOffset> boottime_offset;

    /// The entry for `type`, or nullptr when the container shares the
    /// runtime's namespace of that type.
    const Namespace* find_namespace(NamespaceType type) const;
};

/// A whole config.json.
struct Spec {
    std::string oci_version;
    /// Absent only in a config that is never started (the spec allows it
    /// for create; start refuses it).
    std::optional<Process> process;
    Root root;
    std::vector<Mount> mounts;
    std::string hostname;
    std::string domainname;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    /// linux; absent: a config with no linux section (no namespaces at all).
    LinuxConfig linux_config;
};

/// Reads config.json's text. Unknown members are ignored, as the spec says;
/// a member of the wrong type or an unknown value is refused with its JSON
/// path: "process.rlimits[2].type: unknown rlimit `RLIMIT_FOO`".
Result<Spec> parse_spec(std::string_view json_text);

/// Reads a process.json (`keel oci exec --process`): the spec's `process`
/// object alone, checked as parse_spec() checks config.json's, its errors
/// naming fields from "process." on.
Result<Process> parse_process(std::string_view json_text);

/// Reads the spec's `linux.resources` object alone (`keel oci update -r`),
/// checked as parse_spec() checks it, errors naming "linux.resources." fields.
Result<Resources> parse_resources(std::string_view json_text);

/// Reads BUNDLE/config.json (at most 16 MiB) and parses it; errors start
/// with the file's path.
Result<Spec> read_spec(const std::string& bundle);

} // namespace keel::oci
