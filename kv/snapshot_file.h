// Snapshot files: the state machine's state up to an index, kept in the
// member's data dir /snap as TERM-INDEX.snap (16 hex digits each). A file is
// written under a temporary name, fsynced, renamed into place and the
// directory fsynced, so that it is either whole or absent; its contents
// carry a CRC-32C, so that damage is found when it is loaded. Loading takes
// the newest file the write-ahead log's snapshot marker vouches for, or an
// older one when the log still holds every entry after it.
//
// File: "KEELSNAP" | u32 version | u32 crc32c(body) | u64 body length | body
// body: u64 index | u64 term | u32 voters | u64 each | u32 learners | u64
// each | data (the rest). Little-endian.
#pragma once

#include "base/result.h"
#include "base/storage.h"
#include "kv/raft_types.h"
#include "kv/wal.h"

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

/// The bytes of a snapshot file holding `snapshot`.
std::string encode_snapshot_file(const Snapshot& snapshot);
/// The snapshot in a file's bytes, or what is wrong with them ("checksum
/// mismatch", "cut short at 40 of 96 bytes", ...).
std::expected<Snapshot, std::string> decode_snapshot_file(std::string_view bytes);

/// Writes `snapshot` to `directory`/TERM-INDEX.snap durably (the directory
/// is created if missing). A crash leaves either the whole file or none
/// (perhaps a .tmp file, which the next save or prune removes).
Result<void> save_snapshot_file(Storage& storage, const std::string& directory,
                                const Snapshot& snapshot);

/// The snapshot to start from, given what the write-ahead log held: the
/// newest valid file at or below the log's snapshot marker whose entries
/// after it the log still has (the marker's own snapshot needs none).
/// Files newer than the marker are a save that did not finish and are
/// ignored. nullopt when the log has no snapshot marker. When the marker's
/// snapshot is damaged or missing and no older one can stand in: an error
/// with code ErrorCode::DataCorrupt naming the damaged file.
Result<std::optional<Snapshot>> load_snapshot_file(Storage& storage, const std::string& directory,
                                                   const WalState& wal);

/// Removes all but the newest `keep` snapshot files (by index), and any
/// leftover temporary files.
Result<void> prune_snapshot_files(Storage& storage, const std::string& directory, size_t keep);

} // namespace keel::kv
