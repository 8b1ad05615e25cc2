// Fuzz target for init/journal_format.h: lines of the on-disk journal, read
// back by tools that view it (the files are writable by more than keel).
// Besides "does not crash": a line that parses is exactly what the formatter
// writes for the entry it parses to, and every entry formats into one line
// that parses back to itself.
#include "init/journal_format.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto entry = keel::parse_journal_line(text);
    if (entry) {
        std::string expected(text);
        if (!expected.ends_with('\n'))
            expected += '\n';
        FUZZ_CHECK(keel::format_journal_line(*entry) == expected);
        FUZZ_CHECK(entry->priority >= 0 && entry->priority <= 7);
    } else {
        FUZZ_CHECK(entry.error().to_string().starts_with("journal line: "));
    }

    // The input as the fields of an entry: the formatter must always produce
    // one parseable line that round-trips.
    keel::LogEntry made;
    size_t third = size / 3;
    made.unit = std::string(text.substr(0, third));
    made.stream = std::string(text.substr(third, third));
    made.message = std::string(text.substr(2 * third));
    if (size >= 16) {
        uint64_t a = 0, b = 0;
        for (size_t i = 0; i < 8; ++i) {
            a = a << 8 | data[i];
            b = b << 8 | data[8 + i];
        }
        made.realtime_usec = a;
        made.boottime_usec = b;
        made.priority = data[0] & 7;
    }
    std::string line = keel::format_journal_line(made);
    FUZZ_CHECK(line.find('\n') == line.size() - 1);
    auto back = keel::parse_journal_line(line);
    FUZZ_CHECK(back);
    FUZZ_CHECK(*back == made);
    return 0;
}
