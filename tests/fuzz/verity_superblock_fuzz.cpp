// Fuzz target for rootfs/verity_superblock.cpp: veritysetup's superblock,
// read from the root partition by PID 1 in the initramfs before the root is
// mounted. The input is parsed as a superblock as it is, and again with the
// magic, version and hash type made right, so that the fuzzer reaches the
// field checks. Invariants: a parsed superblock has sane block sizes, data
// blocks and a hex salt; parameters made from it with a good root hash give
// a table line with ten fields, or are refused for the hash offset only.
#include "rootfs/device_mapper.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace {

void check(std::string_view bytes) {
    auto superblock = keel::parse_verity_superblock(bytes);
    if (!superblock) {
        FUZZ_CHECK(!superblock.error().to_string().empty());
        return;
    }
    FUZZ_CHECK(superblock->version == 1 && superblock->hash_type == 1);
    FUZZ_CHECK(superblock->data_blocks > 0);
    for (uint32_t size : {superblock->data_block_size, superblock->hash_block_size})
        FUZZ_CHECK(size >= 512 && size <= 4096 && (size & (size - 1)) == 0);
    FUZZ_CHECK(superblock->salt.size() % 2 == 0 && superblock->salt.size() <= 512);
    FUZZ_CHECK(!superblock->algorithm.empty());
    // The tree right after the data, rounded up to a hash block.
    uint64_t data_bytes = superblock->data_blocks * superblock->data_block_size;
    uint64_t offset = (data_bytes + superblock->hash_block_size - 1) / superblock->hash_block_size *
                      superblock->hash_block_size;
    keel::VerityParams params =
        keel::verity_params_from_superblock(*superblock, offset, std::string(64, 'e'));
    FUZZ_CHECK(keel::check_verity_superblock(*superblock, params).has_value());
    auto table = keel::verity_table(params, "/dev/vda1");
    if (!table) {
        // Only a data size that does not fit 64 bits may be refused.
        FUZZ_CHECK(superblock->data_blocks > UINT64_MAX / superblock->data_block_size ||
                   offset < data_bytes);
        return;
    }
    size_t spaces = 0;
    for (char c : *table)
        spaces += c == ' ';
    FUZZ_CHECK(spaces == 9);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    check(input);
    if (size < keel::kVeritySuperblockSize)
        return 0;
    std::string fixed(input);
    fixed.replace(0, 16, std::string("verity\0\0\1\0\0\0\1\0\0\0", 16));
    check(fixed);
    // The command line route too: any key values.
    size_t half = size / 2;
    std::string hash(input.substr(0, std::min<size_t>(half, 200)));
    std::string offset(input.substr(half, std::min<size_t>(size - half, 30)));
    auto line =
        keel::parse_verity_command_line([&](std::string_view key) -> std::optional<std::string> {
            if (key == "keel.verity.root_hash")
                return hash;
            return offset;
        });
    if (line && !line->root_hash.empty())
        FUZZ_CHECK(line->hash_offset % 512 == 0);
    return 0;
}
