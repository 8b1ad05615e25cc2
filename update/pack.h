// update/pack: a payload made for publishers: the root image with its
// dm-verity tree appended (root.img), the manifest describing it
// (manifest.json) and the manifest's detached signature
// (manifest.json.sig), in one directory any web server can serve; and the
// check of such a directory against trusted keys.
#pragma once

#include "base/result.h"
#include "update/install.h"
#include "update/manifest.h"

#include <cstdint>
#include <string>

namespace keel::update {

/// What to pack.
struct PackRequest {
    std::string image;       ///< the root filesystem image (erofs, ext4, ...)
    std::string version;     ///< dotted numbers
    std::string channel;     ///< "stable"
    std::string private_key; ///< PEM, Ed25519, EC P-256 or RSA, unencrypted
    std::string output;      ///< the payload directory (created)
    uint64_t chunk_size = kDefaultChunkSize;
};

/// Writes OUTPUT/root.img, OUTPUT/manifest.json and OUTPUT/manifest.json.sig;
/// returns the manifest.
Result<Manifest> pack_payload(const PackRequest& request);

/// SHA-256 of each `chunk_size` chunk of the file at `path`, and of all of it.
Result<ManifestImage> hash_image(const std::string& path, uint64_t chunk_size);

/// Checks the payload directory `directory`: the manifest's signature
/// against the trusted keys, the image's size, every chunk, its SHA-256 and
/// its dm-verity tree. Returns the verified manifest.
Result<SignedManifest> verify_payload(const std::string& directory,
                                      const std::string& trusted_keys_directory);

} // namespace keel::update
