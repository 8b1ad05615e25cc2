// The outside input of dm-verity: veritysetup's superblock on the disk, the
// parameters a verity table is made of, and keel.verity.* from the kernel
// command line. Nothing but keel_base: the fuzz build compiles this alone.
#include "rootfs/device_mapper.h"

#include "base/strings.h"

#include <cstring>

namespace keel {

namespace {

// veritysetup's struct verity_sb (lib/verity/verity.c), little-endian.
constexpr std::string_view kMagic{"verity\0\0", 8};
constexpr size_t kVersionAt = 8;
constexpr size_t kHashTypeAt = 12;
constexpr size_t kUuidAt = 16;
constexpr size_t kAlgorithmAt = 32;
constexpr size_t kAlgorithmSize = 32;
constexpr size_t kDataBlockSizeAt = 64;
constexpr size_t kHashBlockSizeAt = 68;
constexpr size_t kDataBlocksAt = 72;
constexpr size_t kSaltSizeAt = 80;
constexpr size_t kSaltAt = 88;
constexpr size_t kMaxSaltBytes = 256;
// The longest digest the kernel has (sha512, 64 bytes), as hex.
constexpr size_t kMaxRootHashDigits = 128;

uint64_t little_endian(std::string_view data, size_t at, size_t bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i)
        value |= uint64_t(uint8_t(data[at + i])) << (8 * i);
    return value;
}

// Block sizes the kernel's verity target takes: powers of two from 512 up
// to the page size (4096 on the machines keel runs on).
bool valid_block_size(uint64_t size) {
    return size >= 512 && size <= 4096 && (size & (size - 1)) == 0;
}

// A crypto API name: "sha256", "sha3-256", "blake2b-256"; no spaces (the
// table is split on them) and short enough for the superblock's field.
bool valid_algorithm(std::string_view name) {
    if (name.empty() || name.size() >= kAlgorithmSize)
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

} // namespace

Result<VeritySuperblock> parse_verity_superblock(std::string_view bytes) {
    if (bytes.size() < kVeritySuperblockSize)
        return error(
            cat("verity superblock: ", bytes.size(), " bytes, expected ", kVeritySuperblockSize));
    if (bytes.substr(0, kMagic.size()) != kMagic)
        return error("verity superblock: no \"verity\" magic (no tree made by `veritysetup "
                     "format` at this offset?)");
    VeritySuperblock superblock;
    superblock.version = uint32_t(little_endian(bytes, kVersionAt, 4));
    if (superblock.version != 1)
        return error(cat("verity superblock: version ", superblock.version, ", expected 1"));
    superblock.hash_type = uint32_t(little_endian(bytes, kHashTypeAt, 4));
    if (superblock.hash_type != 1)
        return error(cat("verity superblock: hash type ", superblock.hash_type,
                         ", expected 1 (the normal format; 0 is Chrome OS's)"));
    std::memcpy(superblock.uuid.data(), bytes.data() + kUuidAt, superblock.uuid.size());
    std::string_view algorithm = bytes.substr(kAlgorithmAt, kAlgorithmSize);
    algorithm = algorithm.substr(0, algorithm.find('\0'));
    if (!valid_algorithm(algorithm))
        return error(cat("verity superblock: algorithm ", quoted(algorithm),
                         ": expected a hash name such as sha256"));
    superblock.algorithm = std::string(algorithm);
    superblock.data_block_size = uint32_t(little_endian(bytes, kDataBlockSizeAt, 4));
    superblock.hash_block_size = uint32_t(little_endian(bytes, kHashBlockSizeAt, 4));
    for (auto [name, size] : {std::pair{"data block size", superblock.data_block_size},
                              std::pair{"hash block size", superblock.hash_block_size}})
        if (!valid_block_size(size))
            return error(cat("verity superblock: ", name, " ", size,
                             ", expected a power of two from 512 to 4096"));
    superblock.data_blocks = little_endian(bytes, kDataBlocksAt, 8);
    if (superblock.data_blocks == 0)
        return error("verity superblock: no data blocks");
    size_t salt_size = size_t(little_endian(bytes, kSaltSizeAt, 2));
    if (salt_size > kMaxSaltBytes)
        return error(
            cat("verity superblock: salt of ", salt_size, " bytes, at most ", kMaxSaltBytes));
    superblock.salt = to_hex(bytes.substr(kSaltAt, salt_size));
    return superblock;
}

Result<void> check_verity_params(const VerityParams& params) {
    if (!valid_block_size(params.data_block_size))
        return error(cat("verity: data block size ", params.data_block_size,
                         ", expected a power of two from 512 to 4096"));
    if (!valid_block_size(params.hash_block_size))
        return error(cat("verity: hash block size ", params.hash_block_size,
                         ", expected a power of two from 512 to 4096"));
    if (params.data_blocks == 0)
        return error("verity: no data blocks");
    if (params.data_blocks > UINT64_MAX / params.data_block_size)
        return error(cat("verity: ", params.data_blocks, " data blocks is too many"));
    if (params.hash_offset % params.hash_block_size != 0)
        return error(cat("verity: hash offset ", params.hash_offset,
                         " is not on a hash block boundary (", params.hash_block_size, ")"));
    if (params.hash_offset < params.data_blocks * params.data_block_size)
        return error(cat("verity: hash offset ", params.hash_offset, " is inside the data (",
                         params.data_blocks, " blocks of ", params.data_block_size, ")"));
    if (!valid_algorithm(params.algorithm))
        return error(cat("verity: algorithm ", quoted(params.algorithm),
                         ": expected a hash name such as sha256"));
    if (params.root_hash.empty() || params.root_hash.size() % 2 != 0 ||
        params.root_hash.size() > kMaxRootHashDigits || !is_lower_hex(params.root_hash))
        return error(cat("verity: root hash ", quoted(params.root_hash),
                         ": expected lowercase hex digits, an even count up to ",
                         kMaxRootHashDigits));
    if (params.salt.size() % 2 != 0 || params.salt.size() > 2 * kMaxSaltBytes ||
        !is_lower_hex(params.salt))
        return error(cat("verity: salt ", quoted(params.salt),
                         ": expected lowercase hex digits, an even count up to ",
                         2 * kMaxSaltBytes));
    return {};
}

Result<void> check_verity_superblock(const VeritySuperblock& superblock,
                                     const VerityParams& params) {
    std::vector<std::string> differences;
    if (superblock.algorithm != params.algorithm)
        differences.push_back(
            cat("algorithm ", superblock.algorithm, " on disk, ", params.algorithm, " expected"));
    if (superblock.data_block_size != params.data_block_size)
        differences.push_back(cat("data block size ", superblock.data_block_size, " on disk, ",
                                  params.data_block_size, " expected"));
    if (superblock.hash_block_size != params.hash_block_size)
        differences.push_back(cat("hash block size ", superblock.hash_block_size, " on disk, ",
                                  params.hash_block_size, " expected"));
    if (superblock.data_blocks != params.data_blocks)
        differences.push_back(cat("data blocks ", superblock.data_blocks, " on disk, ",
                                  params.data_blocks, " expected"));
    if (superblock.salt != params.salt)
        differences.push_back(cat("salt ", superblock.salt.empty() ? "(none)" : superblock.salt,
                                  " on disk, ", params.salt.empty() ? "(none)" : params.salt,
                                  " expected"));
    if (differences.empty())
        return {};
    std::string text =
        cat("the verity superblock at ", params.hash_offset, " does not match the expected tree: ");
    for (size_t i = 0; i < differences.size(); ++i)
        text += cat(i ? "; " : "", differences[i]);
    return error(std::move(text));
}

VerityParams verity_params_from_superblock(const VeritySuperblock& superblock, uint64_t hash_offset,
                                           std::string root_hash) {
    VerityParams params;
    params.data_blocks = superblock.data_blocks;
    params.data_block_size = superblock.data_block_size;
    params.hash_block_size = superblock.hash_block_size;
    params.hash_offset = hash_offset;
    params.algorithm = superblock.algorithm;
    params.salt = superblock.salt;
    params.root_hash = std::move(root_hash);
    return params;
}

Result<std::string> verity_table(const VerityParams& params, std::string_view device) {
    TRY(check_verity_params(params));
    if (device.empty() || device.find_first_of(" \t\n") != std::string_view::npos)
        return error(cat("verity: device ", quoted(device), ": expected a path or MAJOR:MINOR"));
    // The superblock fills the first hash block; the tree starts after it.
    uint64_t hash_start = params.hash_offset / params.hash_block_size + 1;
    return cat("1 ", device, " ", device, " ", params.data_block_size, " ", params.hash_block_size,
               " ", params.data_blocks, " ", hash_start, " ", params.algorithm, " ",
               params.root_hash, " ", params.salt.empty() ? std::string("-") : params.salt);
}

Result<VerityCommandLine>
parse_verity_command_line(const std::function<std::optional<std::string>(std::string_view)>& get) {
    std::optional<std::string> root_hash = get("keel.verity.root_hash");
    std::optional<std::string> offset = get("keel.verity.hash_offset");
    if (!root_hash && !offset)
        return VerityCommandLine{};
    if (!root_hash)
        return error("keel.verity.hash_offset is given without keel.verity.root_hash");
    if (!offset)
        return error("keel.verity.root_hash is given without keel.verity.hash_offset");
    VerityCommandLine line;
    for (char c : *root_hash)
        line.root_hash += char(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    if (line.root_hash.empty() || line.root_hash.size() % 2 != 0 ||
        line.root_hash.size() > kMaxRootHashDigits || !is_lower_hex(line.root_hash))
        return error(cat("keel.verity.root_hash: ", quoted(*root_hash),
                         ": expected hex digits, an even count up to ", kMaxRootHashDigits));
    auto bytes = parse_u64(*offset);
    if (!bytes || *bytes % 512 != 0)
        return error(cat("keel.verity.hash_offset: ", quoted(*offset),
                         ": expected bytes, a multiple of 512"));
    line.hash_offset = *bytes;
    return line;
}

} // namespace keel
