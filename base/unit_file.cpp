// Unit file parsing: systemd's INI dialect, its word splitting, booleans and
// time spans.
//
// Where systemd merely warns and ignores (an assignment outside a section, a
// line without `=`) keel refuses the file: a unit that half-applies is worse
// than one that does not load, and the error names the file and line.
// Continuation lines follow systemd exactly: the trailing backslash becomes a
// space, the next line is appended as is, and comment lines inside a
// continuation are skipped.
#include "base/unit_file.h"

#include "base/strings.h"
#include "base/sys.h"

#include <array>
#include <limits>

namespace keel {

namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// Input echoed in an error message: shortened, with control bytes made visible.
std::string excerpt(std::string_view text) {
    constexpr size_t kMax = 60;
    bool shortened = text.size() > kMax;
    if (shortened) {
        size_t cut = kMax;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80)
            --cut; // do not split a UTF-8 sequence
        text = text.substr(0, cut);
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (is_control(byte)) {
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 15];
        } else {
            out += c;
        }
    }
    if (shortened)
        out += "...";
    return quoted(out);
}

// Parses one file into sections, line by line.
class UnitFileParser {
public:
    UnitFileParser(std::vector<UnitSection>& sections, const std::string& filename)
        : m_sections(sections), m_filename(filename) {}

    Result<void> parse(std::string_view text) {
        if (starts_with(text, "\xEF\xBB\xBF"))
            text.remove_prefix(3); // a UTF-8 byte order mark, as systemd skips it
        int number = 0;
        std::string pending; // a logical line being assembled from continuations
        int pending_line = 0;
        bool continuing = false;
        while (!text.empty()) {
            size_t end = text.find('\n');
            std::string_view raw = text.substr(0, end);
            text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
            ++number;
            if (raw.find('\0') != std::string_view::npos)
                return fail(number, "contains a NUL byte");
            if (!raw.empty() && raw.back() == '\r')
                raw.remove_suffix(1);
            std::string_view stripped = trim(raw);
            if (!stripped.empty() && (stripped.front() == '#' || stripped.front() == ';'))
                continue;
            if (!continuing) {
                pending.clear();
                pending_line = number;
            }
            if (ends_in_continuation(raw)) {
                raw.remove_suffix(1);
                pending += raw;
                pending += ' ';
                continuing = true;
                continue;
            }
            pending += raw;
            continuing = false;
            TRY(parse_line(pending, pending_line));
        }
        // systemd accepts a continuation that runs into the end of the file.
        if (continuing)
            TRY(parse_line(pending, pending_line));
        return {};
    }

private:
    // An odd number of trailing backslashes: the last one is not escaped.
    static bool ends_in_continuation(std::string_view line) {
        size_t backslashes = 0;
        while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\')
            ++backslashes;
        return backslashes % 2 == 1;
    }

    std::unexpected<Error> fail(int line, std::string_view what) const {
        return error(cat(m_filename, ":", line, ": ", what));
    }

    Result<void> parse_line(std::string_view line, int number) {
        line = trim(line);
        if (line.empty())
            return {};
        if (line.front() == '[')
            return parse_section_header(line, number);

        size_t equals = line.find('=');
        if (equals == std::string_view::npos)
            return fail(number, cat("expected Key=Value, got ", excerpt(line)));
        std::string_view key = trim(line.substr(0, equals));
        std::string_view value = trim(line.substr(equals + 1));
        if (key.empty())
            return fail(number, cat("missing key before `=` in ", excerpt(line)));
        for (char c : key) {
            if (is_ascii_space(c) || is_control(static_cast<unsigned char>(c)))
                return fail(number, cat("invalid key ", excerpt(key),
                                        ": keys contain no whitespace or control characters"));
        }
        if (m_current < 0)
            return fail(number,
                        cat("assignment to ", excerpt(key), " before any [Section] header"));
        m_sections[size_t(m_current)].entries.push_back(
            UnitEntry{std::string(key), std::string(value), number});
        return {};
    }

    Result<void> parse_section_header(std::string_view line, int number) {
        auto invalid = [&](std::string_view why) {
            return fail(number, cat("invalid section header ", excerpt(line), ": ", why));
        };
        if (line.back() != ']') {
            if (line.find(']') != std::string_view::npos)
                return invalid("text after `]`");
            return invalid("missing `]`");
        }
        std::string_view name = line.substr(1, line.size() - 2);
        if (name.empty())
            return invalid("empty name");
        if (name.find_first_of("[]") != std::string_view::npos)
            return invalid("`[` or `]` inside the name");
        if (is_ascii_space(name.front()) || is_ascii_space(name.back()))
            return invalid("whitespace around the name");
        for (char c : name) {
            if (is_control(static_cast<unsigned char>(c)))
                return invalid("control character in the name");
        }
        m_current = -1;
        for (size_t i = 0; i < m_sections.size(); ++i) {
            if (m_sections[i].name == name)
                m_current = int(i); // a repeated section continues the first one
        }
        if (m_current < 0) {
            m_sections.push_back(UnitSection{std::string(name), number, {}});
            m_current = int(m_sections.size() - 1);
        }
        return {};
    }

    std::vector<UnitSection>& m_sections;
    const std::string& m_filename;
    int m_current = -1; // index into m_sections, -1 before the first header
};

} // namespace

Result<UnitFile> UnitFile::parse(std::string_view text, std::string filename) {
    UnitFile file;
    file.m_filename = std::move(filename);
    UnitFileParser parser(file.m_sections, file.m_filename);
    TRY(parser.parse(text));
    return file;
}

Result<UnitFile> UnitFile::load(const std::string& path) {
    std::string text = TRY(read_file(path));
    return parse(text, path);
}

const UnitSection* UnitFile::section(std::string_view name) const {
    for (const UnitSection& section : m_sections) {
        if (section.name == name)
            return &section;
    }
    return nullptr;
}

std::optional<std::string> UnitFile::get(std::string_view section_name,
                                         std::string_view key) const {
    const UnitSection* found = section(section_name);
    if (!found)
        return std::nullopt;
    for (auto it = found->entries.rbegin(); it != found->entries.rend(); ++it) {
        if (it->key == key)
            return it->value;
    }
    return std::nullopt;
}

std::vector<std::string> UnitFile::get_all(std::string_view section_name,
                                           std::string_view key) const {
    std::vector<std::string> values;
    const UnitSection* found = section(section_name);
    if (!found)
        return values;
    for (const UnitEntry& entry : found->entries) {
        if (entry.key != key)
            continue;
        if (entry.value.empty())
            values.clear();
        else
            values.push_back(entry.value);
    }
    return values;
}

void UnitFile::merge(const UnitFile& other) {
    for (const UnitSection& incoming : other.m_sections) {
        UnitSection* existing = nullptr;
        for (UnitSection& section : m_sections) {
            if (section.name == incoming.name)
                existing = &section;
        }
        if (existing)
            existing->entries.insert(existing->entries.end(), incoming.entries.begin(),
                                     incoming.entries.end());
        else
            m_sections.push_back(incoming);
    }
}

namespace {

// Decodes the escape starting at value[at] (a backslash); returns the byte and
// advances `at` past the escape.
Result<char> decode_escape(std::string_view value, size_t& at) {
    if (at + 1 >= value.size())
        return error(cat("trailing backslash in ", excerpt(value)));
    char c = value[at + 1];
    at += 2;
    switch (c) {
    case 'a':
        return '\a';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    case 's':
        return ' ';
    case ' ':
    case '\\':
    case '"':
    case '\'':
        return c;
    case 'x': {
        int high = at < value.size() ? hex_digit_value(value[at]) : -1;
        int low = at + 1 < value.size() ? hex_digit_value(value[at + 1]) : -1;
        if (high < 0 || low < 0)
            return error(cat("invalid escape ", excerpt(value.substr(at - 2, 4)), " in ",
                             excerpt(value), ": expected two hex digits after `\\x`"));
        at += 2;
        if (high == 0 && low == 0)
            return error(cat("escape `\\x00` in ", excerpt(value), " would make a NUL byte"));
        return char(high * 16 + low);
    }
    default:
        return error(
            cat("unknown escape ", excerpt(value.substr(at - 2, 2)), " in ", excerpt(value)));
    }
}

} // namespace

Result<std::vector<std::string>> split_words(std::string_view value) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false; // distinguishes an empty quoted word from no word
    char quote = 0;
    size_t at = 0;
    while (at < value.size()) {
        char c = value[at];
        if (c == '\\') {
            word += TRY(decode_escape(value, at));
            in_word = true;
            continue;
        }
        ++at;
        if (quote) {
            if (c == quote)
                quote = 0;
            else
                word += c;
        } else if (is_ascii_space(c)) {
            if (in_word)
                words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (c == '"' || c == '\'') {
            quote = c;
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote)
        return error(
            cat("unterminated ", quote == '"' ? "double" : "single", " quote in ", excerpt(value)));
    if (in_word)
        words.push_back(std::move(word));
    return words;
}

Result<bool> parse_boolean(std::string_view value) {
    auto equals = [&](std::string_view expected) {
        if (value.size() != expected.size())
            return false;
        for (size_t i = 0; i < value.size(); ++i) {
            char c = value[i];
            if (c >= 'A' && c <= 'Z')
                c = char(c - 'A' + 'a');
            if (c != expected[i])
                return false;
        }
        return true;
    };
    for (std::string_view yes : {"1", "yes", "y", "true", "t", "on"}) {
        if (equals(yes))
            return true;
    }
    for (std::string_view no : {"0", "no", "n", "false", "f", "off"}) {
        if (equals(no))
            return false;
    }
    return error(
        cat("invalid boolean ", excerpt(value), " (expected yes/no, true/false, on/off or 1/0)"));
}

namespace {

struct TimeUnit {
    std::string_view name;
    uint64_t usec;
};

constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kHour = 60 * kMinute;
constexpr uint64_t kDay = 24 * kHour;

// systemd's names; a month and a year are its averages (30.44 and 365.25 days).
constexpr std::array<TimeUnit, 29> kTimeUnits{{
    {"us", 1},
    {"usec", 1},
    {"\xCE\xBCs", 1},
    {"ms", 1000},
    {"msec", 1000},
    {"s", kSecond},
    {"sec", kSecond},
    {"second", kSecond},
    {"seconds", kSecond},
    {"m", kMinute},
    {"min", kMinute},
    {"minute", kMinute},
    {"minutes", kMinute},
    {"h", kHour},
    {"hr", kHour},
    {"hour", kHour},
    {"hours", kHour},
    {"d", kDay},
    {"day", kDay},
    {"days", kDay},
    {"w", 7 * kDay},
    {"week", 7 * kDay},
    {"weeks", 7 * kDay},
    {"M", 2'629'800 * kSecond},
    {"month", 2'629'800 * kSecond},
    {"months", 2'629'800 * kSecond},
    {"y", 31'557'600 * kSecond},
    {"year", 31'557'600 * kSecond},
    {"years", 31'557'600 * kSecond},
}};

// Letters of a unit name; the bytes >= 0x80 admit "μs".
bool is_unit_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           static_cast<unsigned char>(c) >= 0x80;
}

} // namespace

Result<uint64_t> parse_timespan_usec(std::string_view value) {
    std::string_view text = trim(value);
    auto invalid = [&](std::string_view why) {
        return error(cat("invalid time span ", excerpt(value), ": ", why));
    };
    if (text.empty())
        return invalid("empty");
    if (text == "infinity")
        return std::numeric_limits<uint64_t>::max();

    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    uint64_t total = 0;
    size_t at = 0;
    auto skip_space = [&] {
        while (at < text.size() && is_ascii_space(text[at]))
            ++at;
    };
    while (skip_space(), at < text.size()) {
        size_t start = at;
        uint64_t whole = 0;
        bool overflow = false;
        while (at < text.size() && is_ascii_digit(text[at])) {
            uint64_t digit = uint64_t(text[at] - '0');
            if (whole > (kMax - digit) / 10)
                overflow = true;
            else
                whole = whole * 10 + digit;
            ++at;
        }
        bool has_whole = at > start;
        std::string_view fraction;
        if (at < text.size() && text[at] == '.') {
            size_t fraction_start = ++at;
            while (at < text.size() && is_ascii_digit(text[at]))
                ++at;
            fraction = text.substr(fraction_start, at - fraction_start);
            if (fraction.empty())
                return invalid(
                    cat("expected digits after `.` in ", excerpt(text.substr(start, at - start))));
        } else if (!has_whole) {
            return invalid(cat("expected a number at ", excerpt(text.substr(start))));
        }
        skip_space();
        size_t unit_start = at;
        while (at < text.size() && is_unit_char(text[at]))
            ++at;
        std::string_view unit_name = text.substr(unit_start, at - unit_start);
        uint64_t unit = kSecond;
        if (!unit_name.empty()) {
            const TimeUnit* found = nullptr;
            for (const TimeUnit& candidate : kTimeUnits) {
                if (candidate.name == unit_name)
                    found = &candidate;
            }
            if (!found)
                return invalid(cat("unknown unit ", excerpt(unit_name)));
            unit = found->usec;
        }
        if (overflow || (whole != 0 && whole > kMax / unit))
            return invalid("too large");
        uint64_t part = whole * unit;
        uint64_t fraction_part = 0; // less than one unit, so it cannot overflow
        uint64_t scale = unit;
        for (char digit : fraction) {
            scale /= 10;
            fraction_part += uint64_t(digit - '0') * scale;
        }
        if (fraction_part > kMax - part || part + fraction_part > kMax - total)
            return invalid("too large");
        total += part + fraction_part;
    }
    // UINT64_MAX means infinity; a finite span may not reach it.
    if (total == kMax)
        return invalid("too large");
    return total;
}

} // namespace keel
