// rootfs/: the mount plan of a keel disk and the switch from the initramfs
// to it.
//
// A keel disk is GPT with partitions labelled ROOT-A and ROOT-B (read-only
// root images, erofs or squashfs) and STATE (ext4, writable). Booted from an
// initramfs, PID 1 finds the root partition (keel.root=, default
// PARTLABEL=ROOT-A), mounts it read-only at /sysroot, mounts STATE (making
// the filesystem when it is blank or keel.state=wipe asks for a factory
// reset), lays /etc (overlay), /var, /home, /opt, /srv (binds from STATE),
// /run and /tmp over it, makes /etc/machine-id once, then switches root and
// execs /usr/bin/keel from the new root, still PID 1.
//
// The parsers here read outside input (GPT headers and superblocks from the
// disk, keel.root= from the kernel command line); they live in gpt.cpp and
// probe.cpp, which need nothing but keel_base, so the fuzz build takes them
// alone.
#pragma once

#include "base/mountinfo.h"
#include "base/names.h"
#include "base/result.h"
#include "base/storage.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel {

// ---- GPT (gpt.cpp) ---------------------------------------------------------

/// CRC-32 as GPT (and zlib, Ethernet) compute it: reflected 0xEDB88320,
/// initial and final XOR 0xFFFFFFFF. `crc` continues an earlier value.
uint32_t crc32_ieee(std::string_view data, uint32_t crc = 0);

/// A GUID as GPT stores it: the first three fields little-endian.
struct Guid {
    std::array<uint8_t, 16> bytes{};

    /// "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" (lowercase, GPT byte order).
    std::string to_string() const;
    /// Parses the 36-character text form, either case.
    static std::optional<Guid> parse(std::string_view text);
    bool is_zero() const;
    bool operator==(const Guid&) const = default;
};

/// A validated GPT header.
///
/// Result<T> types here have no tail padding: libc++ 16's std::expected
/// (the fuzz and musl builds) keeps its has-value flag in a value's tail
/// padding and can overwrite it, turning a value into a garbage error.
struct GptHeader {
    uint32_t revision = 0;
    uint32_t header_size = 0;
    uint64_t current_lba = 0;   // where this header is (1 for the primary)
    uint64_t alternate_lba = 0; // where the other copy is
    uint64_t first_usable_lba = 0;
    uint64_t last_usable_lba = 0;
    Guid disk_guid;
    uint64_t entries_lba = 0;
    uint32_t entry_count = 0;
    uint32_t entry_size = 0;
    uint32_t entries_crc = 0;
    uint32_t reserved = 0; // offset 20, zero by the spec; not checked
};

/// One used entry of the partition array.
struct GptPartition {
    uint32_t number = 0; // 1-based index in the array: the kernel's PARTN (vda<number>)
    Guid type;
    Guid unique; // PARTUUID
    uint64_t first_lba = 0;
    uint64_t last_lba = 0; // inclusive
    uint64_t attributes = 0;
    std::string name; // UTF-8 (stored as UTF-16LE); PARTLABEL
};

struct GptTable {
    GptHeader header;
    std::vector<GptPartition> partitions; // used entries, in array order
};

/// Largest partition entry array accepted (count * size), 1 MiB: sane disks
/// use 16 KiB; the limit keeps a hostile header from making us read gigabytes.
constexpr uint64_t kMaxGptEntryArrayBytes = 1 << 20;

/// Checks a header sector read from `lba`: signature, revision 1.x, header
/// size, CRC, that it says it is at `lba`, usable range, entry array
/// geometry (size a power of two from 128 to 4096, array outside the usable
/// range and off the header). `disk_sectors` (0: unknown) bounds every LBA.
Result<GptHeader> parse_gpt_header(std::string_view sector, uint64_t lba,
                                   uint64_t disk_sectors = 0);

/// Parses the partition entry array `header` describes from `entries`
/// (at least entry_count * entry_size bytes): CRC checked, unused entries
/// skipped, each used one inside the usable range.
Result<std::vector<GptPartition>> parse_gpt_entries(const GptHeader& header,
                                                    std::string_view entries);

/// The primary GPT from the start of a disk image (sector 1 onwards must be
/// there, up to the end of the entry array).
Result<GptTable> parse_gpt(std::string_view disk_start, uint32_t sector_size = 512);

/// Reads the GPT of a block device or disk image file; when the primary
/// header or array is damaged, the backup at the end of the disk is used.
Result<GptTable> read_gpt(const std::string& path);

// ---- changing a GPT (gpt_write.cpp) ------------------------------------------

/// Which copies of a disk's GPT were intact (header and entry array, CRCs
/// right) when it was read. A backup whose entries differ from an intact
/// primary's (a change cut between the two writes) is not intact: the
/// primary counts, as it does for cgpt and sgdisk.
enum class GptCopies { Both, PrimaryOnly, BackupOnly };
inline constexpr auto kGptCopiesNames = name_table<GptCopies>({
    {GptCopies::Both, "both"},
    {GptCopies::PrimaryOnly, "primary only"},
    {GptCopies::BackupOnly, "backup only"},
});

/// A partition's new attribute word (the entry's bytes 48..55: bit 0
/// required, 2 legacy BIOS bootable, 48..63 for the partition type's use).
struct GptAttributeChange {
    uint32_t number = 0; // 1-based, as GptPartition::number
    uint64_t attributes = 0;
};

/// Sets attribute words in both copies of the GPT of `path` (a disk image
/// or a whole-disk block device), each copy with its two CRCs, and writes a
/// damaged copy, or one that differs from the other, again from the intact
/// one (the primary when both are intact). The backup is written and
/// synced before the primary, so that a stop anywhere leaves an intact copy
/// holding either the old words or the new ones. Copies already holding
/// what would be written are not written. Refuses, writing nothing, when
/// neither copy is intact or a change names an unused entry. Returns which
/// copies were intact before.
Result<GptCopies> set_gpt_attributes(Storage& storage, const std::string& path,
                                     std::span<const GptAttributeChange> changes);

/// Which copies of the GPT of `path` are intact now; an error when neither
/// is (naming what is wrong with each).
Result<GptCopies> check_gpt_copies(Storage& storage, const std::string& path);

// ---- names, uevents, superblocks (probe.cpp) ----------------------------------

/// What keel.root= names.
struct RootSpec {
    enum class Kind {
        PartitionLabel,  // PARTLABEL=ROOT-A: the GPT partition name
        PartitionUuid,   // PARTUUID=…: the GPT partition's unique GUID
        FilesystemUuid,  // UUID=…: from the filesystem's superblock (ext4, erofs)
        FilesystemLabel, // LABEL=…: from the superblock (ext4)
        Path,            // /dev/vda1
    };
    Kind kind = Kind::PartitionLabel;
    std::string value; // UUIDs lowercased

    /// Parses "PARTLABEL=ROOT-A", "PARTUUID=<guid>", "UUID=<uuid>",
    /// "LABEL=<label>" or "/dev/<name>". Errors say what was expected.
    static Result<RootSpec> parse(std::string_view text);
    /// Back to the keel.root= form.
    std::string to_string() const;
};

/// A block device as /sys/class/block/<name>/uevent describes it.
struct BlockDevice {
    std::string name;            // DEVNAME: "vda1"
    std::string path;            // "/dev/vda1"
    std::string partition_label; // PARTNAME (GPT name as the kernel saw it)
    std::string disk;            // the disk holding a partition ("vda"); from sysfs
    bool is_partition = false;   // DEVTYPE=partition
    bool has_hardware = false;   // a `device` link in sysfs (not ram, loop, zram)
    uint32_t partition_number{}; // PARTN (0 for a disk)
    unsigned major = 0, minor = 0;
};

/// Parses a uevent text (KEY=value lines). DEVNAME is required; a bad
/// PARTN, MAJOR or MINOR is an error naming the line.
Result<BlockDevice> parse_block_uevent(std::string_view text);

enum class FilesystemType { Unknown, Ext4, Erofs, Squashfs };
inline constexpr auto kFilesystemNames = name_table<FilesystemType>({
    {FilesystemType::Ext4, "ext4"},
    {FilesystemType::Erofs, "erofs"},
    {FilesystemType::Squashfs, "squashfs"},
});

/// The name mount(2) takes ("ext4", "erofs", "squashfs"); "" for Unknown.
inline std::string_view filesystem_name(FilesystemType type) {
    return type == FilesystemType::Unknown ? "" : kFilesystemNames.name(type);
}

struct FilesystemInfo {
    FilesystemType type = FilesystemType::Unknown;
    std::string uuid;  // "0b6a…" (lowercase), empty when the format has none
    std::string label; // empty when none
};

/// Bytes of a device's start that probe_filesystem looks at.
constexpr size_t kProbeBytes = 4096;

/// Identifies ext2/3/4 (as Ext4: the ext4 driver mounts all three), erofs
/// and squashfs from the first kProbeBytes of a device (fewer is fine: what
/// is missing is not there). Anything else is Unknown: a blank partition.
FilesystemInfo probe_filesystem(std::string_view start);

// ---- block devices (devices.cpp) --------------------------------------------------

/// The block devices in `sys_class_block` now (sorted by name), with `disk`
/// and `has_hardware` filled from the sysfs links.
Result<std::vector<BlockDevice>>
list_block_devices(const std::string& sys_class_block = "/sys/class/block");

/// Reads kProbeBytes of `path` and probes them.
Result<FilesystemInfo> probe_device(const std::string& path);

/// Devices among `devices` that match `spec`. PARTUUID reads the GPT of the
/// disks involved; UUID and LABEL probe superblocks; errors reading one
/// device only skip it.
std::vector<BlockDevice> matching_devices(const RootSpec& spec,
                                          const std::vector<BlockDevice>& devices);

/// One line per device for messages: "vda1 (partition 1 of vda, PARTLABEL=ROOT-A)".
std::string describe_block_devices(const std::vector<BlockDevice>& devices);

/// Waits up to `timeout` for a device matching `spec` to show up, polling
/// sysfs. The error names the spec and lists the devices that do exist.
Result<BlockDevice> wait_for_block_device(const RootSpec& spec, std::chrono::milliseconds timeout,
                                          const std::string& sys_class_block = "/sys/class/block");

// ---- the end of the system (unmount.cpp) ---------------------------------------

/// Something that keeps a filesystem busy.
struct MountHolder {
    enum class Use { OpenFile, WorkingDirectory, Root, Executable, Mapping, LoopDevice };
    Use use = Use::OpenFile;
    pid_t pid = 0;       // 0 for a loop device
    int fd = -1;         // for OpenFile
    std::string command; // /proc/<pid>/comm, or the loop device ("loop0")
    std::string path;    // the file, as the process sees it
};

/// "pid 212 (sleep) has /var/log/x open (fd 3)", "loop0 is backed by /etc/img".
std::string describe(const MountHolder& holder);

/// Processes (from `proc`) and loop devices (from `sys_block`) that use a
/// file of the filesystem on `device` (st_dev), or a path under `point`.
std::vector<MountHolder> find_mount_holders(dev_t device, const std::string& point,
                                            const std::string& proc = "/proc",
                                            const std::string& sys_block = "/sys/block");

struct UnmountOptions {
    /// Mount points left as they are (the API filesystems PID 1 still uses).
    std::vector<std::string> keep;
    /// Only mounts at or below this directory are touched.
    std::string under = "/";
    /// A directory on a filesystem that stays (empty: none) where each
    /// writable block-device filesystem is bound while its mounts go, so
    /// that it can be remounted read-only even when the mount that still
    /// uses it (an overlay's upper layer) cannot be unmounted.
    std::string pin_directory;
    std::string mountinfo = "/proc/self/mountinfo";
    std::string proc = "/proc";
    std::string sys_block = "/sys/block";
};

struct UnmountReport {
    std::size_t unmounted = 0;
    std::vector<std::string> busy;      // mount points that stayed mounted
    std::vector<std::string> read_only; // of those, the ones remounted read-only
    std::vector<std::string> writable;  // pinned filesystems that could not be made read-only
};

/// The last step before reboot(2), as systemd-shutdown does it: unmounts
/// every mount `options` select, newest first, round after round while a
/// round frees something; remounts read-only what stays, naming on the log
/// what keeps it busy; finally makes every pinned filesystem read-only and
/// lets it go. A clean filesystem is one whose last mount went, or that was
/// made read-only.
UnmountReport unmount_all(const UnmountOptions& options);

// ---- the disk boot (mount.cpp) ----------------------------------------------

/// What keel.state= asks for.
enum class StateMode {
    Keep, // mount STATE as it is (making the filesystem if it is blank)
    Wipe, // factory reset: a fresh filesystem on STATE
};

/// Which root slot of an A/B disk to boot, as the updater decides it.
struct SlotChoice {
    /// The partition label to mount ("ROOT-B"); none: no slot can boot.
    std::optional<std::string> label;
    /// For the log: what was chosen and why, or why nothing can boot.
    std::string summary;
};

/// Decides the slot to boot on `disk` ("/dev/vda", the disk holding
/// ROOT-A) and records the boot attempt on it before anything is mounted.
using SlotChooser = std::function<Result<SlotChoice>(const std::string& disk)>;

/// How a root partition is checked by dm-verity as it is read: a hash
/// tree in the format `veritysetup format` makes (hash type 1), on the
/// same partition as the filesystem, after it, starting with veritysetup's
/// 512-byte superblock in its first hash block (so `veritysetup verify
/// --hash-offset=HASH_OFFSET DEV DEV ROOT_HASH` checks it too).
struct VerityParams {
    uint64_t data_blocks = 0;         ///< data blocks the tree covers
    uint32_t data_block_size = 4096;  ///< bytes
    uint32_t hash_block_size = 4096;  ///< bytes
    uint64_t hash_offset = 0;         ///< bytes from the partition's start to the superblock
    std::string algorithm = "sha256"; ///< the kernel's name of the hash
    std::string salt;                 ///< lowercase hex; may be empty
    std::string root_hash;            ///< lowercase hex, from the signed manifest
};

/// Whether a root with no dm-verity parameters may be mounted as it is.
enum class UnverifiedRoot {
    Allowed, ///< mounted without dm-verity
    Refused, ///< not mounted: the machine requires a verified root (see `source`)
};

/// A VerityLookup's answer.
struct VerityChoice {
    /// None: the partition is mounted without dm-verity, unless `unverified`
    /// refuses that.
    std::optional<VerityParams> params;
    /// With no parameters: may the partition be mounted unverified?
    UnverifiedRoot unverified = UnverifiedRoot::Allowed;
    /// Where the parameters came from, for the log ("the slot's signed
    /// manifest"), or why an unverified root is refused. (Last: a Result's
    /// value must not end in padding.)
    std::string source;
};

/// The dm-verity parameters of the root partition `partition`
/// ("/dev/vda1"), from its signed manifest (update/) or the command line:
/// none when the slot is to be mounted without dm-verity (or, with
/// UnverifiedRoot::Refused, not at all); an error (a bad signature, a
/// damaged manifest) refuses to boot that slot.
using VerityLookup = std::function<Result<VerityChoice>(const std::string& partition)>;

/// The slot labelled `label` ("ROOT-B") on `disk` ("/dev/vda") was chosen
/// but did not boot (its dm-verity lookup or device, its mount, or the exec
/// of its init failed): mark it so that it never boots again, and the
/// other slot boots after the reboot that follows.
using SlotFailureHandler =
    std::function<Result<void>(const std::string& disk, const std::string& label)>;

/// Boots the chosen slot (its partition label, "ROOT-B") in its own kernel
/// when its root, mounted read-only at `root`, carries one: does not
/// return then. Returns success when the running kernel is to boot the
/// slot; an error (the kernel could not be started) is logged and the slot
/// boots with the running kernel.
using SlotKernelBoot =
    std::function<Result<void>(const std::string& root, const std::string& label)>;

/// The disk boot settings from the kernel command line.
struct DiskBootOptions {
    /// keel.root=; nullopt means "PARTLABEL=ROOT-A if there is one" (or
    /// the slot `choose_slot` picks on its disk).
    std::optional<RootSpec> root;
    StateMode state = StateMode::Keep;
    /// keel.rootwait= (seconds): how long to wait for an explicit keel.root.
    std::chrono::milliseconds root_wait = std::chrono::seconds(30);
    /// The A/B slot choice (update/update.h's, given by the binary's
    /// main); unset: ROOT-A boots. Not used when keel.root= names the root.
    SlotChooser choose_slot;
    /// Whether and how the chosen root is mounted through dm-verity
    /// (update/'s, given by the binary's main); unset: mounted directly.
    VerityLookup verity_for;
    /// Called when the slot `choose_slot` picked fails to boot (update/'s,
    /// given by the binary's main); unset: the failure powers off.
    SlotFailureHandler slot_failed;

    /// A chosen slot's own kernel (update/'s kexec, given by the binary's
    /// main), tried once its root is mounted; unset: the running kernel
    /// boots every slot.
    SlotKernelBoot boot_slot_kernel;

    /// Reads keel.root=, keel.rootwait=, keel.state= through `get` (a
    /// command line lookup). Errors name the parameter.
    static Result<DiskBootOptions>
    from(const std::function<std::optional<std::string>(std::string_view)>& get);
};

/// The partition label a keel disk's first root slot has.
constexpr std::string_view kDefaultRootLabel = "ROOT-A";
/// The label of the writable partition.
constexpr std::string_view kStateLabel = "STATE";
/// How long to look for ROOT-A when keel.root= is not given and a disk is present.
constexpr std::chrono::milliseconds kDefaultRootSettle{1500};
/// Where the disk root is assembled before the switch.
constexpr std::string_view kSysroot = "/sysroot";
/// The init that runs from the new root; exec'd as `keel init --system`.
constexpr std::string_view kRootInit = "/usr/bin/keel";

/// True when / is the initramfs (the kernel's rootfs: ramfs or tmpfs).
bool running_from_initramfs();

/// A 128-bit random ID as /etc/machine-id holds it: 32 lowercase hex
/// digits and a newline, version-4 UUID bits set as systemd does.
Result<std::string> generate_machine_id();
/// True when `text` is a usable machine-id (32 lowercase hex digits, not
/// all zero, an optional newline).
bool is_valid_machine_id(std::string_view text);

/// How a disk boot ended that did not switch root and exec the new init.
enum class DiskBootEnd {
    /// No disk root (or no slot that can boot): the initramfs stays the
    /// system, for repair when a disk was there.
    StayInInitramfs,
    /// The chosen slot failed and was marked bad: reboot, the other slot
    /// boots next.
    RebootToOtherSlot,
};

/// The whole disk boot, run by PID 1 from the initramfs: find the root
/// (waiting as `options` say), mount the plan at /sysroot (through
/// dm-verity when `options.verity_for` says so), switch root, exec
/// /usr/bin/keel. Returns StayInInitramfs when keel.root= was not given and
/// no ROOT-A partition exists, or no slot can boot; RebootToOtherSlot when
/// the chosen A/B slot failed and `options.slot_failed` marked it. An error
/// means the disk could not be booted; the caller powers off (the
/// initramfs may already be half torn down).
Result<DiskBootEnd> mount_root_and_switch(const DiskBootOptions& options);

} // namespace keel
