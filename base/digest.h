// SHA-256 of files and buffers (mbedTLS).
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>

namespace keel {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-256 of the file at `path`, read in chunks.
Result<std::string> sha256_file(const std::string& path);

} // namespace keel
