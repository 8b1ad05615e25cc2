// Fuzz target for base/unit_file.h: the unit file parser, word splitting,
// booleans and time spans on arbitrary bytes.
//
// Besides "does not crash", it checks what callers rely on: parsed names and
// values are trimmed and well formed, errors name the file, and
// split_words() reads back words that were quoted for it.
#include "base/strings.h"
#include "base/unit_file.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>

using namespace keel;

namespace {

constexpr std::string_view kFilename = "fuzz.service";

bool has_space_or_control(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f)
            return true;
    }
    return false;
}

// Quotes a word so that split_words() must return it unchanged.
std::string quote_word(std::string_view word) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : word) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 15];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

void check_split_words(std::string_view value) {
    Result<std::vector<std::string>> words = split_words(value);
    if (!words) {
        FUZZ_CHECK(!words.error().to_string().empty());
        return;
    }
    std::string requoted;
    for (const std::string& word : *words) {
        if (word.find('\0') != std::string::npos)
            return; // a raw NUL has no escape; the unit parser rejects it anyway
        requoted += quote_word(word);
        requoted += ' ';
    }
    Result<std::vector<std::string>> again = split_words(requoted);
    FUZZ_CHECK(again);
    FUZZ_CHECK(*again == *words);
}

void check_timespan(std::string_view value) {
    Result<uint64_t> span = parse_timespan_usec(value);
    if (span && *span == std::numeric_limits<uint64_t>::max())
        FUZZ_CHECK(trim(value) == "infinity");
    if (!span)
        FUZZ_CHECK(starts_with(span.error().to_string(), "invalid time span `"));
}

void check_value(std::string_view value) {
    check_split_words(value);
    check_timespan(value);
    (void)parse_boolean(value);
}

void check_unit_file(std::string_view input) {
    Result<UnitFile> file = UnitFile::parse(input, std::string(kFilename));
    if (!file) {
        FUZZ_CHECK(starts_with(file.error().to_string(), std::string(kFilename) + ":"));
        return;
    }
    std::set<std::string> names;
    for (const UnitSection& section : file->sections()) {
        FUZZ_CHECK(!section.name.empty());
        FUZZ_CHECK(section.line >= 1);
        FUZZ_CHECK(trim(section.name) == section.name);
        FUZZ_CHECK(section.name.find_first_of("[]") == std::string::npos);
        FUZZ_CHECK(names.insert(section.name).second); // same-named sections are merged
        for (const UnitEntry& entry : section.entries) {
            FUZZ_CHECK(!entry.key.empty());
            FUZZ_CHECK(!has_space_or_control(entry.key));
            FUZZ_CHECK(entry.value.find('\0') == std::string::npos);
            FUZZ_CHECK(trim(entry.value) == entry.value);
            FUZZ_CHECK(entry.line > section.line);
            check_value(entry.value);
        }
        for (auto it = section.entries.rbegin(); it != section.entries.rend(); ++it) {
            FUZZ_CHECK(file->get(section.name, it->key).has_value());
        }
        if (!section.entries.empty()) {
            const UnitEntry& last = section.entries.back();
            FUZZ_CHECK(file->get(section.name, last.key) == last.value);
            std::vector<std::string> all = file->get_all(section.name, last.key);
            FUZZ_CHECK(last.value.empty() ? all.empty() : all.back() == last.value);
        }
    }
    // A file merged with itself keeps its sections and doubles their entries.
    UnitFile doubled = *file;
    doubled.merge(*file);
    FUZZ_CHECK(doubled.sections().size() == file->sections().size());
    for (size_t i = 0; i < doubled.sections().size(); ++i)
        FUZZ_CHECK(doubled.sections()[i].entries.size() == 2 * file->sections()[i].entries.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    check_unit_file(input);
    check_value(input);
    return 0;
}
