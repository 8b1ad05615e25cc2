// Fuzz target for rootfs/probe.cpp: keel.root= (kernel command line),
// /sys/class/block/*/uevent texts and filesystem superblocks (disk
// contents), all read by PID 1 in the initramfs. The first byte picks the
// parser. Invariants: a parsed keel.root= prints back to itself; a parsed
// uevent names a device node under /dev without `..`; a probe result is
// consistent (no UUID or label for an unknown filesystem).
#include "rootfs/rootfs.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        auto spec = keel::RootSpec::parse(input);
        if (!spec)
            break;
        auto again = keel::RootSpec::parse(spec->to_string());
        FUZZ_CHECK(again);
        FUZZ_CHECK(again->kind == spec->kind && again->value == spec->value);
        break;
    }
    case 1: {
        auto device = keel::parse_block_uevent(input);
        if (!device)
            break;
        FUZZ_CHECK(!device->name.empty());
        FUZZ_CHECK(device->path == "/dev/" + device->name);
        FUZZ_CHECK(device->path.find("/../") == std::string::npos);
        FUZZ_CHECK(!device->path.ends_with("/.."));
        break;
    }
    case 2: {
        keel::FilesystemInfo info = keel::probe_filesystem(input);
        if (info.type == keel::FilesystemType::Unknown) {
            FUZZ_CHECK(info.uuid.empty() && info.label.empty());
            FUZZ_CHECK(keel::filesystem_name(info.type).empty());
        } else {
            FUZZ_CHECK(!keel::filesystem_name(info.type).empty());
        }
        FUZZ_CHECK(info.uuid.empty() || info.uuid.size() == 36);
        FUZZ_CHECK(info.label.size() <= 16);
        break;
    }
    }
    return 0;
}
