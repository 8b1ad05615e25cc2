// The write-ahead log's writing side (see wal.h): creating a log, buffering
// appends, the group-committed sync that cuts segments when they fill up,
// releasing segments a snapshot covers, and the metadata check. Opening and
// recovery are in wal_recovery.cpp.
#include "kv/wal.h"

#include "base/crash_point.h"
#include "base/strings.h"
#include "kv/file_names.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>

namespace keel::kv {

namespace {

std::string hex(uint64_t value) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), kDigits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return out;
}

} // namespace

std::span<const Entry> entries_after(const WalState& state, Index index) {
    auto first = std::upper_bound(state.entries.begin(), state.entries.end(), index,
                                  [](Index i, const Entry& entry) { return i < entry.index; });
    return {first, state.entries.end()};
}

std::string Wal::segment_path(const Segment& segment) const {
    return cat(m_directory, "/",
               numbered_file_name({segment.sequence, segment.first_index}, ".wal"));
}

Result<bool> Wal::exists(const std::string& directory, Storage& storage) {
    auto names = storage.list_directory(directory);
    if (!names && names.error().code() == ENOENT)
        return false;
    if (!names)
        return std::unexpected(std::move(names).error().wrap("kv/wal"));
    return std::any_of(names->begin(), names->end(),
                       [](const std::string& name) { return name.ends_with(".wal"); });
}

Result<Wal> Wal::create(const std::string& directory, const WalMetadata& metadata,
                        WalOptions options) {
    Storage& storage = *options.storage;
    TRY_CTX(storage.make_directories(directory, 0700), "kv/wal: create log");
    std::vector<std::string> names =
        TRY_CTX(storage.list_directory(directory), "kv/wal: create log");
    for (const std::string& name : names)
        if (!name.ends_with(kTempSuffix))
            return errno_error(EEXIST, cat("kv/wal: create log in ", quoted(directory), ": ",
                                           quoted(name), " is there already"));
    for (const std::string& name : names)
        TRY_CTX(storage.unlink(cat(directory, "/", name)), "kv/wal: create log");
    // The directory's own entry must be durable too, or a crash could lose
    // the whole log after its first sync.
    TRY_CTX(storage.sync_directory(parent_directory(directory)), "kv/wal: create log");

    Wal wal;
    wal.m_storage = &storage;
    wal.m_segment_bytes = options.segment_bytes;
    wal.m_directory = directory;
    wal.m_metadata = metadata;
    wal.m_recovered.metadata = metadata;
    TRY_CTX(wal.start_segment({.sequence = 1, .first_index = 1}), "kv/wal: create log");
    return wal;
}

Result<void> Wal::start_segment(const Segment& segment) {
    std::string path = segment_path(segment);
    std::string temp_path = cat(path, kTempSuffix);
    {
        File temp = TRY(m_storage->open(temp_path, O_RDWR | O_CREAT | O_TRUNC, 0600));
        // Preallocating makes later fdatasyncs cheaper (no size change) and
        // leaves zeros where a write never arrived, which is how recovery
        // tells a torn tail. A filesystem that cannot do it still works.
        auto allocated = m_storage->fallocate(temp, 0, m_segment_bytes);
        if (!allocated && allocated.error().code() != EOPNOTSUPP)
            return allocated;
        // Every segment starts with whose log it is and the state so far,
        // so that it stands alone once older segments are released.
        std::string header = encode_record(m_metadata);
        if (m_hard_state != HardState{})
            header += encode_record(m_hard_state);
        if (m_snapshot.index != 0)
            header += encode_record(m_snapshot);
        TRY(m_storage->pwrite_all(temp, header, 0));
        TRY(m_storage->fdatasync(temp));
        m_header_end = header.size();
    }
    TRY(m_storage->rename(temp_path, path));
    TRY(m_storage->sync_directory(m_directory));
    m_file = TRY(m_storage->open(path, O_RDWR, 0));
    m_offset = m_header_end;
    m_segments.push_back(segment);
    return {};
}

Result<void> Wal::check_usable() const {
    if (m_broken)
        return error(cat("kv/wal: the log takes no more writes after an earlier failure (",
                         *m_broken, "); reopen it"));
    return {};
}

void Wal::buffer(RecordType type, const RecordValue& value) {
    PendingRecord record;
    record.type = type;
    if (auto* entry = std::get_if<Entry>(&value)) {
        record.entry_index = entry->index;
        m_pending_last_index = entry->index;
    } else if (auto* hard_state = std::get_if<HardState>(&value)) {
        record.hard_state = *hard_state;
    } else if (auto* snapshot = std::get_if<WalSnapshot>(&value)) {
        record.snapshot = *snapshot;
        m_pending_last_index = std::max(m_pending_last_index, snapshot->index);
    }
    append_record(m_pending, type, encode_payload(value));
    record.end = m_pending.size();
    m_pending_records.push_back(record);
}

Result<void> Wal::append(std::span<const Entry> entries,
                         const std::optional<HardState>& hard_state) {
    TRY(check_usable());
    Index last = m_pending_last_index;
    for (const Entry& entry : entries) {
        if (entry.index == 0)
            return error("kv/wal: append: an entry with index 0");
        // A gap would make the log unreadable: recovery refuses one.
        if (entry.index > last + 1)
            return error(cat("kv/wal: append: entry ", entry.index, " would follow entry ", last));
        last = entry.index;
        if (entry.data.size() + 17 > kMaxRecordPayload)
            return error(cat("kv/wal: append: entry ", entry.index, " of ", entry.data.size(),
                             " bytes is larger than a record may be"));
    }
    for (const Entry& entry : entries)
        buffer(RecordType::Entry, entry);
    if (hard_state)
        buffer(RecordType::HardState, *hard_state);
    return {};
}

Result<void> Wal::append_snapshot(const WalSnapshot& snapshot) {
    TRY(check_usable());
    buffer(RecordType::Snapshot, snapshot);
    return {};
}

// Writes the pending records into the current segment as far as they fit,
// then (after making that segment durable) into new ones.
Result<void> Wal::write_pending(WalFlush flush) {
    size_t next = 0;
    size_t begin = 0;
    while (next < m_pending_records.size()) {
        uint64_t room = m_segment_bytes > m_offset ? m_segment_bytes - m_offset : 0;
        size_t last = next;
        // A record too large for any segment goes alone into a fresh one.
        bool fresh = m_offset == m_header_end;
        while (last < m_pending_records.size() &&
               (m_pending_records[last].end - begin <= room || (fresh && last == next)))
            ++last;
        if (last > next) {
            size_t end = m_pending_records[last - 1].end;
            TRY(m_storage->pwrite_all(
                m_file, std::string_view(m_pending).substr(begin, end - begin), m_offset));
            uint64_t written_at = m_offset;
            m_offset += end - begin;
            for (size_t i = next; i < last; ++i) {
                const PendingRecord& record = m_pending_records[i];
                size_t record_begin = i == 0 ? 0 : m_pending_records[i - 1].end;
                if (record.type == RecordType::Entry) {
                    m_last_index = record.entry_index;
                    m_index.add(record.entry_index, m_segments.back().sequence,
                                written_at + (record_begin - begin));
                } else if (record.type == RecordType::HardState) {
                    m_hard_state = record.hard_state;
                } else if (record.type == RecordType::Snapshot) {
                    m_snapshot = record.snapshot;
                    m_last_index = std::max(m_last_index, record.snapshot.index);
                    // As recovery reads it: a marker beyond the log starts
                    // it over.
                    if (record.snapshot.index > m_index.last())
                        m_index.clear();
                }
            }
            begin = end;
            next = last;
        }
        if (next < m_pending_records.size()) {
            // The new segment must not hold records while this one may still
            // lose some: recovery treats only the last segment's tail as torn.
            TRY(m_storage->fdatasync(m_file));
            TRY(start_segment(
                {.sequence = m_segments.back().sequence + 1, .first_index = m_last_index + 1}));
        }
    }
    if (flush == WalFlush::Write) {
        m_unsynced = true;
        return {};
    }
    crash_point("kv.wal.before_sync");
    TRY(m_storage->fdatasync(m_file));
    m_unsynced = false;
    crash_point("kv.wal.after_sync");
    return {};
}

Result<void> Wal::flush_pending(WalFlush flush) {
    TRY(check_usable());
    if (m_pending_records.empty() && (flush == WalFlush::Write || !m_unsynced))
        return {};
    auto written = write_pending(flush);
    m_pending.clear();
    m_pending_records.clear();
    if (!written) {
        // After a failed write or fdatasync the kernel may have dropped the
        // dirty pages and forgotten the error: retrying could report
        // success for data that is gone. Only reopening (recovery) is safe.
        m_broken = written.error().to_string();
        return std::unexpected(std::move(written).error().wrap(
            flush == WalFlush::Sync ? "kv/wal: sync" : "kv/wal: write"));
    }
    return {};
}

Result<void> Wal::sync() {
    return flush_pending(WalFlush::Sync);
}

Result<void> Wal::write() {
    return flush_pending(WalFlush::Write);
}

Result<void> Wal::release(Index index) {
    TRY(check_usable());
    index = std::min(index, m_snapshot.index);
    bool removed = false;
    // Oldest first, so that a crash in between leaves a contiguous run.
    while (m_segments.size() > 1 && m_segments[1].first_index - 1 <= index) {
        TRY_CTX(m_storage->unlink(segment_path(m_segments.front())), "kv/wal: release");
        m_segments.erase(m_segments.begin());
        removed = true;
    }
    if (removed) {
        m_index.release_before(m_segments.front().sequence);
        TRY_CTX(m_storage->sync_directory(m_directory), "kv/wal: release");
    }
    return {};
}

Result<void> Wal::check_metadata(const WalMetadata& expected) const {
    if (m_metadata == expected)
        return {};
    return std::unexpected(
        Error::from_code(ErrorCode::ForeignDataDir,
                         cat("kv/wal: data dir ", quoted(m_directory), " belongs to another ",
                             m_metadata.cluster_id != expected.cluster_id ? "cluster" : "member",
                             " (cluster ", hex(m_metadata.cluster_id), ", member ",
                             hex(m_metadata.member_id), "; expected cluster ",
                             hex(expected.cluster_id), ", member ", hex(expected.member_id), ")")));
}

} // namespace keel::kv
