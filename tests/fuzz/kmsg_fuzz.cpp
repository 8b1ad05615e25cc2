// Fuzz target for init/kmsg.h: records read from /dev/kmsg, which any root
// process can write to. Besides "does not crash": a record that parses
// formats back into one that parses to the same fields, its level is a
// syslog level, its message is one line, and keel's tag is only ever
// stripped from a prefix of the message.
#include "init/kmsg.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto record = keel::parse_kmsg_record(text);
    if (!record) {
        FUZZ_CHECK(record.error().to_string().starts_with("kmsg record: "));
        return 0;
    }
    FUZZ_CHECK(record->level >= 0 && record->level <= 7);
    FUZZ_CHECK(record->facility >= 0 && record->facility <= 255);
    FUZZ_CHECK(record->message.find('\n') == std::string::npos);
    FUZZ_CHECK(record->message.size() < size);

    auto again = keel::parse_kmsg_record(keel::format_kmsg_record(*record));
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->level == record->level && again->facility == record->facility);
    FUZZ_CHECK(again->sequence == record->sequence);
    FUZZ_CHECK(again->timestamp_usec == record->timestamp_usec);
    FUZZ_CHECK(again->message == record->message);

    std::string_view stripped;
    if (keel::strip_keel_tag(*record, stripped)) {
        FUZZ_CHECK(record->facility != 0);
        FUZZ_CHECK(std::string_view(record->message).ends_with(stripped));
        FUZZ_CHECK(record->message.starts_with("keel"));
    }
    return 0;
}
