// CRC-32C (Castagnoli): the checksum of the KV's write-ahead log records and
// snapshot files (chosen over zlib's CRC-32 for its better error detection
// on the record sizes the log writes) and of etcd's HashKV. Computed with
// SSE 4.2's crc32 instruction where the CPU has it, else from a table.
#pragma once

#include <cstdint>
#include <string_view>

namespace keel {

/// The CRC-32C of `data`, continued from `crc` (the result of an earlier
/// call over the bytes before `data`; 0 to start). crc32c("123456789") is
/// 0xe3069283.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

/// The same from a table, a byte at a time: what crc32c() computes on a
/// CPU without SSE 4.2 (the tests compare the two).
uint32_t crc32c_portable(std::string_view data, uint32_t crc = 0);

} // namespace keel
