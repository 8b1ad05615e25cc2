// Boot steps of a system PID 1.
#include "init/boot.h"

#include "rootfs/device_mapper.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "init/shutdown.h"
#include "kmod/kmod.h"
#include "rootfs/device_mapper.h"
#include "rootfs/rootfs.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel {

namespace {

struct ApiMount {
    const char* source;
    const char* target;
    const char* type;
    unsigned long flags;
    const char* data;
    bool fatal;
};

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// In dependency order: /proc first (to read mountinfo), /dev before /dev/pts.
constexpr ApiMount kApiMounts[] = {
    {"proc", "/proc", "proc", kNoSuidDevExec, "", true},
    {"sysfs", "/sys", "sysfs", kNoSuidDevExec, "", true},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
     false},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"mqueue", "/dev/mqueue", "mqueue", kNoSuidDevExec, "", false},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", false},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", kNoSuidDevExec, "nsdelegate", false},
};

// Mount points now, in mount order; none until /proc is mounted.
std::vector<std::string> mount_points() {
    std::vector<std::string> points;
    if (auto mounts = read_mountinfo())
        for (MountEntry& mount : *mounts)
            points.push_back(std::move(mount.point));
    return points;
}

bool is_mounted(const std::vector<std::string>& points, std::string_view target) {
    return std::find(points.begin(), points.end(), target) != points.end();
}

} // namespace

Result<void> mount_api_filesystems() {
    std::vector<std::string> points = mount_points(); // empty until /proc is up
    for (const ApiMount& mount : kApiMounts) {
        if (is_mounted(points, mount.target))
            continue;
        Result<void> made = make_directories(mount.target);
        if (made)
            made =
                mount_filesystem(mount.source, mount.target, mount.type, mount.flags, mount.data);
        if (!made && made.error().code() == EBUSY)
            continue; // mounted already (before /proc could tell us)
        if (!made && mount.fatal)
            return made;
        if (!made)
            log_warning(made.error().to_string());
        if (std::string_view(mount.target) == "/proc")
            points = mount_points();
    }
    // /dev/ptmx and the fd links that devtmpfs does not create.
    struct Link {
        const char* target;
        const char* path;
    };
    for (Link link : {Link{"pts/ptmx", "/dev/ptmx"}, Link{"/proc/self/fd", "/dev/fd"},
                      Link{"/proc/self/fd/0", "/dev/stdin"}, Link{"/proc/self/fd/1", "/dev/stdout"},
                      Link{"/proc/self/fd/2", "/dev/stderr"}}) {
        struct stat st;
        bool ptmx_is_device = std::string_view(link.path) == "/dev/ptmx" &&
                              ::lstat(link.path, &st) == 0 && S_ISCHR(st.st_mode);
        if (!ptmx_is_device && !path_exists(link.path) && ::symlink(link.target, link.path) < 0)
            log_warning(cat("symlink ", quoted(link.path), ": ", std::strerror(errno)));
    }
    // Mount events propagate to namespaces created later (containers).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) < 0)
        log_debug(cat("make / shared: ", std::strerror(errno)));
    return {};
}

void attach_console() {
    if (::fcntl(0, F_GETFD) >= 0 && ::fcntl(1, F_GETFD) >= 0 && ::fcntl(2, F_GETFD) >= 0)
        return;
    int fd = ::open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int target = 0; target < 3; ++target)
        if (::fcntl(target, F_GETFD) < 0)
            ::dup2(fd, target); // dup2 clears O_CLOEXEC on the copy
    if (fd > 2)
        ::close(fd);
}

void setup_kernel_logging(const KernelCommandLine& cmdline) {
    if (!cmdline.has("printk.devkmsg"))
        (void)write_existing_file("/proc/sys/kernel/printk_devkmsg", "on\n");
    log_to_kmsg();
}

Result<void> set_hostname(const KernelCommandLine& cmdline) {
    std::string name = cmdline.get("keel.hostname").value_or("");
    if (name.empty()) {
        if (auto text = read_file("/etc/hostname"))
            name = std::string(trim(split(*text, '\n').front()));
    }
    if (name.empty())
        name = "keel";
    if (name.size() > 64)
        return error(cat("hostname ", quoted(name), " is longer than 64 characters"));
    if (::sethostname(name.data(), name.size()) < 0)
        return errno_error(cat("set hostname to ", quoted(name)));
    return {};
}

Result<void> bring_up_loopback() {
    Fd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket.valid())
        return errno_error("bring up `lo`: socket");
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(socket.get(), SIOCGIFFLAGS, &request) < 0)
        return errno_error("bring up `lo`: read its flags");
    if (request.ifr_flags & IFF_UP)
        return {};
    request.ifr_flags = short(request.ifr_flags | IFF_UP);
    if (::ioctl(socket.get(), SIOCSIFFLAGS, &request) < 0)
        return errno_error("bring up `lo`");
    return {};
}

std::vector<std::string> configured_modules(const std::vector<std::string>& directories) {
    std::map<std::string, std::string> files; // name -> path; later directories win
    for (const std::string& directory : directories)
        if (auto names = list_directory(directory))
            for (const std::string& name : *names)
                if (name.ends_with(".conf"))
                    files[name] = cat(directory, "/", name);
    std::vector<std::string> modules;
    for (const auto& [name, path] : files) {
        auto text = read_file(path);
        if (!text) {
            log_warning(text.error().to_string());
            continue;
        }
        for (std::string_view line : split(*text, '\n')) {
            line = trim(line);
            if (!line.empty() && line.front() != '#' && line.front() != ';')
                modules.emplace_back(line);
        }
    }
    return modules;
}

void load_boot_modules(const KernelCommandLine& cmdline) {
    std::vector<std::string> wanted = configured_modules(kModulesLoadDirectories);
    for (const std::string& list : cmdline.get_all("keel.modules"))
        for (std::string_view name : split(list, ','))
            if (!trim(name).empty())
                wanted.emplace_back(trim(name));
    // Live already: after a switch root the initramfs loaded them, and the
    // new root may have no modules directory at all.
    std::erase_if(wanted, [](const std::string& name) {
        bool live = path_exists(cat("/sys/module/", module_name_from_path(name), "/initstate"));
        if (live)
            log_debug(cat("module ", quoted(name), ": already loaded"));
        return live;
    });
    if (wanted.empty())
        return;
    auto index = ModuleIndex::load();
    if (!index) {
        log_error(cat("cannot load modules ", quoted(cmdline.get("keel.modules").value_or("")),
                      ": ", index.error().to_string()));
        return;
    }
    auto parameters = [&](std::string_view module) { return cmdline.module_parameters(module); };
    for (const std::string& name : wanted) {
        uint64_t start = monotonic_usec();
        auto outcomes = load_module(*index, name, parameters);
        if (!outcomes) {
            log_error(cat("module ", quoted(name), ": ", outcomes.error().to_string()));
            continue;
        }
        for (const auto& [module, outcome] : *outcomes)
            log_info(cat("module ", quoted(module), ": ", describe(outcome)));
        log_debug(cat("module ", quoted(name), " took ", (monotonic_usec() - start) / 1000, " ms"));
    }
}

VerityLookup disk_verity_lookup(const KernelCommandLine& cmdline, VerityLookup slot_manifest) {
    VerityLookup command_line = verity_lookup_from_command_line(
        [cmdline](std::string_view key) { return cmdline.get(key); });
    bool root_named = cmdline.get("keel.root").has_value();
    return [slot_manifest = std::move(slot_manifest), command_line = std::move(command_line),
            root_named](const std::string& partition) -> Result<VerityChoice> {
        VerityChoice slot;
        if (slot_manifest) {
            slot = TRY(slot_manifest(partition));
            if (slot.params)
                return slot;
        }
        VerityChoice line = TRY(command_line(partition));
        if (line.params || slot.unverified == UnverifiedRoot::Allowed)
            return line;
        if (root_named) {
            // keel.root= is the operator's explicit choice of what to mount.
            log_warning(cat(slot.source, "; mounted without dm-verity, as keel.root= names it"));
            return VerityChoice{};
        }
        return slot;
    };
}

void boot_from_disk(const KernelCommandLine& cmdline, const DiskBootHooks& hooks) {
    if (!running_from_initramfs())
        return; // the second stage, or a root the kernel mounted itself
    auto options = DiskBootOptions::from([&](std::string_view key) { return cmdline.get(key); });
    if (options) {
        options->choose_slot = hooks.choose_slot;
        options->verity_for = disk_verity_lookup(cmdline, hooks.verity_for);
        options->slot_failed = hooks.slot_failed;
        options->boot_slot_kernel = hooks.boot_slot_kernel;
    }
    Result<DiskBootEnd> booted =
        options ? mount_root_and_switch(*options)
                : Result<DiskBootEnd>(std::unexpected(std::move(options).error()));
    if (booted && *booted == DiskBootEnd::RebootToOtherSlot) {
        terminate_all_processes(std::chrono::milliseconds(1000));
        end_system(PowerAction::Reboot);
    }
    if (booted)
        return; // no disk root: the initramfs is the system
    log_error(cat("cannot boot from disk: ", booted.error().to_string(), "; powering off"));
    terminate_all_processes(std::chrono::milliseconds(1000));
    end_system(PowerAction::Poweroff);
}

} // namespace keel
