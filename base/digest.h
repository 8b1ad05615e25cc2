// SHA-256 (keel's own, with the CPU's SHA extensions where it has them)
// and SHA-512 (mbedTLS) of files, buffers and streams.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace keel {

/// A SHA-256 digest's bytes.
using Sha256Digest = std::array<uint8_t, 32>;

/// SHA-256 over bytes that arrive in pieces, without allocating: a value
/// type, for hashing many small things (dm-verity's salt, then a block).
class Sha256 {
public:
    Sha256();
    /// Adds `data` to what is hashed.
    void update(std::string_view data);
    /// The digest of everything added; the hash then starts over, empty.
    Sha256Digest finish();

private:
    std::array<uint32_t, 8> m_state;
    uint64_t m_length = 0; ///< bytes added, for the padding's length field
    size_t m_buffered = 0; ///< bytes of an unfinished block in m_buffer
    std::array<uint8_t, 64> m_buffer;
};

/// SHA-256 of `data`.
Sha256Digest sha256_bytes(std::string_view data);
/// SHA-256 of `first` followed by `second`, without joining them (a
/// dm-verity salt and the block after it).
Sha256Digest sha256_bytes(std::string_view first, std::string_view second);
/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-512 of `data`.
std::string sha512_hex(std::string_view data);
/// Lower-case hex SHA-256 of the file at `path`, read in chunks.
Result<std::string> sha256_file(const std::string& path);

/// The SHA-256 block functions keel has.
enum class Sha256Engine {
    ShaExtensions, ///< the x86 SHA extensions (SHA-NI: SHA256RNDS2, SHA256MSG1/2)
    Portable,      ///< plain C++, for every other CPU (and QEMU's TCG, which lacks them)
};
inline constexpr auto kSha256EngineNames = name_table<Sha256Engine>({
    {Sha256Engine::ShaExtensions, "sha-extensions"},
    {Sha256Engine::Portable, "portable"},
});

/// Whether this CPU can run `engine` (cpuid leaf 7 EBX bit 29 for the
/// SHA extensions, with SSSE3 and SSE4.1 beside them).
bool sha256_engine_available(Sha256Engine engine);
/// The engine SHA-256 uses: the SHA extensions when the CPU has them.
Sha256Engine sha256_engine();
/// Makes every later SHA-256 in this process use `engine` (tests compare
/// the engines); an error naming the engine if this CPU cannot run it.
Result<void> use_sha256_engine(Sha256Engine engine);

/// The hash functions a Hasher computes.
enum class HashFunction { Sha256, Sha512 };

/// A hash computed over bytes that arrive in pieces (a blob being copied,
/// a layer being decompressed), so nothing is read twice.
class Hasher {
public:
    explicit Hasher(HashFunction function = HashFunction::Sha256);
    ~Hasher();
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;

    /// Adds `data` to what is hashed.
    void update(std::string_view data);
    /// The lower-case hex digest of everything added; the hasher then
    /// starts over, empty.
    std::string finish_hex();

private:
    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace keel
