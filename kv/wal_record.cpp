// The write-ahead log's records (see wal_record.h): framing, payloads, and
// the scan of a segment that classifies how its records end.
#include "kv/wal_record.h"

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/strings.h"

#include <algorithm>
#include <cstring>

namespace keel::kv {

namespace {

// Disks write whole sectors: a write that did not reach the disk leaves
// whole sectors of the preallocated zeros.
constexpr uint64_t kSectorBytes = 512;

bool all_zeros(std::string_view data) {
    return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

// The checksum of a record: its type byte, then its payload.
uint32_t record_checksum(RecordType type, std::string_view payload) {
    char type_byte = char(type);
    return crc32c(payload, crc32c(std::string_view(&type_byte, 1)));
}

RecordType type_of(const RecordValue& value) {
    struct Visitor {
        RecordType operator()(const WalMetadata&) const { return RecordType::Metadata; }
        RecordType operator()(const Entry&) const { return RecordType::Entry; }
        RecordType operator()(const HardState&) const { return RecordType::HardState; }
        RecordType operator()(const WalSnapshot&) const { return RecordType::Snapshot; }
    };
    return std::visit(Visitor{}, value);
}

std::string wrong_size(RecordType type, size_t size, std::string_view expected) {
    return cat(kRecordTypeNames.name(type), " payload of ", size, " bytes, expected ", expected);
}

// After a damaged record at `at` in the last segment: true when the write
// that made it evidently did not finish: the record's own extent holds a
// whole sector of zeros, or nothing valid starts after it. `budget` bounds
// the bytes checksummed while searching, so that crafted input cannot make
// the search quadratic; when it runs out the answer is "not torn", which
// refuses the log rather than dropping what may have been acknowledged.
bool looks_torn(std::string_view data, uint64_t at) {
    uint64_t size = data.size();
    uint64_t search_from = at + 1;
    if (size - at >= kRecordHeaderBytes && !all_zeros(data.substr(at, kRecordHeaderBytes))) {
        uint64_t length = get_u32(data, at);
        if (length <= kMaxRecordPayload && at + kRecordHeaderBytes + length <= size) {
            uint64_t extent_end = at + kRecordHeaderBytes + length;
            for (uint64_t sector = (at + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
                 sector + kSectorBytes <= extent_end; sector += kSectorBytes)
                if (all_zeros(data.substr(sector, kSectorBytes)))
                    return true;
            search_from = extent_end;
        }
    }
    uint64_t budget = 4 * size + (1u << 20);
    for (uint64_t offset = search_from; offset + kRecordHeaderBytes <= size; ++offset) {
        if (kRecordTypeNames.name(RecordType(uint8_t(data[offset + 4]))) == "?")
            continue;
        uint64_t length = get_u32(data, offset);
        if (length > kMaxRecordPayload || offset + kRecordHeaderBytes + length > size)
            continue;
        if (length > budget)
            return false;
        budget -= length;
        if (decode_record(data, offset))
            return false;
    }
    return true;
}

} // namespace

void append_record(std::string& out, RecordType type, std::string_view payload) {
    put_u32(out, uint32_t(payload.size()));
    out += char(type);
    put_u32(out, record_checksum(type, payload));
    out += payload;
}

std::string encode_payload(const RecordValue& value) {
    std::string out;
    if (auto* metadata = std::get_if<WalMetadata>(&value)) {
        put_u32(out, kWalFormatVersion);
        put_u64(out, metadata->cluster_id);
        put_u64(out, metadata->member_id);
    } else if (auto* entry = std::get_if<Entry>(&value)) {
        put_u64(out, entry->term);
        put_u64(out, entry->index);
        out += char(entry->type);
        out += entry->data;
    } else if (auto* hard_state = std::get_if<HardState>(&value)) {
        put_u64(out, hard_state->term);
        put_u64(out, hard_state->vote);
        put_u64(out, hard_state->commit);
    } else if (auto* snapshot = std::get_if<WalSnapshot>(&value)) {
        put_u64(out, snapshot->index);
        put_u64(out, snapshot->term);
    }
    return out;
}

std::string encode_record(const RecordValue& value) {
    std::string out;
    append_record(out, type_of(value), encode_payload(value));
    return out;
}

std::expected<RecordValue, std::string> decode_payload(RecordType type, std::string_view payload) {
    switch (type) {
    case RecordType::Metadata: {
        if (payload.size() != 20)
            return std::unexpected(wrong_size(type, payload.size(), "20"));
        uint32_t version = get_u32(payload, 0);
        if (version != kWalFormatVersion)
            return std::unexpected(cat("format version ", version, " (this keel reads version ",
                                       kWalFormatVersion, ")"));
        return WalMetadata{.cluster_id = get_u64(payload, 4), .member_id = get_u64(payload, 12)};
    }
    case RecordType::Entry: {
        if (payload.size() < 17)
            return std::unexpected(wrong_size(type, payload.size(), "at least 17"));
        uint8_t entry_type = uint8_t(payload[16]);
        if (entry_type > uint8_t(EntryType::ConfChange))
            return std::unexpected(cat("unknown entry type ", entry_type));
        Entry entry;
        entry.term = get_u64(payload, 0);
        entry.index = get_u64(payload, 8);
        entry.type = EntryType(entry_type);
        entry.data = std::string(payload.substr(17));
        if (entry.index == 0)
            return std::unexpected(std::string("entry with index 0"));
        return entry;
    }
    case RecordType::HardState:
        if (payload.size() != 24)
            return std::unexpected(wrong_size(type, payload.size(), "24"));
        return HardState{.term = get_u64(payload, 0),
                         .vote = get_u64(payload, 8),
                         .commit = get_u64(payload, 16)};
    case RecordType::Snapshot:
        if (payload.size() != 16)
            return std::unexpected(wrong_size(type, payload.size(), "16"));
        return WalSnapshot{.index = get_u64(payload, 0), .term = get_u64(payload, 8)};
    }
    return std::unexpected(cat("unknown record type ", int(type)));
}

std::expected<FramedRecord, RecordProblem> decode_record(std::string_view data, uint64_t offset) {
    uint64_t remaining = offset < data.size() ? data.size() - offset : 0;
    if (remaining < kRecordHeaderBytes)
        return std::unexpected(all_zeros(data.substr(std::min<uint64_t>(offset, data.size())))
                                   ? RecordProblem::Zeros
                                   : RecordProblem::CutShort);
    if (all_zeros(data.substr(offset, kRecordHeaderBytes)))
        return std::unexpected(RecordProblem::Zeros);
    uint32_t length = get_u32(data, offset);
    auto type = RecordType(uint8_t(data[offset + 4]));
    if (length > kMaxRecordPayload)
        return std::unexpected(RecordProblem::BadLength);
    if (kRecordTypeNames.name(type) == "?")
        return std::unexpected(RecordProblem::BadType);
    if (kRecordHeaderBytes + length > remaining)
        return std::unexpected(RecordProblem::CutShort);
    std::string_view payload = data.substr(offset + kRecordHeaderBytes, length);
    if (get_u32(data, offset + 5) != record_checksum(type, payload))
        return std::unexpected(RecordProblem::ChecksumMismatch);
    return FramedRecord{
        .offset = offset, .type = type, .size = kRecordHeaderBytes + length, .payload = payload};
}

SegmentScan scan_segment(std::string_view data, SegmentPlace place) {
    SegmentScan scan;
    uint64_t offset = 0;
    for (;;) {
        auto record = decode_record(data, offset);
        if (!record) {
            scan.problem = record.error();
            break;
        }
        scan.records.push_back(*record);
        offset += record->size;
    }
    scan.end = offset;
    size_t last_nonzero = data.find_last_not_of('\0');
    scan.dirty_end = last_nonzero == std::string_view::npos
                         ? offset
                         : std::max<uint64_t>(offset, last_nonzero + 1);
    if (scan.dirty_end == scan.end)
        scan.how = SegmentEnd::Clean;
    else if (place == SegmentPlace::Last && looks_torn(data, offset))
        scan.how = SegmentEnd::Torn;
    else
        scan.how = SegmentEnd::Corrupt;
    if (scan.how == SegmentEnd::Clean)
        scan.problem = RecordProblem::Zeros;
    return scan;
}

} // namespace keel::kv
