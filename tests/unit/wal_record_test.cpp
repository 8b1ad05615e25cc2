// Tests for kv/wal_record.h: records framed and decoded,
// payloads that are malformed, and how a segment scan classifies its end
// (clean zeros, a torn tail, corruption).
#include "kv/wal_record.h"

#include "base/crc32c.h"
#include "tests/unit/kv_storage_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::make_entry;

TEST_CASE("every kind of record decodes back to what was encoded") {
    std::vector<RecordValue> values{
        WalMetadata{.cluster_id = 1, .member_id = 2}, make_entry(5, 3, 10),
        HardState{.term = 3, .vote = 1, .commit = 4}, WalSnapshot{.index = 9, .term = 2}};
    for (const RecordValue& value : values) {
        std::string bytes = encode_record(value);
        auto record = decode_record(bytes, 0);
        REQUIRE(record);
        CHECK(record->size == bytes.size());
        CHECK(decode_payload(record->type, record->payload) == value);
    }
}

TEST_CASE("malformed payloads are refused with what is wrong") {
    CHECK(decode_payload(RecordType::Entry, "short") ==
          std::unexpected(std::string("entry payload of 5 bytes, expected at least 17")));
    CHECK(decode_payload(RecordType::HardState, std::string(23, '\0')) ==
          std::unexpected(std::string("hard state payload of 23 bytes, expected 24")));
    std::string metadata = encode_payload(WalMetadata{});
    metadata[0] = 2;
    CHECK(decode_payload(RecordType::Metadata, metadata) ==
          std::unexpected(std::string("format version 2 (this keel reads version 1)")));
    std::string entry = encode_payload(make_entry(1, 1));
    entry[16] = 7;
    CHECK(decode_payload(RecordType::Entry, entry) ==
          std::unexpected(std::string("unknown entry type 7")));
}

TEST_CASE("a segment scan tells zeros, a torn tail and corruption apart") {
    std::string records = encode_record(WalMetadata{}) + encode_record(make_entry(1, 1)) +
                          encode_record(make_entry(2, 1));
    std::string segment = records + std::string(4096, '\0');

    SegmentScan clean = scan_segment(segment, SegmentPlace::Last);
    CHECK(clean.how == SegmentEnd::Clean);
    CHECK(clean.records.size() == 3);
    CHECK(clean.end == records.size());

    std::string torn = segment;
    std::string third = encode_record(make_entry(3, 1));
    torn.replace(records.size(), third.size() / 2, third.substr(0, third.size() / 2));
    SegmentScan torn_scan = scan_segment(torn, SegmentPlace::Last);
    CHECK(torn_scan.how == SegmentEnd::Torn);
    CHECK(torn_scan.end == records.size());
    CHECK(torn_scan.dirty_end > torn_scan.end);
    CHECK(torn_scan.dirty_end <= records.size() + third.size() / 2);
    CHECK(scan_segment(torn, SegmentPlace::Earlier).how == SegmentEnd::Corrupt);

    std::string damaged = segment;
    size_t second = encode_record(WalMetadata{}).size();
    damaged[second + kRecordHeaderBytes] ^= 1;
    SegmentScan damaged_scan = scan_segment(damaged, SegmentPlace::Last);
    CHECK(damaged_scan.how == SegmentEnd::Corrupt);
    CHECK(damaged_scan.end == second);
    CHECK(damaged_scan.problem == RecordProblem::ChecksumMismatch);

    // A record whose payload holds a whole sector of zeros was cut off by a
    // crash, even though a record from the same write made it to the disk.
    std::string big = encode_record(make_entry(3, 1, 2000));
    std::string reordered = segment + std::string(4096, '\0');
    reordered.replace(records.size(), big.size(), big);
    std::fill(reordered.begin() + ptrdiff_t(records.size() + 600),
              reordered.begin() + ptrdiff_t(records.size() + 1800), '\0');
    reordered.replace(records.size() + big.size(), third.size(), encode_record(make_entry(4, 1)));
    CHECK(scan_segment(reordered, SegmentPlace::Last).how == SegmentEnd::Torn);
}
