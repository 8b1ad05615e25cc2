// Fuzz target for rootfs/gpt.cpp: GPT headers and partition arrays, read
// from a disk by PID 1 before anything else runs. The input is a disk image
// (512-byte sectors). It is parsed as it is, then again with both CRCs
// recomputed, so that the fuzzer gets past the checksums to the geometry
// checks. Invariants: a parsed table's partitions lie in the usable range,
// in array order, with valid UTF-8 names; GUID text round-trips.
#include "rootfs/rootfs.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr size_t kSector = 512;

uint64_t le(std::string_view data, size_t at, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i)
        value |= uint64_t(uint8_t(data[at + size_t(i)])) << (8 * i);
    return value;
}

void put_le32(std::string& data, size_t at, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        data[at + size_t(i)] = char(value >> (8 * i) & 0xFF);
}

bool valid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        uint8_t c = uint8_t(text[i]);
        size_t length = c < 0x80         ? 1
                        : (c >> 5) == 6  ? 2
                        : (c >> 4) == 14 ? 3
                        : (c >> 3) == 30 ? 4
                                         : 0;
        if (length == 0 || i + length > text.size())
            return false;
        for (size_t k = 1; k < length; ++k)
            if ((uint8_t(text[i + k]) & 0xC0) != 0x80)
                return false;
        i += length;
    }
    return true;
}

void check_table(const keel::GptTable& table) {
    const keel::GptHeader& header = table.header;
    FUZZ_CHECK(header.current_lba == 1);
    FUZZ_CHECK(header.first_usable_lba <= header.last_usable_lba);
    FUZZ_CHECK(uint64_t(header.entry_count) * header.entry_size <= keel::kMaxGptEntryArrayBytes);
    FUZZ_CHECK(header.entries_lba >= 2);
    uint32_t previous = 0;
    for (const keel::GptPartition& partition : table.partitions) {
        FUZZ_CHECK(partition.number > previous && partition.number <= header.entry_count);
        previous = partition.number;
        FUZZ_CHECK(!partition.type.is_zero());
        FUZZ_CHECK(partition.first_lba <= partition.last_lba);
        FUZZ_CHECK(partition.first_lba >= header.first_usable_lba);
        FUZZ_CHECK(partition.last_lba <= header.last_usable_lba);
        FUZZ_CHECK(valid_utf8(partition.name));
        auto again = keel::Guid::parse(partition.unique.to_string());
        FUZZ_CHECK(again && *again == partition.unique);
    }
}

void parse(std::string_view image) {
    auto table = keel::parse_gpt(image);
    if (table)
        check_table(*table);
    else
        FUZZ_CHECK(!table.error().to_string().empty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view image(reinterpret_cast<const char*>(data), size);
    parse(image);
    if (size < 2 * kSector)
        return 0;
    // Recompute the array CRC (when the array is in the input) and the header CRC.
    std::string fixed(image);
    size_t header = kSector;
    uint32_t header_size = uint32_t(le(fixed, header + 12, 4));
    uint64_t entries_lba = le(fixed, header + 72, 8);
    uint64_t array = le(fixed, header + 80, 4) * le(fixed, header + 84, 4);
    if (entries_lba <= fixed.size() / kSector && array <= fixed.size() - entries_lba * kSector)
        put_le32(fixed, header + 88,
                 keel::crc32_ieee(
                     std::string_view(fixed).substr(size_t(entries_lba * kSector), size_t(array))));
    if (header_size >= 20 && header_size <= kSector) {
        put_le32(fixed, header + 16, 0);
        put_le32(fixed, header + 16,
                 keel::crc32_ieee(std::string_view(fixed).substr(header, header_size)));
    }
    parse(fixed);
    return 0;
}
