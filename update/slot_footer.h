// update/slot_footer: the signed manifest kept in a slot. An install
// writes the update's manifest and its detached signature into the last
// MiB of the slot's partition, after the image and before the slot is made
// bootable, so that the initramfs can find the slot's dm-verity root hash
// (and check its signature) with nothing but the partition. The layout:
//
//     offset  size  field
//     0       8     magic "KEELSLOT"
//     8       4     format (1), little-endian like every number here
//     12      4     CRC-32C of the 64-byte header with this field zero
//     16      4     manifest size (bytes)
//     20      4     signature size (bytes)
//     24      4     CRC-32C of the manifest followed by the signature
//     28      36    zero
//     64      ...   the manifest's bytes, then the signature's
//
// Parsing depends on base/ alone (fuzzed).
#pragma once

#include "base/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::update {

/// The footer's room at the end of a slot partition: the last MiB.
inline constexpr uint64_t kSlotFooterSize = uint64_t(1) << 20;
/// The header before the manifest.
inline constexpr size_t kSlotFooterHeaderSize = 64;
/// The largest manifest a footer holds (the rest of the MiB, less a signature).
inline constexpr size_t kMaxFooterManifestSize = kSlotFooterSize - kSlotFooterHeaderSize - 4096;

/// What a footer holds; both empty for a slot without one.
struct SlotFooter {
    std::string manifest;  ///< manifest.json's bytes, as signed
    std::string signature; ///< manifest.json.sig's bytes

    /// Whether there is a footer (a footer's manifest is never empty).
    bool present() const { return !manifest.empty(); }
};

/// The footer's bytes (header, manifest, signature; not padded). Errors
/// when the manifest or signature is too large.
Result<std::string> encode_slot_footer(const SlotFooter& footer);

/// Parses the start of a footer region (at least the header; the whole
/// region to get the contents). An empty SlotFooter when there is none (no
/// magic: an empty slot, or one written by another tool). A footer with the
/// magic but a wrong CRC, format or size is an error (ErrorCode::DataCorrupt).
Result<SlotFooter> parse_slot_footer(std::string_view region);

/// The footer header that marks a slot as holding no footer (zeros).
std::string empty_slot_footer_header();

} // namespace keel::update
