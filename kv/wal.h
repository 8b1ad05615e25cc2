// The write-ahead log: Raft's entries, hard state and snapshot markers,
// made durable before Raft acts on them. A directory (the member's data dir
// /wal) of segment files SEQ-FIRSTINDEX.wal (16 hex digits each: the
// segment's sequence number and the index its first new entry has),
// preallocated to a fixed size and cut when full; the records are those of
// kv/wal_record.h. append() only buffers; sync() writes everything appended
// since the last sync with one write and one fdatasync (group commit), and
// its success is the acknowledgement. Opening recovers: a torn tail left by a
// crash is cut off, damage anywhere else is refused with the file and
// offset. All file access goes through a Storage, so tests can stop the
// "machine" at any call.
#pragma once

#include "base/result.h"
#include "base/storage.h"
#include "kv/raft_types.h"
#include "kv/wal_record.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace keel::kv {

/// How a log is kept.
struct WalOptions {
    /// Each segment is preallocated to this size and a new one is started
    /// when the next record does not fit (a larger record gets a segment of
    /// its own, which grows to hold it).
    uint64_t segment_bytes = 64u << 20;
    /// Every file operation goes through this; it must outlive the log.
    Storage* storage = &system_storage();
};

/// What a log held when it was opened.
struct WalState {
    WalMetadata metadata;
    /// The latest hard state written; all zeros when none was.
    HardState hard_state;
    /// The latest snapshot marker written; index 0 when none was.
    WalSnapshot snapshot;
    /// The entries the log holds, contiguous and in index order, a later
    /// entry at an index already seen having replaced the old one and
    /// everything after it (Raft's truncation of a conflicting log). They
    /// may begin at or before snapshot.index: those are kept until
    /// release() so that an older snapshot file can stand in for a damaged
    /// newer one. entries_after(snapshot.index) is Raft's log.
    std::vector<Entry> entries;
};

/// The entries of `state` after `index` (all when `index` precedes them).
std::span<const Entry> entries_after(const WalState& state, Index index);

/// Where each entry of a log is on disk: the segment (by sequence number)
/// and the byte offset of its record, by entry index, for the entries the
/// log holds (the newest record for each index counts, as in recovery).
/// Four bytes an entry: an offset within its segment, the segments' runs
/// being few.
class WalEntryIndex {
public:
    /// Where an entry's record starts.
    struct Location {
        uint64_t sequence = 0;
        uint64_t offset = 0;
    };
    /// Entry `index` was written at `offset` of segment `sequence` (the
    /// newest one). An index at or below the last one replaces that entry
    /// and every one after it; one past a gap starts the index over.
    void add(Index index, uint64_t sequence, uint64_t offset);
    /// Forgets every entry (a snapshot marker beyond the log starts it over).
    void clear() { m_runs.clear(); }
    /// Forgets the entries of segments before `sequence` (released).
    void release_before(uint64_t sequence);
    /// Where entry `index` is; nullopt when the log does not hold it.
    std::optional<Location> find(Index index) const;
    /// The first and last entry indexed (last < first when none is).
    Index first() const { return m_runs.empty() ? 1 : m_runs.front().first; }
    Index last() const;

private:
    // Consecutive entries in one segment, from `first`.
    struct Run {
        uint64_t sequence = 0;
        Index first = 0;
        std::vector<uint32_t> offsets;
    };
    std::vector<Run> m_runs;
};

/// An open write-ahead log. Move-only.
class Wal {
public:
    /// Starts a new log in `directory` (created if missing) for `metadata`.
    /// A directory that holds anything but the leftovers of an interrupted
    /// create is refused (EEXIST).
    static Result<Wal> create(const std::string& directory, const WalMetadata& metadata,
                              WalOptions options = {});
    /// Opens the log in `directory` and recovers it: recovered() holds what
    /// it held. A torn tail of the last segment is cut off (and zeroed on
    /// disk) and the log continues from there; a damaged record anywhere
    /// else is an error with code ErrorCode::DataCorrupt naming the file and
    /// offset: "kv/wal: 0000000000000002-0000000000000064.wal at offset 4096:
    /// checksum mismatch". No log there: ENOENT.
    static Result<Wal> open(const std::string& directory, WalOptions options = {});
    /// True when `directory` holds a log (at least one segment), so that the
    /// server knows whether to open() or create().
    static Result<bool> exists(const std::string& directory, Storage& storage = system_storage());

    Wal(Wal&&) noexcept = default;
    Wal& operator=(Wal&&) noexcept = default;
    Wal(const Wal&) = delete;
    Wal& operator=(const Wal&) = delete;
    ~Wal() = default;

    /// What the log held when it was opened (empty after create()). Its
    /// entries can be moved out: the log does not need them.
    WalState& recovered() { return m_recovered; }
    /// Whose log this is.
    const WalMetadata& metadata() const { return m_metadata; }
    /// An error with code ErrorCode::ForeignDataDir unless the log belongs
    /// to `expected`'s cluster and member: "kv/wal: data dir `/data/wal`
    /// belongs to another cluster (cluster 1f, member 2a; expected cluster
    /// 3b, member 2a)".
    Result<void> check_metadata(const WalMetadata& expected) const;

    /// Buffers `entries` (in index order; an index at or below the last one
    /// replaces that entry and all after it, one more than one past it is
    /// refused) and then `hard_state`, if given, for the next sync().
    /// Nothing is written yet.
    Result<void> append(std::span<const Entry> entries,
                        const std::optional<HardState>& hard_state = std::nullopt);
    /// Buffers a snapshot marker: a snapshot file covering the log up to
    /// `snapshot.index` has been saved, so release() may drop what it covers.
    Result<void> append_snapshot(const WalSnapshot& snapshot);
    /// Makes everything buffered durable: one write and one fdatasync (more
    /// when a segment fills up and a new one is cut). When it returns
    /// success the records survive a crash; when it fails the log takes no
    /// more writes (what reached the disk is unknown until it is reopened).
    Result<void> sync();
    /// Writes everything buffered into the file without waiting for the
    /// disk: it survives the process being killed, not a power cut, and
    /// the next sync() makes it durable. For records that need not be
    /// durable yet but must not die with the process (a commit index the
    /// member is about to apply up to). Fails like sync().
    Result<void> write();
    /// Reads back written entries from `low` to `high` inclusive, stopping
    /// once their data exceeds `max_bytes` (at least one is returned) or
    /// at the first entry the log does not hold (an error if that is
    /// `low`). Every record is checked as recovery checks it: a damaged one
    /// is an error with code ErrorCode::DataCorrupt naming the file and
    /// offset, and nothing of it is returned.
    Result<std::vector<Entry>> read_entries(Index low, Index high, size_t max_bytes) const;
    /// Where the log's entries are (for tests).
    const WalEntryIndex& entry_index() const { return m_index; }

    /// Removes the oldest segments whose entries are all at or below
    /// `index` (at most the latest snapshot marker written), keeping the
    /// newest segment always.
    Result<void> release(Index index);

    /// The index of the last entry written or buffered (the snapshot's
    /// index when the log holds no entry after it).
    Index last_index() const { return m_pending_last_index; }
    /// How many segment files the log has.
    size_t segment_count() const { return m_segments.size(); }
    /// The log's directory.
    const std::string& directory() const { return m_directory; }

private:
    struct Segment {
        uint64_t sequence = 0;
        Index first_index = 0;
    };
    // A record appended but not yet written, in m_pending at [begin, end).
    struct PendingRecord {
        size_t end = 0;
        RecordType type = RecordType::Entry;
        Index entry_index = 0;
        HardState hard_state;
        WalSnapshot snapshot;
    };

    Wal() = default;
    std::string segment_path(const Segment& segment) const;
    // Creates segment `segment` (temp file, preallocated, header records,
    // fdatasync, rename, directory fsync) and makes it the one written to.
    Result<void> start_segment(const Segment& segment);
    /// Whether buffered records are only written, or written and synced.
    enum class WalFlush { Write, Sync };
    Result<void> write_pending(WalFlush flush);
    Result<void> flush_pending(WalFlush flush);
    Result<void> check_usable() const;
    void buffer(RecordType type, const RecordValue& value);

    Storage* m_storage = nullptr;
    uint64_t m_segment_bytes = 0;
    std::vector<Segment> m_segments;
    File m_file;               // the last segment, open for writing
    uint64_t m_offset = 0;     // where its next record goes
    uint64_t m_header_end = 0; // where its header records end
    WalMetadata m_metadata;
    HardState m_hard_state; // the latest written (for new segments' headers)
    WalSnapshot m_snapshot; // likewise
    Index m_last_index = 0; // of the last entry written
    Index m_pending_last_index = 0;
    std::vector<PendingRecord> m_pending_records;
    std::string m_pending;
    WalState m_recovered;
    WalEntryIndex m_index;               // of the entries written
    std::optional<std::string> m_broken; // why the log takes no more writes
    bool m_unsynced = false;             // write() put records in the file since the last sync
    std::string m_directory;
};

} // namespace keel::kv
