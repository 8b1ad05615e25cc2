// Decompression of gzip, xz and zstd data, recognised by magic bytes.
// Used for compressed kernel modules (.ko.gz/.ko.xz/.ko.zst).
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>

namespace keel {

enum class Compression { None, Gzip, Xz, Zstd };

/// Recognises the format from the first bytes of `data`.
Compression detect_compression(std::string_view data);

/// Decompresses `data` in the detected format (None returns it as is).
/// Output larger than `max_output` is refused.
Result<std::string> decompress(std::string_view data, size_t max_output = size_t(1) << 30);

} // namespace keel
