// The dm-verity hash tree in veritysetup's format 1. Level 0 holds the
// salted SHA-256 of every data block, 128 digests to a 4096-byte hash block
// (zero-padded); each level above hashes the blocks of the one below, up
// to a level of one block, whose salted hash is the root hash. On disk the
// levels are stored top level first, after the superblock's block.
#include "update/verity_tree.h"

#include "base/digest.h"
#include "base/storage.h"
#include "base/strings.h"

#include <fcntl.h>
#include <sys/random.h>

#include <vector>

namespace keel::update {

namespace {

constexpr size_t kDigestSize = 32;
constexpr size_t kDigestsPerBlock = kVerityBlockSize / kDigestSize;
constexpr size_t kMaxSalt = 256;
constexpr size_t kReadSize = 1 << 20;

using Digest = Sha256Digest;

// SHA-256 of salt || block (format 1 puts the salt first).
Digest salted_hash(std::string_view salt, std::string_view block) {
    return sha256_bytes(salt, block);
}

std::string from_hex(std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out += char(hex_digit_value(hex[i]) << 4 | hex_digit_value(hex[i + 1]));
    return out;
}

void put_le(std::string& out, size_t at, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
        out[at + size_t(i)] = char(value >> (8 * i) & 0xFF);
}

// The levels above the leaf digests, and the whole tree's bytes, from the
// digests of the data blocks.
VerityTree finish_tree(std::vector<Digest> digests, uint64_t data_blocks,
                       const VerityOptions& options) {
    VerityTree tree;
    VerityParams& params = tree.params;
    params.data_blocks = data_blocks;
    params.data_block_size = kVerityBlockSize;
    params.hash_block_size = kVerityBlockSize;
    params.hash_offset = data_blocks * kVerityBlockSize;
    params.algorithm = "sha256";
    params.salt = to_hex(options.salt);

    // levels[0] hashes the data; each level is its hash blocks' bytes.
    std::vector<std::string> levels;
    if (data_blocks == 1) {
        // veritysetup stores no level for a single block: the root hash
        // is that block's hash.
        params.root_hash =
            to_hex(std::string_view(reinterpret_cast<const char*>(digests[0].data()), kDigestSize));
    } else {
        while (true) {
            size_t blocks = (digests.size() + kDigestsPerBlock - 1) / kDigestsPerBlock;
            std::string level(blocks * kVerityBlockSize, '\0');
            for (size_t i = 0; i < digests.size(); ++i)
                std::copy(digests[i].begin(), digests[i].end(),
                          level.begin() + long(i * kDigestSize));
            std::vector<Digest> above;
            above.reserve(blocks);
            for (size_t b = 0; b < blocks; ++b)
                above.push_back(
                    salted_hash(options.salt, std::string_view(level).substr(b * kVerityBlockSize,
                                                                             kVerityBlockSize)));
            levels.push_back(std::move(level));
            digests = std::move(above);
            if (digests.size() == 1)
                break;
        }
        params.root_hash =
            to_hex(std::string_view(reinterpret_cast<const char*>(digests[0].data()), kDigestSize));
    }

    std::string superblock = encode_verity_superblock(params, options.uuid);
    superblock.resize(kVerityBlockSize, '\0');
    tree.bytes = std::move(superblock);
    for (auto level = levels.rbegin(); level != levels.rend(); ++level)
        tree.bytes += *level;
    return tree;
}

Result<void> check_options(const VerityOptions& options) {
    if (options.salt.size() > kMaxSalt)
        return error(
            cat("a salt of ", options.salt.size(), " bytes is too long (at most ", kMaxSalt, ")"));
    return {};
}

} // namespace

Result<VerityOptions> random_verity_options() {
    VerityOptions options;
    options.salt.assign(32, '\0');
    for (auto [buffer, size] : {std::pair<void*, size_t>{options.salt.data(), options.salt.size()},
                                std::pair<void*, size_t>{options.uuid.data(), options.uuid.size()}})
        if (::getrandom(buffer, size, 0) != ssize_t(size))
            return errno_error("getrandom");
    options.uuid[6] = uint8_t((options.uuid[6] & 0x0F) | 0x40); // version 4
    options.uuid[8] = uint8_t((options.uuid[8] & 0x3F) | 0x80); // RFC 4122 variant
    return options;
}

std::string encode_verity_superblock(const VerityParams& params,
                                     const std::array<uint8_t, 16>& uuid) {
    // struct verity_sb of cryptsetup's lib/verity/verity.c, little-endian.
    std::string block(kVeritySuperblockSize, '\0');
    block.replace(0, 8, std::string_view("verity\0\0", 8));
    put_le(block, 8, 1, 4);  // version
    put_le(block, 12, 1, 4); // hash_type: 1, the normal one (0 is Chrome OS's)
    for (size_t i = 0; i < uuid.size(); ++i)
        block[16 + i] = char(uuid[i]);
    block.replace(32, params.algorithm.size(), params.algorithm); // algorithm[32]
    put_le(block, 64, params.data_block_size, 4);
    put_le(block, 68, params.hash_block_size, 4);
    put_le(block, 72, params.data_blocks, 8);
    std::string salt = from_hex(params.salt);
    put_le(block, 80, salt.size(), 2);
    block.replace(88, salt.size(), salt); // salt[256], then padding to 512
    return block;
}

Result<VerityTree> build_verity_tree(std::string_view data, const VerityOptions& options) {
    TRY(check_options(options));
    if (data.empty() || data.size() % kVerityBlockSize != 0)
        return error(cat("dm-verity data of ", data.size(), " bytes: not a non-zero multiple of ",
                         kVerityBlockSize));
    uint64_t blocks = data.size() / kVerityBlockSize;
    std::vector<Digest> digests;
    digests.reserve(blocks);
    for (uint64_t b = 0; b < blocks; ++b)
        digests.push_back(
            salted_hash(options.salt, data.substr(b * kVerityBlockSize, kVerityBlockSize)));
    return finish_tree(std::move(digests), blocks, options);
}

namespace {

// The tree over the first `data_size` bytes (a multiple of the block size)
// of `file`, read in large pieces.
Result<VerityTree> tree_of_file(Storage& storage, const File& file, uint64_t data_size,
                                const VerityOptions& options) {
    std::vector<Digest> digests;
    digests.reserve(size_t(data_size / kVerityBlockSize));
    for (uint64_t offset = 0; offset < data_size; offset += kReadSize) {
        std::string piece = TRY(storage.pread_all(
            file, size_t(std::min<uint64_t>(kReadSize, data_size - offset)), offset));
        if (piece.size() % kVerityBlockSize != 0 || piece.empty())
            return error(cat(quoted(file.path()), ": ends at ", offset + piece.size(),
                             ", before its data's end (", data_size, ")"));
        for (size_t at = 0; at < piece.size(); at += kVerityBlockSize)
            digests.push_back(
                salted_hash(options.salt, std::string_view(piece).substr(at, kVerityBlockSize)));
    }
    return finish_tree(std::move(digests), data_size / kVerityBlockSize, options);
}

} // namespace

Result<VerityParams> append_verity_tree(const std::string& path, const VerityOptions& options) {
    TRY(check_options(options));
    Storage& storage = system_storage();
    File file = TRY(storage.open(path, O_RDWR, 0));
    uint64_t size = TRY(storage.file_size(file));
    if (size == 0)
        return error(cat(quoted(path), ": empty: no root image to protect"));
    uint64_t padded = (size + kVerityBlockSize - 1) / kVerityBlockSize * kVerityBlockSize;
    if (padded != size)
        TRY(storage.pwrite_all(file, std::string(size_t(padded - size), '\0'), size));
    VerityTree tree = TRY(tree_of_file(storage, file, padded, options));
    TRY(storage.pwrite_all(file, tree.bytes, tree.params.hash_offset));
    TRY(storage.fsync(file));
    return tree.params;
}

Result<void> check_verity_tree(const std::string& path, const VerityParams& params) {
    if (params.algorithm != "sha256" || params.data_block_size != kVerityBlockSize ||
        params.hash_block_size != kVerityBlockSize)
        return error(cat("dm-verity parameters keel does not build (", params.algorithm, ", ",
                         params.data_block_size, "/", params.hash_block_size, "-byte blocks)"));
    if (params.hash_offset != params.data_blocks * kVerityBlockSize)
        return error(cat("dm-verity hash_offset ", params.hash_offset,
                         " is not right after the data (", params.data_blocks * kVerityBlockSize,
                         ")"));
    Storage& storage = system_storage();
    File file = TRY(storage.open(path, O_RDONLY, 0));
    std::string superblock =
        TRY(storage.pread_all(file, kVeritySuperblockSize, params.hash_offset));
    if (superblock.size() != kVeritySuperblockSize)
        return error(cat(quoted(path), ": no dm-verity superblock at ", params.hash_offset));
    VerityOptions options;
    options.salt = from_hex(params.salt);
    std::copy(superblock.begin() + 16, superblock.begin() + 32, options.uuid.begin());
    VerityTree tree = TRY(tree_of_file(storage, file, params.hash_offset, options));
    if (tree.params.root_hash != params.root_hash)
        return error(cat(quoted(path), ": the data's dm-verity root hash is ",
                         tree.params.root_hash, ", not ", params.root_hash));
    std::string stored = TRY(storage.pread_all(file, tree.bytes.size(), params.hash_offset));
    if (stored != tree.bytes)
        return error(cat(quoted(path), ": the stored dm-verity superblock or hash tree at ",
                         params.hash_offset, " is not the data's"));
    return {};
}

} // namespace keel::update
