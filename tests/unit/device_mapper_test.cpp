// rootfs/device_mapper.cpp: the device-mapper requests a verity device is
// made, removed and listed with, as the kernel reads them (struct dm_ioctl,
// the target spec, the table line), through a fake /dev/mapper/control that
// records each request and answers like the kernel.
#include "rootfs/device_mapper.h"

#include "base/strings.h"

#include <cstddef>
#include <cstring>
#include <doctest/doctest.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

namespace {

struct IoctlRequest {
    unsigned long request = 0;
    std::string name;
    uint32_t flags = 0;
    uint32_t target_count = 0;
    std::string target_type;
    uint64_t sector_start = 0;
    uint64_t length = 0;
    std::string table;
};

// Records requests; answers DM_DEV_CREATE and DM_DEV_SUSPEND with device
// 254:3, DM_LIST_DEVICES and DM_TABLE_STATUS with `devices`; fails the
// request `fail` with EINVAL.
class FakeControl : public keel::DeviceMapperControl {
public:
    std::vector<IoctlRequest> requests;
    unsigned long fail = 0;
    std::vector<std::pair<std::string, std::string>> devices; // name, verity status

    keel::Result<void> call(unsigned long request, std::span<std::byte> buffer,
                            std::string_view what) override {
        REQUIRE(buffer.size() >= sizeof(dm_ioctl));
        REQUIRE(reinterpret_cast<uintptr_t>(buffer.data()) % 8 == 0);
        auto* io = reinterpret_cast<dm_ioctl*>(buffer.data());
        CHECK(io->version[0] == DM_VERSION_MAJOR);
        CHECK(io->data_size == buffer.size());
        CHECK(io->data_start >= sizeof(dm_ioctl));
        IoctlRequest seen;
        seen.request = request;
        seen.name = io->name;
        seen.flags = io->flags;
        seen.target_count = io->target_count;
        if (request == DM_TABLE_LOAD) {
            REQUIRE(io->data_start + sizeof(dm_target_spec) < io->data_size);
            auto* spec = reinterpret_cast<dm_target_spec*>(buffer.data() + io->data_start);
            seen.target_type = spec->target_type;
            seen.sector_start = spec->sector_start;
            seen.length = spec->length;
            const char* params = reinterpret_cast<const char*>(spec + 1);
            size_t room = io->data_size - io->data_start - sizeof(dm_target_spec);
            REQUIRE(::strnlen(params, room) < room); // NUL-terminated inside the buffer
            seen.table = params;
            CHECK(spec->next >= sizeof(dm_target_spec) + seen.table.size() + 1);
            CHECK(spec->next % 8 == 0);
        }
        requests.push_back(seen);
        if (request == fail)
            return keel::errno_error(EINVAL, keel::cat("device-mapper ", what));
        if (request == DM_DEV_CREATE || request == DM_DEV_SUSPEND)
            io->dev = makedev(254, 3);
        if (request == DM_LIST_DEVICES)
            answer_list(buffer, *io);
        if (request == DM_TABLE_STATUS)
            answer_status(buffer, *io);
        return {};
    }

private:
    void answer_list(std::span<std::byte> buffer, dm_ioctl& io) {
        size_t at = io.data_start;
        for (size_t i = 0; i < devices.size(); ++i) {
            // As the kernel lays it out: the name at offset 12, in the
            // struct's tail padding, the record rounded up to 8 bytes.
            constexpr size_t kNameOffset = offsetof(dm_name_list, name);
            size_t size = (kNameOffset + devices[i].first.size() + 1 + 7) & ~size_t(7);
            REQUIRE(at + size <= buffer.size());
            dm_name_list record{};
            record.dev = makedev(254, unsigned(i));
            record.next = i + 1 < devices.size() ? uint32_t(size) : 0;
            std::memcpy(buffer.data() + at, &record, kNameOffset);
            std::memcpy(buffer.data() + at + kNameOffset, devices[i].first.c_str(),
                        devices[i].first.size() + 1);
            at += size;
        }
    }
    void answer_status(std::span<std::byte> buffer, dm_ioctl& io) {
        for (const auto& [name, status] : devices) {
            if (name != io.name)
                continue;
            dm_target_spec spec{};
            std::memcpy(spec.target_type, "verity", 7);
            spec.length = 800;
            std::memcpy(buffer.data() + io.data_start, &spec, sizeof spec);
            std::memcpy(buffer.data() + io.data_start + sizeof spec, status.c_str(),
                        status.size() + 1);
            io.target_count = 1;
        }
    }
};

keel::VerityParams params() {
    keel::VerityParams p;
    p.data_blocks = 100;
    p.hash_offset = 100 * 4096;
    p.root_hash = std::string(64, 'c');
    return p;
}

} // namespace

TEST_CASE("a verity device is created, its read-only table loaded, then resumed") {
    FakeControl control;
    auto device = keel::create_verity_device(control, "keel-root", "/dev/vda1", params());
    REQUIRE(device);
    CHECK(device->name == "keel-root");
    CHECK(device->major == 254);
    CHECK(device->minor == 3);
    REQUIRE(control.requests.size() == 3);
    CHECK(control.requests[0].request == DM_DEV_CREATE);
    CHECK(control.requests[0].name == "keel-root");
    const IoctlRequest& load = control.requests[1];
    CHECK(load.request == DM_TABLE_LOAD);
    CHECK(load.name == "keel-root");
    CHECK((load.flags & DM_READONLY_FLAG) != 0);
    CHECK(load.target_count == 1);
    CHECK(load.target_type == "verity");
    CHECK(load.sector_start == 0);
    CHECK(load.length == 100 * 8); // 512-byte sectors
    CHECK(load.table ==
          "1 /dev/vda1 /dev/vda1 4096 4096 100 101 sha256 " + std::string(64, 'c') + " -");
    CHECK(control.requests[2].request == DM_DEV_SUSPEND);
    CHECK((control.requests[2].flags & DM_SUSPEND_FLAG) == 0); // resume
}

TEST_CASE("a verity table the kernel refuses leaves no device behind") {
    FakeControl control;
    control.fail = DM_TABLE_LOAD;
    auto device = keel::create_verity_device(control, "keel-root", "/dev/vda1", params());
    REQUIRE_FALSE(device);
    CHECK(device.error().code() == EINVAL);
    CHECK(device.error().to_string().find("load the verity table of keel-root") !=
          std::string::npos);
    REQUIRE(control.requests.size() == 3);
    CHECK(control.requests[2].request == DM_DEV_REMOVE);
    CHECK(control.requests[2].name == "keel-root");
}

TEST_CASE("bad parameters or a bad name are refused before any request") {
    FakeControl control;
    keel::VerityParams bad = params();
    bad.root_hash = "not hex";
    CHECK_FALSE(keel::create_verity_device(control, "keel-root", "/dev/vda1", bad));
    CHECK_FALSE(keel::create_verity_device(control, "a/b", "/dev/vda1", params()));
    CHECK_FALSE(keel::create_verity_device(control, "", "/dev/vda1", params()));
    CHECK_FALSE(keel::create_verity_device(control, std::string(200, 'x'), "/dev/vda1", params()));
    CHECK_FALSE(keel::remove_mapped_device(control, "control"));
    CHECK(control.requests.empty());
}

TEST_CASE("removing a verity device names it to the kernel") {
    FakeControl control;
    REQUIRE(keel::remove_mapped_device(control, "keel-root"));
    REQUIRE(control.requests.size() == 1);
    CHECK(control.requests[0].request == DM_DEV_REMOVE);
    CHECK(control.requests[0].name == "keel-root");
}

TEST_CASE("mapped devices are listed by name with their verity status") {
    FakeControl control;
    control.devices = {{"zeta", "C"}, {"keel-root", "V"}};
    auto devices = keel::list_mapped_devices(control);
    REQUIRE(devices);
    REQUIRE(devices->size() == 2);
    CHECK((*devices)[0].name == "keel-root");
    CHECK((*devices)[0].minor == 1);
    CHECK((*devices)[0].target == "verity");
    CHECK((*devices)[0].status == "V");
    CHECK((*devices)[1].name == "zeta");
    CHECK((*devices)[1].status == "C");

    FakeControl empty;
    auto none = keel::list_mapped_devices(empty);
    REQUIRE(none);
    CHECK(none->empty());
}
