// `keel run`'s container definition (see run_spec.h): Docker's defaults as
// data, the options applied over them, the process's args, env and user,
// and config.json written with JsonWriter.
#include "containers/run_spec.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "base/users.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace keel::containers {

namespace {

constexpr std::string_view kDefaultPathVariable =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Docker's default RLIMIT_NOFILE (soft and hard).
constexpr uint64_t kDefaultNofile = 1048576;

// cpu.max's period for --cpus, in microseconds (Docker's).
constexpr uint64_t kCpuPeriod = 100000;
constexpr uint64_t kMicrosPerCpu = 1000000;

// /dev/shm's size (Docker's --shm-size default): 64 MiB.
constexpr std::string_view kShmSize = "size=67108864";

// Where --init's binary appears in the container.
constexpr std::string_view kInitPath = "/sbin/keel-init";

constexpr std::array kDefaultCapabilityNames = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

// Docker's masked paths: /dev/null over files, an empty read-only tmpfs
// over directories (the runtime tells them apart).
constexpr std::array kMaskedPaths = {
    "/proc/acpi",       "/proc/asound",        "/proc/interrupts",  "/proc/kcore",
    "/proc/keys",       "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/timer_list", "/proc/timer_stats",   "/sys/firmware",     "/sys/devices/virtual/powercap",
};

constexpr std::array kReadonlyPaths = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

// Names for generate_name(): adjectives and (mostly) scientists' names.
constexpr std::array kAdjectives = {
    "agile",  "bold",   "brave",   "calm",  "clever", "daring", "eager",  "fond",
    "gentle", "happy",  "humble",  "jolly", "keen",   "kind",   "lucid",  "merry",
    "modest", "nimble", "patient", "proud", "quiet",  "quick",  "serene", "sharp",
    "steady", "sunny",  "tender",  "tidy",  "vivid",  "warm",   "wise",   "zealous",
};
constexpr std::array kSurnames = {
    "agnesi",  "babbage",   "bohr",     "curie",   "darwin",   "dijkstra", "einstein", "euler",
    "faraday", "fermat",    "galois",   "gauss",   "hamilton", "hopper",   "hypatia",  "kepler",
    "lamarr",  "leibniz",   "lovelace", "maxwell", "meitner",  "newton",   "noether",  "pascal",
    "planck",  "ramanujan", "riemann",  "shannon", "tesla",    "turing",   "volta",    "wiles",
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string to_upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z')
            c = char(c - 'a' + 'A');
    return out;
}

// The key of a "KEY=VALUE" entry.
std::string_view env_key(std::string_view entry) {
    return entry.substr(0, entry.find('='));
}

// Appends `entry`, replacing an entry of the same key in its place.
void set_env(std::vector<std::string>& env, std::string_view entry) {
    std::string_view key = env_key(entry);
    for (std::string& existing : env)
        if (env_key(existing) == key) {
            existing = entry;
            return;
        }
    env.emplace_back(entry);
}

bool has_env(const std::vector<std::string>& env, std::string_view key) {
    return std::ranges::any_of(env, [&](const std::string& e) { return env_key(e) == key; });
}

// A capability's number from "NET_ADMIN", "cap_net_admin", "CAP_NET_ADMIN".
Result<int> capability_from_option(std::string_view name) {
    std::string upper = to_upper(name);
    if (!upper.starts_with("CAP_"))
        upper = "CAP_" + upper;
    if (std::optional<int> number = oci::capability_number(upper))
        return *number;
    return error(cat("unknown capability ", quoted(name)));
}

// --cap-add MKNOD (or ALL): asked for, so never left out quietly.
bool asks_for_mknod(const std::vector<std::string>& add) {
    return std::ranges::any_of(add, [](const std::string& name) {
        auto number = capability_from_option(name);
        return to_upper(name) == "ALL" || (number && *number == CAP_MKNOD);
    });
}

bool names_all(const std::vector<std::string>& names) {
    return std::ranges::any_of(names, [](const std::string& n) { return to_upper(n) == "ALL"; });
}

oci::CapabilityMask all_capabilities() {
    return (oci::CapabilityMask(1) << (oci::kLastCapability + 1)) - 1;
}

// A file inside `rootfs`, resolved there (its symlinks cannot leave it);
// nullopt when it does not exist.
Result<std::optional<std::string>> read_in_root(const std::string& rootfs,
                                                const std::string& path) {
    Fd root = TRY(open_file(rootfs, O_RDONLY | O_DIRECTORY));
    Result<Fd> file = open_resolved(root.get(), path, O_RDONLY, kResolveInRoot);
    if (!file) {
        if (file.error().code() == ENOENT || file.error().code() == ENOTDIR)
            return std::optional<std::string>();
        return std::unexpected(std::move(file).error().wrap(cat(rootfs, path)));
    }
    return std::optional<std::string>(TRY(read_all(file->get())));
}

std::optional<uint32_t> parse_id_number(std::string_view text) {
    std::optional<uint64_t> n = parse_u64(text);
    if (!n || *n > UINT32_MAX)
        return std::nullopt;
    return uint32_t(*n);
}

// Decimal "12", "1.5", "0.25": the whole part and up to `decimals`
// fraction digits, scaled by 10^decimals.
std::optional<uint64_t> parse_fixed_point(std::string_view text, int decimals) {
    size_t dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
    if (whole.empty() || (dot != std::string_view::npos && fraction.empty()))
        return std::nullopt;
    std::optional<uint64_t> w = parse_u64(whole);
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i)
        scale *= 10;
    if (!w || *w > UINT64_MAX / scale / 2)
        return std::nullopt;
    uint64_t out = *w * scale;
    uint64_t digit_scale = scale;
    for (char c : fraction) {
        if (c < '0' || c > '9')
            return std::nullopt;
        digit_scale /= 10;
        out += uint64_t(c - '0') * digit_scale; // digits beyond `decimals` add 0
    }
    return out;
}

bool is_absolute_path(std::string_view path) {
    return path.starts_with('/');
}

// --- config.json's parts -------------------------------------------------

void write_string_array(JsonWriter& json, std::string_view key,
                        const std::vector<std::string>& items) {
    json.key(key).begin_array();
    for (const std::string& item : items)
        json.value(item);
    json.end_array();
}

void write_capability_set(JsonWriter& json, std::string_view key, oci::CapabilityMask mask) {
    json.key(key).begin_array();
    for (int cap = 0; cap <= oci::kLastCapability; ++cap)
        if (mask & (oci::CapabilityMask(1) << cap))
            json.value(oci::capability_name(cap));
    json.end_array();
}

void write_id_mappings(JsonWriter& json, std::string_view key,
                       const std::vector<oci::IdMapping>& map) {
    json.key(key).begin_array();
    for (const oci::IdMapping& line : map)
        json.begin_object()
            .field("containerID", line.container_id)
            .field("hostID", line.host_id)
            .field("size", line.size)
            .end_object();
    json.end_array();
}

struct MountEntry {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
};

void write_mount(JsonWriter& json, const MountEntry& mount) {
    json.begin_object()
        .field("destination", mount.destination)
        .field("type", mount.type)
        .field("source", mount.source);
    write_string_array(json, "options", mount.options);
    json.end_object();
}

// Docker's mounts, then /etc's files, --tmpfs and -v (later ones over
// earlier ones).
std::vector<MountEntry> container_mounts(const RunOptions& options, const ContainerPlace& place) {
    std::vector<MountEntry> out = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts",
         "devpts",
         "devpts",
         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
        {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/dev/shm",
         "tmpfs",
         "shm",
         {"nosuid", "noexec", "nodev", "mode=1777", std::string(kShmSize)}},
    };
    // devpts's gid=5 (tty) must be an id of the container's user namespace.
    if (!place.id_maps.empty() && !host_id_of(place.id_maps.gids, 5))
        std::erase(out[2].options, "gid=5");
    for (std::string_view file : {"resolv.conf", "hostname", "hosts"})
        out.push_back(
            {cat("/etc/", file), "bind", cat(place.files_dir, "/", file), {"rbind", "rprivate"}});
    if (options.init == InitProcess::Keel)
        out.push_back(
            {std::string(kInitPath), "bind", place.init_binary, {"bind", "ro", "nosuid", "nodev"}});
    for (const TmpfsMount& tmpfs : options.tmpfs) {
        MountEntry mount{tmpfs.destination, "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec"}};
        mount.options.insert(mount.options.end(), tmpfs.options.begin(), tmpfs.options.end());
        out.push_back(std::move(mount));
    }
    for (const VolumeMount& volume : options.volumes) {
        MountEntry mount{volume.destination, "bind", volume.source, {"rbind", "rprivate"}};
        if (volume.access == Access::ReadOnly)
            mount.options.push_back("ro");
        if (volume.ids == VolumeIds::Idmapped)
            mount.options.push_back("idmap");
        out.push_back(std::move(mount));
    }
    return out;
}

void write_seccomp(JsonWriter& json, const oci::Seccomp& profile) {
    json.key("seccomp").begin_object();
    json.field("defaultAction", oci::kSeccompActionNames.name(profile.default_action));
    if (profile.default_errno_ret)
        json.field("defaultErrnoRet", *profile.default_errno_ret);
    write_string_array(json, "architectures", profile.architectures);
    if (!profile.flags.empty())
        write_string_array(json, "flags", profile.flags);
    json.key("syscalls").begin_array();
    for (const oci::SeccompRule& rule : profile.syscalls) {
        json.begin_object();
        write_string_array(json, "names", rule.names);
        json.field("action", oci::kSeccompActionNames.name(rule.action));
        if (rule.errno_ret)
            json.field("errnoRet", *rule.errno_ret);
        if (!rule.args.empty()) {
            json.key("args").begin_array();
            for (const oci::SeccompArgument& arg : rule.args)
                json.begin_object()
                    .field("index", arg.index)
                    .field("value", arg.value)
                    .field("valueTwo", arg.value_two)
                    .field("op", oci::kSeccompOperatorNames.name(arg.op))
                    .end_object();
            json.end_array();
        }
        json.end_object();
    }
    json.end_array();
    json.end_object();
}

// The rlimits: Docker's RLIMIT_NOFILE unless --ulimit sets it, then --ulimit's.
std::vector<oci::Rlimit> process_rlimits(const RunOptions& options, const ContainerPlace& place) {
    std::vector<oci::Rlimit> out;
    bool nofile_given = std::ranges::any_of(
        options.ulimits, [](const oci::Rlimit& r) { return r.resource == RLIMIT_NOFILE; });
    if (!nofile_given) {
        uint64_t limit = std::min(kDefaultNofile, place.nofile_hard_limit);
        out.push_back({.resource = RLIMIT_NOFILE, .soft = limit, .hard = limit});
    }
    for (const oci::Rlimit& rlimit : options.ulimits) {
        auto same = std::ranges::find_if(
            out, [&](const oci::Rlimit& r) { return r.resource == rlimit.resource; });
        if (same != out.end())
            *same = rlimit;
        else
            out.push_back(rlimit);
    }
    return out;
}

} // namespace

oci::CapabilityMask default_capabilities() {
    oci::CapabilityMask mask = 0;
    for (std::string_view name : kDefaultCapabilityNames)
        mask |= oci::CapabilityMask(1) << *oci::capability_number(name);
    return mask;
}

Result<oci::CapabilityMask> effective_capabilities(const std::vector<std::string>& add,
                                                   const std::vector<std::string>& drop) {
    oci::CapabilityMask added = 0;
    oci::CapabilityMask dropped = 0;
    for (const std::string& name : add)
        if (to_upper(name) != "ALL")
            added |= oci::CapabilityMask(1) << TRY_CTX(capability_from_option(name), "--cap-add");
    for (const std::string& name : drop)
        if (to_upper(name) != "ALL")
            dropped |= oci::CapabilityMask(1)
                       << TRY_CTX(capability_from_option(name), "--cap-drop");
    if (names_all(add))
        return all_capabilities() & ~(dropped & ~added);
    if (names_all(drop))
        return added;
    return (default_capabilities() & ~dropped) | added;
}

Result<std::vector<std::string>> process_args(const RunOptions& options,
                                              const oci::ImageConfig& image) {
    std::vector<std::string> args;
    if (options.entrypoint) {
        if (!options.entrypoint->empty())
            args.push_back(*options.entrypoint);
    } else {
        args = image.entrypoint;
    }
    if (!options.command.empty())
        args.insert(args.end(), options.command.begin(), options.command.end());
    else if (!options.entrypoint)
        args.insert(args.end(), image.cmd.begin(), image.cmd.end());
    if (args.empty())
        return error("no command: the image has neither Entrypoint nor Cmd, and none was given");
    return args;
}

std::vector<std::string> process_env(const RunOptions& options, const oci::ImageConfig& image,
                                     std::string_view hostname, std::string_view home) {
    std::vector<std::string> env;
    if (!has_env(image.env, "PATH"))
        env.emplace_back(kDefaultPathVariable);
    env.push_back(cat("HOSTNAME=", hostname));
    if (options.terminal == Terminal::Allocate)
        env.emplace_back("TERM=xterm");
    for (const std::string& entry : image.env)
        set_env(env, entry);
    for (const std::string& entry : options.env)
        set_env(env, entry);
    if (!has_env(env, "HOME"))
        env.push_back(cat("HOME=", home));
    return env;
}

Result<ResolvedUser> resolve_user(const std::string& rootfs, std::string_view spec) {
    ResolvedUser out;
    if (spec.empty())
        spec = "0";
    size_t colon = spec.find(':');
    std::string_view user_part = spec.substr(0, colon);
    std::optional<std::string_view> group_part;
    if (colon != std::string_view::npos)
        group_part = spec.substr(colon + 1);
    if (user_part.empty() || (group_part && group_part->empty()))
        return error(cat("bad user ", quoted(spec), " (expected NAME|UID[:GROUP|GID])"));

    std::optional<std::string> passwd_text = TRY(read_in_root(rootfs, "/etc/passwd"));
    std::vector<PasswdEntry> users;
    if (passwd_text)
        users = TRY(parse_passwd(*passwd_text, cat(rootfs, "/etc/passwd")));
    std::optional<uint32_t> uid = parse_id_number(user_part);
    auto entry = std::ranges::find_if(
        users, [&](const PasswdEntry& e) { return uid ? e.uid == *uid : e.name == user_part; });
    bool by_name = false;
    if (entry != users.end()) {
        out.user.uid = entry->uid;
        out.user.gid = entry->gid;
        if (!entry->home.empty())
            out.home = entry->home;
        by_name = !uid;
    } else if (uid) {
        out.user.uid = *uid;
    } else {
        return error(cat("no user ", quoted(user_part), " in ", rootfs, "/etc/passwd"));
    }

    std::optional<uint32_t> gid = group_part ? parse_id_number(*group_part) : std::nullopt;
    if (group_part && gid) {
        out.user.gid = *gid;
        return out;
    }
    if (!group_part && !by_name)
        return out;
    std::optional<std::string> group_text = TRY(read_in_root(rootfs, "/etc/group"));
    std::vector<GroupEntry> groups;
    if (group_text)
        groups = TRY(parse_group(*group_text, cat(rootfs, "/etc/group")));
    if (group_part) {
        auto group = std::ranges::find_if(
            groups, [&](const GroupEntry& g) { return g.name == *group_part; });
        if (group == groups.end())
            return error(cat("no group ", quoted(*group_part), " in ", rootfs, "/etc/group"));
        out.user.gid = group->gid;
        return out;
    }
    for (const GroupEntry& group : groups)
        if (group.gid != out.user.gid &&
            std::ranges::find(group.members, entry->name) != group.members.end() &&
            std::ranges::find(out.user.additional_gids, group.gid) ==
                out.user.additional_gids.end())
            out.user.additional_gids.push_back(group.gid);
    return out;
}

std::string container_hostname(const RunOptions& options, const ContainerPlace& place) {
    if (!options.hostname.empty())
        return options.hostname;
    if (options.network == NetworkMode::Host && !place.host_hostname.empty())
        return place.host_hostname;
    return place.id.substr(0, 12);
}

Result<std::string> make_spec(const RunOptions& options, const oci::ImageConfig& image,
                              const ContainerPlace& place) {
    std::vector<std::string> args = TRY(process_args(options, image));
    if (options.init == InitProcess::Keel) {
        // A regular file: anything else (a directory, "/") would be bound
        // into the container.
        struct stat st {};
        if (!is_absolute_path(place.init_binary) || ::stat(place.init_binary.c_str(), &st) != 0 ||
            !S_ISREG(st.st_mode))
            return error(
                cat("--init: keel's binary ", quoted(place.init_binary), " is not a regular file"));
        args.insert(args.begin(), {std::string(kInitPath), "init", "--container", "--"});
    }
    std::string user_spec = options.user.empty() ? image.user : options.user;
    ResolvedUser user = TRY_CTX(resolve_user(place.rootfs, user_spec), "--user");
    std::string hostname = container_hostname(options, place);
    std::vector<std::string> env = process_env(options, image, hostname, user.home);
    std::string cwd = !options.workdir.empty()     ? options.workdir
                      : !image.working_dir.empty() ? image.working_dir
                                                   : "/";
    if (!is_absolute_path(cwd))
        return error(cat("--workdir: ", quoted(cwd), " is not an absolute path"));
    oci::CapabilityMask caps = TRY(effective_capabilities(options.cap_add, options.cap_drop));
    if (place.device_rules == DeviceRules::NotEnforceable && !asks_for_mknod(options.cap_add))
        caps &= ~(oci::CapabilityMask(1) << CAP_MKNOD);

    JsonWriter json;
    json.begin_object().field("ociVersion", oci::kOciVersion);

    json.key("process").begin_object();
    json.field("terminal", options.terminal == Terminal::Allocate);
    json.key("user").begin_object().field("uid", user.user.uid).field("gid", user.user.gid);
    if (!user.user.additional_gids.empty()) {
        json.key("additionalGids").begin_array();
        for (uint32_t gid : user.user.additional_gids)
            json.value(gid);
        json.end_array();
    }
    json.end_object();
    write_string_array(json, "args", args);
    write_string_array(json, "env", env);
    json.field("cwd", cwd);
    json.key("capabilities").begin_object();
    write_capability_set(json, "bounding", caps);
    write_capability_set(json, "effective", caps);
    write_capability_set(json, "permitted", caps);
    json.end_object();
    json.key("rlimits").begin_array();
    for (const oci::Rlimit& rlimit : process_rlimits(options, place))
        json.begin_object()
            .field("type", oci::rlimit_name(rlimit.resource))
            .field("hard", rlimit.hard)
            .field("soft", rlimit.soft)
            .end_object();
    json.end_array();
    json.field("noNewPrivileges", options.new_privileges == NewPrivileges::Denied);
    json.end_object();

    json.key("root")
        .begin_object()
        .field("path", place.rootfs)
        .field("readonly", options.root_access == Access::ReadOnly)
        .end_object();
    json.field("hostname", hostname);

    json.key("mounts").begin_array();
    for (const MountEntry& mount : container_mounts(options, place))
        write_mount(json, mount);
    json.end_array();

    if (!options.labels.empty()) {
        json.key("annotations").begin_object();
        for (const auto& [key, value] : options.labels)
            json.field(key, value);
        json.end_object();
    }

    json.key("linux").begin_object();
    json.key("namespaces").begin_array();
    std::vector<oci::NamespaceType> namespaces = {
        oci::NamespaceType::Pid, oci::NamespaceType::Ipc, oci::NamespaceType::Uts,
        oci::NamespaceType::Mount, oci::NamespaceType::Cgroup};
    if (options.network != NetworkMode::Host)
        namespaces.push_back(oci::NamespaceType::Network);
    if (!place.id_maps.empty())
        namespaces.push_back(oci::NamespaceType::User);
    for (oci::NamespaceType type : namespaces)
        json.begin_object().field("type", oci::kNamespaceTypeNames.name(type)).end_object();
    json.end_array();
    if (!place.id_maps.empty()) {
        write_id_mappings(json, "uidMappings", place.id_maps.uids);
        write_id_mappings(json, "gidMappings", place.id_maps.gids);
    }
    if (!options.cgroup_parent.empty())
        json.field("cgroupsPath", cat(options.cgroup_parent, "/", place.id));
    if (options.memory_bytes || options.cpu_micros || options.pids_limit) {
        json.key("resources").begin_object();
        if (options.memory_bytes)
            json.key("memory").begin_object().field("limit", *options.memory_bytes).end_object();
        if (options.cpu_micros)
            json.key("cpu")
                .begin_object()
                .field("quota", int64_t(*options.cpu_micros * kCpuPeriod / kMicrosPerCpu))
                .field("period", kCpuPeriod)
                .end_object();
        if (options.pids_limit)
            json.key("pids")
                .begin_object()
                .field("limit", *options.pids_limit <= 0 ? int64_t(-1) : *options.pids_limit)
                .end_object();
        json.end_object();
    }
    switch (options.seccomp) {
    case SeccompChoice::Default:
        write_seccomp(json, default_seccomp(caps));
        break;
    case SeccompChoice::File:
        write_seccomp(json, TRY_CTX(read_seccomp_profile(options.seccomp_profile, caps),
                                    "--security-opt seccomp"));
        break;
    case SeccompChoice::Unconfined:
        break;
    }
    json.key("maskedPaths").begin_array();
    for (std::string_view path : kMaskedPaths)
        json.value(path);
    json.end_array();
    json.key("readonlyPaths").begin_array();
    for (std::string_view path : kReadonlyPaths)
        json.value(path);
    json.end_array();
    json.end_object(); // linux

    json.end_object();
    return json.text();
}

// --- values of the options -------------------------------------------------

Result<int64_t> parse_memory_size(std::string_view text) {
    std::string_view number = text;
    std::string lower;
    for (char c : text)
        lower += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    std::string_view unit = lower;
    size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
        ++digits;
    number = text.substr(0, digits);
    unit = std::string_view(lower).substr(digits);
    if (unit.ends_with('b') && unit.size() > 0)
        unit.remove_suffix(1);
    int shift = 0;
    if (unit == "k")
        shift = 10;
    else if (unit == "m")
        shift = 20;
    else if (unit == "g")
        shift = 30;
    else if (unit == "t")
        shift = 40;
    else if (!unit.empty())
        return error(cat("bad size ", quoted(text), " (expected a number with b, k, m, g or t)"));
    // Up to 6 decimals: "1.5g".
    std::optional<uint64_t> millionths = parse_fixed_point(number, 6);
    if (!millionths)
        return error(cat("bad size ", quoted(text), " (expected a number with b, k, m, g or t)"));
    long double bytes = (long double)(*millionths) / 1e6L * std::pow(2.0L, shift);
    if (bytes > (long double)INT64_MAX)
        return error(cat("size ", quoted(text), " is too large"));
    return int64_t(bytes);
}

Result<uint64_t> parse_cpus(std::string_view text) {
    std::optional<uint64_t> micros = parse_fixed_point(text, 6);
    if (!micros)
        return error(cat("expected a number of CPUs like 1.5, got ", quoted(text)));
    if (*micros < kMicrosPerCpu / 100)
        return error(cat("expected at least 0.01 CPUs, got ", quoted(text)));
    return *micros;
}

Result<oci::Rlimit> parse_ulimit(std::string_view text) {
    size_t equals = text.find('=');
    if (equals == std::string_view::npos)
        return error(cat("bad ulimit ", quoted(text), " (expected NAME=SOFT[:HARD])"));
    std::string_view name = text.substr(0, equals);
    std::optional<int> resource = oci::rlimit_number(cat("RLIMIT_", to_upper(name)));
    if (!resource || name.empty())
        return error(cat("unknown ulimit ", quoted(name)));
    auto limit = [&](std::string_view value) -> Result<uint64_t> {
        if (value == "-1")
            return UINT64_MAX; // RLIM_INFINITY
        if (std::optional<uint64_t> n = parse_u64(value))
            return *n;
        return error(cat("bad ulimit value ", quoted(value), " in ", quoted(text)));
    };
    std::string_view values = text.substr(equals + 1);
    size_t colon = values.find(':');
    oci::Rlimit out{.resource = *resource};
    out.soft = TRY(limit(values.substr(0, colon)));
    out.hard = colon == std::string_view::npos ? out.soft : TRY(limit(values.substr(colon + 1)));
    if (out.soft > out.hard)
        return error(cat("ulimit ", quoted(text), ": the soft limit is above the hard limit"));
    return out;
}

Result<VolumeMount> parse_volume(std::string_view text) {
    std::vector<std::string_view> parts = split(text, ':');
    if (parts.size() < 2 || parts.size() > 3)
        return error(cat("bad volume ", quoted(text), " (expected HOST:CONTAINER[:OPTIONS])"));
    VolumeMount out{.source = std::string(parts[0]), .destination = std::string(parts[1])};
    if (!is_absolute_path(out.source))
        return error(cat("volume ", quoted(text),
                         ": named volumes are not supported; the host "
                         "path must be absolute"));
    if (!is_absolute_path(out.destination))
        return error(cat("volume ", quoted(text), ": the container path must be absolute"));
    if (parts.size() == 3) {
        for (std::string_view option : split(parts[2], ',')) {
            if (option == "ro")
                out.access = Access::ReadOnly;
            else if (option == "rw")
                out.access = Access::ReadWrite;
            else if (option == "idmap")
                out.ids = VolumeIds::Idmapped;
            else
                return error(cat("volume ", quoted(text), ": unknown option ", quoted(option),
                                 " (ro, rw, idmap)"));
        }
    }
    return out;
}

Result<TmpfsMount> parse_tmpfs(std::string_view text) {
    size_t colon = text.find(':');
    TmpfsMount out{.destination = std::string(text.substr(0, colon))};
    if (!is_absolute_path(out.destination))
        return error(cat("tmpfs ", quoted(text), ": the path must be absolute"));
    if (colon != std::string_view::npos)
        for (std::string_view option : split(text.substr(colon + 1), ','))
            if (!option.empty())
                out.options.emplace_back(option);
    return out;
}

Result<std::vector<std::string>> parse_env_file(std::string_view text, std::string_view filename,
                                                EnvLookup lookup) {
    std::vector<std::string> out;
    size_t line_number = 0;
    for (std::string_view raw : split(text, '\n')) {
        ++line_number;
        if (raw.ends_with('\r'))
            raw.remove_suffix(1);
        std::string_view line = raw;
        while (!line.empty() && is_space(line.front()))
            line.remove_prefix(1);
        if (line.empty() || line.starts_with('#'))
            continue;
        size_t equals = line.find('=');
        std::string_view key = line.substr(0, equals);
        if (key.empty() || std::ranges::any_of(key, is_space) ||
            std::ranges::any_of(key, [](char c) { return c == '\0'; }))
            return error(cat(filename, ":", line_number, ": bad variable name ", quoted(key)));
        if (equals != std::string_view::npos) {
            out.emplace_back(line);
            continue;
        }
        if (std::optional<std::string> value = lookup ? lookup(key) : std::nullopt)
            out.push_back(cat(key, "=", *value));
    }
    return out;
}

Result<void> pass_notify_socket(RunOptions& options, std::string_view socket) {
    if (socket.empty())
        return error("--sdnotify=container: NOTIFY_SOCKET is not set");
    if (socket.starts_with('@'))
        return error(cat("--sdnotify=container: the abstract socket ", quoted(socket),
                         " cannot be bind-mounted into the container"));
    if (!socket.starts_with('/'))
        return error(cat("--sdnotify=container: NOTIFY_SOCKET ", quoted(socket),
                         " is not an absolute path"));
    options.volumes.push_back({.access = Access::ReadWrite,
                               .source = std::string(socket),
                               .destination = std::string(kContainerNotifySocket)});
    options.env.push_back(cat("NOTIFY_SOCKET=", kContainerNotifySocket));
    return {};
}

std::string conmon_ready_message(pid_t main_pid) {
    return cat("READY=1\nMAINPID=", main_pid, "\n");
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    auto bad = [&] {
        return error(cat("bad duration ", quoted(text),
                         " (expected a number and a unit, like 30s, "
                         "1m30s or 500ms)"));
    };
    if (text == "0")
        return std::chrono::milliseconds(0);
    if (text.empty())
        return bad();
    // Nanoseconds, as fixed point with 6 decimals would overflow: keep
    // microseconds (Go's resolution for these flags is far coarser).
    long double total_ms = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        size_t digits = 0;
        while (digits < rest.size() &&
               ((rest[digits] >= '0' && rest[digits] <= '9') || rest[digits] == '.'))
            ++digits;
        std::optional<uint64_t> millionths = parse_fixed_point(rest.substr(0, digits), 6);
        if (!millionths)
            return bad();
        rest.remove_prefix(digits);
        size_t unit_size = 0;
        while (unit_size < rest.size() && !(rest[unit_size] >= '0' && rest[unit_size] <= '9') &&
               rest[unit_size] != '.')
            ++unit_size;
        std::string_view unit = rest.substr(0, unit_size);
        rest.remove_prefix(unit_size);
        long double unit_ms = 0;
        if (unit == "h")
            unit_ms = 3600000;
        else if (unit == "m")
            unit_ms = 60000;
        else if (unit == "s")
            unit_ms = 1000;
        else if (unit == "ms")
            unit_ms = 1;
        else if (unit == "us" || unit == "\u00b5s")
            unit_ms = 1e-3L;
        else if (unit == "ns")
            unit_ms = 1e-6L;
        else
            return bad();
        total_ms += (long double)(*millionths) / 1e6L * unit_ms;
    }
    // A year is far beyond any interval these flags mean.
    if (total_ms > 365.0L * 24 * 3600000)
        return error(cat("duration ", quoted(text), " is too long"));
    return std::chrono::milliseconds(std::llround(total_ms));
}

Result<std::string> generate_container_id() {
    std::array<unsigned char, 32> bytes{};
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno_error("getrandom");
        }
        got += size_t(n);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char byte : bytes) {
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
    }
    return out;
}

Result<std::string> generate_name() {
    uint32_t random = 0;
    if (::getrandom(&random, sizeof random, 0) != ssize_t(sizeof random))
        return errno_error("getrandom");
    return cat(kAdjectives[random % kAdjectives.size()], "_",
               kSurnames[(random / kAdjectives.size()) % kSurnames.size()]);
}

Result<void> check_container_name(std::string_view name) {
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    bool ok = name.size() >= 2 && name.size() <= 255 && alnum(name[0]) &&
              std::ranges::all_of(name.substr(1), [&](char c) {
                  return alnum(c) || c == '_' || c == '.' || c == '-';
              });
    if (!ok)
        return error(cat("bad container name ", quoted(name),
                         " (expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 255 characters)"));
    return {};
}

std::string hosts_file(std::string_view hostname, std::string_view address) {
    std::string_view own = address.empty() ? std::string_view("127.0.1.1") : address;
    return cat("127.0.0.1\tlocalhost\n"
               "::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\n"
               "ff00::0\tip6-mcastprefix\n"
               "ff02::1\tip6-allnodes\n"
               "ff02::2\tip6-allrouters\n",
               own, "\t", hostname, "\n");
}

std::string resolv_conf_for(std::string_view host_resolv_conf, NetworkMode network) {
    if (network == NetworkMode::Host)
        return std::string(host_resolv_conf);
    std::string out;
    bool has_nameserver = false;
    for (std::string_view line : split(host_resolv_conf, '\n')) {
        std::string_view trimmed = trim(line);
        if (trimmed.starts_with("nameserver")) {
            std::string_view address = trim(trimmed.substr(std::string_view("nameserver").size()));
            if (address.starts_with("127.") || address == "::1")
                continue;
            has_nameserver = true;
        }
        if (!line.empty())
            out += cat(line, "\n");
    }
    if (!has_nameserver)
        out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    return out;
}

Result<void> write_etc_files(const ContainerPlace& place, std::string_view hostname,
                             NetworkMode network) {
    TRY(make_directories(place.files_dir, 0700));
    Result<std::string> host_resolv = read_file("/etc/resolv.conf");
    TRY(write_new_file(cat(place.files_dir, "/hostname"), cat(hostname, "\n")));
    TRY(write_new_file(cat(place.files_dir, "/hosts"),
                       network == NetworkMode::Host
                           ? read_file("/etc/hosts").value_or(hosts_file(hostname))
                           : hosts_file(hostname)));
    TRY(write_new_file(cat(place.files_dir, "/resolv.conf"),
                       resolv_conf_for(host_resolv.value_or(""), network)));
    return {};
}

namespace {

// The architecture Docker's profile names this machine by (its includes'
// and excludes' "arches"), and the SCMP_ARCH_ name of its archMap key.
#if defined(__x86_64__)
constexpr std::string_view kGoArch = "amd64";
constexpr std::string_view kScmpArch = "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
constexpr std::string_view kGoArch = "arm64";
constexpr std::string_view kScmpArch = "SCMP_ARCH_AARCH64";
#else
constexpr std::string_view kGoArch = "";
constexpr std::string_view kScmpArch = "";
#endif

// Whether every name in `names` (capabilities or arches) is in the set
// `holds` says.
template <typename Holds> Result<bool> all_of_names(const JsonCursor& at, Holds holds) {
    for (const JsonCursor& element : TRY(at.array()))
        if (!holds(TRY(element.string())))
            return false;
    return true;
}

template <typename Holds> Result<bool> any_of_names(const JsonCursor& at, Holds holds) {
    for (const JsonCursor& element : TRY(at.array()))
        if (holds(TRY(element.string())))
            return true;
    return false;
}

} // namespace

Result<oci::Seccomp> read_seccomp_profile(std::string_view text, oci::CapabilityMask capabilities) {
    JsonValue document = TRY(parse_json(text));
    JsonObjectCursor profile = TRY(JsonCursor(document).object());
    auto has_cap = [&](const std::string& name) {
        std::optional<int> number = oci::capability_number(name);
        return number && (capabilities & (oci::CapabilityMask(1) << *number));
    };
    auto is_arch = [](const std::string& name) { return name == kGoArch; };

    // The document, rewritten in the runtime spec's form and read by its
    // parser, which checks every field.
    JsonWriter json;
    json.begin_object().field("ociVersion", oci::kOciVersion);
    json.key("root").begin_object().field("path", "rootfs").end_object();
    json.key("linux").begin_object().key("seccomp").begin_object();
    for (const auto& [key, member] : profile.members()) {
        if (key == "syscalls" || key == "archMap" || member.missing())
            continue;
        json.key(key).value(*member.get());
    }
    if (!profile.has("architectures")) {
        json.key("architectures").begin_array();
        for (const JsonCursor& entry : TRY(profile["archMap"].array())) {
            JsonObjectCursor arch = TRY(entry.object());
            if (TRY(arch["architecture"].string()) != kScmpArch)
                continue;
            json.value(kScmpArch);
            for (const JsonCursor& sub : TRY(arch["subArchitectures"].array()))
                json.value(TRY(sub.string()));
        }
        json.end_array();
    }
    json.key("syscalls").begin_array();
    for (const JsonCursor& element : TRY(profile["syscalls"].array())) {
        JsonObjectCursor rule = TRY(element.object());
        JsonCursor includes = rule["includes"];
        JsonCursor excludes = rule["excludes"];
        if (!includes.missing() && !includes.null()) {
            JsonObjectCursor inc = TRY(includes.object());
            if (!TRY(all_of_names(inc["caps"], has_cap)))
                continue;
            if (!TRY(inc["arches"].array()).empty() && !TRY(any_of_names(inc["arches"], is_arch)))
                continue;
        }
        if (!excludes.missing() && !excludes.null()) {
            JsonObjectCursor exc = TRY(excludes.object());
            if (TRY(any_of_names(exc["caps"], has_cap)) ||
                TRY(any_of_names(exc["arches"], is_arch)))
                continue;
        }
        json.begin_object();
        for (const auto& [key, member] : rule.members()) {
            if (key == "includes" || key == "excludes" || key == "comment" || key == "name")
                continue;
            json.key(key).value(*member.get());
        }
        // Docker's older single "name".
        if (!rule.has("names") && rule.has("name"))
            json.key("names").begin_array().value(TRY(rule["name"].string())).end_array();
        json.end_object();
    }
    json.end_array();
    json.end_object().end_object().end_object();
    oci::Spec spec = TRY(oci::parse_spec(json.text()));
    return std::move(*spec.linux_config.seccomp);
}

} // namespace keel::containers
