// Verity devices through device-mapper's ioctls on /dev/mapper/control: the
// requests (struct dm_ioctl, a target spec and its table line), the device
// node, and the cmdline lookup that puts them together for the boot.
#include "rootfs/device_mapper.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "kmod/kmod.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kControlPath = "/dev/mapper/control";
// Where sysfs says which misc device number the control node has.
constexpr std::string_view kControlSysfs = "/sys/class/misc/device-mapper/dev";
constexpr std::string_view kVerityModule = "dm_verity";
// Room for the answers of DM_LIST_DEVICES and DM_TABLE_STATUS; doubled
// when the kernel says it was not enough.
constexpr size_t kAnswerBytes = 16 * 1024;
constexpr size_t kMaxAnswerBytes = 1024 * 1024;

size_t align8(size_t n) {
    return (n + 7) & ~size_t(7);
}

// A dm_ioctl and what follows it, 8-byte aligned as the kernel wants it.
class DmRequest {
public:
    DmRequest(std::string_view name, uint32_t flags, size_t payload)
        : m_storage(align8(sizeof(dm_ioctl) + payload) / 8) {
        dm_ioctl& io = header();
        io.version[0] = DM_VERSION_MAJOR;
        io.version[1] = 0;
        io.version[2] = 0;
        io.data_size = uint32_t(m_storage.size() * 8);
        io.data_start = uint32_t(align8(sizeof(dm_ioctl)));
        io.flags = flags;
        std::memcpy(io.name, name.data(), std::min(name.size(), size_t(DM_NAME_LEN - 1)));
    }
    dm_ioctl& header() { return *reinterpret_cast<dm_ioctl*>(m_storage.data()); }
    std::byte* data() { return reinterpret_cast<std::byte*>(m_storage.data()); }
    std::span<std::byte> bytes() { return {data(), m_storage.size() * 8}; }
    // What the kernel answered: from data_start up to data_size (bounded by the buffer).
    std::string_view answer() {
        const dm_ioctl& io = header();
        size_t size = std::min<size_t>(io.data_size, m_storage.size() * 8);
        if (io.data_start >= size)
            return {};
        return {reinterpret_cast<const char*>(data()) + io.data_start, size - io.data_start};
    }

private:
    std::vector<uint64_t> m_storage;
};

Result<void> check_name(std::string_view name) {
    if (name.empty() || name.size() >= DM_NAME_LEN || name.find('/') != std::string_view::npos ||
        name == "." || name == ".." || name == "control")
        return error(cat("device-mapper name ", quoted(name), ": expected 1 to ", DM_NAME_LEN - 1,
                         " characters, no '/'"));
    return {};
}

// The device number an answer carries (the kernel's huge_encode_dev).
void take_device_number(const dm_ioctl& io, unsigned& major_number, unsigned& minor_number) {
    major_number = major(dev_t(io.dev));
    minor_number = minor(dev_t(io.dev));
}

class SystemControl final : public DeviceMapperControl {
public:
    explicit SystemControl(Fd fd) : m_fd(std::move(fd)) {}
    Result<void> call(unsigned long request, std::span<std::byte> buffer,
                      std::string_view what) override {
        while (::ioctl(m_fd.get(), request, buffer.data()) < 0)
            if (errno != EINTR)
                return errno_error(cat("device-mapper ", what));
        return {};
    }

private:
    Fd m_fd;
};

Result<void> load_verity_module() {
    if (path_exists(cat("/sys/module/", kVerityModule)))
        return {};
    auto index = TRY_CTX(ModuleIndex::load(), "load the dm-verity module");
    auto outcomes =
        TRY_CTX(load_module(index, kVerityModule, [](std::string_view) { return std::string(); }),
                "load the dm-verity module");
    for (const auto& [module, outcome] : outcomes)
        log_info(cat("module ", quoted(module), ": ", describe(outcome)));
    return {};
}

// "10:236" -> a dev_t.
Result<dev_t> parse_device_number(std::string_view text, std::string_view where) {
    text = trim(text);
    size_t colon = text.find(':');
    auto major_number =
        colon == std::string_view::npos ? std::nullopt : parse_u64(text.substr(0, colon));
    auto minor_number =
        colon == std::string_view::npos ? std::nullopt : parse_u64(text.substr(colon + 1));
    if (!major_number || !minor_number || *major_number > 0xFFFFF || *minor_number > 0xFFFFF)
        return error(cat(where, ": ", quoted(text), ": expected MAJOR:MINOR"));
    return makedev(unsigned(*major_number), unsigned(*minor_number));
}

// A block or character node `path` for `device`, unless one is there.
Result<void> ensure_node(const std::string& path, mode_t type, dev_t device) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if ((st.st_mode & S_IFMT) == type && st.st_rdev == device)
            return {};
        return error(
            cat(quoted(path), " exists but is not device ", major(device), ":", minor(device)));
    }
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0)
        TRY(make_directories(path.substr(0, slash)));
    if (::mknod(path.c_str(), type | 0600, device) < 0 && errno != EEXIST)
        return errno_error(cat("make the device node ", quoted(path)));
    return {};
}

} // namespace

Result<std::unique_ptr<DeviceMapperControl>> open_device_mapper_control() {
    TRY(load_verity_module());
    std::string path(kControlPath);
    if (!path_exists(path)) {
        std::string number =
            TRY_CTX(read_file(std::string(kControlSysfs)), "device-mapper is not in the kernel");
        TRY(ensure_node(path, S_IFCHR, TRY(parse_device_number(number, kControlSysfs))));
    }
    Fd fd = TRY(open_file(path, O_RDWR));
    return std::unique_ptr<DeviceMapperControl>(new SystemControl(std::move(fd)));
}

Result<MappedDevice> create_verity_device(DeviceMapperControl& control, const std::string& name,
                                          const std::string& device, const VerityParams& params) {
    TRY(check_name(name));
    std::string table = TRY(verity_table(params, device));
    uint64_t sectors = params.data_blocks * (params.data_block_size / 512);

    DmRequest create(name, 0, 0);
    TRY(control.call(DM_DEV_CREATE, create.bytes(), cat("create ", quoted(name))));
    MappedDevice mapped;
    mapped.name = name;
    take_device_number(create.header(), mapped.major, mapped.minor);

    auto load_and_resume = [&]() -> Result<void> {
        size_t spec_size = align8(sizeof(dm_target_spec) + table.size() + 1);
        DmRequest load(name, DM_READONLY_FLAG, spec_size);
        load.header().target_count = 1;
        auto* spec = reinterpret_cast<dm_target_spec*>(load.data() + load.header().data_start);
        spec->sector_start = 0;
        spec->length = sectors;
        spec->next = uint32_t(spec_size);
        std::memcpy(spec->target_type, "verity", sizeof("verity"));
        std::memcpy(reinterpret_cast<char*>(spec + 1), table.data(), table.size());
        TRY(control.call(DM_TABLE_LOAD, load.bytes(), cat("load the verity table of ", name)));
        // DM_DEV_SUSPEND without DM_SUSPEND_FLAG: resume, which makes the
        // loaded table live.
        DmRequest resume(name, 0, 0);
        TRY(control.call(DM_DEV_SUSPEND, resume.bytes(), cat("resume ", quoted(name))));
        take_device_number(resume.header(), mapped.major, mapped.minor);
        return {};
    };
    if (auto made = load_and_resume(); !made) {
        if (auto removed = remove_mapped_device(control, name); !removed)
            log_warning(removed.error().to_string());
        return std::unexpected(std::move(made).error());
    }
    return mapped;
}

Result<void> remove_mapped_device(DeviceMapperControl& control, const std::string& name) {
    TRY(check_name(name));
    DmRequest remove(name, 0, 0);
    return control.call(DM_DEV_REMOVE, remove.bytes(), cat("remove ", quoted(name)));
}

namespace {

// Runs a request whose answer may not fit, with more room until it does.
template <typename Make>
Result<DmRequest> call_with_answer(DeviceMapperControl& control, unsigned long request,
                                   std::string_view what, Make make) {
    for (size_t room = kAnswerBytes;; room *= 2) {
        DmRequest call = make(room);
        TRY(control.call(request, call.bytes(), what));
        if (!(call.header().flags & DM_BUFFER_FULL_FLAG))
            return call;
        if (room >= kMaxAnswerBytes)
            return error(cat("device-mapper ", what, ": the answer is larger than ",
                             kMaxAnswerBytes, " bytes"));
    }
}

// DM_LIST_DEVICES's answer: dm_name_list records chained by `next`.
Result<std::vector<MappedDeviceStatus>> parse_name_list(std::string_view answer) {
    std::vector<MappedDeviceStatus> devices;
    size_t at = 0;
    // The name follows `next` directly (offset 12), inside the struct's
    // tail padding: sizeof(dm_name_list) is 16.
    constexpr size_t kNameOffset = offsetof(dm_name_list, name);
    while (at + kNameOffset <= answer.size()) {
        dm_name_list record{};
        std::memcpy(&record, answer.data() + at, kNameOffset);
        if (record.dev == 0 && record.next == 0 && at == 0)
            break; // no devices
        std::string_view rest = answer.substr(at + kNameOffset);
        size_t end = rest.find('\0');
        if (end == std::string_view::npos)
            return error("device-mapper list: a name without its end");
        MappedDeviceStatus device;
        device.name = std::string(rest.substr(0, end));
        device.major = major(dev_t(record.dev));
        device.minor = minor(dev_t(record.dev));
        devices.push_back(std::move(device));
        if (record.next == 0)
            break;
        at += record.next;
    }
    return devices;
}

} // namespace

Result<std::vector<MappedDeviceStatus>> list_mapped_devices(DeviceMapperControl& control) {
    DmRequest list = TRY(call_with_answer(control, DM_LIST_DEVICES, "list devices",
                                          [](size_t room) { return DmRequest("", 0, room); }));
    std::vector<MappedDeviceStatus> devices = TRY(parse_name_list(list.answer()));
    for (MappedDeviceStatus& device : devices) {
        DmRequest status =
            TRY(call_with_answer(control, DM_TABLE_STATUS, cat("status of ", quoted(device.name)),
                                 [&](size_t room) { return DmRequest(device.name, 0, room); }));
        std::string_view answer = status.answer();
        if (status.header().target_count == 0 || answer.size() < sizeof(dm_target_spec))
            continue;
        dm_target_spec spec;
        std::memcpy(&spec, answer.data(), sizeof spec);
        std::string_view type(spec.target_type, sizeof spec.target_type);
        device.target = std::string(type.substr(0, type.find('\0')));
        std::string_view line = answer.substr(sizeof(dm_target_spec));
        device.status = std::string(line.substr(0, line.find('\0')));
    }
    std::sort(
        devices.begin(), devices.end(),
        [](const MappedDeviceStatus& a, const MappedDeviceStatus& b) { return a.name < b.name; });
    return devices;
}

Result<void> verity_device_node(MappedDevice& device) {
    std::string uevent_path = cat("/sys/dev/block/", device.major, ":", device.minor, "/uevent");
    std::string name = cat("dm-", device.minor);
    if (auto uevent = read_file(uevent_path)) {
        if (auto parsed = parse_block_uevent(*uevent))
            name = parsed->name;
    }
    std::string path = cat("/dev/", name);
    TRY(ensure_node(path, S_IFBLK, makedev(device.major, device.minor)));
    device.path = std::move(path);
    return {};
}

Result<VeritySuperblock> read_verity_superblock(const std::string& partition,
                                                uint64_t hash_offset) {
    Fd fd = TRY(open_file(partition, O_RDONLY));
    std::string bytes(kVeritySuperblockSize, '\0');
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n =
            ::pread(fd.get(), bytes.data() + done, bytes.size() - done, off_t(hash_offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(partition), " at ", hash_offset));
        if (n == 0)
            return error(
                cat(quoted(partition), " ends before the verity superblock at ", hash_offset));
        done += size_t(n);
    }
    return TRY_CTX(parse_verity_superblock(bytes), cat(partition, " at ", hash_offset));
}

Result<MappedDevice> open_verity(const std::string& name, const std::string& partition,
                                 const VerityParams& params) {
    TRY_CTX(check_verity_params(params), partition);
    VeritySuperblock superblock = TRY(read_verity_superblock(partition, params.hash_offset));
    TRY_CTX(check_verity_superblock(superblock, params), partition);
    auto control = TRY(open_device_mapper_control());
    MappedDevice device = TRY_CTX(create_verity_device(*control, name, partition, params),
                                  cat("dm-verity over ", partition));
    if (auto node = verity_device_node(device); !node) {
        if (auto removed = remove_mapped_device(*control, name); !removed)
            log_warning(removed.error().to_string());
        return std::unexpected(std::move(node).error());
    }
    return device;
}

VerityLookup
verity_lookup_from_command_line(std::function<std::optional<std::string>(std::string_view)> get) {
    return [get = std::move(get)](const std::string& partition) -> Result<VerityChoice> {
        VerityCommandLine line = TRY(parse_verity_command_line(get));
        if (line.root_hash.empty())
            return VerityChoice{};
        VeritySuperblock superblock = TRY(read_verity_superblock(partition, line.hash_offset));
        return VerityChoice{
            .params = verity_params_from_superblock(superblock, line.hash_offset, line.root_hash),
            .source = "keel.verity.root_hash= on the command line"};
    };
}

} // namespace keel
