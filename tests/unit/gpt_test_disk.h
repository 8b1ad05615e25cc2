// A GPT disk built byte by byte in memory, for the tests of code that reads
// and writes partition tables (rootfs's parser, the updater's slots): a
// 128 KiB disk with both copies, partitions placed by the test.
#pragma once

#include "rootfs/rootfs.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::testing::gpt {

constexpr uint64_t kSectors = 256; // a 128 KiB disk
constexpr uint32_t kSector = 512;

inline void put_le(std::string& out, size_t at, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
        out[at + size_t(i)] = char(value >> (8 * i) & 0xFF);
}

inline void put_guid(std::string& out, size_t at, std::string_view text) {
    auto guid = keel::Guid::parse(text);
    REQUIRE(guid);
    for (size_t i = 0; i < 16; ++i)
        out[at + i] = char(guid->bytes[i]);
}

struct TestPartition {
    uint32_t slot = 0; // index in the entry array
    std::string type = "0fc63daf-8483-4772-8e79-3d69d8477de4";
    std::string unique;
    uint64_t first = 0, last = 0, attributes = 0;
    std::u16string name;
};

struct TestDisk {
    std::string bytes;
    // Rewrites the CRCs after a test changed a field on purpose.
    void fix_crcs(uint64_t header_lba = 1) {
        size_t header = size_t(header_lba) * kSector;
        uint64_t entries_lba = 0;
        for (int i = 0; i < 8; ++i)
            entries_lba |= uint64_t(uint8_t(bytes[header + 72 + size_t(i)])) << (8 * i);
        uint32_t count = 0, size = 0;
        for (int i = 0; i < 4; ++i) {
            count |= uint32_t(uint8_t(bytes[header + 80 + size_t(i)])) << (8 * i);
            size |= uint32_t(uint8_t(bytes[header + 84 + size_t(i)])) << (8 * i);
        }
        uint64_t array = uint64_t(count) * size;
        if (entries_lba * kSector + array <= bytes.size())
            put_le(bytes, header + 88,
                   keel::crc32_ieee(std::string_view(bytes).substr(size_t(entries_lba * kSector),
                                                                   size_t(array))),
                   4);
        put_le(bytes, header + 16, 0, 4);
        put_le(bytes, header + 16, keel::crc32_ieee(std::string_view(bytes).substr(header, 92)), 4);
    }
    std::string_view header(uint64_t lba = 1) const {
        return std::string_view(bytes).substr(size_t(lba) * kSector, kSector);
    }
};

// Writes one header (primary at LBA 1 or backup at the last LBA) and its
// array, for a disk of `sectors` sectors.
inline void write_gpt_copy(TestDisk& disk, uint64_t header_lba, uint64_t other_lba,
                           uint64_t entries_lba, const std::vector<TestPartition>& partitions,
                           uint64_t sectors = kSectors) {
    std::string& b = disk.bytes;
    size_t entries = size_t(entries_lba) * kSector;
    for (const TestPartition& p : partitions) {
        size_t at = entries + p.slot * 128;
        put_guid(b, at, p.type);
        put_guid(b, at + 16, p.unique);
        put_le(b, at + 32, p.first, 8);
        put_le(b, at + 40, p.last, 8);
        put_le(b, at + 48, p.attributes, 8);
        for (size_t i = 0; i < p.name.size() && i < 36; ++i)
            put_le(b, at + 56 + 2 * i, p.name[i], 2);
    }
    size_t h = size_t(header_lba) * kSector;
    b.replace(h, 8, "EFI PART");
    put_le(b, h + 8, 0x00010000, 4);
    put_le(b, h + 12, 92, 4);
    put_le(b, h + 24, header_lba, 8);
    put_le(b, h + 32, other_lba, 8);
    put_le(b, h + 40, 34, 8);
    put_le(b, h + 48, sectors - 34, 8);
    put_guid(b, h + 56, "11111111-2222-3333-4444-555555555555");
    put_le(b, h + 72, entries_lba, 8);
    put_le(b, h + 80, 128, 4);
    put_le(b, h + 84, 128, 4);
    disk.fix_crcs(header_lba);
}

inline std::vector<TestPartition> default_partitions() {
    TestPartition a{0,
                    "0fc63daf-8483-4772-8e79-3d69d8477de4",
                    "aaaaaaaa-0000-4000-8000-000000000001",
                    34,
                    99,
                    (1ull << 48) | (1ull << 56),
                    u"ROOT-A"};
    TestPartition state{2,
                        "0fc63daf-8483-4772-8e79-3d69d8477de4",
                        "aaaaaaaa-0000-4000-8000-000000000003",
                        100,
                        kSectors - 34,
                        0,
                        u"STATE"};
    return {a, state};
}

// A zeroed disk of `sectors` sectors with both GPT copies of `partitions`.
inline TestDisk make_disk(const std::vector<TestPartition>& partitions = default_partitions(),
                          uint64_t sectors = kSectors) {
    TestDisk disk;
    disk.bytes.assign(size_t(sectors * kSector), '\0');
    write_gpt_copy(disk, 1, sectors - 1, 2, partitions, sectors);
    write_gpt_copy(disk, sectors - 1, 1, sectors - 33, partitions, sectors);
    return disk;
}

// An A/B disk: ROOT-A (1), ROOT-B (2), STATE (3), with these attribute words.
inline TestDisk ab_disk(uint64_t a_word, uint64_t b_word) {
    std::vector<TestPartition> partitions = {
        {0, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000001", 34, 99,
         a_word, u"ROOT-A"},
        {1, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000002", 100,
         165, b_word, u"ROOT-B"},
        {2, "0fc63daf-8483-4772-8e79-3d69d8477de4", "aaaaaaaa-0000-4000-8000-000000000003", 166,
         kSectors - 34, 0, u"STATE"},
    };
    return make_disk(partitions);
}

} // namespace keel::testing::gpt
