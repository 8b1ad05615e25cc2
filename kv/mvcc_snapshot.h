// The MVCC store's snapshot format: every backend entry (records and meta)
// in key order, framed, with a checksum, so a Raft snapshot can carry the
// whole store and a member can load it. Snapshots arrive from peers: the
// parser checks everything before the store changes. Private to kv/.
#pragma once

#include "base/result.h"
#include "kv/mvcc_backend.h"

#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// Appends one entry to a snapshot being written (after begin_snapshot()).
void append_snapshot_entry(std::string& out, std::string_view key, std::string_view value);
/// The header every snapshot starts with.
std::string begin_snapshot();
/// Ends a snapshot: the end mark and the crc32c of everything before.
void end_snapshot(std::string& out);

/// Parses a whole snapshot into Put writes, in order. Errors name what is
/// wrong and at which byte offset.
Result<std::vector<BackendWrite>> parse_snapshot(std::string_view snapshot);

/// The length of the snapshot `bytes` begin with (what follows it, such
/// as a saved file's padding, is not looked at), checked in full as
/// parse_snapshot() checks it.
Result<size_t> snapshot_length(std::string_view bytes);

} // namespace keel::kv
