// update/manifest: an update payload's signed description (manifest.json):
// the version and channel, the root image's size and SHA-256, the SHA-256
// of every chunk (so a stream is checked chunk by chunk as it arrives,
// before a byte of it is written), and the dm-verity parameters the root is
// mounted with at boot. The manifest's bytes are what the detached
// signature (manifest.json.sig, base/signature.h) signs. The parser is
// strict and depends on base/ alone (the fuzz target compiles it by itself):
// an unknown format, a missing, mistyped or unknown field, a chunk count
// that does not match the size, bad hex are each an error naming the field.
#pragma once

#include "base/result.h"
#include "rootfs/rootfs.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::update {

/// The manifest format this keel reads and writes.
inline constexpr uint32_t kManifestFormat = 1;
/// The default chunk size: 1 MiB.
inline constexpr uint64_t kDefaultChunkSize = uint64_t(1) << 20;
/// The smallest and largest chunk sizes accepted (powers of two).
inline constexpr uint64_t kMinChunkSize = 4096;
inline constexpr uint64_t kMaxChunkSize = uint64_t(64) << 20;
/// The most chunks a manifest may list (a 1 TiB image in 1 MiB chunks).
inline constexpr uint64_t kMaxChunks = uint64_t(1) << 20;

/// The root image an update writes into a slot (root.img: the filesystem,
/// then its dm-verity superblock and hash tree).
struct ManifestImage {
    uint64_t size = 0; ///< bytes of root.img
    uint64_t chunk_size = kDefaultChunkSize;
    std::string sha256;              ///< of all of root.img, lowercase hex
    std::vector<std::string> chunks; ///< SHA-256 of each chunk in order (the last may be short)
};

/// An update's manifest.
struct Manifest {
    uint32_t format = kManifestFormat;
    std::string version; ///< dotted numbers: "1.4.12"
    std::string channel; ///< "stable", "beta": [a-z0-9._-], 1-64 characters
    ManifestImage image;
    VerityParams verity; ///< how the root is mounted through dm-verity

    /// The number of chunks an image of `size` bytes has in `chunk_size` chunks.
    static uint64_t chunk_count(uint64_t size, uint64_t chunk_size);
    /// Where chunk `index` starts and how long it is.
    uint64_t chunk_offset(uint64_t index) const { return index * image.chunk_size; }
    uint64_t chunk_length(uint64_t index) const;
};

/// Parses manifest.json. Errors name the field ("image.chunks[3]: expected
/// 64 lowercase hex digits", "verity.hash_offset: ...").
Result<Manifest> parse_manifest(std::string_view json);
/// The manifest as manifest.json (compact JSON, the fields parse_manifest reads).
std::string encode_manifest(const Manifest& manifest);

/// Checks a version: 1 to 8 dotted numbers of up to 9 digits each ("1.4.12").
Result<void> check_version(std::string_view version);
/// Compares two versions number by number (missing numbers count as 0, so
/// "1.2" == "1.2.0"): negative when a < b, 0 when equal, positive when
/// a > b. An invalid version is an error naming it.
Result<int> compare_versions(std::string_view a, std::string_view b);

} // namespace keel::update
