// crc32c (kv/crc32c.h): a byte-at-a-time table; the reflected Castagnoli
// polynomial 0x82f63b78.
#include "kv/crc32c.h"

#include <array>

namespace keel::kv {

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1; // Castagnoli, reflected
        table[i] = crc;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

} // namespace

uint32_t crc32c(uint32_t crc, std::string_view bytes) {
    crc = ~crc;
    for (char byte : bytes)
        crc = kCrc32cTable[(crc ^ uint8_t(byte)) & 0xff] ^ (crc >> 8);
    return ~crc;
}

} // namespace keel::kv
