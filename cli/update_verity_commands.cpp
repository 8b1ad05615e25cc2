// `keel update verity ...`: opens a partition (or image file) through a
// read-only dm-verity device with a root hash, the other parameters from
// veritysetup's superblock at --hash-offset (rootfs/device_mapper.h); closes
// one; lists the mapped devices with their verity state.
#include "cli/update_verity_commands.h"

#include "base/strings.h"
#include "cli/output.h"
#include "rootfs/device_mapper.h"

#include <string>

namespace keel::cli {

namespace {

// Columns of `keel update verity status` (each followed by a space).
constexpr size_t kVerityNameWidth = 16;
constexpr size_t kDeviceWidth = 10;
constexpr size_t kTargetWidth = 8;

// Verity's status line: "V" all blocks read so far verified, "C" a block
// failed its hash.
std::string_view describe_status(const MappedDeviceStatus& device) {
    if (device.target != "verity")
        return device.status;
    if (device.status == "V")
        return "verified";
    if (device.status == "C")
        return "corrupted (a block failed its hash)";
    return device.status;
}

CommandResult verity_open(const ParsedArgs& args) {
    std::string partition(*args.positional("DEV"));
    std::string name(*args.positional("NAME"));
    std::string given(*args.positional("ROOT_HASH"));
    std::string root_hash;
    for (char c : given) // veritysetup takes either case
        root_hash += char(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    uint64_t hash_offset = *args.number("--hash-offset");
    VeritySuperblock superblock = TRY(read_verity_superblock(partition, hash_offset));
    // The root hash is checked with the rest of the parameters by open_verity.
    VerityParams params =
        verity_params_from_superblock(superblock, hash_offset, std::move(root_hash));
    MappedDevice device = TRY(open_verity(name, partition, params));
    print(cat(partition, " is open as ", device.path, " (", name, ", dm-verity, ",
              params.data_blocks, " blocks of ", params.data_block_size, " bytes)\n"));
    return kExitSuccess;
}

CommandResult verity_close(const ParsedArgs& args) {
    std::string name(*args.positional("NAME"));
    auto control = TRY(open_device_mapper_control());
    TRY(remove_mapped_device(*control, name));
    print(cat(name, " closed\n"));
    return kExitSuccess;
}

CommandResult verity_status(const ParsedArgs&) {
    auto control = TRY(open_device_mapper_control());
    std::vector<MappedDeviceStatus> devices = TRY(list_mapped_devices(*control));
    if (devices.empty()) {
        print("no mapped devices\n");
        return kExitSuccess;
    }
    print(cat(cell("NAME", kVerityNameWidth), cell("DEVICE", kDeviceWidth),
              cell("TARGET", kTargetWidth), "STATUS\n"));
    for (const MappedDeviceStatus& device : devices)
        print(cat(cell(device.name, kVerityNameWidth),
                  cell(cat(device.major, ":", device.minor), kDeviceWidth),
                  cell(device.target, kTargetWidth), describe_status(device), "\n"));
    return kExitSuccess;
}

const Command kOpen{
    .names = {"open"},
    .summary = "read DEV through a new dm-verity device NAME, every block checked against "
               "ROOT_HASH",
    .options = {{.name = "--hash-offset",
                 .value_name = "BYTES",
                 .type = ValueType::Number,
                 .presence = Presence::Required,
                 .max = UINT64_MAX / 2,
                 .expected = "bytes, a multiple of 512",
                 .help = "where veritysetup's superblock is on DEV (after the data)"}},
    .positionals = {{.name = "DEV", .noun = "partition or image"},
                    {.name = "NAME", .noun = "device-mapper name"},
                    {.name = "ROOT_HASH", .noun = "root hash (hex)"}},
    .run = verity_open,
};

const Command kClose{
    .names = {"close"},
    .summary = "remove the dm-verity device NAME",
    .positionals = {{.name = "NAME", .noun = "device-mapper name"}},
    .run = verity_close,
};

const Command kVerityStatus{
    .names = {"status"},
    .summary = "the mapped devices, and whether a verity device has met a corrupt block",
    .run = verity_status,
};

} // namespace

const Command kUpdateVerityCommand{
    .names = {"verity"},
    .summary = "dm-verity devices (veritysetup open/close/status)",
    .notes = R"(The hash tree is in the format `veritysetup format` makes, on the same
partition as the data, its superblock at --hash-offset. A block that does not
match the root hash fails to read (EIO) instead of being returned. The boot
mounts a root slot this way when its signed manifest, or keel.verity.root_hash=
and keel.verity.hash_offset= on the kernel command line, give a root hash.)",
    .subcommands = {&kOpen, &kClose, &kVerityStatus},
};

} // namespace keel::cli
