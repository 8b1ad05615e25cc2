// SHA-256 and SHA-512 of files, buffers and streams (mbedTLS).
#pragma once

#include "base/result.h"

#include <memory>
#include <string>
#include <string_view>

namespace keel {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-512 of `data`.
std::string sha512_hex(std::string_view data);
/// Lower-case hex SHA-256 of the file at `path`, read in chunks.
Result<std::string> sha256_file(const std::string& path);

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
