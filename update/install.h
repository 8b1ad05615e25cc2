// update/install: an update written into the inactive slot. The manifest's
// signature is checked first (always required: no trusted key, no
// install); the slot is made unbootable (priority 0) in the GPT before its
// first byte is written; the image is read through an ImageSource chunk by
// chunk, each chunk checked against the manifest's hash before it is
// written; each piece written is read back from the device and checked
// once more while the next chunks are read and checked (a pipeline of
// three threads: source, writer, progress saver); the slot is synced, the
// signed manifest goes into the slot's footer (slot_footer.h) and is
// synced; only then does the slot get a priority above the running one,
// with one try. The running slot's partition is never opened for writing.
// Progress (the manifest's digest and the bytes written and checked) is
// kept in a state file, so an install of the same manifest after an
// interruption continues from the first chunk not yet written.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "base/signature.h"
#include "base/storage.h"
#include "update/image_source.h"
#include "update/manifest.h"
#include "update/update.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keel::update {

/// Where progress is kept by default.
inline constexpr std::string_view kDefaultProgressPath = "/var/lib/keel/update/progress";
/// A payload directory's files (`keel update pack` writes them).
inline constexpr std::string_view kPayloadImageName = "root.img";
inline constexpr std::string_view kPayloadManifestName = "manifest.json";
inline constexpr std::string_view kPayloadSignatureName = "manifest.json.sig";

/// A manifest whose signature verified.
struct SignedManifest {
    Manifest manifest;
    SignatureKey key;            ///< the trusted key that verified it
    std::string manifest_sha256; ///< of the manifest's bytes: the payload's identity
};

/// Checks `signature` over `manifest` against the trusted keys in
/// `trusted_keys_directory`, then parses the manifest. A directory with no
/// keys refuses every payload: updates are always signed.
Result<SignedManifest> verify_signed_manifest(std::string_view manifest, std::string_view signature,
                                              const std::string& trusted_keys_directory);

/// Opens the image source at a byte offset (0, or where a resumed install
/// continues).
using SourceOpener = std::function<Result<std::unique_ptr<ImageSource>>(uint64_t offset)>;

/// How far an install is, for reports.
struct InstallProgress {
    uint64_t written = 0; ///< bytes written and checked
    uint64_t total = 0;   ///< the image's size
};

/// What to install where.
struct InstallRequest {
    std::string manifest;  ///< manifest.json's bytes
    std::string signature; ///< manifest.json.sig's bytes
    std::string trusted_keys_directory = std::string(kTrustedKeysDirectory);
    std::string disk; ///< the disk (block device or disk image file) with ROOT-A and ROOT-B
    /// The slot running now, on `disk`: never written. nullopt when the
    /// system did not boot from `disk` (a disk image being prepared).
    std::optional<SlotName> booted;
    /// The slot to write; nullopt: the other than `booted`, or, with none
    /// booted, the other than the one that would boot.
    std::optional<SlotName> slot;
    std::string progress_path = std::string(kDefaultProgressPath);
    /// How many bytes are written between two saves of progress (the data
    /// synced first, beside the writing: writes go on while a save syncs);
    /// a resumed install repeats this much and what was written during the
    /// last save, at most.
    uint64_t progress_interval = uint64_t(32) << 20;
    /// Told as pieces are written and checked (may be empty).
    std::function<void(const InstallProgress&)> report;
    /// The file operations; nullptr: the kernel's (tests record or fail them).
    Storage* storage = nullptr;
};

/// How an install wrote the slot.
enum class SlotIo {
    Direct,   ///< O_DIRECT: no copy through the page cache; read back from the device
    Buffered, ///< through the page cache (the slot's offset is not 4096-aligned, or the
              ///< file system refuses O_DIRECT); each range written back and dropped
              ///< before it is read back
};
inline constexpr auto kSlotIoNames = name_table<SlotIo>({
    {SlotIo::Direct, "direct"},
    {SlotIo::Buffered, "buffered"},
});

/// What an install did.
struct InstallReport {
    SlotName slot = SlotName::B;
    SlotIo io = SlotIo::Buffered;
    uint64_t resumed_from = 0; ///< bytes skipped as written before (0: from the start)
    uint64_t written = 0;      ///< bytes written this time
    Slots slots;               ///< the slots as written at the end
    std::string version;
    std::string key_id;
};

/// Installs the payload of `request` into its slot, reading the image
/// through the source `open_source` opens. Errors name what was wrong (the
/// signature, the chunk whose hash did not match, a stream cut short or too
/// long, an image too large for the slot); after one, the slot stays
/// unbootable and the running slot is as it was.
Result<InstallReport> install_update(const InstallRequest& request,
                                     const SourceOpener& open_source);

/// The slot an install writes: `slot` if given (refused when it is
/// `booted`), else the other than `booted`, else the other than the one
/// that would boot (A when none would).
Result<SlotName> install_target(const Slots& slots, std::optional<SlotName> booted,
                                std::optional<SlotName> slot);

/// Where a slot's bytes are: a file (its partition's device, or the disk
/// image file) and the range in it.
struct SlotRange {
    uint64_t offset = 0; ///< of the partition's first byte in `path`
    uint64_t size = 0;   ///< the partition's size
    std::string path;
};

/// The range of `slot` on `disk`: on a block device, the partition's own
/// device (/dev/vda2, found through sysfs) from offset 0, so nothing else
/// of the disk is opened; on a disk image file, the file and the
/// partition's byte range.
Result<SlotRange> slot_range(const std::string& disk, const Slots& slots, SlotName slot,
                             const std::string& sys_class_block = "/sys/class/block");

} // namespace keel::update
