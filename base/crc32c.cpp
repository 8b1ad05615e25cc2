// CRC-32C (see crc32c.h): the reflected Castagnoli polynomial. x86-64 CPUs
// with SSE 4.2 (cpuid leaf 1, ECX bit 20) compute it with their crc32
// instruction, eight bytes at a time; elsewhere a 256-entry table built at
// compile time takes one byte at a time (about a tenth of the speed: the
// KV's log records and peer frames are checksummed on every write and read).
#include "base/crc32c.h"

#include <array>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace keel {

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

#if defined(__x86_64__)

__attribute__((target("sse4.2,crc32"))) uint32_t crc32c_sse42(std::string_view data, uint32_t crc) {
    const char* at = data.data();
    size_t left = data.size();
    uint64_t wide = ~crc;
    for (; left >= 8; at += 8, left -= 8) {
        uint64_t word = 0;
        std::memcpy(&word, at, sizeof word);
        wide = _mm_crc32_u64(wide, word);
    }
    uint32_t narrow = uint32_t(wide);
    for (; left > 0; ++at, --left)
        narrow = _mm_crc32_u8(narrow, uint8_t(*at));
    return ~narrow;
}

bool cpu_has_sse42() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 20));
}

#endif

} // namespace

uint32_t crc32c_portable(std::string_view data, uint32_t crc) {
    crc = ~crc;
    for (char c : data)
        crc = kTable[(crc ^ uint8_t(c)) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t crc32c(std::string_view data, uint32_t crc) {
#if defined(__x86_64__)
    static const bool has_sse42 = cpu_has_sse42();
    if (has_sse42)
        return crc32c_sse42(data, crc);
#endif
    return crc32c_portable(data, crc);
}

} // namespace keel
