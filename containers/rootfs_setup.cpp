// The container's root filesystem: the spec's mounts and /dev under the
// rootfs, the switch into it, and the masks and read-only remounts inside.
//
// A path inside the rootfs is never handed to the kernel as a string to
// resolve from the host's "/": it is cleaned, opened with openat2(
// RESOLVE_IN_ROOT) under an fd of the rootfs (so ".." and absolute symlinks
// stop at the rootfs), missing directories are made one at a time with
// mkdirat() under their opened parent, and the mount lands on the opened
// file through /proc/self/fd/N. Inside the new root (finish_rootfs) the new
// mount API works fd to fd, so a mask binds the very /dev/null that was
// checked to be the null device.
#include "containers/rootfs_setup.h"

#include "base/strings.h"
#include "base/sys.h"
#include "containers/userns.h"

#include <array>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <string_view>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel::oci {

namespace {

constexpr long kProcSuperMagic = 0x9fa0;
constexpr long kCgroup2SuperMagic = 0x63677270;

constexpr unsigned long kPropagationFlags = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE;

// The /dev keel makes when the spec has no mount there, and its /dev/pts
// and /dev/shm (the values of runc's default config.json).
constexpr std::string_view kDevOptions = "mode=755,size=65536k";
constexpr std::string_view kDevPtsOptions = "newinstance,ptmxmode=0666,mode=620";
constexpr std::string_view kDevShmOptions = "mode=1777,size=65536k";

struct DefaultDevice {
    std::string_view name;
    unsigned major;
    unsigned minor;
};
constexpr std::array<DefaultDevice, 6> kDefaultDevices{{
    {"null", 1, 3},
    {"zero", 1, 5},
    {"full", 1, 7},
    {"random", 1, 8},
    {"urandom", 1, 9},
    {"tty", 5, 0},
}};

struct DevLink {
    std::string_view name;
    std::string_view target;
};
constexpr std::array<DevLink, 5> kDevLinks{{
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
    {"ptmx", "pts/ptmx"},
}};

// A path inside the container, cleaned by name and made relative to its
// root: "/a/../b/./c/" -> "b/c", "/.." -> "" (the root itself). Symlinks are
// left to openat2, which resolves them inside the root too.
std::string relative_in_root(std::string_view path) {
    std::vector<std::string_view> kept;
    for (std::string_view part : split(path, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (!kept.empty())
                kept.pop_back();
            continue;
        }
        kept.push_back(part);
    }
    std::string out;
    for (std::string_view part : kept) {
        if (!out.empty())
            out += '/';
        out += part;
    }
    return out;
}

// openat2 wants a name: "." is the root itself.
std::string name_or_dot(const std::string& relative) {
    return relative.empty() ? "." : relative;
}

std::string fd_path(int fd) {
    return cat("/proc/self/fd/", fd);
}

std::string in_bundle(const std::string& bundle, const std::string& path) {
    if (path.starts_with('/') || bundle.empty())
        return path;
    return cat(bundle, "/", path);
}

unsigned long propagation_flag(Propagation propagation) {
    switch (propagation) {
    case Propagation::Private:
        return MS_PRIVATE;
    case Propagation::Shared:
        return MS_SHARED;
    case Propagation::Slave:
        return MS_SLAVE;
    case Propagation::Unbindable:
        return MS_UNBINDABLE;
    case Propagation::Unchanged:
        break;
    }
    return 0;
}

// MS_* per-mount flags as mount_setattr's attributes: `set` and `cleared`
// as MountOptions keeps them. An access-time mode is a field, not a bit, so
// naming one clears the field first.
MountAttributes attributes_of(unsigned long set, unsigned long cleared) {
    MountAttributes attributes;
    constexpr std::array<std::pair<unsigned long, uint64_t>, 5> kBits{{
        {MS_RDONLY, kMountAttrReadOnly},
        {MS_NOSUID, kMountAttrNoSuid},
        {MS_NODEV, kMountAttrNoDev},
        {MS_NOEXEC, kMountAttrNoExec},
        {MS_NODIRATIME, kMountAttrNoDirAtime},
    }};
    for (auto [flag, attribute] : kBits) {
        if (set & flag)
            attributes.set |= attribute;
        else if (cleared & flag)
            attributes.clear |= attribute;
    }
    constexpr unsigned long kAtimeFlags = MS_NOATIME | MS_STRICTATIME | MS_RELATIME;
    if (set & kAtimeFlags) {
        attributes.clear |= kMountAttrAtimeMask;
        attributes.set |= (set & MS_NOATIME)       ? kMountAttrNoAtime
                          : (set & MS_STRICTATIME) ? kMountAttrStrictAtime
                                                   : kMountAttrRelatime;
    } else if (cleared & kAtimeFlags) {
        attributes.clear |= kMountAttrAtimeMask; // back to the default, relatime
    }
    return attributes;
}

bool changes_anything(const MountAttributes& attributes) {
    return attributes.set || attributes.clear || attributes.propagation;
}

enum class TargetKind { Directory, File };

// Opens (O_PATH) `relative` under `root`, resolved as `resolve` says; what
// is missing on the way is made, directories and, as `kind` says, the last
// component. Each new entry is made by name under its opened parent, so a
// symlink swapped in cannot send it elsewhere; a symlink to nothing is
// refused rather than followed out of the root by mkdir.
Result<Fd> open_or_make(int root, const std::string& relative, TargetKind kind, uint64_t resolve) {
    if (auto opened = open_resolved(root, name_or_dot(relative), O_PATH, resolve);
        opened || opened.error().code() != ENOENT)
        return opened;
    std::vector<std::string_view> parts = split(relative, '/');
    std::string prefix;
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string parent = prefix;
        if (!prefix.empty())
            prefix += '/';
        prefix += parts[i];
        auto opened = open_resolved(root, prefix, O_PATH, resolve);
        if (opened)
            continue;
        if (opened.error().code() != ENOENT)
            return std::unexpected(std::move(opened).error());
        Fd directory = TRY(open_resolved(root, name_or_dot(parent), O_PATH | O_DIRECTORY, resolve));
        std::string name(parts[i]);
        bool last = i + 1 == parts.size();
        int made;
        if (last && kind == TargetKind::File) {
            made = ::openat(directory.get(), name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (made >= 0)
                ::close(made);
        } else {
            made = ::mkdirat(directory.get(), name.c_str(), 0755);
        }
        if (made < 0 && errno == EEXIST)
            return error(cat("create ", quoted("/" + prefix), ": a symlink to nothing is there"));
        if (made < 0)
            return errno_error(cat("create ", quoted("/" + prefix)));
    }
    return open_resolved(root, relative, O_PATH, resolve);
}

Result<void> copy_tree(int from, int to);

// Owner and mode of `from` onto `to`'s entry `name`.
Result<void> copy_owner_and_mode(int to, const char* name, const struct stat& st) {
    if (::fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return errno_error(cat("chown ", quoted(name)));
    if (!S_ISLNK(st.st_mode) && ::fchmodat(to, name, st.st_mode & 07777, 0) < 0)
        return errno_error(cat("chmod ", quoted(name)));
    return {};
}

// The rest of `from`'s data onto `to`, a piece at a time.
Result<void> copy_data(int from, int to) {
    std::string buffer(65536, '\0');
    for (;;) {
        ssize_t n = ::read(from, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("read");
        if (n == 0)
            return {};
        TRY(write_all(to, std::string_view(buffer.data(), size_t(n))));
    }
}

Result<void> copy_entry(int from, int to, const char* name) {
    struct stat st {};
    if (::fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno_error(cat("stat ", quoted(name)));
    if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(to, name, 0700) < 0)
            return errno_error(cat("create directory ", quoted(name)));
        Fd source(::openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        Fd copy(::openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!source || !copy)
            return errno_error(cat("open directory ", quoted(name)));
        TRY_CTX(copy_tree(source.get(), copy.get()), name);
    } else if (S_ISREG(st.st_mode)) {
        Fd source(::openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!source)
            return errno_error(cat("open ", quoted(name)));
        Fd copy(::openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!copy)
            return errno_error(cat("create ", quoted(name)));
        TRY_CTX(copy_data(source.get(), copy.get()), cat("copy ", quoted(name)));
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(size_t(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(from, name, target.data(), target.size());
        if (n < 0)
            return errno_error(cat("read link ", quoted(name)));
        target.resize(size_t(n));
        if (::symlinkat(target.c_str(), to, name) < 0)
            return errno_error(cat("create link ", quoted(name)));
    } else if (::mknodat(to, name, st.st_mode, st.st_rdev) < 0) {
        return errno_error(cat("create node ", quoted(name)));
    }
    return copy_owner_and_mode(to, name, st);
}

// Copies what is in the directory `from` into the empty directory `to`:
// files, directories, links and nodes with their owners and modes.
Result<void> copy_tree(int from, int to) {
    int listed = ::dup(from);
    DIR* directory = listed >= 0 ? ::fdopendir(listed) : nullptr;
    if (!directory) {
        if (listed >= 0)
            ::close(listed);
        return errno_error("read directory");
    }
    ::rewinddir(directory);
    Result<void> copied;
    while (struct dirent* entry = ::readdir(directory)) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..")
            continue;
        copied = copy_entry(from, to, entry->d_name);
        if (!copied)
            break;
    }
    ::closedir(directory);
    return copied;
}

bool host_has_cgroup2() {
    struct statfs st {};
    return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == kCgroup2SuperMagic;
}

Result<void> mount_at(const std::string& source, int target, const char* type, unsigned long flags,
                      const std::string& data, const std::string& what) {
    if (::mount(source.c_str(), fd_path(target).c_str(), type, flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        return errno_error(what);
    return {};
}

// A new filesystem of `type` at `relative` (made when missing).
Result<void> mount_filesystem_in_root(int root, const std::string& relative,
                                      const std::string& type, unsigned long flags,
                                      std::string_view options) {
    Fd target = TRY(open_or_make(root, relative, TargetKind::Directory, kResolveConfined));
    return mount_at(type, target.get(), type.c_str(), flags, std::string(options),
                    cat("mount ", type));
}

// mounts[i]: made at its destination under `root`; an idmapped one is
// `idmapped_tree`, made by prepare_idmapped_mounts().
Result<void> mount_entry(int root, const Mount& mount, const std::string& bundle,
                         int idmapped_tree) {
    std::string relative = relative_in_root(mount.destination);
    if (relative.empty())
        return error("a mount over the container's root is not allowed");
    const MountOptions& options = mount.parsed;
    if (options.idmap != (idmapped_tree >= 0))
        return error("an idmapped mount was not prepared by the runtime");
    bool bind = mount.is_bind();
    std::string source = bind ? in_bundle(bundle, mount.source) : mount.source;
    std::string type = mount.type;
    // "cgroup" is the v2 hierarchy where the host has it; on a v1 (or hybrid)
    // host, the host's tree is bound in instead of mounting controllers.
    bool cgroup_bind = false;
    if (type == "cgroup") {
        if (host_has_cgroup2())
            type = "cgroup2";
        else
            cgroup_bind = true;
    }

    TargetKind kind = TargetKind::Directory;
    if (bind) {
        struct stat st {};
        if (::stat(source.c_str(), &st) < 0)
            return errno_error(cat("stat bind source ", quoted(source)));
        if (!S_ISDIR(st.st_mode))
            kind = TargetKind::File;
    }
    // proc and sysfs mounted at the end of a symlink could land somewhere
    // the container's security profile does not expect (CVE-2019-19921).
    uint64_t resolve = kResolveConfined;
    if (type == "proc" || type == "sysfs")
        resolve |= kResolveNoSymlinks;
    Fd target = TRY(open_or_make(root, relative, kind, resolve));

    // tmpcopyup: keep the directory below, to copy it into the new tmpfs.
    Fd below;
    if (options.copy_up && type == "tmpfs") {
        below = Fd(::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!below)
            return errno_error("open the directory below for tmpcopyup");
    }

    MountAttributes now;       // set on this mount right after mounting it
    MountAttributes recursive; // ... and on it and every mount below it
    recursive.set = options.recursive_set;
    recursive.clear = options.recursive_clear;
    if (bind || cgroup_bind) {
        unsigned long recursion =
            cgroup_bind ? static_cast<unsigned long>(MS_REC) : options.flags & MS_REC;
        std::string from = cgroup_bind ? std::string("/sys/fs/cgroup") : source;
        if (idmapped_tree >= 0)
            TRY_CTX(move_mount(idmapped_tree, target.get()),
                    cat("attach the idmapped mount of ", quoted(from)));
        else
            TRY(mount_at(from, target.get(), nullptr, MS_BIND | recursion, {},
                         cat("bind-mount ", quoted(from))));
        now = attributes_of(options.flags, options.cleared);
        if (cgroup_bind) {
            // A cgroup mount's flags are meant for the whole tree.
            recursive.set |= now.set;
            recursive.clear |= now.clear;
            now = {};
        } else {
            // Read-only waits for finish_rootfs(): later mounts may still
            // have to make their targets in here.
            now.set &= ~kMountAttrReadOnly;
            recursive.set &= ~kMountAttrReadOnly;
        }
    } else {
        unsigned long flags = options.flags & ~(MS_BIND | MS_REC | kPropagationFlags);
        auto made = mount_at(source.empty() ? type : source, target.get(), type.c_str(), flags,
                             options.data, cat("mount ", type));
        if (!made && type == "sysfs" && made.error().code() == EPERM) {
            // A user namespace that does not own the network namespace
            // (one joined by path) may not mount sysfs: the host's /sys is
            // bound instead, as runc does, with the mount's flags (ro) on
            // the whole tree.
            TRY(mount_at("/sys", target.get(), nullptr, MS_BIND | MS_REC, {},
                         "bind-mount `/sys` (a new sysfs was refused)"));
            MountAttributes asked = attributes_of(options.flags, options.cleared);
            recursive.set |= asked.set;
            recursive.clear |= asked.clear;
        } else if (!made) {
            return std::unexpected(std::move(made).error());
        }
    }
    now.propagation = options.propagation_recursive ? 0 : propagation_flag(options.propagation);
    recursive.propagation =
        options.propagation_recursive ? propagation_flag(options.propagation) : 0;

    // The fd opened before names the directory below; the new mount is
    // found by looking the path up again.
    Fd mounted = TRY_CTX(open_resolved(root, relative, O_PATH, resolve), "open the new mount");
    if (changes_anything(now))
        TRY(set_mount_attributes(mounted.get(), now, Submounts::Excluded));
    if (changes_anything(recursive))
        TRY(set_mount_attributes(mounted.get(), recursive, Submounts::Included));
    if (below) {
        Fd top(::openat(mounted.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat st {};
        if (!top || ::fstat(below.get(), &st) < 0)
            return errno_error("tmpcopyup");
        TRY_CTX(copy_tree(below.get(), top.get()), "tmpcopyup");
        if (::fchown(top.get(), st.st_uid, st.st_gid) < 0 ||
            ::fchmod(top.get(), st.st_mode & 07777) < 0)
            return errno_error("tmpcopyup: owner and mode");
    }
    return {};
}

// A device node at `relative` under `root`, replacing what is there. When
// mknod is not allowed (a user namespace), the host's node at `host_path`
// is bound onto an empty file instead.
Result<void> make_device(int root, const std::string& relative, mode_t type, dev_t number,
                         mode_t mode, uid_t uid, gid_t gid, const std::string& host_path) {
    size_t slash = relative.rfind('/');
    std::string parent = slash == relative.npos ? "" : relative.substr(0, slash);
    std::string name = relative.substr(slash == relative.npos ? 0 : slash + 1);
    if (name.empty())
        return error("not a device path");
    Fd directory = TRY(open_or_make(root, parent, TargetKind::Directory, kResolveConfined));
    if (::unlinkat(directory.get(), name.c_str(), 0) < 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted("/" + relative)));
    if (::mknodat(directory.get(), name.c_str(), type | (mode & 07777), number) == 0) {
        // mknod applied the umask; the spec's mode is meant as written.
        if (::fchmodat(directory.get(), name.c_str(), mode & 07777, 0) < 0)
            return errno_error(cat("chmod ", quoted("/" + relative)));
        if (::fchownat(directory.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return errno_error(cat("chown ", quoted("/" + relative)));
        return {};
    }
    if (errno != EPERM || type == S_IFIFO)
        return errno_error(cat("mknod ", quoted("/" + relative)));
    Fd file(::openat(directory.get(), name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
    if (!file)
        return errno_error(cat("create ", quoted("/" + relative)));
    Fd target(::openat(directory.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!target)
        return errno_error(cat("open ", quoted("/" + relative)));
    return mount_at(host_path, target.get(), nullptr, MS_BIND, {},
                    cat("bind-mount ", quoted(host_path)));
}

mode_t device_type(char type) {
    switch (type) {
    case 'b':
        return S_IFBLK;
    case 'p':
        return S_IFIFO;
    default: // 'c', 'u'
        return S_IFCHR;
    }
}

bool spec_mounts_at(const Spec& spec, std::string_view relative) {
    for (const Mount& mount : spec.mounts)
        if (relative_in_root(mount.destination) == relative)
            return true;
    return false;
}

Result<void> populate_dev(int root, const Spec& spec) {
    for (const DefaultDevice& device : kDefaultDevices) {
        std::string relative = cat("dev/", device.name);
        TRY_CTX(make_device(root, relative, S_IFCHR, makedev(device.major, device.minor), 0666, 0,
                            0, "/" + relative),
                cat("/", relative));
    }
    for (size_t i = 0; i < spec.linux_config.devices.size(); ++i) {
        const Device& device = spec.linux_config.devices[i];
        std::string relative = relative_in_root(device.path);
        TRY_CTX(make_device(root, relative, device_type(device.type),
                            makedev(unsigned(device.major), unsigned(device.minor)),
                            device.file_mode.value_or(0666), device.uid.value_or(0),
                            device.gid.value_or(0), device.path),
                cat("linux.devices[", i, "] (", device.path, ")"));
    }
    if (!spec_mounts_at(spec, "dev/pts"))
        TRY_CTX(mount_filesystem_in_root(root, "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                                         kDevPtsOptions),
                "/dev/pts");
    if (!spec_mounts_at(spec, "dev/shm"))
        TRY_CTX(mount_filesystem_in_root(root, "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                         kDevShmOptions),
                "/dev/shm");
    Fd dev = TRY_CTX(open_resolved(root, "dev", O_PATH | O_DIRECTORY, kResolveConfined), "/dev");
    for (const DevLink& link : kDevLinks) {
        std::string name(link.name);
        std::string target(link.target);
        // A ptmx node of the image's would bypass the container's devpts.
        if (link.name == "ptmx")
            ::unlinkat(dev.get(), name.c_str(), 0);
        if (::symlinkat(target.c_str(), dev.get(), name.c_str()) < 0 && errno != EEXIST)
            return errno_error(cat("create link ", quoted("/dev/" + name)));
    }
    return {};
}

// The mount holding `path` (the first mount point at or above it) made
// private: pivot_root refuses a new root whose parent mount is shared, and
// the rootfs bind would otherwise propagate to the host.
Result<void> make_holding_mount_private(const std::string& path) {
    std::string at = path;
    for (;;) {
        if (::mount(nullptr, at.c_str(), nullptr, MS_PRIVATE, nullptr) == 0)
            return {};
        if (errno != EINVAL || at == "/" || at.empty())
            return errno_error(cat("make the mount at ", quoted(at), " private"));
        size_t slash = at.rfind('/');
        at = slash == 0 || slash == at.npos ? "/" : at.substr(0, slash);
    }
}

Result<void> write_sysctls(int root, const Spec& spec) {
    if (spec.linux_config.sysctl.empty())
        return {};
    Fd proc_sys = TRY_CTX(open_resolved(root, "proc/sys", O_PATH | O_DIRECTORY,
                                        kResolveConfined | kResolveNoSymlinks),
                          "linux.sysctl");
    struct statfs st {};
    if (::fstatfs(proc_sys.get(), &st) < 0)
        return errno_error("linux.sysctl: statfs /proc/sys");
    if (st.f_type != kProcSuperMagic)
        return error(
            "linux.sysctl: /proc/sys is not a proc filesystem (no proc mount in the spec?)");
    for (const auto& [key, value] : spec.linux_config.sysctl) {
        std::string path = key;
        for (char& c : path)
            if (c == '.')
                c = '/';
        Fd knob = TRY_CTX(
            open_resolved(proc_sys.get(), path, O_WRONLY, kResolveBeneath | kResolveNoSymlinks),
            cat("linux.sysctl ", quoted(key)));
        TRY_CTX(write_all(knob.get(), value), cat("linux.sysctl ", quoted(key), ": write"));
    }
    return {};
}

// /dev/null of the new root, checked to be the null device itself.
Result<Fd> open_null_device(int root) {
    auto null = open_resolved(root, "dev/null", O_PATH, kResolveConfined | kResolveNoSymlinks);
    if (!null)
        return std::unexpected(
            std::move(null).error().wrap("/dev/null is not the null device, refusing to mask"));
    struct stat st {};
    if (::fstat(null->get(), &st) < 0)
        return errno_error("stat /dev/null");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
        return error("/dev/null is not the null device (1:3), refusing to mask with it");
    return std::move(*null);
}

Result<void> mask_path(int root, const std::string& relative, std::optional<Fd>& null) {
    auto target = open_resolved(root, name_or_dot(relative), O_PATH, kResolveConfined);
    if (!target && target.error().code() == ENOENT)
        return {};
    if (!target)
        return std::unexpected(std::move(target).error());
    struct stat st {};
    if (::fstat(target->get(), &st) < 0)
        return errno_error("stat");
    if (S_ISDIR(st.st_mode)) {
        Fd empty = TRY(new_detached_filesystem("tmpfs", "",
                                               kMountAttrReadOnly | kMountAttrNoSuid |
                                                   kMountAttrNoDev | kMountAttrNoExec));
        return move_mount(empty.get(), target->get());
    }
    if (!null)
        null = TRY(open_null_device(root));
    Fd copy = TRY(clone_mount(null->get(), Submounts::Excluded));
    return move_mount(copy.get(), target->get());
}

Result<void> make_path_read_only(int root, const std::string& relative) {
    auto target = open_resolved(root, name_or_dot(relative), O_PATH, kResolveConfined);
    if (!target && target.error().code() == ENOENT)
        return {};
    if (!target)
        return std::unexpected(std::move(target).error());
    // Made read-only while still detached: never writable where it shows.
    Fd copy = TRY(clone_mount(target->get(), Submounts::Included));
    MountAttributes locked;
    locked.set = kMountAttrReadOnly | kMountAttrNoSuid | kMountAttrNoDev | kMountAttrNoExec;
    TRY(set_mount_attributes(copy.get(), locked, Submounts::Included));
    return move_mount(copy.get(), target->get());
}

// True when the namespace file `path` is the runtime's own namespace of
// that kind (joining it isolates nothing).
bool is_own_namespace(const std::string& path, std::string_view kind) {
    struct stat joined {};
    struct stat own {};
    return ::stat(path.c_str(), &joined) == 0 &&
           ::stat(cat("/proc/self/ns/", kind).c_str(), &own) == 0 && joined.st_dev == own.st_dev &&
           joined.st_ino == own.st_ino;
}

bool has_new_namespace(const Spec& spec, NamespaceType type, std::string_view kind) {
    const Namespace* entry = spec.linux_config.find_namespace(type);
    return entry && (entry->path.empty() || !is_own_namespace(entry->path, kind));
}

bool is_ipc_sysctl(std::string_view key) {
    constexpr std::array<std::string_view, 8> kIpcKeys{
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    };
    for (std::string_view ipc : kIpcKeys)
        if (key == ipc)
            return true;
    return key.starts_with("fs.mqueue.");
}

} // namespace

Result<std::vector<Fd>> prepare_idmapped_mounts(const Spec& spec, const std::string& bundle) {
    std::vector<Fd> trees(spec.mounts.size());
    const LinuxConfig& linux_config = spec.linux_config;
    const Namespace* user = linux_config.find_namespace(NamespaceType::User);
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& mount = spec.mounts[i];
        std::string context = cat("mounts[", i, "] (", mount.destination, ")");
        const MountOptions& options = mount.parsed;
        if (!options.idmap) {
            if (!mount.uid_mappings.empty() || !mount.gid_mappings.empty())
                return error(cat(context, ": uidMappings and gidMappings need the idmap or "
                                          "ridmap option"));
            continue;
        }
        if (!mount.is_bind())
            return error(
                cat(context, ": idmap and ridmap are for bind mounts, not ", quoted(mount.type)));
        if (mount.uid_mappings.empty() != mount.gid_mappings.empty())
            return error(cat(context, ": uidMappings and gidMappings go together"));
        // Without mappings of its own, the mount maps as the container's
        // user namespace does.
        containers::IdMaps maps{mount.uid_mappings, mount.gid_mappings};
        if (maps.empty()) {
            if (!user || !user->path.empty() || linux_config.uid_mappings.empty())
                return error(cat(context, ": idmap without uidMappings and gidMappings takes the "
                                          "container's, and it has no user namespace of its "
                                          "own with mappings"));
            maps = {linux_config.uid_mappings, linux_config.gid_mappings};
        }
        Fd user_namespace = TRY_CTX(containers::make_user_namespace(maps), context);
        std::string source = in_bundle(bundle, mount.source);
        Fd from = TRY_CTX(open_file(source, O_PATH | O_CLOEXEC), cat(context, ": source"));
        Submounts submounts =
            mount.parsed.flags & MS_REC ? Submounts::Included : Submounts::Excluded;
        Fd tree = TRY_CTX(clone_mount(from.get(), submounts), context);
        MountAttributes idmap{.set = kMountAttrIdmap, .user_namespace = user_namespace.get()};
        if (Result<void> set = set_mount_attributes(tree.get(), idmap,
                                                    options.idmap_recursive ? Submounts::Included
                                                                            : Submounts::Excluded);
            !set)
            return std::unexpected(std::move(set).error().wrap(
                cat(context, ": idmapped mount of ", quoted(source),
                    " (the kernel, 5.12 or later, or the filesystem refuses idmapped mounts)")));
        trees[i] = std::move(tree);
    }
    return trees;
}

Result<void> prepare_rootfs(const Spec& spec, const std::string& rootfs, const std::string& bundle,
                            std::span<const Fd> idmapped_trees) {
    const LinuxConfig& linux_config = spec.linux_config;
    unsigned long root_propagation = MS_SLAVE | MS_REC;
    if (linux_config.rootfs_propagation != Propagation::Unchanged)
        root_propagation = propagation_flag(linux_config.rootfs_propagation) |
                           (linux_config.rootfs_propagation_recursive ? MS_REC : 0);
    if (::mount(nullptr, "/", nullptr, root_propagation, nullptr) < 0)
        return errno_error("linux.rootfsPropagation: set the propagation of /");

    std::string root_path = in_bundle(bundle, rootfs);
    if (root_propagation & MS_SHARED)
        TRY_CTX(make_holding_mount_private(root_path), "linux.rootfsPropagation");
    if (::mount(root_path.c_str(), root_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        return errno_error(cat("bind-mount the rootfs ", quoted(root_path), " onto itself"));
    Fd root = TRY_CTX(open_file(root_path, O_PATH | O_DIRECTORY), "rootfs");

    std::optional<size_t> dev_mount;
    for (size_t i = 0; i < spec.mounts.size(); ++i)
        if (relative_in_root(spec.mounts[i].destination) == "dev")
            dev_mount = i;
    if (!dev_mount)
        TRY_CTX(mount_filesystem_in_root(root.get(), "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                                         kDevOptions),
                "/dev");

    for (size_t i = 0; i < spec.mounts.size(); ++i)
        TRY_CTX(mount_entry(root.get(), spec.mounts[i], bundle,
                            i < idmapped_trees.size() ? idmapped_trees[i].get() : -1),
                cat("mounts[", i, "] (", spec.mounts[i].destination, ")"));

    // A /dev bound from elsewhere comes as it is, as in runc.
    if (!dev_mount || !spec.mounts[*dev_mount].is_bind())
        TRY(populate_dev(root.get(), spec));
    return {};
}

Result<void> enter_rootfs(const std::string& rootfs, RootEntry entry) {
    if (entry == RootEntry::MoveAndChroot) {
        if (::chdir(rootfs.c_str()) < 0)
            return errno_error(cat("chdir to ", quoted(rootfs)));
        if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0)
            return errno_error(cat("move the rootfs ", quoted(rootfs), " onto /"));
        if (::chroot(".") < 0)
            return errno_error(cat("chroot to ", quoted(rootfs)));
        if (::chdir("/") < 0)
            return errno_error("chdir to / in the new root");
        return {};
    }
    Fd old_root = TRY(open_file("/", O_RDONLY | O_DIRECTORY));
    Fd new_root = TRY(open_file(rootfs, O_RDONLY | O_DIRECTORY));
    if (::fchdir(new_root.get()) < 0)
        return errno_error(cat("chdir to ", quoted(rootfs)));
    // The old root goes on top of the new one, where it is unmounted next:
    // no directory for it is needed in the image.
    TRY(pivot_root(".", "."));
    if (::fchdir(old_root.get()) < 0)
        return errno_error("chdir to the old root");
    // Unmounts below must not reach the host through shared mounts.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
        return errno_error("make the old root a slave");
    if (::umount2(".", MNT_DETACH) < 0)
        return errno_error("detach the old root");
    if (::chdir("/") < 0)
        return errno_error("chdir to / in the new root");
    return {};
}

Result<void> finish_rootfs(const Spec& spec) {
    const LinuxConfig& linux_config = spec.linux_config;
    Fd root = TRY(open_file("/", O_PATH | O_DIRECTORY));
    TRY(write_sysctls(root.get(), spec));

    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& mount = spec.mounts[i];
        const MountOptions& options = mount.parsed;
        bool read_only = options.flags & MS_RDONLY;
        bool read_only_below = options.recursive_set & kMountAttrReadOnly;
        if (!mount.is_bind() || (!read_only && !read_only_below))
            continue;
        std::string context = cat("mounts[", i, "] (", mount.destination, "): make read-only");
        Fd target =
            TRY_CTX(open_resolved(root.get(), name_or_dot(relative_in_root(mount.destination)),
                                  O_PATH, kResolveConfined),
                    context);
        MountAttributes attributes;
        attributes.set = kMountAttrReadOnly;
        TRY_CTX(set_mount_attributes(target.get(), attributes,
                                     read_only_below ? Submounts::Included : Submounts::Excluded),
                context);
    }

    std::optional<Fd> null;
    for (size_t i = 0; i < linux_config.masked_paths.size(); ++i) {
        const std::string& path = linux_config.masked_paths[i];
        TRY_CTX(mask_path(root.get(), relative_in_root(path), null),
                cat("linux.maskedPaths[", i, "] (", path, ")"));
    }
    for (size_t i = 0; i < linux_config.readonly_paths.size(); ++i) {
        const std::string& path = linux_config.readonly_paths[i];
        TRY_CTX(make_path_read_only(root.get(), relative_in_root(path)),
                cat("linux.readonlyPaths[", i, "] (", path, ")"));
    }

    if (spec.root.readonly) {
        MountAttributes attributes;
        attributes.set = kMountAttrReadOnly;
        TRY_CTX(set_mount_attributes(root.get(), attributes, Submounts::Excluded), "root.readonly");
    }
    return {};
}

Result<void> check_sysctls(const Spec& spec) {
    for (const auto& [key, value] : spec.linux_config.sysctl) {
        std::string context = cat("linux.sysctl ", quoted(key));
        if (key.empty() || key.find("..") != key.npos || key.starts_with('.') ||
            key.find('/') != key.npos)
            return error(cat(context, ": not a sysctl name"));
        if (is_ipc_sysctl(key)) {
            if (!has_new_namespace(spec, NamespaceType::Ipc, "ipc"))
                return error(cat(context, ": needs an ipc namespace of the container's own"));
            continue;
        }
        if (key.starts_with("net.")) {
            if (!has_new_namespace(spec, NamespaceType::Network, "net"))
                return error(cat(context, ": needs a network namespace of the container's own"));
            continue;
        }
        if (key == "kernel.domainname" || key == "kernel.hostname") {
            if (!has_new_namespace(spec, NamespaceType::Uts, "uts"))
                return error(cat(context, ": needs a uts namespace of the container's own"));
            if (key == "kernel.hostname" && !spec.hostname.empty())
                return error(cat(context, ": conflicts with `hostname`, which sets it too"));
            continue;
        }
        return error(cat(context, ": not isolated by any namespace, so it would change the host"));
    }
    return {};
}

} // namespace keel::oci
