// update/verity_tree: keel's own builder of the dm-verity hash tree that
// `veritysetup format` makes (cryptsetup's on-disk format 1): SHA-256,
// 4096-byte data and hash blocks, a salt hashed before each block, and
// veritysetup's 512-byte superblock in the first hash block at
// hash_offset, the tree's levels following it top level first. A root
// image with its tree appended is checked by `veritysetup verify
// --hash-offset=HASH_OFFSET IMG IMG ROOT_HASH`, and mounted by the kernel's
// dm-verity with the root hash from the signed manifest.
#pragma once

#include "base/result.h"
#include "rootfs/rootfs.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::update {

/// The block size of keel's trees (data and hash blocks alike).
inline constexpr uint32_t kVerityBlockSize = 4096;
/// Checks the tree in the image file at `path` against `params`: it is
/// rebuilt from the data with the salt and compared, hash blocks and root
/// hash (the superblock's fields too, but not its UUID).
Result<void> check_verity_tree(const std::string& path, const VerityParams& params);

/// veritysetup's superblock, at the start of the first hash block.
inline constexpr size_t kVeritySuperblockSize = 512;

/// What a tree is made with besides the data.
struct VerityOptions {
    std::string salt;               ///< raw bytes (at most 256); veritysetup's default is 32 random
    std::array<uint8_t, 16> uuid{}; ///< the superblock's UUID
};

/// Options with a random 32-byte salt and a random (version 4) UUID.
Result<VerityOptions> random_verity_options();

/// A tree built over some data.
struct VerityTree {
    /// The parameters; hash_offset is where the superblock goes (the data's
    /// size: data and tree in one image).
    VerityParams params;
    /// The superblock's block, then the tree, to write at params.hash_offset.
    std::string bytes;
};

/// The tree over `data`, whose size must be a non-zero multiple of 4096.
Result<VerityTree> build_verity_tree(std::string_view data, const VerityOptions& options);

/// Pads the image file at `path` with zeros to a multiple of 4096 bytes
/// and appends its tree (superblock first) at that point: the parameters,
/// hash_offset being the padded data size.
Result<VerityParams> append_verity_tree(const std::string& path, const VerityOptions& options);

/// Checks the tree in the image file at `path` against `params`: it is
/// rebuilt from the data with the salt and compared, hash blocks and root
/// hash (the superblock's fields too, but not its UUID).
Result<void> check_verity_tree(const std::string& path, const VerityParams& params);

/// veritysetup's superblock for `params` (salt as hex, as in VerityParams).
std::string encode_verity_superblock(const VerityParams& params,
                                     const std::array<uint8_t, 16>& uuid);

} // namespace keel::update
