// The journal's text line format (see journal_format.h): formatting,
// escaping and the strict parser. Calendar arithmetic is done here (Howard
// Hinnant's days/civil algorithms) rather than through gmtime/timegm, so
// both directions are exact and independent of the C library and TZ.
#include "init/journal_format.h"

#include "base/strings.h"

namespace keel {

namespace {

constexpr uint64_t kUsecPerSecond = 1'000'000;
constexpr uint64_t kSecondsPerDay = 86'400;
constexpr char kHex[] = "0123456789abcdef";

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    const int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto year_of_era = unsigned(year - era * 400);
    const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + int64_t(day_of_era) - 719468;
}

struct Civil {
    int64_t year;
    unsigned month;
    unsigned day;
};

Civil civil_from_days(int64_t days) {
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto day_of_era = unsigned(days - era * 146097);
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const unsigned mp = (5 * day_of_year + 2) / 153;
    Civil civil;
    civil.day = day_of_year - (153 * mp + 2) / 5 + 1;
    civil.month = mp < 10 ? mp + 3 : mp - 9;
    civil.year = int64_t(year_of_era) + era * 400 + (civil.month <= 2);
    return civil;
}

// `value` as decimal, zero-padded to `width` digits.
void append_padded(std::string& out, uint64_t value, size_t width) {
    std::string digits = cat(value);
    if (digits.size() < width)
        out.append(width - digits.size(), '0');
    out += digits;
}

enum class Field { Message, Word };

// Appends `text` escaped: control bytes, DEL and `\` always; spaces too in a
// word field (UNIT, STREAM), which is written `-` when empty.
void append_escaped(std::string& out, std::string_view text, Field field) {
    if (field == Field::Word && text.empty()) {
        out += '-';
        return;
    }
    if (field == Field::Word && text == "-") {
        out += "\\x2d";
        return;
    }
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (byte < 0x20 || byte == 0x7f || (field == Field::Word && c == ' ')) {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += c;
        }
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

std::unexpected<Error> malformed_journal_line(std::string_view why) {
    return error(cat("journal line: ", why));
}

// Undoes append_escaped; `what` names the field for errors.
Result<std::string> unescape(std::string_view text, Field field, std::string_view what) {
    if (field == Field::Word && text == "-")
        return std::string();
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f)
            return malformed_journal_line(cat(what, " has an unescaped control character"));
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '\\') {
            out += '\\';
            ++i;
            continue;
        }
        if (i + 3 >= text.size() && (i + 1 >= text.size() || text[i + 1] == 'x'))
            return malformed_journal_line(cat(what, " ends inside an escape"));
        if (text[i + 1] != 'x' || hex_value(text[i + 2]) < 0 || hex_value(text[i + 3]) < 0)
            return malformed_journal_line(
                cat(what, " has an escape that is not `\\\\` or `\\xNN` (lowercase)"));
        out += char(hex_value(text[i + 2]) * 16 + hex_value(text[i + 3]));
        i += 3;
    }
    if (field == Field::Word && out.empty())
        return malformed_journal_line(cat(what, " is empty (an empty one is written `-`)"));
    return out;
}

// Exactly `count` decimal digits at `text`, consumed.
std::optional<uint64_t> take_digits(std::string_view& text, size_t count) {
    if (text.size() < count)
        return std::nullopt;
    for (size_t i = 0; i < count; ++i)
        if (text[i] < '0' || text[i] > '9')
            return std::nullopt;
    auto value = parse_u64(text.substr(0, count));
    text.remove_prefix(count);
    return value;
}

bool take_char(std::string_view& text, char c) {
    if (text.empty() || text[0] != c)
        return false;
    text.remove_prefix(1);
    return true;
}

// "2024-05-01T12:34:56.123456Z"; years 1970 to 999999.
std::optional<uint64_t> parse_utc_timestamp(std::string_view text) {
    size_t dash = text.find('-');
    if (dash < 4 || dash > 6 || dash == std::string_view::npos)
        return std::nullopt;
    auto year = take_digits(text, dash);
    if (!year || *year < 1970 || !take_char(text, '-'))
        return std::nullopt;
    auto month = take_digits(text, 2);
    if (!month || !take_char(text, '-'))
        return std::nullopt;
    auto day = take_digits(text, 2);
    if (!day || !take_char(text, 'T'))
        return std::nullopt;
    auto hour = take_digits(text, 2);
    if (!hour || !take_char(text, ':'))
        return std::nullopt;
    auto minute = take_digits(text, 2);
    if (!minute || !take_char(text, ':'))
        return std::nullopt;
    auto second = take_digits(text, 2);
    if (!second || !take_char(text, '.'))
        return std::nullopt;
    auto micro = take_digits(text, 6);
    if (!micro || !take_char(text, 'Z') || !text.empty())
        return std::nullopt;
    if (*month < 1 || *month > 12 || *day < 1 || *hour > 23 || *minute > 59 || *second > 59)
        return std::nullopt;
    int64_t days = days_from_civil(int64_t(*year), unsigned(*month), unsigned(*day));
    // The day must exist in that month (2023-02-29 does not).
    Civil check = civil_from_days(days);
    if (check.month != *month || check.day != *day)
        return std::nullopt;
    unsigned __int128 usec = (unsigned __int128)uint64_t(days) * kSecondsPerDay * kUsecPerSecond +
                             ((*hour * 60 + *minute) * 60 + *second) * kUsecPerSecond + *micro;
    if (usec > UINT64_MAX)
        return std::nullopt;
    return uint64_t(usec);
}

// "12.345678": seconds and exactly six digits of microseconds.
std::optional<uint64_t> parse_boottime(std::string_view text) {
    size_t dot = text.find('.');
    if (dot == 0 || dot == std::string_view::npos || text.size() - dot - 1 != 6)
        return std::nullopt;
    auto seconds = parse_u64(text.substr(0, dot));
    std::string_view fraction = text.substr(dot + 1);
    auto micro = take_digits(fraction, 6);
    if (!seconds || !micro)
        return std::nullopt;
    unsigned __int128 usec = (unsigned __int128)*seconds * kUsecPerSecond + *micro;
    if (usec > UINT64_MAX)
        return std::nullopt;
    return uint64_t(usec);
}

} // namespace

std::string format_utc_timestamp(uint64_t realtime_usec) {
    uint64_t seconds = realtime_usec / kUsecPerSecond;
    uint64_t seconds_of_day = seconds % kSecondsPerDay;
    Civil civil = civil_from_days(int64_t(seconds / kSecondsPerDay));
    std::string out;
    append_padded(out, uint64_t(civil.year), 4);
    out += '-';
    append_padded(out, civil.month, 2);
    out += '-';
    append_padded(out, civil.day, 2);
    out += 'T';
    append_padded(out, seconds_of_day / 3600, 2);
    out += ':';
    append_padded(out, seconds_of_day / 60 % 60, 2);
    out += ':';
    append_padded(out, seconds_of_day % 60, 2);
    out += '.';
    append_padded(out, realtime_usec % kUsecPerSecond, 6);
    out += 'Z';
    return out;
}

std::string format_journal_line(const LogEntry& entry) {
    std::string out = format_utc_timestamp(entry.realtime_usec);
    out += ' ';
    out += cat(entry.boottime_usec / kUsecPerSecond, ".");
    append_padded(out, entry.boottime_usec % kUsecPerSecond, 6);
    out += ' ';
    append_escaped(out, entry.unit, Field::Word);
    out += ' ';
    append_escaped(out, entry.stream, Field::Word);
    out += ' ';
    out += char('0' + (entry.priority >= 0 && entry.priority <= 7 ? entry.priority : 6));
    out += ' ';
    append_escaped(out, entry.message, Field::Message);
    out += '\n';
    return out;
}

Result<LogEntry> parse_journal_line(std::string_view line) {
    if (!line.empty() && line.back() == '\n')
        line.remove_suffix(1);
    std::string_view fields[6];
    std::string_view rest = line;
    for (size_t i = 0; i < 5; ++i) {
        size_t space = rest.find(' ');
        if (space == std::string_view::npos)
            return malformed_journal_line(cat("has ", i + 1, " fields, expected 6"));
        fields[i] = rest.substr(0, space);
        rest.remove_prefix(space + 1);
    }
    fields[5] = rest;

    LogEntry entry;
    auto realtime = parse_utc_timestamp(fields[0]);
    if (!realtime)
        return malformed_journal_line(
            cat("time ", quoted(fields[0]), " is not like 2024-05-01T12:34:56.123456Z"));
    auto boottime = parse_boottime(fields[1]);
    if (!boottime)
        return malformed_journal_line(
            cat("boot time ", quoted(fields[1]), " is not like 12.345678"));
    entry.realtime_usec = *realtime;
    entry.boottime_usec = *boottime;
    entry.unit = TRY(unescape(fields[2], Field::Word, "unit"));
    entry.stream = TRY(unescape(fields[3], Field::Word, "stream"));
    if (fields[4].size() != 1 || fields[4][0] < '0' || fields[4][0] > '7')
        return malformed_journal_line(
            cat("priority ", quoted(fields[4]), " is not a digit from 0 to 7"));
    entry.priority = fields[4][0] - '0';
    entry.message = TRY(unescape(fields[5], Field::Message, "message"));
    // One spelling per entry: anything the formatter would write differently
    // (an escaped letter, "\x2d" inside a word, uppercase hex) was not
    // written by keel.
    std::string canonical = format_journal_line(entry);
    canonical.pop_back();
    if (canonical != line)
        return malformed_journal_line("not in the journal's canonical form");
    return entry;
}

} // namespace keel
