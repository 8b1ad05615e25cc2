// CRC-32C (see crc32c.h): the reflected Castagnoli polynomial, a 256-entry
// table built at compile time.
#include "kv/crc32c.h"

#include <array>
#include <cstddef>

namespace keel::kv {

namespace {

constexpr uint32_t kPolynomial = 0x82f63b78; // 0x1edc6f41, bit-reversed

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1) ? (crc >> 1) ^ kPolynomial : crc >> 1;
        table[byte] = crc;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

} // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
    crc = ~crc;
    for (char c : data)
        crc = kTable[(crc ^ uint8_t(c)) & 0xff] ^ (crc >> 8);
    return ~crc;
}

} // namespace keel::kv
