// SHA-256 of files and buffers (mbedTLS).
#pragma once

#include "base/result.h"

#include <memory>
#include <string>
#include <string_view>

namespace keel {

/// SHA-256 computed over data fed in pieces (a blob as it streams to disk).
class Sha256Hasher {
public:
    Sha256Hasher();
    ~Sha256Hasher();
    Sha256Hasher(Sha256Hasher&&) noexcept;
    Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
    /// Adds `data` to what is hashed.
    void update(std::string_view data);
    /// Lower-case hex of everything added; the hasher is spent afterwards.
    std::string finish_hex();

private:
    struct State;
    std::unique_ptr<State> m_state;
};

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-256 of the file at `path`, read in chunks.
Result<std::string> sha256_file(const std::string& path);

} // namespace keel
