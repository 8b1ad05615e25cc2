// Little-endian integers in byte strings: how on-disk formats write their
// numbers (GPT headers, filesystem superblocks, slot footers, the KV's WAL
// records and snapshots). One byte at a time, so neither alignment nor the
// host's byte order matters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

/// Appends `value`'s 4 bytes, least significant first.
inline void put_u32(std::string& out, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        out += char(value >> (8 * i) & 0xff);
}

/// Appends `value`'s 8 bytes, least significant first.
inline void put_u64(std::string& out, uint64_t value) {
    for (int i = 0; i < 8; ++i)
        out += char(value >> (8 * i) & 0xff);
}

/// The 2 bytes at `at` (the caller has checked they are there).
inline uint16_t get_u16(std::string_view data, size_t at) {
    return uint16_t(uint8_t(data[at]) | uint8_t(data[at + 1]) << 8);
}

/// The 4 bytes at `at` (the caller has checked they are there).
inline uint32_t get_u32(std::string_view data, size_t at) {
    uint32_t value = 0;
    for (int i = 3; i >= 0; --i)
        value = value << 8 | uint8_t(data[at + size_t(i)]);
    return value;
}

/// The 8 bytes at `at` (the caller has checked they are there).
inline uint64_t get_u64(std::string_view data, size_t at) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i)
        value = value << 8 | uint8_t(data[at + size_t(i)]);
    return value;
}

} // namespace keel
