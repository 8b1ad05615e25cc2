// crc32c (Castagnoli), the checksum etcd's HashKV uses; also the MVCC
// snapshot's. Needs nothing but the C++ library (the fuzz build takes it).
#pragma once

#include <cstdint>
#include <string_view>

namespace keel::kv {

/// Continues a crc32c (Castagnoli) over `bytes`; start with 0.
uint32_t crc32c(uint32_t crc, std::string_view bytes);

} // namespace keel::kv
