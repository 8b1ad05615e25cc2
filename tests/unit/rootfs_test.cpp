// rootfs: keel.root= parsing, uevents, block device discovery on a fake
// sysfs, superblock probing, GPT parsing (valid, damaged and hostile
// tables), disk boot options, machine IDs. The boot itself runs in QEMU
// (tests/qemu/rootfs_*.sh).
#include "rootfs/rootfs.h"

#include "base/sys.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <unistd.h>

using keel::testing::TempDir;
using namespace keel::testing::gpt;

namespace {

std::string gpt_error(const keel::Result<keel::GptTable>& result) {
    REQUIRE_FALSE(result);
    return result.error().to_string();
}

bool have_tool(const char* name) {
    return std::system(
               (std::string("PATH=$PATH:/usr/sbin:/sbin command -v ") + name + " >/dev/null 2>&1")
                   .c_str()) == 0;
}

} // namespace

// ---- keel.root= ---------------------------------------------------------------------------

TEST_CASE("keel.root= names a partition by GPT label, GPT UUID, filesystem UUID or label, or "
          "path") {
    using Kind = keel::RootSpec::Kind;
    struct Case {
        const char* text;
        Kind kind;
        const char* value;
    } cases[] = {
        {"PARTLABEL=ROOT-A", Kind::PartitionLabel, "ROOT-A"},
        {"PARTUUID=0FC63DAF-8483-4772-8E79-3D69D8477DE4", Kind::PartitionUuid,
         "0fc63daf-8483-4772-8e79-3d69d8477de4"},
        {"UUID=0B6A4D5E-6c1f-4f8e-9a43-5d2b1c0e7f21", Kind::FilesystemUuid,
         "0b6a4d5e-6c1f-4f8e-9a43-5d2b1c0e7f21"},
        {"LABEL=keel-root", Kind::FilesystemLabel, "keel-root"},
        {"/dev/vda1", Kind::Path, "/dev/vda1"},
        {"/dev/mapper/root", Kind::Path, "/dev/mapper/root"},
    };
    for (const Case& c : cases) {
        std::string text = c.text;
        CAPTURE(text);
        auto spec = keel::RootSpec::parse(c.text);
        REQUIRE(spec);
        CHECK(spec->kind == c.kind);
        CHECK(spec->value == c.value);
        auto again = keel::RootSpec::parse(spec->to_string());
        REQUIRE(again);
        CHECK(again->value == spec->value);
    }
}

TEST_CASE("a malformed keel.root= is refused with a reason") {
    struct Case {
        const char* text;
        const char* reason;
    } cases[] = {
        {"", "empty"},
        {"ROOT-A", "expected PARTLABEL="},
        {"PARTLABEL=", "empty PARTLABEL"},
        {"PARTUUID=not-a-guid", "expected a GUID"},
        {"PARTUUID=0fc63daf-8483-4772-8e79-3d69d8477de", "expected a GUID"},
        {"PARTUUID=0fc63daf+8483-4772-8e79-3d69d8477de4", "expected a GUID"},
        {"UUID=1234", "expected a UUID"},
        {"LABEL=a-label-longer-than-16", "at most 16"},
        {"PARTLABEL=0123456789012345678901234567890123456", "at most 36"},
        {"/dev/", "no device name"},
        {"/dev/../etc/passwd", "`..`"},
        {"/dev//vda", "empty"},
        {"/etc/passwd", "expected PARTLABEL="},
        {"PARTLABEL=ROOT\x01", "control characters"},
    };
    for (const Case& c : cases) {
        std::string text = c.text;
        CAPTURE(text);
        auto spec = keel::RootSpec::parse(c.text);
        REQUIRE_FALSE(spec);
        CHECK(spec.error().to_string().find(c.reason) != std::string::npos);
    }
}

// ---- uevents and sysfs -------------------------------------------------------------------

TEST_CASE("a partition's uevent gives its device node, number and GPT label") {
    auto device = keel::parse_block_uevent("MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE="
                                           "partition\nDISKSEQ=1\nPARTN=1\nPARTNAME=ROOT-A\n");
    REQUIRE(device);
    CHECK(device->name == "vda1");
    CHECK(device->path == "/dev/vda1");
    CHECK(device->is_partition);
    CHECK(device->partition_number == 1);
    CHECK(device->partition_label == "ROOT-A");
    CHECK(device->major == 254);
    CHECK(device->minor == 1);

    auto disk = keel::parse_block_uevent("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n");
    REQUIRE(disk);
    CHECK_FALSE(disk->is_partition);
    CHECK(disk->partition_label.empty());
}

TEST_CASE("a malformed uevent is refused naming the line") {
    struct Case {
        const char* text;
        const char* reason;
    } cases[] = {
        {"MAJOR=254\nDEVTYPE=disk\n", "no DEVNAME"},
        {"DEVNAME=vda1\nPARTN=one\n", "line 2: PARTN=`one` is not a number"},
        {"DEVNAME=vda1\nPARTN=99999999999\n", "not a number"},
        {"DEVNAME=vda\nMAJOR=-1\n", "MAJOR"},
        {"DEVNAME=vda\ngarbage\n", "line 2: expected KEY=value"},
        {"=x\nDEVNAME=vda\n", "line 1"},
        {"DEVNAME=../etc/shadow\n", "not a device name"},
        {"DEVNAME=\n", "no DEVNAME"},
    };
    for (const Case& c : cases) {
        std::string text = c.text;
        CAPTURE(text);
        auto device = keel::parse_block_uevent(c.text);
        REQUIRE_FALSE(device);
        CHECK(device.error().to_string().find(c.reason) != std::string::npos);
    }
}

namespace {

// /sys/class/block as the kernel lays it out: class entries are links into
// the device tree, a partition's directory sits inside its disk's.
struct FakeSysfs {
    TempDir dir;
    std::string class_block = dir / "class/block";

    FakeSysfs() { REQUIRE(keel::make_directories(class_block)); }

    void add_disk(const std::string& name, bool hardware) {
        std::string path = dir / ("devices/" + name);
        REQUIRE(keel::make_directories(path));
        if (hardware)
            REQUIRE(keel::make_directories(path + "/device"));
        REQUIRE(keel::write_new_file(path + "/uevent",
                                     "MAJOR=254\nMINOR=0\nDEVNAME=" + name + "\nDEVTYPE=disk\n"));
        REQUIRE(::symlink(("../../devices/" + name).c_str(), (class_block + "/" + name).c_str()) ==
                0);
    }

    void add_partition(const std::string& disk, int number, const std::string& label) {
        std::string name = disk + std::to_string(number);
        std::string path = dir / ("devices/" + disk + "/" + name);
        REQUIRE(keel::make_directories(path));
        REQUIRE(keel::write_new_file(
            path + "/uevent", "MAJOR=254\nMINOR=" + std::to_string(number) + "\nDEVNAME=" + name +
                                  "\nDEVTYPE=partition\nPARTN=" + std::to_string(number) +
                                  "\nPARTNAME=" + label + "\n"));
        REQUIRE(::symlink(("../../devices/" + disk + "/" + name).c_str(),
                          (class_block + "/" + name).c_str()) == 0);
    }
};

} // namespace

TEST_CASE("block devices are found in sysfs with the disk each partition is on") {
    FakeSysfs sys;
    sys.add_disk("vda", true);
    sys.add_partition("vda", 1, "ROOT-A");
    sys.add_partition("vda", 3, "STATE");
    sys.add_disk("ram0", false);
    auto devices = keel::list_block_devices(sys.class_block);
    REQUIRE(devices);
    REQUIRE(devices->size() == 4);
    std::map<std::string, keel::BlockDevice> by_name;
    for (const keel::BlockDevice& device : *devices)
        by_name[device.name] = device;
    CHECK(by_name["vda3"].disk == "vda");
    CHECK(by_name["vda3"].partition_number == 3);
    CHECK(by_name["vda3"].has_hardware);
    CHECK(by_name["vda"].has_hardware);
    CHECK_FALSE(by_name["ram0"].has_hardware);

    keel::RootSpec state{keel::RootSpec::Kind::PartitionLabel, "STATE"};
    auto found = keel::matching_devices(state, *devices);
    REQUIRE(found.size() == 1);
    CHECK(found[0].path == "/dev/vda3");
    CHECK(keel::describe_block_devices(*devices).find(
              "vda1 (partition 1 of vda, PARTLABEL=ROOT-A)") != std::string::npos);
}

TEST_CASE("waiting for a partition that never shows up ends with what was there") {
    FakeSysfs sys;
    sys.add_disk("vda", true);
    sys.add_partition("vda", 1, "ROOT-A");
    keel::RootSpec nope{keel::RootSpec::Kind::PartitionLabel, "NOPE"};
    auto found = keel::wait_for_block_device(nope, std::chrono::milliseconds(120), sys.class_block);
    REQUIRE_FALSE(found);
    std::string message = found.error().to_string();
    CHECK(message.find("no block device with PARTLABEL=NOPE after 0.") != std::string::npos);
    CHECK(message.find("vda (disk), vda1 (partition 1 of vda, PARTLABEL=ROOT-A)") !=
          std::string::npos);

    keel::RootSpec root_a{keel::RootSpec::Kind::PartitionLabel, "ROOT-A"};
    auto root = keel::wait_for_block_device(root_a, std::chrono::milliseconds(0), sys.class_block);
    REQUIRE(root);
    CHECK(root->path == "/dev/vda1");
}

// ---- superblocks -----------------------------------------------------------------------------

TEST_CASE("ext4, erofs and squashfs are told apart by their superblocks; zeros are blank") {
    std::string ext4(4096, '\0');
    ext4[1024 + 56] = char(0x53);
    ext4[1024 + 57] = char(0xEF);
    for (int i = 0; i < 16; ++i)
        ext4[size_t(1024 + 104 + i)] = char(0x10 + i);
    ext4.replace(1024 + 120, 5, "STATE");
    keel::FilesystemInfo info = keel::probe_filesystem(ext4);
    CHECK(info.type == keel::FilesystemType::Ext4);
    CHECK(info.uuid == "10111213-1415-1617-1819-1a1b1c1d1e1f");
    CHECK(info.label == "STATE");
    CHECK(keel::filesystem_name(info.type) == "ext4");

    std::string erofs(4096, '\0');
    keel::FilesystemInfo none = keel::probe_filesystem(erofs);
    CHECK(none.type == keel::FilesystemType::Unknown);
    erofs.replace(1024, 4, "\xE2\xE1\xF5\xE0");
    info = keel::probe_filesystem(erofs);
    CHECK(info.type == keel::FilesystemType::Erofs);
    CHECK(info.uuid.empty()); // all-zero UUID: none

    info = keel::probe_filesystem(std::string("hsqs") + std::string(100, '\0'));
    CHECK(info.type == keel::FilesystemType::Squashfs);

    // Cut short before the fields: not recognised, no overread.
    CHECK(keel::probe_filesystem(ext4.substr(0, 1024 + 60)).type == keel::FilesystemType::Unknown);
    CHECK(keel::probe_filesystem("").type == keel::FilesystemType::Unknown);
}

TEST_CASE("a filesystem made by mkfs.ext4 is probed with its UUID and label") {
    if (!have_tool("mkfs.ext4")) {
        MESSAGE("mkfs.ext4 not installed: skipped");
        return;
    }
    TempDir dir;
    std::string image = dir / "state.ext4";
    std::string command = "PATH=$PATH:/usr/sbin:/sbin; truncate -s 8M " + image +
                          " && mkfs.ext4 -q -F -L STATE -U 0b6a4d5e-6c1f-4f8e-9a43-5d2b1c0e7f21 " +
                          image + " >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    auto info = keel::probe_device(image);
    REQUIRE(info);
    CHECK(info->type == keel::FilesystemType::Ext4);
    CHECK(info->uuid == "0b6a4d5e-6c1f-4f8e-9a43-5d2b1c0e7f21");
    CHECK(info->label == "STATE");
}

// ---- GPT --------------------------------------------------------------------------------------

TEST_CASE("CRC-32 is the IEEE one GPT uses") {
    CHECK(keel::crc32_ieee("123456789") == 0xCBF43926u);
    CHECK(keel::crc32_ieee("") == 0u);
    CHECK(keel::crc32_ieee("6789", keel::crc32_ieee("12345")) == 0xCBF43926u);
}

TEST_CASE("a GUID's text keeps GPT's mixed byte order") {
    auto guid = keel::Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    REQUIRE(guid);
    const uint8_t on_disk[16] = {0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47,
                                 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4};
    for (size_t i = 0; i < 16; ++i)
        CHECK(guid->bytes[i] == on_disk[i]);
    CHECK(guid->to_string() == "0fc63daf-8483-4772-8e79-3d69d8477de4");
    CHECK_FALSE(keel::Guid::parse("0fc63daf84834772-8e79-3d69d8477de4x"));
    CHECK_FALSE(keel::Guid::parse("0fc63daf-8483-4772-8e79-3d69d8477dg4"));
    CHECK(keel::Guid{}.is_zero());
}

TEST_CASE("a valid GPT gives its used partitions with numbers, names, GUIDs and attributes") {
    TestDisk disk = make_disk();
    auto table = keel::parse_gpt(disk.bytes);
    REQUIRE(table);
    CHECK(table->header.entry_count == 128);
    CHECK(table->header.first_usable_lba == 34);
    CHECK(table->header.disk_guid.to_string() == "11111111-2222-3333-4444-555555555555");
    REQUIRE(table->partitions.size() == 2);
    const keel::GptPartition& a = table->partitions[0];
    CHECK(a.number == 1);
    CHECK(a.name == "ROOT-A");
    CHECK(a.unique.to_string() == "aaaaaaaa-0000-4000-8000-000000000001");
    CHECK(a.first_lba == 34);
    CHECK(a.last_lba == 99);
    CHECK(a.attributes == ((1ull << 48) | (1ull << 56)));
    // An unused slot in between keeps the kernel's numbering: STATE is 3.
    CHECK(table->partitions[1].number == 3);
    CHECK(table->partitions[1].name == "STATE");
}

TEST_CASE("GPT names are UTF-16: non-ASCII and surrogate pairs become UTF-8") {
    auto partitions = default_partitions();
    partitions[0].name = u"Caf\u00e9 \U0001F680";
    partitions[1].name = std::u16string(u"bad ") + char16_t(0xD800) + u"x";
    TestDisk disk = make_disk(partitions);
    auto table = keel::parse_gpt(disk.bytes);
    REQUIRE(table);
    CHECK(table->partitions[0].name == "Caf\xC3\xA9 \xF0\x9F\x9A\x80");
    CHECK(table->partitions[1].name == "bad \xEF\xBF\xBDx"); // U+FFFD
}

TEST_CASE("a damaged or hostile GPT header is refused with the reason") {
    struct Case {
        const char* what;
        size_t offset; // in the header
        uint64_t value;
        int bytes;
        bool fix_crc;
        const char* reason;
    } cases[] = {
        {"signature", 0, 0x5852415020494645ull, 8, true, "no `EFI PART` signature"},
        {"stale CRC", 48, 200, 8, false, "header CRC mismatch"},
        {"revision 2", 8, 0x00020000, 4, true, "unsupported revision 2.0"},
        {"tiny header", 12, 60, 4, false, "header size 60"},
        {"header bigger than a sector", 12, 600, 4, false, "header size 600"},
        {"wrong own LBA", 24, 7, 8, true, "says it is at LBA 7"},
        {"usable range inverted", 40, 300, 8, true, "is after the last"},
        {"header inside the usable range", 40, 1, 8, true, "inside its own usable range"},
        {"entry size 100", 84, 100, 4, true, "entry size 100"},
        {"entry size 384", 84, 384, 4, true, "entry size 384"},
        {"entry size 8192", 84, 8192, 4, true, "entry size 8192"},
        {"no entries", 80, 0, 4, true, "no partition entries"},
        {"a huge array", 80, 0x10000000, 4, true, "exceed"},
        {"array in the usable range", 72, 40, 8, true, "overlaps the usable range"},
        {"array on the header", 72, 1, 8, true, "is invalid"},
        {"array past the end", 72, 0xFFFFFFFFFFFFFFF0ull, 8, true, "is invalid"},
    };
    for (const Case& c : cases) {
        std::string what = c.what;
        CAPTURE(what);
        TestDisk disk = make_disk();
        put_le(disk.bytes, kSector + c.offset, c.value, c.bytes);
        if (c.fix_crc) {
            // Fix only the header CRC: the array CRC stays as it was.
            put_le(disk.bytes, kSector + 16, 0, 4);
            uint32_t size = 92;
            put_le(disk.bytes, kSector + 16,
                   keel::crc32_ieee(std::string_view(disk.bytes).substr(kSector, size)), 4);
        }
        std::string message = gpt_error(keel::parse_gpt(disk.bytes));
        CHECK(message.find(c.reason) != std::string::npos);
    }
}

TEST_CASE("GPT partition entries are checked: CRC, LBAs, truncation") {
    SUBCASE("a flipped byte in the array fails its CRC") {
        TestDisk disk = make_disk();
        disk.bytes[2 * kSector + 60] ^= 1;
        CHECK(gpt_error(keel::parse_gpt(disk.bytes)).find("partition entries: CRC mismatch") !=
              std::string::npos);
    }
    SUBCASE("a partition outside the usable range") {
        auto partitions = default_partitions();
        partitions[1].last = kSectors; // past last usable
        TestDisk disk = make_disk(partitions);
        CHECK(gpt_error(keel::parse_gpt(disk.bytes)).find("GPT partition 3: LBAs") !=
              std::string::npos);
    }
    SUBCASE("a partition that ends before it starts") {
        auto partitions = default_partitions();
        partitions[0].first = 90;
        partitions[0].last = 50;
        TestDisk disk = make_disk(partitions);
        CHECK(gpt_error(keel::parse_gpt(disk.bytes)).find("first LBA 90 is after the last, 50") !=
              std::string::npos);
    }
    SUBCASE("an image cut inside the array") {
        TestDisk disk = make_disk();
        CHECK(gpt_error(keel::parse_gpt(std::string_view(disk.bytes).substr(0, 10 * kSector)))
                  .find("truncated") != std::string::npos);
    }
    SUBCASE("an image cut before the header") {
        TestDisk disk = make_disk();
        CHECK(gpt_error(keel::parse_gpt(std::string_view(disk.bytes).substr(0, 700)))
                  .find("truncated") != std::string::npos);
    }
    SUBCASE("parse_gpt_entries on too little data") {
        TestDisk disk = make_disk();
        auto header = keel::parse_gpt_header(disk.header(), 1);
        REQUIRE(header);
        auto entries = keel::parse_gpt_entries(*header, std::string(100, '\0'));
        REQUIRE_FALSE(entries);
        CHECK(entries.error().to_string().find("truncated: 100 of 16384 bytes") !=
              std::string::npos);
    }
    SUBCASE("a header given with a known disk size must fit in it") {
        TestDisk disk = make_disk();
        CHECK(keel::parse_gpt_header(disk.header(), 1, kSectors));
        auto small = keel::parse_gpt_header(disk.header(), 1, 100);
        REQUIRE_FALSE(small);
        CHECK(small.error().to_string().find("past the end of the disk") != std::string::npos);
    }
}

TEST_CASE("reading a disk's GPT falls back to the backup header when the primary is damaged") {
    TempDir dir;
    std::string path = dir / "disk.img";
    TestDisk disk = make_disk();
    disk.bytes[kSector + 30] ^= 0x40; // primary header: CRC no longer matches
    REQUIRE(keel::write_new_file(path, disk.bytes));
    auto table = keel::read_gpt(path);
    REQUIRE(table);
    CHECK(table->header.current_lba == kSectors - 1);
    REQUIRE(table->partitions.size() == 2);
    CHECK(table->partitions[0].name == "ROOT-A");

    disk.bytes[(kSectors - 1) * kSector] = 'X'; // and the backup's signature
    REQUIRE(keel::write_new_file(path, disk.bytes));
    auto broken = keel::read_gpt(path);
    REQUIRE_FALSE(broken);
    std::string message = broken.error().to_string();
    CHECK(message.find("primary: GPT header at LBA 1: header CRC mismatch") != std::string::npos);
    CHECK(message.find("backup: GPT header at LBA 255: no `EFI PART` signature") !=
          std::string::npos);
}

TEST_CASE("a disk partitioned by sgdisk reads back with its labels and PARTUUIDs") {
    if (!have_tool("sgdisk")) {
        MESSAGE("sgdisk not installed: skipped");
        return;
    }
    TempDir dir;
    std::string image = dir / "disk.img";
    std::string command =
        "PATH=$PATH:/usr/sbin:/sbin; truncate -s 40M " + image +
        " && sgdisk -n1:2048:+16M -c1:ROOT-A -u1:aaaaaaaa-0000-4000-8000-000000000001"
        " -n2:0:+8M -c2:ROOT-B -n3:0:0 -c3:STATE -A1:set:48 " +
        image + " >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    auto table = keel::read_gpt(image);
    REQUIRE(table);
    REQUIRE(table->partitions.size() == 3);
    CHECK(table->partitions[0].name == "ROOT-A");
    CHECK(table->partitions[0].unique.to_string() == "aaaaaaaa-0000-4000-8000-000000000001");
    CHECK(table->partitions[0].first_lba == 2048);
    CHECK(table->partitions[0].attributes == (1ull << 48));
    CHECK(table->partitions[1].name == "ROOT-B");
    CHECK(table->partitions[2].name == "STATE");
    CHECK(table->partitions[2].number == 3);
}

// ---- options and machine-id
// ------------------------------------------------------------------------

TEST_CASE("disk boot options come from keel.root=, keel.rootwait= and keel.state=") {
    std::map<std::string, std::string, std::less<>> cmdline;
    auto get = [&](std::string_view key) -> std::optional<std::string> {
        auto it = cmdline.find(key);
        if (it == cmdline.end())
            return std::nullopt;
        return it->second;
    };
    auto defaults = keel::DiskBootOptions::from(get);
    REQUIRE(defaults);
    CHECK_FALSE(defaults->root);
    CHECK(defaults->root_wait == std::chrono::seconds(30));
    CHECK(defaults->state == keel::StateMode::Keep);

    cmdline = {{"keel.root", "PARTLABEL=ROOT-B"}, {"keel.rootwait", "5"}, {"keel.state", "wipe"}};
    auto given = keel::DiskBootOptions::from(get);
    REQUIRE(given);
    REQUIRE(given->root);
    CHECK(given->root->to_string() == "PARTLABEL=ROOT-B");
    CHECK(given->root_wait == std::chrono::seconds(5));
    CHECK(given->state == keel::StateMode::Wipe);

    struct Case {
        const char* key;
        const char* value;
        const char* reason;
    } bad[] = {
        {"keel.root", "", "keel.root: ``: empty"},
        {"keel.root", "sda1", "keel.root: `sda1`: expected"},
        {"keel.rootwait", "soon", "keel.rootwait: `soon`: expected whole seconds"},
        {"keel.rootwait", "-1", "expected whole seconds"},
        {"keel.rootwait", "100000", "expected whole seconds"},
        {"keel.state", "wype", "keel.state: `wype`: expected `wipe` or `keep`"},
    };
    for (const Case& c : bad) {
        std::string value = c.value;
        CAPTURE(value);
        cmdline = {{c.key, c.value}};
        auto options = keel::DiskBootOptions::from(get);
        REQUIRE_FALSE(options);
        CHECK(options.error().to_string().find(c.reason) != std::string::npos);
    }
}

TEST_CASE("a machine-id is 32 lowercase hex digits and a newline, different every time") {
    auto first = keel::generate_machine_id();
    auto second = keel::generate_machine_id();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->size() == 33);
    CHECK(first->back() == '\n');
    CHECK(keel::is_valid_machine_id(*first));
    CHECK(*first != *second);
    CHECK((*first)[12] == '4'); // version 4, as systemd makes them

    CHECK(keel::is_valid_machine_id("0123456789abcdef0123456789abcdef"));
    CHECK_FALSE(keel::is_valid_machine_id(""));
    CHECK_FALSE(keel::is_valid_machine_id("uninitialized\n"));
    CHECK_FALSE(keel::is_valid_machine_id("0123456789ABCDEF0123456789abcdef\n"));
    CHECK_FALSE(keel::is_valid_machine_id("00000000000000000000000000000000\n"));
    CHECK_FALSE(keel::is_valid_machine_id("0123456789abcdef0123456789abcde\n"));
}
