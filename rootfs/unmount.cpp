// The end of the mount plan: unmount everything but the API filesystems
// the way systemd-shutdown does (unmount in reverse order, repeat while that
// makes progress, remount read-only what stays), so that the writable
// filesystems under it all, STATE above all, are left clean.
//
// STATE itself is not mounted anywhere visible on a keel disk: the /etc
// overlay and the /var, /home, /opt, /srv binds hold it. Should the overlay
// stay busy after the binds are gone, no mount of STATE would be left to
// remount read-only through; so every writable block-device filesystem is
// first bound once more to a pin directory, remounted read-only through
// that pin after the others are gone, and only then let go.
#include "rootfs/rootfs.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <map>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel {

namespace {

bool is_pid(std::string_view name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string link_target(const std::string& path) {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
    return n < 0 ? std::string() : std::string(buffer, size_t(n));
}

struct Mapping {
    dev_t device;
    std::string path;
};

// A file mapping from /proc/<pid>/maps: "ADDRESS PERMS OFFSET MAJOR:MINOR
// INODE   PATH" (the device in hex); anonymous mappings have no path.
std::optional<Mapping> parse_mapping(std::string_view line) {
    std::vector<std::string_view> fields = split(line, ' ');
    if (fields.size() < 6)
        return std::nullopt;
    std::vector<std::string_view> numbers = split(fields[3], ':');
    size_t slash = line.find('/');
    if (numbers.size() != 2 || slash == std::string_view::npos)
        return std::nullopt;
    auto hex = [](std::string_view text) -> std::optional<unsigned> {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
        if (ec != std::errc() || end != text.data() + text.size())
            return std::nullopt;
        return value;
    };
    auto major_number = hex(numbers[0]), minor_number = hex(numbers[1]);
    if (!major_number || !minor_number)
        return std::nullopt;
    return Mapping{makedev(*major_number, *minor_number), std::string(line.substr(slash))};
}

// The mounts this shutdown touches, newest first.
std::vector<MountEntry> candidates(const UnmountOptions& options,
                                   const std::vector<MountEntry>& table) {
    std::vector<MountEntry> out;
    for (auto it = table.rbegin(); it != table.rend(); ++it) {
        bool kept =
            std::find(options.keep.begin(), options.keep.end(), it->point) != options.keep.end();
        bool pin =
            !options.pin_directory.empty() && path_is_under(it->point, options.pin_directory);
        if (!kept && !pin && path_is_under(it->point, options.under))
            out.push_back(*it);
    }
    return out;
}

// Unmounts what it can, round after round, until a round frees nothing:
// a mount busy only because of another mount on top of it goes in a later
// round.
size_t unmount_while_progress(const UnmountOptions& options) {
    size_t unmounted = 0;
    for (bool progress = true; progress;) {
        progress = false;
        auto table = read_mountinfo(options.mountinfo);
        if (!table) {
            log_warning(cat("unmount: ", table.error().to_string()));
            break;
        }
        for (const MountEntry& mount : candidates(options, *table))
            if (::umount2(mount.point.c_str(), UMOUNT_NOFOLLOW) == 0) {
                log_debug(cat("unmounted ", quoted(mount.point)));
                ++unmounted;
                progress = true;
            }
    }
    return unmounted;
}

struct Pin {
    std::string path;
    std::string what; // "/dev/vda3 (ext4)"
    dev_t device;
};

// A bind of one mount of every writable block-device filesystem among the
// candidates, so that it can still be reached once its own mounts are gone.
std::vector<Pin> pin_block_filesystems(const UnmountOptions& options,
                                       const std::vector<MountEntry>& mounts) {
    std::vector<Pin> pins;
    if (options.pin_directory.empty())
        return pins;
    std::map<dev_t, bool> seen;
    for (const MountEntry& mount : mounts) {
        dev_t device = makedev(mount.major, mount.minor);
        if (mount.major == 0 || mount.superblock_read_only() || seen[device])
            continue;
        seen[device] = true;
        std::string path = cat(options.pin_directory, "/", mount.major, ":", mount.minor);
        auto pinned = make_directories(path, 0700);
        if (pinned)
            pinned = mount_filesystem(mount.point, path, "", MS_BIND);
        struct stat st {};
        if (pinned && (::stat(path.c_str(), &st) < 0 || st.st_dev != device)) {
            // Another mount is stacked over mount.point: not this filesystem.
            ::umount2(path.c_str(), MNT_DETACH);
            pinned = error(cat(quoted(mount.point), " is covered by another mount"));
        }
        if (!pinned) {
            log_debug(cat("unmount: cannot pin ", mount.source, ": ", pinned.error().to_string()));
            continue;
        }
        pins.push_back({path, cat(mount.source, " (", mount.type, ")"), device});
    }
    return pins;
}

// Logs what holds `mount` busy, or that no process does.
void report_holders(const UnmountOptions& options, const MountEntry& mount,
                    std::string_view outcome) {
    std::vector<MountHolder> holders = find_mount_holders(
        makedev(mount.major, mount.minor), mount.point, options.proc, options.sys_block);
    if (holders.empty()) {
        log_warning(cat(quoted(mount.point), " ", outcome,
                        ": busy, but no process or loop device has a file open on it"));
        return;
    }
    for (const MountHolder& holder : holders)
        log_warning(cat(quoted(mount.point), " ", outcome, ": ", describe(holder)));
}

} // namespace

std::string describe(const MountHolder& holder) {
    std::string who = cat("pid ", holder.pid, " (", holder.command, ")");
    switch (holder.use) {
    case MountHolder::Use::OpenFile:
        return cat(who, " has ", holder.path, " open (fd ", holder.fd, ")");
    case MountHolder::Use::WorkingDirectory:
        return cat(who, " has its working directory in ", holder.path);
    case MountHolder::Use::Root:
        return cat(who, " has its root in ", holder.path);
    case MountHolder::Use::Executable:
        return cat(who, " runs ", holder.path);
    case MountHolder::Use::Mapping:
        return cat(who, " has ", holder.path, " mapped");
    case MountHolder::Use::LoopDevice:
        return cat(holder.command, " is backed by ", holder.path);
    }
    return who;
}

std::vector<MountHolder> find_mount_holders(dev_t device, const std::string& point,
                                            const std::string& proc, const std::string& sys_block) {
    std::vector<MountHolder> holders;
    auto on_mount = [&](const std::string& link, const std::string& target) {
        struct stat st {};
        return (::stat(link.c_str(), &st) == 0 && st.st_dev == device) ||
               (!target.empty() && target.front() == '/' && path_is_under(target, point));
    };
    auto pids = list_directory(proc);
    for (const std::string& name : pids ? *pids : std::vector<std::string>{}) {
        if (!is_pid(name))
            continue;
        std::string base = cat(proc, "/", name);
        pid_t pid = pid_t(parse_u64(name).value_or(0));
        std::string command(trim(read_file(cat(base, "/comm")).value_or("?")));
        auto add = [&](MountHolder::Use use, const std::string& link, int fd = -1) {
            std::string target = link_target(link);
            if (on_mount(link, target))
                holders.push_back({use, pid, fd, command, target});
        };
        add(MountHolder::Use::WorkingDirectory, base + "/cwd");
        add(MountHolder::Use::Root, base + "/root");
        add(MountHolder::Use::Executable, base + "/exe");
        if (auto fds = list_directory(base + "/fd"))
            for (const std::string& fd : *fds)
                add(MountHolder::Use::OpenFile, cat(base, "/fd/", fd),
                    int(parse_u64(fd).value_or(0)));
        std::vector<std::string> mapped;
        if (auto maps = read_file(base + "/maps"))
            for (std::string_view line : split(*maps, '\n')) {
                auto mapping = parse_mapping(line);
                if (mapping && (mapping->device == device || path_is_under(mapping->path, point)) &&
                    std::find(mapped.begin(), mapped.end(), mapping->path) == mapped.end())
                    mapped.push_back(mapping->path);
            }
        for (std::string& path : mapped)
            holders.push_back({MountHolder::Use::Mapping, pid, -1, command, std::move(path)});
    }
    // Loop devices hold their backing file from inside the kernel.
    auto blocks = list_directory(sys_block);
    for (const std::string& name : blocks ? *blocks : std::vector<std::string>{}) {
        if (!name.starts_with("loop"))
            continue;
        auto backing = read_file(cat(sys_block, "/", name, "/loop/backing_file"));
        if (!backing)
            continue;
        std::string path(trim(*backing));
        struct stat st {};
        if (path_is_under(path, point) || (::stat(path.c_str(), &st) == 0 && st.st_dev == device))
            holders.push_back({MountHolder::Use::LoopDevice, 0, -1, name, path});
    }
    return holders;
}

UnmountReport unmount_all(const UnmountOptions& options) {
    UnmountReport report;
    auto table = read_mountinfo(options.mountinfo);
    if (!table) {
        log_error(cat("unmount: ", table.error().to_string()));
        return report;
    }
    std::vector<Pin> pins = pin_block_filesystems(options, candidates(options, *table));
    report.unmounted = unmount_while_progress(options);

    // What is still mounted stays, read-only where the kernel allows it.
    if (auto left = read_mountinfo(options.mountinfo))
        for (const MountEntry& mount : candidates(options, *left)) {
            bool read_only = ::mount(nullptr, mount.point.c_str(), nullptr, MS_REMOUNT | MS_RDONLY,
                                     nullptr) == 0;
            int problem = errno;
            report.busy.push_back(mount.point);
            if (read_only) {
                report.read_only.push_back(mount.point);
                report_holders(options, mount, "stays mounted, read-only");
            } else {
                report_holders(options, mount,
                               cat("stays mounted and writable (", std::strerror(problem), ")"));
            }
        }

    // The filesystems under it all: read-only through the pin, then let go.
    for (const Pin& pin : pins) {
        if (::mount(nullptr, pin.path.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) < 0) {
            log_warning(cat(pin.what, " stays writable: ", std::strerror(errno)));
            report.writable.push_back(pin.what);
        }
        if (::umount2(pin.path.c_str(), UMOUNT_NOFOLLOW) < 0)
            ::umount2(pin.path.c_str(), MNT_DETACH);
        ::rmdir(pin.path.c_str());
    }
    if (!pins.empty())
        ::rmdir(options.pin_directory.c_str());
    return report;
}

} // namespace keel
