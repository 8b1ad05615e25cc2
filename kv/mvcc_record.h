// How the MVCC store lays its data out in the backend, as etcd does: one
// record per change, keyed by its revision ("r" + main + "_" + sub, both
// 8-byte big-endian so byte order is revision order, + "t" for a delete),
// whose value is the serialized mvccpb.KeyValue (a delete's holds the key
// only); a few meta values ("m" + name); and the aux records other layers
// keep with the store ("a" + name, opaque here).
// Private to kv/mvcc*.cpp.
#pragma once

#include "base/crc32c.h"
#include "base/result.h"
#include "kv/key_index.h"
#include "kv/mvcc.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

/// The backend keys of revision records all start with this byte.
inline constexpr char kRecordPrefix = 'r';
/// The backend keys of meta values all start with this byte.
inline constexpr char kMetaPrefix = 'm';
/// The backend keys of aux records (MvccStore::put_aux) all start with
/// this byte, followed by the record's name.
inline constexpr char kAuxPrefix = 'a';
/// Meta: the compaction revision (8-byte big-endian).
inline constexpr std::string_view kMetaCompactRevision = "mcompact_revision";
/// Meta: the consistent index (8-byte big-endian).
inline constexpr std::string_view kMetaConsistentIndex = "mconsistent_index";

/// A parsed record key.
struct RecordKey {
    Revision revision;
    RecordKind kind = RecordKind::Put;
};

/// The backend key of the record of `revision`.
std::string record_key(Revision revision, RecordKind kind);
/// The first backend key of records with main revision `main` (for scans).
std::string record_key_from(int64_t main);
/// Parses a backend key made by record_key(); nullopt for anything else.
std::optional<RecordKey> parse_record_key(std::string_view key);

/// Serializes a key-value as etcd's mvccpb.KeyValue.
std::string encode_key_value(const KeyValue& kv);
/// Parses a serialized mvccpb.KeyValue.
Result<KeyValue> decode_key_value(std::string_view bytes);

/// The backend key of the aux record `name`.
std::string aux_key(std::string_view name);

/// 8-byte big-endian (meta values).
std::string encode_int64(int64_t value);
/// Parses encode_int64()'s bytes.
Result<int64_t> decode_int64(std::string_view bytes);

} // namespace keel::kv
