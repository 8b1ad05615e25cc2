// Finding block devices without udev: /sys/class/block/<name>/uevent gives
// DEVNAME, PARTN and PARTNAME, the sysfs links give the disk a partition is
// on, devtmpfs gives /dev/<name>. PARTUUID comes from the disk's GPT, UUID
// and LABEL from the superblock.
#include "rootfs/rootfs.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <map>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

// The disk a partition belongs to: its sysfs directory sits inside the
// disk's ("../../devices/.../block/vda/vda1").
std::string parent_disk(const std::string& sys_class_block, const std::string& name) {
    std::string link(4096, '\0');
    ssize_t n = ::readlink(cat(sys_class_block, "/", name).c_str(), link.data(), link.size());
    if (n <= 0)
        return {};
    link.resize(size_t(n));
    std::vector<std::string_view> parts = split(link, '/');
    return parts.size() >= 2 ? std::string(parts[parts.size() - 2]) : std::string();
}

} // namespace

Result<std::vector<BlockDevice>> list_block_devices(const std::string& sys_class_block) {
    std::vector<std::string> names = TRY(list_directory(sys_class_block));
    std::vector<BlockDevice> devices;
    for (const std::string& name : names) {
        // A device can go away between the listing and the read: skip it.
        auto text = read_file(cat(sys_class_block, "/", name, "/uevent"));
        if (!text)
            continue;
        auto device = parse_block_uevent(*text);
        if (!device) {
            log_warning(cat(sys_class_block, "/", name, ": ", device.error().to_string()));
            continue;
        }
        if (device->is_partition)
            device->disk = parent_disk(sys_class_block, name);
        std::string disk = device->is_partition ? device->disk : name;
        device->has_hardware =
            !disk.empty() && path_exists(cat(sys_class_block, "/", disk, "/device"));
        devices.push_back(std::move(*device));
    }
    return devices;
}

Result<FilesystemInfo> probe_device(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    std::string start(kProbeBytes, '\0');
    size_t done = 0;
    while (done < start.size()) {
        ssize_t n = ::pread(fd.get(), start.data() + done, start.size() - done, off_t(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path)));
        if (n == 0)
            break;
        done += size_t(n);
    }
    start.resize(done);
    return probe_filesystem(start);
}

std::vector<BlockDevice> matching_devices(const RootSpec& spec,
                                          const std::vector<BlockDevice>& devices) {
    std::vector<BlockDevice> found;
    std::map<std::string, std::optional<GptTable>> tables; // per disk, read once
    struct stat wanted {};
    bool wanted_is_device = spec.kind == RootSpec::Kind::Path &&
                            ::stat(spec.value.c_str(), &wanted) == 0 && S_ISBLK(wanted.st_mode);
    for (const BlockDevice& device : devices) {
        bool match = false;
        switch (spec.kind) {
        case RootSpec::Kind::PartitionLabel:
            match = device.is_partition && device.partition_label == spec.value;
            break;
        case RootSpec::Kind::Path:
            match = device.path == spec.value ||
                    (wanted_is_device && major(wanted.st_rdev) == device.major &&
                     minor(wanted.st_rdev) == device.minor);
            break;
        case RootSpec::Kind::PartitionUuid: {
            if (!device.is_partition || device.disk.empty())
                break;
            auto [it, inserted] = tables.try_emplace(device.disk);
            if (inserted) {
                auto table = read_gpt(cat("/dev/", device.disk));
                if (table)
                    it->second = std::move(*table);
                else
                    log_debug(table.error().to_string());
            }
            if (it->second)
                for (const GptPartition& partition : it->second->partitions)
                    if (partition.number == device.partition_number)
                        match = partition.unique.to_string() == spec.value;
            break;
        }
        case RootSpec::Kind::FilesystemUuid:
        case RootSpec::Kind::FilesystemLabel: {
            auto info = probe_device(device.path);
            if (!info) {
                log_debug(info.error().to_string());
                break;
            }
            match = spec.kind == RootSpec::Kind::FilesystemUuid ? info->uuid == spec.value
                                                                : info->label == spec.value;
            break;
        }
        }
        if (match)
            found.push_back(device);
    }
    return found;
}

std::string describe_block_devices(const std::vector<BlockDevice>& devices) {
    if (devices.empty())
        return "none";
    std::string out;
    for (const BlockDevice& device : devices) {
        if (!out.empty())
            out += ", ";
        out += device.name;
        if (device.is_partition) {
            out += cat(" (partition ", device.partition_number);
            if (!device.disk.empty())
                out += cat(" of ", device.disk);
            if (!device.partition_label.empty())
                out += cat(", PARTLABEL=", device.partition_label);
            out += ")";
        } else {
            out += " (disk)";
        }
    }
    return out;
}

Result<BlockDevice> wait_for_block_device(const RootSpec& spec, std::chrono::milliseconds timeout,
                                          const std::string& sys_class_block) {
    uint64_t start = monotonic_usec();
    uint64_t deadline = start + uint64_t(timeout.count()) * 1000;
    bool announced = false;
    for (;;) {
        std::vector<BlockDevice> devices = TRY(list_block_devices(sys_class_block));
        std::vector<BlockDevice> found = matching_devices(spec, devices);
        if (!found.empty()) {
            if (found.size() > 1) {
                std::string names;
                for (const BlockDevice& device : found)
                    names += cat(names.empty() ? "" : ", ", device.name);
                log_warning(cat("several block devices match ", spec.to_string(), ": ", names,
                                "; using ", found.front().name));
            }
            if (announced)
                log_info(cat(spec.to_string(), " is ", found.front().path, " after ",
                             format_seconds(monotonic_usec() - start), " s"));
            return found.front();
        }
        if (monotonic_usec() >= deadline)
            return error(cat("no block device with ", spec.to_string(), " after ",
                             format_seconds(monotonic_usec() - start),
                             " s; block devices: ", describe_block_devices(devices)));
        if (!announced && timeout >= std::chrono::seconds(2)) {
            log_notice(cat("waiting up to ", timeout.count() / 1000, " s for ", spec.to_string()));
            announced = true;
        }
        ::poll(nullptr, 0, int(kPollInterval.count()));
    }
}

} // namespace keel
