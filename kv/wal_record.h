// The write-ahead log's on-disk records: their framing (length, type,
// CRC-32C over type and payload), the payload of each type, and the scan of
// one segment file that tells a clean end, a torn tail and corruption apart.
// Pure functions over bytes: the files themselves are read and written by
// kv/wal.cpp, and the fuzz target feeds this decoder arbitrary input.
//
// A record:   u32 payload length | u8 type | u32 crc32c(type, payload) | payload
// (little-endian). Checksums are per record, not chained: a record checks on
// its own, so recovery can tell whether valid records follow a damaged one
// (corruption) or not (a torn tail). Chaining would protect the order of
// records, which the log gets instead from entry indexes and from segments
// that are never reused.
#pragma once

#include "base/names.h"
#include "kv/raft_types.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace keel::kv {

/// The version of the record format, in every segment's metadata record.
inline constexpr uint32_t kWalFormatVersion = 1;
/// Bytes before a record's payload: length, type, checksum.
inline constexpr size_t kRecordHeaderBytes = 9;
/// The largest payload a record may have; a longer length is damage.
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;

/// What a record holds. 0 is no type: the zeros of a preallocated segment.
enum class RecordType : uint8_t {
    /// The first record of every segment: whose log this is.
    Metadata = 1,
    /// A log entry.
    Entry = 2,
    /// Raft's hard state; the latest one counts.
    HardState = 3,
    /// A snapshot was saved up to an index: the log before it may be dropped.
    Snapshot = 4,
};
inline constexpr auto kRecordTypeNames = name_table<RecordType>({
    {RecordType::Metadata, "metadata"},
    {RecordType::Entry, "entry"},
    {RecordType::HardState, "hard state"},
    {RecordType::Snapshot, "snapshot"},
});

/// Whose log a directory holds: written at the start of every segment.
struct WalMetadata {
    uint64_t cluster_id = 0;
    NodeId member_id = 0;

    bool operator==(const WalMetadata&) const = default;
};

/// A snapshot marker: a snapshot covers the log up to `index` (whose entry
/// had `term`).
struct WalSnapshot {
    Index index = 0;
    Term term = 0;

    bool operator==(const WalSnapshot&) const = default;
};

/// A record's payload, decoded.
using RecordValue = std::variant<WalMetadata, Entry, HardState, WalSnapshot>;

/// Appends one framed record of `type` around `payload` to `out`.
void append_record(std::string& out, RecordType type, std::string_view payload);
/// The framed record of `value` (its type follows from the alternative).
std::string encode_record(const RecordValue& value);
/// The payload of `value`, unframed.
std::string encode_payload(const RecordValue& value);
/// Decodes a payload of `type`, checking its size and fields; the error
/// says what is wrong ("entry payload of 5 bytes, expected at least 17").
/// The format version of a metadata record must be kWalFormatVersion.
std::expected<RecordValue, std::string> decode_payload(RecordType type, std::string_view payload);

/// Why there is no valid record at an offset.
enum class RecordProblem {
    /// Only zeros: nothing was written here (the preallocated rest).
    Zeros,
    /// The record runs past the end of the data.
    CutShort,
    /// The length is larger than any record may be.
    BadLength,
    /// The type is none of RecordType's.
    BadType,
    /// The checksum does not match the type and payload.
    ChecksumMismatch,
};
inline constexpr auto kRecordProblemNames = name_table<RecordProblem>({
    {RecordProblem::Zeros, "zeros where a record should be"},
    {RecordProblem::CutShort, "record cut short"},
    {RecordProblem::BadLength, "impossible record length"},
    {RecordProblem::BadType, "unknown record type"},
    {RecordProblem::ChecksumMismatch, "checksum mismatch"},
});

/// A record found in a segment's bytes.
struct FramedRecord {
    uint64_t offset = 0;
    RecordType type = RecordType::Metadata;
    /// Header and payload.
    uint64_t size = 0;
    std::string_view payload;
};

/// The record that starts at `offset` in `data`, or why there is none.
std::expected<FramedRecord, RecordProblem> decode_record(std::string_view data, uint64_t offset);

/// Where a segment is in the log: only the last one may end in a torn write.
enum class SegmentPlace { Earlier, Last };

/// How a segment's records end.
enum class SegmentEnd {
    /// After the last record there are only zeros (or the end of the file).
    Clean,
    /// The last segment ends in a write that did not finish (a record cut
    /// short, partly zeros, or damaged with no valid record after it):
    /// nothing there was acknowledged, so recovery drops it.
    Torn,
    /// A damaged record that is not the tail of the last segment: data that
    /// may have been acknowledged is unreadable.
    Corrupt,
};

/// The records of one segment file and how they end.
struct SegmentScan {
    /// Where the valid records end: the next record would start here.
    uint64_t end = 0;
    /// Just after the last non-zero byte of the file (at least `end`):
    /// [end, dirty_end) must be zeroed before the log continues at `end`.
    uint64_t dirty_end = 0;
    SegmentEnd how = SegmentEnd::Clean;
    /// For Torn and Corrupt: what is wrong at `end`.
    RecordProblem problem = RecordProblem::Zeros;
    std::vector<FramedRecord> records;
};

/// Reads the records of a segment's bytes from the start. A record with a
/// bad checksum, type or length, or cut short, ends the valid records; in the
/// last segment that is a torn tail when part of the record is a whole
/// sector of zeros (the write did not reach the disk) or when no valid
/// record starts anywhere after it, and corruption otherwise. Zeros right
/// after the last record end every segment cleanly, as long as nothing but
/// zeros follows (in the last segment, anything else there is a torn tail
/// under the same rule).
SegmentScan scan_segment(std::string_view data, SegmentPlace place);

} // namespace keel::kv
