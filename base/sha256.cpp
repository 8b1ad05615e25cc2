// SHA-256 (FIPS 180-4) for base/digest.h: the buffering and padding, and
// two block functions behind them, picked at run time: the x86 SHA
// extensions (SHA-NI) where cpuid reports them, and portable C++
// elsewhere. mbedTLS 2.28, which keel used before, has no SHA-NI code;
// an update install hashes every byte twice and dm-verity every 4 KiB
// block once more, so this is where installs spent their time. No library
// here, so the fuzz build (clang + libc++) compiles it too.
#include "base/digest.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace keel {

namespace {

// FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes.
alignas(16) constexpr uint32_t kSha256RoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// FIPS 180-4 5.3.3: the initial hash value H(0).
constexpr std::array<uint32_t, 8> kSha256Initial = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

constexpr size_t kSha256BlockSize = 64;

// Processes `count` 64-byte blocks at `data` into `state` (H0..H7).
using Sha256Blocks = void (*)(uint32_t* state, const uint8_t* data, size_t count);

uint32_t sha256_load_be32(const uint8_t* bytes) {
    return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 |
           uint32_t(bytes[3]);
}

void sha256_store_be32(uint8_t* bytes, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        bytes[i] = uint8_t(value >> (24 - 8 * i));
}

// One round of FIPS 180-4 6.2.2 step 3 with the working variables named
// by position: instead of shifting all eight along, the caller rotates
// the names, so only d (which becomes e) and h (which becomes a) change.
// Eight moves fewer per round, which counts where the CPU is emulated
// (QEMU's TCG runs this engine).
[[gnu::always_inline]] inline void sha256_round(uint32_t a, uint32_t b, uint32_t c, uint32_t& d,
                                                uint32_t e, uint32_t f, uint32_t g, uint32_t& h,
                                                uint32_t constant_plus_word) {
    uint32_t sum1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
    uint32_t choose = (e & f) ^ (~e & g);
    uint32_t t1 = h + sum1 + choose + constant_plus_word;
    uint32_t sum0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
    uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    d += t1;
    h = t1 + sum0 + majority;
}

// FIPS 180-4 6.2.2: the message schedule, then 64 rounds, eight at a time
// so that the names come back to where they started.
void sha256_blocks_portable(uint32_t* state, const uint8_t* data, size_t count) {
    for (; count > 0; --count, data += kSha256BlockSize) {
        uint32_t w[64];
        for (int t = 0; t < 16; ++t)
            w[t] = sha256_load_be32(data + 4 * t);
        for (int t = 16; t < 64; ++t) {
            uint32_t s0 = std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = s1 + w[t - 7] + s0 + w[t - 16];
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        const uint32_t* k = kSha256RoundConstants;
        for (int t = 0; t < 64; t += 8) {
            sha256_round(a, b, c, d, e, f, g, h, k[t] + w[t]);
            sha256_round(h, a, b, c, d, e, f, g, k[t + 1] + w[t + 1]);
            sha256_round(g, h, a, b, c, d, e, f, k[t + 2] + w[t + 2]);
            sha256_round(f, g, h, a, b, c, d, e, k[t + 3] + w[t + 3]);
            sha256_round(e, f, g, h, a, b, c, d, k[t + 4] + w[t + 4]);
            sha256_round(d, e, f, g, h, a, b, c, k[t + 5] + w[t + 5]);
            sha256_round(c, d, e, f, g, h, a, b, k[t + 6] + w[t + 6]);
            sha256_round(b, c, d, e, f, g, h, a, k[t + 7] + w[t + 7]);
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

#if defined(__x86_64__)

// The SHA extensions keep the eight working variables in two registers,
// ABEF and CDGH (A in the highest dword). SHA256RNDS2 does two rounds: it
// takes CDGH, ABEF and the two rounds' W+K in the low half of its third
// operand, and returns the new ABEF; the new CDGH is the old ABEF, as two
// rounds move A and B to C and D, E and F to G and H.

// Four rounds `group` * 4 .. + 3, with schedule words `words` (W[t] in the
// lowest dword).
[[gnu::target("sha,sse4.1"), gnu::always_inline]] inline void
sha256_four_rounds(__m128i& abef, __m128i& cdgh, __m128i words, int group) {
    __m128i sums = _mm_add_epi32(
        words, _mm_load_si128(reinterpret_cast<const __m128i*>(kSha256RoundConstants + 4 * group)));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, sums);                          // rounds 0, 1
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(sums, 0x0E)); // rounds 2, 3
}

// W[t..t+3] from W[t-16..t-13], W[t-12..t-9], W[t-8..t-5], W[t-4..t-1]:
// SHA256MSG1 adds sigma0 of the next word to each of the first four,
// W[t-7..t-4] is added, and SHA256MSG2 adds sigma1 of W[t-2] (of the new
// words themselves for the upper two).
[[gnu::target("sha,sse4.1"), gnu::always_inline]] inline __m128i
sha256_next_words(__m128i minus16, __m128i minus12, __m128i minus8, __m128i minus4) {
    __m128i partial =
        _mm_add_epi32(_mm_sha256msg1_epu32(minus16, minus12), _mm_alignr_epi8(minus4, minus8, 4));
    return _mm_sha256msg2_epu32(partial, minus4);
}

[[gnu::target("sha,sse4.1")]] void sha256_blocks_sha_extensions(uint32_t* state,
                                                                const uint8_t* data, size_t count) {
    // Message words are big-endian: reverse the bytes of each dword.
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba =
        _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0x1B);
    __m128i hgfe =
        _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
    __m128i abef = _mm_unpackhi_epi64(hgfe, dcba);
    __m128i cdgh = _mm_unpacklo_epi64(hgfe, dcba);

    for (; count > 0; --count, data += kSha256BlockSize) {
        __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i w[4];
        for (int i = 0; i < 4; ++i)
            w[i] = _mm_shuffle_epi8(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), byte_swap);
        // Each w[i] is replaced by the words 16 later once used.
        for (int group = 0; group < 16; group += 4) {
            if (group > 0)
                w[0] = sha256_next_words(w[0], w[1], w[2], w[3]);
            sha256_four_rounds(abef, cdgh, w[0], group);
            if (group > 0)
                w[1] = sha256_next_words(w[1], w[2], w[3], w[0]);
            sha256_four_rounds(abef, cdgh, w[1], group + 1);
            if (group > 0)
                w[2] = sha256_next_words(w[2], w[3], w[0], w[1]);
            sha256_four_rounds(abef, cdgh, w[2], group + 2);
            if (group > 0)
                w[3] = sha256_next_words(w[3], w[0], w[1], w[2]);
            sha256_four_rounds(abef, cdgh, w[3], group + 3);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    dcba = _mm_unpackhi_epi64(cdgh, abef);
    hgfe = _mm_unpacklo_epi64(cdgh, abef);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_shuffle_epi32(dcba, 0x1B));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_shuffle_epi32(hgfe, 0x1B));
}

// cpuid: SHA (leaf 7, EBX bit 29), and SSSE3 (leaf 1, ECX bit 9) and
// SSE4.1 (ECX bit 19), which the function above also uses. GCC 12's
// __builtin_cpu_supports does not know "sha".
bool cpu_has_sha_extensions() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return false;
    bool ssse3 = ecx & (1u << 9), sse41 = ecx & (1u << 19);
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return false;
    return ssse3 && sse41 && (ebx & (1u << 29));
}

#else

bool cpu_has_sha_extensions() {
    return false;
}

#endif

// The engine a test asked for, or -1: the best this CPU has.
std::atomic<int> g_sha256_forced_engine{-1};

Sha256Blocks sha256_block_function() {
    switch (sha256_engine()) {
#if defined(__x86_64__)
    case Sha256Engine::ShaExtensions:
        return sha256_blocks_sha_extensions;
#endif
    default:
        return sha256_blocks_portable;
    }
}

} // namespace

bool sha256_engine_available(Sha256Engine engine) {
    static const bool has_sha_extensions = cpu_has_sha_extensions();
    return engine == Sha256Engine::Portable || has_sha_extensions;
}

Sha256Engine sha256_engine() {
    int forced = g_sha256_forced_engine.load(std::memory_order_relaxed);
    if (forced >= 0)
        return Sha256Engine(forced);
    return sha256_engine_available(Sha256Engine::ShaExtensions) ? Sha256Engine::ShaExtensions
                                                                : Sha256Engine::Portable;
}

Result<void> use_sha256_engine(Sha256Engine engine) {
    if (!sha256_engine_available(engine))
        return error(cat("SHA-256 engine ", kSha256EngineNames.name(engine),
                         ": this CPU does not have the instructions it needs"));
    g_sha256_forced_engine.store(int(engine), std::memory_order_relaxed);
    return {};
}

Sha256::Sha256() : m_state(kSha256Initial), m_buffer{} {}

void Sha256::update(std::string_view data) {
    auto bytes = reinterpret_cast<const uint8_t*>(data.data());
    size_t size = data.size();
    if (size == 0)
        return;
    m_length += size;
    Sha256Blocks blocks = sha256_block_function();
    if (m_buffered > 0) {
        size_t take = std::min(size, kSha256BlockSize - m_buffered);
        std::memcpy(m_buffer.data() + m_buffered, bytes, take);
        m_buffered += take;
        bytes += take;
        size -= take;
        if (m_buffered < kSha256BlockSize)
            return;
        blocks(m_state.data(), m_buffer.data(), 1);
        m_buffered = 0;
    }
    // Whole blocks straight from the caller's bytes: no copy.
    if (size_t whole = size / kSha256BlockSize; whole > 0) {
        blocks(m_state.data(), bytes, whole);
        bytes += whole * kSha256BlockSize;
        size -= whole * kSha256BlockSize;
    }
    if (size > 0)
        std::memcpy(m_buffer.data(), bytes, size);
    m_buffered = size;
}

Sha256Digest Sha256::finish() {
    // FIPS 180-4 5.1.1: a 1 bit, zeros to 56 bytes into a block, the
    // message's length in bits, big-endian, in the last 8.
    Sha256Blocks blocks = sha256_block_function();
    uint64_t bits = m_length * 8;
    m_buffer[m_buffered++] = 0x80;
    if (m_buffered > kSha256BlockSize - 8) {
        std::fill(m_buffer.begin() + long(m_buffered), m_buffer.end(), 0);
        blocks(m_state.data(), m_buffer.data(), 1);
        m_buffered = 0;
    }
    std::fill(m_buffer.begin() + long(m_buffered), m_buffer.end() - 8, 0);
    sha256_store_be32(m_buffer.data() + 56, uint32_t(bits >> 32));
    sha256_store_be32(m_buffer.data() + 60, uint32_t(bits));
    blocks(m_state.data(), m_buffer.data(), 1);
    Sha256Digest digest;
    for (size_t i = 0; i < m_state.size(); ++i)
        sha256_store_be32(digest.data() + 4 * i, m_state[i]);
    *this = Sha256();
    return digest;
}

Sha256Digest sha256_bytes(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return hash.finish();
}

Sha256Digest sha256_bytes(std::string_view first, std::string_view second) {
    Sha256 hash;
    hash.update(first);
    hash.update(second);
    return hash.finish();
}

std::string sha256_hex(std::string_view data) {
    Sha256Digest digest = sha256_bytes(data);
    return to_hex(digest.data(), digest.size());
}

Result<std::string> sha256_file(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    Sha256 hash;
    std::string buffer(1 << 16, '\0');
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path)));
        if (n == 0) {
            Sha256Digest digest = hash.finish();
            return to_hex(digest.data(), digest.size());
        }
        hash.update(std::string_view(buffer.data(), size_t(n)));
    }
}

} // namespace keel
