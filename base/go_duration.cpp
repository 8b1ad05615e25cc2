// Go durations in integers: "1.5h" is exactly 5400 s, and nothing is lost
// to a double's 53 bits near the int64 nanosecond limit (about 292 years).
#include "base/go_duration.h"

#include "base/strings.h"

#include <cstdint>

namespace keel {

namespace {

struct GoDurationUnit {
    std::string_view name;
    uint64_t nanoseconds;
};

constexpr GoDurationUnit kGoDurationUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xc2\xb5s", 1'000}, // µs, MICRO SIGN
    {"\xce\xbcs", 1'000}, // μs, GREEK SMALL LETTER MU
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

constexpr std::string_view kUnitList = "ns, us, ms, s, m, h";
constexpr unsigned __int128 kMaxNanoseconds = INT64_MAX;

} // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
    auto refuse = [&](std::string_view why) {
        return error(cat("invalid duration ", quoted(text), ": ", why));
    };
    if (text == "0")
        return std::chrono::nanoseconds(0);
    if (text.empty())
        return refuse("empty");
    unsigned __int128 total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        // The number: its whole part and its fraction's digits, kept
        // apart until the unit is known.
        size_t at = 0;
        unsigned __int128 whole = 0;
        for (; at < rest.size() && is_ascii_digit(rest[at]); ++at)
            if (whole <= kMaxNanoseconds) // past it, "too long" below anyway
                whole = whole * 10 + unsigned(rest[at] - '0');
        size_t whole_digits = at;
        std::string_view fraction;
        if (at < rest.size() && rest[at] == '.') {
            size_t begin = ++at;
            while (at < rest.size() && is_ascii_digit(rest[at]))
                ++at;
            fraction = rest.substr(begin, at - begin);
        }
        if (whole_digits == 0 && fraction.empty())
            return refuse(cat("expected a number at ", quoted(rest)));
        std::string_view number = rest.substr(0, at);
        rest.remove_prefix(at);
        // The unit: everything up to the next number, as Go reads it.
        size_t length = 0;
        while (length < rest.size() && !is_ascii_digit(rest[length]) && rest[length] != '.')
            ++length;
        std::string_view name = rest.substr(0, length);
        if (name.empty())
            return refuse(cat(quoted(number), " has no unit (", kUnitList, ")"));
        const GoDurationUnit* unit = nullptr;
        for (const GoDurationUnit& candidate : kGoDurationUnits)
            if (candidate.name == name)
                unit = &candidate;
        if (!unit)
            return refuse(cat("unknown unit ", quoted(name), " (", kUnitList, ")"));
        rest.remove_prefix(unit->name.size());
        total += whole * unit->nanoseconds;
        // Each fraction digit is worth a tenth of the one before; digits
        // below a nanosecond add nothing.
        uint64_t worth = unit->nanoseconds;
        for (char digit : fraction) {
            worth /= 10;
            total += uint64_t(digit - '0') * worth;
        }
        if (total > kMaxNanoseconds)
            return refuse("too long");
    }
    return std::chrono::nanoseconds(int64_t(total));
}

} // namespace keel
