// Fuzz target for kv/wal_record.h: the write-ahead log's segment files, read
// back after a crash or from a damaged disk. Besides "does not crash": the
// records a scan finds lie end to end from offset 0, each re-encodes to
// exactly its bytes, a payload that decodes encodes back to itself, and a
// clean end is followed by nothing but zeros.
#include "kv/wal_record.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel::kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    for (SegmentPlace place : {SegmentPlace::Earlier, SegmentPlace::Last}) {
        SegmentScan scan = scan_segment(bytes, place);
        uint64_t offset = 0;
        for (const FramedRecord& record : scan.records) {
            FUZZ_CHECK(record.offset == offset);
            std::string framed;
            append_record(framed, record.type, record.payload);
            FUZZ_CHECK(framed == bytes.substr(record.offset, record.size));
            auto value = decode_payload(record.type, record.payload);
            if (value)
                FUZZ_CHECK(encode_payload(*value) == record.payload);
            offset += record.size;
        }
        FUZZ_CHECK(scan.end == offset);
        FUZZ_CHECK(scan.end <= scan.dirty_end && scan.dirty_end <= size);
        if (scan.how == SegmentEnd::Clean)
            FUZZ_CHECK(bytes.substr(scan.end).find_first_not_of('\0') == std::string_view::npos);
        if (place == SegmentPlace::Earlier)
            FUZZ_CHECK(scan.how != SegmentEnd::Torn);
    }
    return 0;
}
