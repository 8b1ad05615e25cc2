// rootfs/device_mapper.h: read-only dm-verity devices, made with the
// kernel's device-mapper ioctls (no libdevmapper), for the root slot the
// initramfs mounts and for `keel update verity`.
//
// A verity device reads a partition whose filesystem is followed by a hash
// tree in veritysetup's format (VerityParams, rootfs/rootfs.h): every block
// read is hashed up the tree to the root hash given when the device is
// made, and a block that does not match fails with EIO instead of being
// returned. The parsers of outside input (veritysetup's superblock, the
// kernel command line's keel.verity.*) live in verity_superblock.cpp, which
// needs nothing but keel_base, so the fuzz build takes it alone; the ioctls
// are in device_mapper.cpp behind DeviceMapperControl, which tests replace.
#pragma once

#include "base/result.h"
#include "rootfs/rootfs.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

// ---- veritysetup's superblock (verity_superblock.cpp) ------------------------

/// Bytes of veritysetup's superblock (its first hash block holds it, padded).
constexpr size_t kVeritySuperblockSize = 512;

/// veritysetup's superblock, as `veritysetup format` writes it at the hash
/// offset (little-endian): "verity\0\0", version 1, hash type, UUID,
/// algorithm name, block sizes, data block count, salt.
struct VeritySuperblock {
    uint32_t version = 0;
    uint32_t hash_type = 0; ///< 1: the normal format; 0: Chrome OS's (not accepted)
    uint32_t data_block_size = 0;
    uint32_t hash_block_size = 0;
    uint64_t data_blocks = 0;
    std::array<uint8_t, 16> uuid{};
    std::string algorithm; ///< "sha256"
    std::string salt;      ///< lowercase hex (last: no tail padding in a Result)
};

/// Parses the first kVeritySuperblockSize bytes of `bytes`: the magic,
/// version 1, hash type 1, an algorithm name the kernel could know, block
/// sizes (powers of two from 512 to 4096), data blocks > 0, salt size at
/// most 256. Errors name the field.
Result<VeritySuperblock> parse_verity_superblock(std::string_view bytes);

/// Checks `params` alone: block sizes, a hash offset on a hash block
/// boundary past the data, the algorithm name, root hash and salt as hex.
/// Errors name the field.
Result<void> check_verity_params(const VerityParams& params);

/// Refuses `params` that disagree with the superblock found at their hash
/// offset (algorithm, block sizes, data blocks, salt), naming each
/// difference: a tree made for another image, or parameters for another
/// tree.
Result<void> check_verity_superblock(const VeritySuperblock& superblock,
                                     const VerityParams& params);

/// VerityParams taken from a superblock found at `hash_offset`, with the
/// root hash from elsewhere (the command line, a signed manifest).
VerityParams verity_params_from_superblock(const VeritySuperblock& superblock, uint64_t hash_offset,
                                           std::string root_hash);

/// The verity target's table line for `device` ("/dev/vda1" or "254:1")
/// holding both the data and the tree: "1 DEV DEV DBS HBS DATA_BLOCKS
/// HASH_START ALG ROOT_HASH SALT", HASH_START the hash block after the
/// superblock, SALT "-" when empty. `params` are checked first.
Result<std::string> verity_table(const VerityParams& params, std::string_view device);

/// The keel.verity.* parameters of the kernel command line (systemd's
/// roothash= route, for a slot without a signed manifest).
struct VerityCommandLine {
    uint64_t hash_offset = 0;
    std::string root_hash; ///< lowercase hex (last: no tail padding in a Result)
};

/// Reads keel.verity.root_hash=HEX and keel.verity.hash_offset=BYTES
/// through `get`: an empty root_hash when neither is given; an error naming
/// the parameter when one is missing or malformed.
Result<VerityCommandLine>
parse_verity_command_line(const std::function<std::optional<std::string>(std::string_view)>& get);

// ---- the device-mapper ioctls (device_mapper.cpp) -----------------------------

/// The one syscall device-mapper needs: ioctl(/dev/mapper/control,
/// request, buffer), where `buffer` is a struct dm_ioctl and what follows
/// it; the kernel writes its answer back into `buffer`. Tests replace it.
class DeviceMapperControl {
public:
    virtual ~DeviceMapperControl() = default;
    /// Runs DM_* `request` with `buffer` (8-byte aligned, its dm_ioctl's
    /// data_size long). `what` names the request for errors.
    virtual Result<void> call(unsigned long request, std::span<std::byte> buffer,
                              std::string_view what) = 0;
};

/// /dev/mapper/control, opened after loading dm-verity (and dm-mod) when
/// the kernel lacks them; the node is made when devtmpfs has not made it.
Result<std::unique_ptr<DeviceMapperControl>> open_device_mapper_control();

/// A mapped device: device-mapper's name and the block device it is.
struct MappedDevice {
    unsigned major = 0, minor = 0;
    std::string name; ///< "keel-root"
    std::string path; ///< "/dev/dm-0"; empty until a node is found or made
};

/// Makes the read-only verity device `name` over `device` (a path the
/// kernel resolves, or "MAJOR:MINOR"): DM_DEV_CREATE, DM_TABLE_LOAD of
/// verity_table() with DM_READONLY_FLAG, and DM_DEV_SUSPEND without
/// DM_SUSPEND_FLAG, which resumes it, making it readable. A device half
/// made is removed again. The result's path is empty (see verity_device_node).
Result<MappedDevice> create_verity_device(DeviceMapperControl& control, const std::string& name,
                                          const std::string& device, const VerityParams& params);

/// DM_DEV_REMOVE of `name`.
Result<void> remove_mapped_device(DeviceMapperControl& control, const std::string& name);

/// What one mapped device is doing, for `keel update verity status`.
struct MappedDeviceStatus {
    unsigned major = 0, minor = 0;
    std::string name;
    std::string target; ///< the first target's type: "verity", "linear", ...
    std::string status; ///< its status line; verity's is "V" (verified) or "C" (corrupted)
};

/// Every mapped device (DM_LIST_DEVICES) with its first target's status
/// (DM_TABLE_STATUS), sorted by name.
Result<std::vector<MappedDeviceStatus>> list_mapped_devices(DeviceMapperControl& control);

/// Fills `device.path`: /dev/<DEVNAME> from /sys/dev/block/MAJOR:MINOR,
/// made with mknod when devtmpfs has not made it.
Result<void> verity_device_node(MappedDevice& device);

/// The veritysetup superblock of `partition` at `hash_offset` bytes.
Result<VeritySuperblock> read_verity_superblock(const std::string& partition, uint64_t hash_offset);

/// Everything the boot and `keel update verity open` do: reads and checks
/// the superblock of `partition` against `params`, makes the verity device
/// `name` and its node. Errors name the partition.
Result<MappedDevice> open_verity(const std::string& name, const std::string& partition,
                                 const VerityParams& params);

/// The lookup used when a slot has no signed manifest: keel.verity.root_hash
/// and keel.verity.hash_offset from the command line (through `get`), the
/// other parameters from the partition's superblock. Without those
/// parameters it returns nullopt (mounted without dm-verity); malformed
/// ones, or a superblock that is missing or bad, are errors.
VerityLookup
verity_lookup_from_command_line(std::function<std::optional<std::string>(std::string_view)> get);

} // namespace keel
