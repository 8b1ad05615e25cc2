// A saved snapshot: the bytes of Maintenance.Snapshot's stream, which
// `etcdctl snapshot save` writes to a file. keel's stream is its MVCC
// snapshot (kv/mvcc_snapshot.h) padded with zeros to a multiple of 512
// bytes and followed by the SHA-256 of everything before it, the trailer
// etcd's stream has and etcdctl checks. Reading one is reading outside
// input (a file a user hands `keel kv snapshot restore`): every part is
// checked and errors say what is wrong. Private to kv/.
#pragma once

#include "base/result.h"
#include "kv/kv.h"

#include <string>
#include <string_view>

namespace keel::kv {

/// The size of the SHA-256 trailer.
inline constexpr size_t kSavedSnapshotHashBytes = 32;

/// Turns an MVCC snapshot into the stream's bytes: zero padding to a
/// multiple of 512 bytes, then the SHA-256 of that.
void append_snapshot_trailer(std::string& snapshot);

/// The MVCC snapshot in a saved snapshot's `bytes`. With HashCheck::Verify
/// the file must end in the SHA-256 of the rest (etcd's check); with
/// HashCheck::Skip the trailer may be missing or wrong, and a data dir's
/// snapshot file (snap/TERM-INDEX.snap, kv/snapshot_file.h) is taken too.
/// The MVCC snapshot's own checksum is checked either way. Errors: "the
/// SHA-256 trailer does not match (the file is damaged or cut short)",
/// "MVCC snapshot: checksum mismatch at byte 96", ...
Result<std::string_view> read_saved_snapshot(std::string_view bytes, HashCheck check);

} // namespace keel::kv
