// CRC-32C (Castagnoli): the checksum of the write-ahead log's records and of
// snapshot files. Chosen over CRC-32 (zlib's) for its better error detection
// on the record sizes the log writes; computed from a table built at compile
// time, one byte at a time (fast enough next to an fdatasync).
#pragma once

#include <cstdint>
#include <string_view>

namespace keel::kv {

/// The CRC-32C of `data`, continued from `crc` (the result of an earlier
/// call over the bytes before `data`; 0 to start). crc32c("123456789") is
/// 0xe3069283.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

} // namespace keel::kv
