// The disk boot: from the initramfs, assemble the system at /sysroot (root
// read-only, through dm-verity when the lookup gives parameters, STATE, /etc
// overlay, binds, tmpfs), make the machine-id, then switch root the way
// switch_root(8) does (move the API filesystems, free the initramfs, move
// /sysroot onto /, chroot) and exec keel from the new root. A chosen A/B
// slot that fails on the way is handed to the updater to be marked bad.
#include "rootfs/rootfs.h"

#include "base/log.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "kmod/kmod.h"
#include "rootfs/device_mapper.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace keel {

namespace {

// Where STATE is mounted inside the initramfs while the plan is laid out.
// It is detached before the switch: the overlay and the binds keep the
// filesystem mounted, and the rest of STATE stays out of sight.
constexpr std::string_view kStateMount = "/state";

// API filesystems that move into the new root with everything under them.
constexpr std::string_view kMovedMounts[] = {"/dev", "/proc", "/sys", "/run"};

// Directories on STATE (created on first use).
constexpr std::string_view kEtcUpper = "etc.upper";
constexpr std::string_view kEtcWork = "etc.work";
// Bound from STATE over the image's directory of the same name.
constexpr std::string_view kRequiredBinds[] = {"var"};
constexpr std::string_view kOptionalBinds[] = {"home", "opt", "srv"};

// Mount points the root image must have: the switch moves or mounts onto them.
constexpr std::string_view kRequiredDirectories[] = {"dev", "proc", "sys", "run",
                                                     "tmp", "etc",  "var"};

constexpr std::string_view kMke2fsPaths[] = {"/usr/sbin/mke2fs", "/sbin/mke2fs"};

std::string sysroot_path(std::string_view path) {
    return cat(kSysroot, path);
}

// Microseconds since `start` as "0.12 s" for the log.
std::string took(uint64_t start) {
    return cat(format_seconds(monotonic_usec() - start), " s");
}

// ---- filesystem modules -----------------------------------------------------

bool filesystem_known(std::string_view name) {
    auto text = read_file("/proc/filesystems");
    if (!text)
        return false;
    for (std::string_view line : split(*text, '\n')) {
        size_t tab = line.rfind('\t');
        if (tab != std::string_view::npos && line.substr(tab + 1) == name)
            return true;
    }
    return false;
}

// Loads the module of filesystem `name` unless the kernel has it already.
Result<void> require_filesystem(std::string_view name) {
    if (filesystem_known(name))
        return {};
    uint64_t start = monotonic_usec();
    auto index = TRY_CTX(ModuleIndex::load(), cat("load the ", name, " module"));
    auto outcomes =
        TRY_CTX(load_module(index, name, [](std::string_view) { return std::string(); }),
                cat("load the ", name, " module"));
    for (const auto& [module, outcome] : outcomes)
        log_info(cat("module ", quoted(module), ": ", describe(outcome)));
    if (!filesystem_known(name))
        return error(
            cat("filesystem ", quoted(name), " is not available after loading its module"));
    log_debug(cat("filesystem ", name, " loaded in ", took(start)));
    return {};
}

// ---- randomness ---------------------------------------------------------------

// 16 random bytes shaped as a version-4, variant-1 UUID (as systemd makes
// machine IDs). getrandom blocks until the kernel's generator is seeded:
// on a first boot under QEMU that is about a second, paid once.
Result<std::array<uint8_t, 16>> random_uuid_bytes() {
    std::array<uint8_t, 16> bytes{};
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::getrandom(bytes.data() + done, bytes.size() - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("getrandom");
        done += size_t(n);
    }
    bytes[6] = uint8_t((bytes[6] & 0x0F) | 0x40);
    bytes[8] = uint8_t((bytes[8] & 0x3F) | 0x80);
    return bytes;
}

// How a UUID is written: a machine-id has no dashes, mke2fs -U wants them.
enum class UuidText { Plain, Dashed };

std::string hex(const std::array<uint8_t, 16>& bytes, UuidText form) {
    constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (form == UuidText::Dashed && (i == 4 || i == 6 || i == 8 || i == 10))
            out += '-';
        out += kHex[bytes[i] >> 4];
        out += kHex[bytes[i] & 0xF];
    }
    return out;
}

// ---- STATE --------------------------------------------------------------------

// Deletes everything in `directory` that is on filesystem `device`, not
// descending into other mounts (what switch_root(8) does to the initramfs).
// Best effort: the first error is returned after trying everything.
// `freed` counts the bytes of the regular files removed.
Result<void> remove_contents(int directory, dev_t device, const std::string& path,
                             uint64_t& freed) {
    int copy = ::dup(directory);
    if (copy < 0)
        return errno_error(cat("open ", quoted(path)));
    DIR* dir = ::fdopendir(copy);
    if (!dir) {
        ::close(copy);
        return errno_error(cat("open ", quoted(path)));
    }
    std::vector<std::string> names;
    while (struct dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..")
            names.emplace_back(name);
    }
    ::closedir(dir);
    Result<void> outcome;
    auto note = [&](Result<void> step) {
        if (!step && outcome)
            outcome = std::move(step);
    };
    for (const std::string& name : names) {
        std::string child = cat(path == "/" ? "" : path, "/", name);
        struct stat st;
        if (::fstatat(directory, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            note(errno_error(cat("stat ", quoted(child))));
            continue;
        }
        if (st.st_dev != device)
            continue; // another filesystem mounted here
        if (S_ISDIR(st.st_mode)) {
            int sub =
                ::openat(directory, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                note(errno_error(cat("open ", quoted(child))));
                continue;
            }
            Fd owned(sub);
            note(remove_contents(owned.get(), device, child, freed));
            if (::unlinkat(directory, name.c_str(), AT_REMOVEDIR) < 0 && errno != EBUSY)
                note(errno_error(cat("remove ", quoted(child))));
        } else if (::unlinkat(directory, name.c_str(), 0) < 0) {
            note(errno_error(cat("remove ", quoted(child))));
        } else if (S_ISREG(st.st_mode)) {
            freed += uint64_t(st.st_size);
        }
    }
    return outcome;
}

std::string find_mke2fs() {
    for (std::string_view path : kMke2fsPaths)
        if (::access(std::string(path).c_str(), X_OK) == 0)
            return std::string(path);
    return {};
}

// mke2fs -t ext4 on the STATE partition. The UUID and directory hash seed
// come from here: without a seeded kernel generator libuuid falls back to
// time-based UUIDs, which costs mke2fs seconds under QEMU.
Result<void> make_state_filesystem(const BlockDevice& device, const std::string& mke2fs) {
    uint64_t start = monotonic_usec();
    std::string uuid = hex(TRY(random_uuid_bytes()), UuidText::Dashed);
    std::string hash_seed = hex(TRY(random_uuid_bytes()), UuidText::Dashed);
    SpawnOptions spawn;
    spawn.argv = {mke2fs,
                  "-t",
                  "ext4",
                  "-q",
                  "-F",
                  "-L",
                  std::string(kStateLabel),
                  "-U",
                  uuid,
                  "-E",
                  cat("hash_seed=", hash_seed),
                  device.path};
    spawn.environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    pid_t pid = TRY_CTX(spawn_process(spawn), cat("make ext4 on ", quoted(device.path)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno_error(cat("wait for ", mke2fs));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return error(cat("make ext4 on ", quoted(device.path), ": ", mke2fs, " ",
                         describe_wait_status(status)));
    log_notice(cat("made an ext4 filesystem on STATE (", device.path, ") in ", took(start)));
    return {};
}

// Mounts STATE at kStateMount: makes the filesystem when the partition is
// blank, or anew when `mode` is Wipe (or, without mke2fs, empties it).
Result<void> mount_state(const BlockDevice& device, StateMode mode) {
    TRY(require_filesystem("ext4"));
    FilesystemInfo info = TRY(probe_device(device.path));
    bool blank = info.type == FilesystemType::Unknown;
    if (!blank && info.type != FilesystemType::Ext4)
        return error(cat("STATE (", device.path, ") holds ", filesystem_name(info.type),
                         ", not ext4; boot with keel.state=wipe to make it anew"));
    std::string mke2fs = find_mke2fs();
    bool wipe_contents = false;
    if (blank || mode == StateMode::Wipe) {
        if (!mke2fs.empty()) {
            if (mode == StateMode::Wipe)
                log_notice(cat("keel.state=wipe: factory reset of STATE (", device.path, ")"));
            else
                log_notice(cat("STATE (", device.path, ") is blank: first boot"));
            TRY(make_state_filesystem(device, mke2fs));
        } else if (blank) {
            return error(cat("STATE (", device.path,
                             ") has no filesystem and the initramfs has no mke2fs to make one"));
        } else {
            wipe_contents = true;
        }
    }
    std::string target(kStateMount);
    TRY(make_directories(target));
    TRY(mount_filesystem(device.path, target, "ext4", MS_NOATIME));
    if (wipe_contents) {
        log_notice(
            cat("keel.state=wipe: no mke2fs in the initramfs, deleting everything on STATE (",
                device.path, ")"));
        Fd root = TRY(open_file(target, O_RDONLY | O_DIRECTORY));
        struct stat st;
        if (::fstat(root.get(), &st) < 0)
            return errno_error(cat("stat ", quoted(target)));
        uint64_t freed = 0;
        TRY_CTX(remove_contents(root.get(), st.st_dev, target, freed), "factory reset of STATE");
    }
    return {};
}

// The BlockDevice labelled STATE, preferring the root's disk.
std::optional<BlockDevice> find_state_partition(const BlockDevice& root) {
    auto devices = list_block_devices();
    if (!devices)
        return std::nullopt;
    RootSpec spec{RootSpec::Kind::PartitionLabel, std::string(kStateLabel)};
    std::vector<BlockDevice> found = matching_devices(spec, *devices);
    for (const BlockDevice& device : found)
        if (!root.disk.empty() && device.disk == root.disk)
            return device;
    if (found.empty())
        return std::nullopt;
    log_warning(cat("STATE ", found.front().path, " is not on the root's disk ", root.disk));
    return found.front();
}

// ---- the plan ---------------------------------------------------------------------

Result<void> mount_root_filesystem(const BlockDevice& device) {
    uint64_t start = monotonic_usec();
    FilesystemInfo info = TRY(probe_device(device.path));
    if (info.type == FilesystemType::Unknown)
        return error(cat(device.path, " holds no filesystem keel can mount as root (erofs, "
                                      "squashfs or ext4): an empty slot?"));
    std::string type(filesystem_name(info.type));
    TRY(require_filesystem(type));
    std::string target(kSysroot);
    TRY(make_directories(target));
    TRY(mount_filesystem(device.path, target, type, MS_RDONLY));
    log_notice(cat("root ", device.path, " (", type, ") mounted read-only on ", target, " in ",
                   took(start)));
    for (std::string_view directory : kRequiredDirectories)
        if (!is_directory(sysroot_path(cat("/", directory))))
            return error(cat("the root image has no /", directory,
                             " directory, which the boot mounts over"));
    return {};
}

// What /etc, /var and the other views of STATE are laid on.
enum class StateBacking {
    Partition, // the STATE partition: changes persist
    Tmpfs,     // STATE could not be mounted: changes last until the reboot
};

Result<void> mount_state_views(StateBacking backing) {
    std::string state(kStateMount);
    for (std::string_view directory : {kEtcUpper, kEtcWork})
        TRY(make_directories(cat(state, "/", directory)));
    TRY(require_filesystem("overlay"));
    std::string etc = sysroot_path("/etc");
    TRY(mount_filesystem("overlay", etc, "overlay", 0,
                         cat("lowerdir=", etc, ",upperdir=", state, "/", kEtcUpper,
                             ",workdir=", state, "/", kEtcWork)));
    auto bind = [&](std::string_view name, bool required) -> Result<void> {
        std::string target = sysroot_path(cat("/", name));
        if (!is_directory(target)) {
            if (required)
                return error(cat("the root image has no /", name, " directory"));
            log_warning(cat("the root image has no /", name, ": not bound from STATE"));
            return {};
        }
        std::string source = cat(state, "/", name);
        TRY(make_directories(source));
        TRY(mount_filesystem(source, target, "", MS_BIND));
        return {};
    };
    for (std::string_view name : kRequiredBinds)
        TRY(bind(name, true));
    for (std::string_view name : kOptionalBinds)
        TRY(bind(name, false));
    TRY(mount_filesystem("tmpfs", sysroot_path("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV,
                         "mode=1777"));
    log_info(cat("/etc overlay, /var /home /opt /srv binds from ",
                 backing == StateBacking::Partition ? "STATE" : "a tmpfs (not persistent)",
                 ", /tmp tmpfs mounted"));
    return {};
}

Result<void> ensure_machine_id() {
    std::string path = sysroot_path("/etc/machine-id");
    if (auto text = read_file(path); text && is_valid_machine_id(*text)) {
        log_info(cat("machine-id ", trim(*text)));
        return {};
    }
    std::string id = TRY(generate_machine_id());
    // Written aside and renamed, so a crash leaves the old file or the new one.
    std::string temporary = sysroot_path("/etc/.machine-id.new");
    {
        Fd fd = TRY(open_file(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0444));
        TRY_CTX(write_all(fd.get(), id), cat("write ", quoted(temporary)));
        if (::fsync(fd.get()) < 0)
            return errno_error(cat("sync ", quoted(temporary)));
    }
    if (::rename(temporary.c_str(), path.c_str()) < 0)
        return errno_error(cat("rename ", quoted(temporary), " to ", quoted(path)));
    log_notice(cat("new machine-id ", trim(id)));
    return {};
}

// Like switch_root(8): move the API filesystems into the new root, free the
// initramfs, make the new root / and exec its init.
Result<void> switch_root() {
    std::string sysroot(kSysroot);
    // Other initramfs mounts (its /tmp, STATE's own mount point) go away; the
    // overlay and binds hold STATE.
    std::vector<MountEntry> mounts = TRY(read_mountinfo());
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
        bool keep = it->point == "/" || path_is_under(it->point, sysroot);
        for (std::string_view moved : kMovedMounts)
            keep = keep || path_is_under(it->point, moved);
        if (!keep && ::umount2(it->point.c_str(), MNT_DETACH) < 0)
            log_warning(cat("detach ", quoted(it->point), ": ", std::strerror(errno)));
    }
    for (std::string_view moved : kMovedMounts) {
        std::string source(moved), target = sysroot_path(moved);
        if (::mount(source.c_str(), target.c_str(), nullptr, MS_MOVE, nullptr) < 0)
            return errno_error(cat("move ", quoted(source), " to ", quoted(target)));
    }
    // Free the initramfs; it is in RAM and unreachable once / moves.
    Fd root = TRY(open_file("/", O_RDONLY | O_DIRECTORY));
    struct stat st;
    struct statfs fs;
    if (::fstat(root.get(), &st) == 0 && ::fstatfs(root.get(), &fs) == 0 &&
        (fs.f_type == RAMFS_MAGIC || fs.f_type == TMPFS_MAGIC)) {
        uint64_t start = monotonic_usec(), freed = 0;
        if (auto removed = remove_contents(root.get(), st.st_dev, "/", freed); !removed)
            log_warning(cat("free the initramfs: ", removed.error().to_string()));
        log_info(cat("freed the initramfs: ", (freed + 512 * 1024) / (1024 * 1024), " MiB in ",
                     took(start)));
    }
    if (::chdir(sysroot.c_str()) < 0)
        return errno_error(cat("chdir ", quoted(sysroot)));
    if (::mount(sysroot.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0)
        return errno_error(cat("move ", quoted(sysroot), " to /"));
    if (::chroot(".") < 0)
        return errno_error("chroot into the new root");
    if (::chdir("/") < 0)
        return errno_error("chdir / in the new root");
    std::string init(kRootInit);
    log_notice(cat("switched root; starting ", init, " in ", format_seconds(boottime_usec()),
                   " s since kernel start"));
    char* argv[] = {init.data(), const_cast<char*>("init"), const_cast<char*>("--system"), nullptr};
    set_log_writer(LogWriter::Caller);
    ::execve(init.c_str(), argv, environ);
    return errno_error(cat("exec ", quoted(init), " in the new root"));
}

} // namespace

Result<DiskBootOptions>
DiskBootOptions::from(const std::function<std::optional<std::string>(std::string_view)>& get) {
    DiskBootOptions options;
    if (auto root = get("keel.root"))
        options.root = TRY_CTX(RootSpec::parse(*root), "keel.root");
    if (auto wait = get("keel.rootwait")) {
        auto seconds = parse_u64(*wait);
        if (!seconds || *seconds > 86400)
            return error(
                cat("keel.rootwait: ", quoted(*wait), ": expected whole seconds from 0 to 86400"));
        options.root_wait = std::chrono::seconds(*seconds);
    }
    if (auto state = get("keel.state")) {
        if (*state == "wipe")
            options.state = StateMode::Wipe;
        else if (*state != "keep")
            return error(cat("keel.state: ", quoted(*state), ": expected `wipe` or `keep`"));
    }
    return options;
}

bool running_from_initramfs() {
    struct statfs fs;
    if (::statfs("/", &fs) < 0)
        return false;
    return fs.f_type == RAMFS_MAGIC || fs.f_type == TMPFS_MAGIC;
}

Result<std::string> generate_machine_id() {
    return cat(hex(TRY(random_uuid_bytes()), UuidText::Plain), "\n");
}

bool is_valid_machine_id(std::string_view text) {
    if (text.ends_with('\n'))
        text.remove_suffix(1);
    if (text.size() != 32)
        return false;
    bool zero = true;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        zero = zero && c == '0';
    }
    return !zero;
}

namespace {

// The partition of the slot the updater chooses on the disk holding ROOT-A
// (`root_a`); none when no slot can boot.
struct ChosenSlot {
    std::optional<BlockDevice> partition;
    std::string summary; // for the log (last: no tail padding in a Result)
};

Result<ChosenSlot> chosen_slot_partition(const SlotChooser& chooser, const BlockDevice& root_a) {
    std::string disk = cat("/dev/", root_a.disk);
    SlotChoice choice = TRY_CTX(chooser(disk), cat("choose the root slot of ", disk));
    if (!choice.label)
        return ChosenSlot{std::nullopt, std::move(choice.summary)};
    if (*choice.label == root_a.partition_label)
        return ChosenSlot{root_a, std::move(choice.summary)};
    for (const BlockDevice& device : TRY(list_block_devices()))
        if (device.disk == root_a.disk && device.partition_label == *choice.label)
            return ChosenSlot{device, std::move(choice.summary)};
    return error(cat(disk, " has no partition ", *choice.label));
}

} // namespace

namespace {

// The name of the verity device the root is read through.
constexpr std::string_view kVerityRootName = "keel-root";

// The device the root filesystem is mounted from: `root` itself, or a
// dm-verity device over it when `verity_for` gives parameters; an error
// when it gives none and refuses an unverified root.
Result<BlockDevice> root_source(const BlockDevice& root, const std::string& label,
                                const VerityLookup& verity_for) {
    if (!verity_for)
        return root;
    VerityChoice choice =
        TRY_CTX(verity_for(root.path), cat("the dm-verity parameters of ", root.path));
    const std::optional<VerityParams>& params = choice.params;
    if (!params && choice.unverified == UnverifiedRoot::Refused)
        return error(cat(choice.source, ": not booted without dm-verity"));
    if (!params)
        return root;
    uint64_t start = monotonic_usec();
    MappedDevice mapped = TRY(open_verity(std::string(kVerityRootName), root.path, *params));
    std::string_view hash = params->root_hash;
    log_notice(cat("root ", label.empty() ? root.path : label, " verified by dm-verity (root hash ",
                   hash.substr(0, 16), hash.size() > 16 ? "…" : "", " from ", choice.source,
                   ") as ", mapped.path, ", set up in ", took(start)));
    BlockDevice source = root;
    source.name = mapped.path.substr(mapped.path.rfind('/') + 1);
    source.path = mapped.path;
    source.major = mapped.major;
    source.minor = mapped.minor;
    return source;
}

// Everything after the root partition is known: mount the plan, switch,
// exec. Returns only on failure.
Result<void> boot_root(const DiskBootOptions& options, const BlockDevice& root,
                       const std::string& label, uint64_t start) {
    // Moving mounts needs private propagation: MS_MOVE refuses a mount whose
    // parent is shared, and the second stage makes / shared again.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        return errno_error("make / private");
    BlockDevice source = TRY(root_source(root, label, options.verity_for));
    TRY_CTX(mount_root_filesystem(source), "mount the root");
    if (!label.empty() && options.boot_slot_kernel)
        if (auto kexec = options.boot_slot_kernel(std::string(kSysroot), label); !kexec)
            log_error(cat("the slot's own kernel: ", kexec.error().to_string(),
                          "; booting the slot with the running kernel"));

    StateBacking backing = StateBacking::Partition;
    std::optional<BlockDevice> state = find_state_partition(root);
    Result<void> state_mounted =
        state ? mount_state(*state, options.state)
              : Result<void>(error(cat("no partition labelled ", kStateLabel)));
    if (!state_mounted) {
        // Booting on with a volatile STATE keeps the machine reachable;
        // keel.state=wipe repairs a STATE that does not mount.
        log_error(cat("STATE: ", state_mounted.error().to_string(),
                      "; changes to /etc, /var, /home, /opt and /srv will not survive a reboot"));
        backing = StateBacking::Tmpfs;
        TRY(make_directories(std::string(kStateMount)));
        TRY(mount_filesystem("tmpfs", std::string(kStateMount), "tmpfs", MS_NOSUID | MS_NODEV,
                             "mode=0755"));
    }
    TRY_CTX(mount_state_views(backing), "lay out /etc, /var, /home, /opt, /srv, /tmp");
    TRY_CTX(ensure_machine_id(), "machine-id");
    if (!is_directory(sysroot_path("/usr/bin")) ||
        ::access(sysroot_path(kRootInit).c_str(), X_OK) < 0)
        return error(cat("the root image has no executable ", kRootInit));
    log_info(cat("disk root assembled in ", took(start)));
    return switch_root();
}

} // namespace

Result<DiskBootEnd> mount_root_and_switch(const DiskBootOptions& options) {
    uint64_t start = monotonic_usec();
    RootSpec spec = options.root.value_or(
        RootSpec{RootSpec::Kind::PartitionLabel, std::string(kDefaultRootLabel)});
    BlockDevice root;
    // The A/B slot booted (its label), when the updater chose it.
    std::string slot_label;
    if (options.root) {
        root = TRY(wait_for_block_device(spec, options.root_wait));
    } else {
        // Without keel.root= the initramfs may be the whole system: look for
        // ROOT-A only on disks that are there, and not for long.
        auto devices = list_block_devices();
        bool any_disk = false;
        if (devices)
            for (const BlockDevice& device : *devices)
                any_disk = any_disk || device.has_hardware;
        if (!any_disk) {
            log_notice(
                cat("no disk with a ", spec.to_string(), " partition: staying in the initramfs"));
            return DiskBootEnd::StayInInitramfs;
        }
        auto found = wait_for_block_device(spec, kDefaultRootSettle);
        if (!found) {
            log_notice(cat(found.error().to_string(), ": staying in the initramfs"));
            return DiskBootEnd::StayInInitramfs;
        }
        root = std::move(*found);
        if (options.choose_slot) {
            // An A/B disk: the updater says which slot, and counts the try.
            ChosenSlot slot = TRY(chosen_slot_partition(options.choose_slot, root));
            if (!slot.partition) {
                log_error(cat(slot.summary, ": staying in the initramfs for repair"));
                return DiskBootEnd::StayInInitramfs;
            }
            log_notice(cat("slot ", slot.summary));
            root = std::move(*slot.partition);
            spec.value = root.partition_label;
            slot_label = root.partition_label;
        }
    }
    log_notice(cat("root ", spec.to_string(), " is ", root.path, " (found in ", took(start), ")"));

    Result<void> booted = boot_root(options, root, slot_label, start);
    if (booted) // boot_root execs the new init or fails
        return error("the new root's init returned");
    if (slot_label.empty() || !options.slot_failed)
        return std::unexpected(std::move(booted).error());
    // A chosen slot that does not boot must not be chosen again: marked bad,
    // the reboot boots the other one (or, when none is left, the next boot
    // stays in the initramfs for repair).
    std::string disk = cat("/dev/", root.disk);
    log_error(
        cat("slot ", slot_label, " (", root.path, ") does not boot: ", booted.error().to_string()));
    TRY_CTX(options.slot_failed(disk, slot_label),
            cat("mark the failed slot ", slot_label, " of ", disk, " bad"));
    log_error(cat("slot ", slot_label, " of ", disk, " marked bad; rebooting into the other slot"));
    return DiskBootEnd::RebootToOtherSlot;
}

} // namespace keel
