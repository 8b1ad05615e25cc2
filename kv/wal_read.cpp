// Reading entries back from the write-ahead log (see wal.h): the index of
// where each entry's record is, kept as records are written and recovered,
// and the read path that checks each record as recovery does. The Raft
// core keeps only recent entries in memory and reads older ones through
// this when a follower that lags needs them.
#include "kv/wal.h"

#include "base/endian.h"
#include "base/strings.h"
#include "kv/file_names.h"

#include <algorithm>
#include <fcntl.h>
#include <limits>

namespace keel::kv {

void WalEntryIndex::add(Index index, uint64_t sequence, uint64_t offset) {
    if (!m_runs.empty() && index <= last()) {
        // Raft's truncation: this entry and every one after it are replaced.
        while (!m_runs.empty() && m_runs.back().first >= index)
            m_runs.pop_back();
        if (!m_runs.empty())
            m_runs.back().offsets.resize(index - m_runs.back().first);
    } else if (!m_runs.empty() && index > last() + 1) {
        m_runs.clear();
    }
    // An offset past 4 GiB (a segment can grow past its size only by one
    // record) is kept as one that no record has: reading it fails cleanly.
    uint32_t stored = offset > std::numeric_limits<uint32_t>::max()
                          ? std::numeric_limits<uint32_t>::max()
                          : uint32_t(offset);
    if (m_runs.empty() || m_runs.back().sequence != sequence)
        m_runs.push_back(Run{sequence, index, {}});
    m_runs.back().offsets.push_back(stored);
}

Index WalEntryIndex::last() const {
    if (m_runs.empty())
        return 0;
    return m_runs.back().first + m_runs.back().offsets.size() - 1;
}

void WalEntryIndex::release_before(uint64_t sequence) {
    auto kept = std::find_if(m_runs.begin(), m_runs.end(),
                             [&](const Run& run) { return run.sequence >= sequence; });
    m_runs.erase(m_runs.begin(), kept);
}

std::optional<WalEntryIndex::Location> WalEntryIndex::find(Index index) const {
    auto after = std::upper_bound(m_runs.begin(), m_runs.end(), index,
                                  [](Index i, const Run& run) { return i < run.first; });
    if (after == m_runs.begin())
        return std::nullopt;
    const Run& run = *(after - 1);
    if (index - run.first >= run.offsets.size())
        return std::nullopt;
    return Location{run.sequence, run.offsets[index - run.first]};
}

Result<std::vector<Entry>> Wal::read_entries(Index low, Index high, size_t max_bytes) const {
    // Records are read ahead in blocks: a lagging follower is sent runs of
    // consecutive entries, which lie one after another in a segment.
    constexpr size_t kReadAhead = 256u << 10;
    std::vector<Entry> out;
    size_t bytes = 0;
    std::optional<uint64_t> open_sequence;
    std::string name;
    File file;
    std::string buffer;
    uint64_t buffer_offset = 0;
    auto damaged = [&](uint64_t offset, std::string_view what, Index index) {
        return std::unexpected(Error::from_code(ErrorCode::DataCorrupt,
                                                cat("kv/wal: ", name, " at offset ", offset, ": ",
                                                    what, " (reading entry ", index, ")")));
    };
    auto holds = [&](uint64_t offset, uint64_t size) {
        return offset >= buffer_offset && offset + size <= buffer_offset + buffer.size();
    };
    for (Index index = low; index <= high; ++index) {
        std::optional<WalEntryIndex::Location> where = m_index.find(index);
        if (!where) {
            if (out.empty())
                return error(cat("kv/wal: entry ", index, " is not in the log"));
            break;
        }
        if (where->sequence != open_sequence) {
            auto segment =
                std::find_if(m_segments.begin(), m_segments.end(),
                             [&](const Segment& s) { return s.sequence == where->sequence; });
            if (segment == m_segments.end())
                return error(
                    cat("kv/wal: entry ", index, "'s segment ", where->sequence, " was released"));
            name = numbered_file_name({segment->sequence, segment->first_index}, ".wal");
            file = TRY_CTX(m_storage->open(segment_path(*segment), O_RDONLY, 0),
                           "kv/wal: read entries");
            open_sequence = where->sequence;
            buffer.clear();
        }
        uint64_t at = where->offset;
        if (!holds(at, kRecordHeaderBytes)) {
            buffer = TRY_CTX(m_storage->pread_all(file, kReadAhead, at), "kv/wal: read entries");
            buffer_offset = at;
        }
        if (holds(at, kRecordHeaderBytes)) {
            uint64_t length = get_u32(buffer, at - buffer_offset);
            if (length <= kMaxRecordPayload && !holds(at, kRecordHeaderBytes + length)) {
                buffer = TRY_CTX(
                    m_storage->pread_all(
                        file, std::max<size_t>(kReadAhead, kRecordHeaderBytes + length), at),
                    "kv/wal: read entries");
                buffer_offset = at;
            }
        }
        auto record = decode_record(buffer, at - buffer_offset);
        if (!record)
            return damaged(at, kRecordProblemNames.name(record.error()), index);
        if (record->type != RecordType::Entry)
            return damaged(at, cat("a ", kRecordTypeNames.name(record->type), " record"), index);
        auto value = decode_payload(record->type, record->payload);
        if (!value)
            return damaged(at, value.error(), index);
        Entry& entry = std::get<Entry>(*value);
        if (entry.index != index)
            return damaged(at, cat("holds entry ", entry.index), index);
        bytes += entry.data.size();
        if (!out.empty() && bytes > max_bytes)
            break;
        out.push_back(std::move(entry));
    }
    return out;
}

} // namespace keel::kv
