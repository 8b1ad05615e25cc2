// Opening a write-ahead log (see wal.h): finding its segments, reading their
// records in order into the state they describe, cutting off a torn tail
// and refusing damage with the file and offset.
#include "kv/wal.h"

#include "base/strings.h"
#include "kv/file_names.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>

namespace keel::kv {

namespace {

Error corruption(std::string_view file, uint64_t offset, std::string_view what) {
    return Error::from_code(ErrorCode::DataCorrupt,
                            cat("kv/wal: ", file, " at offset ", offset, ": ", what));
}

// Builds the log's state from its records, in the order they were written.
class Replay {
public:
    Replay(WalState& state, WalEntryIndex& index) : m_state(state), m_index(index) {}

    // Applies one record of segment `file` (sequence number `sequence`) at
    // `offset`; an error when it contradicts what came before.
    Result<void> apply(const RecordValue& value, std::string_view file, uint64_t sequence,
                       uint64_t offset) {
        if (auto* metadata = std::get_if<WalMetadata>(&value)) {
            if (offset != 0)
                return std::unexpected(
                    corruption(file, offset, "a metadata record inside a segment"));
            if (m_seen_metadata && *metadata != m_state.metadata)
                return std::unexpected(
                    corruption(file, offset, "metadata differs from the earlier segments'"));
            m_state.metadata = *metadata;
            m_seen_metadata = true;
        } else if (offset == 0) {
            return std::unexpected(corruption(file, 0, "the segment does not start with metadata"));
        } else if (auto* hard_state = std::get_if<HardState>(&value)) {
            m_state.hard_state = *hard_state;
        } else if (auto* snapshot = std::get_if<WalSnapshot>(&value)) {
            m_state.snapshot = *snapshot;
            // A snapshot beyond the log (a follower that was sent one)
            // replaces the whole log.
            if (m_state.entries.empty() || m_state.entries.back().index < snapshot->index) {
                m_state.entries.clear();
                m_index.clear();
            }
        } else if (auto* entry = std::get_if<Entry>(&value)) {
            TRY(apply_entry(*entry, file, offset));
            m_index.add(entry->index, sequence, offset);
        }
        return {};
    }

    // The entries must reach back to the snapshot: otherwise segments that
    // held the ones in between are gone.
    Result<void> check_complete(std::string_view directory) const {
        const std::vector<Entry>& entries = m_state.entries;
        if (!entries.empty() && entries.front().index > m_state.snapshot.index + 1)
            return std::unexpected(
                Error::from_code(ErrorCode::DataCorrupt,
                                 cat("kv/wal: ", quoted(directory), ": the log lacks entries ",
                                     m_state.snapshot.index + 1, " to ", entries.front().index - 1,
                                     " (after its snapshot at ", m_state.snapshot.index, ")")));
        return {};
    }

private:
    Result<void> apply_entry(const Entry& entry, std::string_view file, uint64_t offset) {
        std::vector<Entry>& entries = m_state.entries;
        if (!entries.empty()) {
            Index first = entries.front().index;
            Index last = entries.back().index;
            if (entry.index > last + 1)
                return std::unexpected(
                    corruption(file, offset, cat("entry ", entry.index, " follows entry ", last)));
            if (entry.index <= last)
                entries.erase(entry.index < first
                                  ? entries.begin()
                                  : entries.begin() + ptrdiff_t(entry.index - first),
                              entries.end());
        }
        entries.push_back(entry);
        return {};
    }

    WalState& m_state;
    WalEntryIndex& m_index;
    bool m_seen_metadata = false;
};

struct SegmentName {
    std::string name;
    NumberPair numbers; // sequence, first index
};

} // namespace

Result<Wal> Wal::open(const std::string& directory, WalOptions options) {
    Storage& storage = *options.storage;
    auto listed = storage.list_directory(directory);
    if (!listed)
        return std::unexpected(std::move(listed).error().wrap("kv/wal: open log"));
    std::vector<SegmentName> segments;
    std::vector<std::string> leftovers;
    for (const std::string& name : *listed) {
        if (auto numbers = parse_numbered_file_name(name, ".wal"))
            segments.push_back({name, *numbers});
        else if (name.ends_with(kTempSuffix))
            leftovers.push_back(name);
    }
    if (segments.empty())
        return errno_error(ENOENT, cat("kv/wal: no log in ", quoted(directory)));
    std::sort(segments.begin(), segments.end(), [](const SegmentName& a, const SegmentName& b) {
        return a.numbers.first < b.numbers.first;
    });
    for (size_t i = 1; i < segments.size(); ++i)
        if (segments[i].numbers.first != segments[i - 1].numbers.first + 1)
            return std::unexpected(
                Error::from_code(ErrorCode::DataCorrupt,
                                 cat("kv/wal: ", quoted(directory), ": segment ",
                                     segments[i - 1].numbers.first + 1, " is missing (between ",
                                     segments[i - 1].name, " and ", segments[i].name, ")")));

    Wal wal;
    wal.m_storage = &storage;
    wal.m_segment_bytes = options.segment_bytes;
    wal.m_directory = directory;
    Replay replay(wal.m_recovered, wal.m_index);
    for (size_t i = 0; i < segments.size(); ++i) {
        const std::string& name = segments[i].name;
        bool last = i + 1 == segments.size();
        std::string path = cat(directory, "/", name);
        File file = TRY_CTX(storage.open(path, last ? O_RDWR : O_RDONLY, 0), "kv/wal: open log");
        uint64_t size = TRY_CTX(storage.file_size(file), "kv/wal: open log");
        std::string data = TRY_CTX(storage.pread_all(file, size, 0), "kv/wal: open log");
        SegmentScan scan = scan_segment(data, last ? SegmentPlace::Last : SegmentPlace::Earlier);
        if (scan.how == SegmentEnd::Corrupt)
            return std::unexpected(
                corruption(name, scan.end, kRecordProblemNames.name(scan.problem)));
        if (scan.records.empty())
            return std::unexpected(corruption(name, 0, "the segment does not start with metadata"));
        for (const FramedRecord& record : scan.records) {
            auto value = decode_payload(record.type, record.payload);
            if (!value)
                return std::unexpected(corruption(name, record.offset, value.error()));
            TRY(replay.apply(*value, name, segments[i].numbers.first, record.offset));
        }
        if (!last)
            continue;
        if (scan.how == SegmentEnd::Torn) {
            // Nothing in the torn write was acknowledged. Its bytes are
            // zeroed so that records written next are not followed by
            // leftovers that could later read as more records.
            TRY_CTX(storage.ftruncate(file, scan.end), "kv/wal: cut off a torn write");
            auto allocated = storage.fallocate(file, 0, std::max(options.segment_bytes, scan.end));
            if (!allocated && allocated.error().code() != EOPNOTSUPP)
                return std::unexpected(
                    std::move(allocated).error().wrap("kv/wal: cut off a torn write"));
            TRY_CTX(storage.fdatasync(file), "kv/wal: cut off a torn write");
        }
        wal.m_file = std::move(file);
        wal.m_offset = scan.end;
        // The header records are the ones before the first entry.
        wal.m_header_end = scan.end;
        for (const FramedRecord& record : scan.records)
            if (record.type == RecordType::Entry) {
                wal.m_header_end = record.offset;
                break;
            }
    }
    TRY(replay.check_complete(directory));
    for (const SegmentName& segment : segments)
        wal.m_segments.push_back({segment.numbers.first, segment.numbers.second});
    for (const std::string& name : leftovers)
        TRY_CTX(storage.unlink(cat(directory, "/", name)), "kv/wal: remove a leftover");

    const WalState& state = wal.m_recovered;
    wal.m_metadata = state.metadata;
    wal.m_hard_state = state.hard_state;
    wal.m_snapshot = state.snapshot;
    wal.m_last_index = state.entries.empty() ? state.snapshot.index : state.entries.back().index;
    wal.m_pending_last_index = wal.m_last_index;
    return wal;
}

} // namespace keel::kv
