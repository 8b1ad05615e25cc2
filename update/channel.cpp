// update/channel: the channel document's parser, versions, RFC 3339 times,
// the rollout delay and the choice of a release (update/channel.h). No I/O.
#include "update/channel.h"

#include "base/digest.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/unit_file.h"

#include <algorithm>
#include <limits>
#include <set>

namespace keel::update {

namespace {

constexpr size_t kMaxPathBytes = 1024;

// Parts beyond the shorter version count as 0.
std::strong_ordering compare_parts(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
    size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        uint64_t x = i < a.size() ? a[i] : 0;
        uint64_t y = i < b.size() ? b[i] : 0;
        if (x != y)
            return x <=> y;
    }
    return std::strong_ordering::equal;
}

// A path relative to the source's base URL, as a URL path may carry it
// without percent-encoding.
Result<void> check_relative_path(std::string_view path) {
    if (path.empty())
        return error("empty");
    if (path.size() > kMaxPathBytes)
        return error(cat("longer than ", kMaxPathBytes, " bytes"));
    if (path.front() == '/')
        return error(cat(quoted(path), " is absolute; paths are relative to the source's URL"));
    for (char c : path) {
        bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_ascii_digit(c) ||
                       c == '.' || c == '_' || c == '~' || c == '+' || c == '-' || c == '/';
        if (!allowed)
            return error(cat(quoted(path), ": only letters, digits and . _ ~ + - / may appear"));
    }
    for (std::string_view segment : split(path, '/')) {
        if (segment.empty())
            return error(cat(quoted(path), " has an empty segment"));
        if (segment == "." || segment == "..")
            return error(cat(quoted(path), " has a `", segment, "` segment"));
    }
    return {};
}

Result<std::string> relative_path(const JsonCursor& field) {
    std::string path = TRY(field.string());
    if (auto checked = check_relative_path(path); !checked)
        return std::unexpected(std::move(checked).error().wrap(field.path()));
    return path;
}

Result<void> refuse_unknown_members(const JsonObjectCursor& object,
                                    std::initializer_list<std::string_view> known) {
    for (const auto& [key, member] : object.members())
        if (std::find(known.begin(), known.end(), key) == known.end())
            return error(cat(member.path(), ": unknown field"));
    return {};
}

Result<uint64_t> window_seconds(const JsonCursor& field) {
    uint64_t seconds = 0;
    if (field.get() && field.get()->kind() == JsonValue::Kind::String) {
        std::string text = TRY(field.string());
        Result<uint64_t> usec = parse_timespan_usec(text);
        if (!usec)
            return std::unexpected(std::move(usec).error().wrap(field.path()));
        if (*usec == std::numeric_limits<uint64_t>::max())
            return error(cat(field.path(), ": a window cannot be infinite"));
        seconds = *usec / 1000000;
    } else if (field.get() && field.get()->kind() == JsonValue::Kind::Number) {
        seconds = TRY(field.integer<uint64_t>());
    } else if (field.missing()) {
        return error(cat(field.path(), ": missing"));
    } else {
        return error(cat(field.path(), ": expected seconds or a time span such as \"6h\""));
    }
    if (seconds > kMaxRolloutWindowSeconds)
        return error(cat(field.path(), ": ", seconds, " seconds is longer than a year"));
    return seconds;
}

Result<RolloutWave> parse_rollout(const JsonCursor& field) {
    JsonObjectCursor object = TRY(field.object());
    TRY(refuse_unknown_members(object, {"start", "window"}));
    RolloutWave wave;
    std::string start = TRY(object["start"].string());
    Result<int64_t> parsed = parse_rfc3339_utc(start);
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(object["start"].path()));
    wave.start = *parsed;
    wave.window_seconds = TRY(window_seconds(object["window"]));
    return wave;
}

Result<Release> parse_release(const JsonCursor& field) {
    JsonObjectCursor object = TRY(field.object());
    TRY(refuse_unknown_members(object, {"version", "manifest", "signature", "image", "rollout"}));
    Release release;
    std::string version = TRY(object["version"].string());
    Result<Version> parsed = parse_version(version);
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap(object["version"].path()));
    release.version = std::move(*parsed);
    release.manifest = TRY(relative_path(object["manifest"]));
    release.signature = TRY(relative_path(object["signature"]));
    release.image = TRY(relative_path(object["image"]));
    JsonCursor rollout = object["rollout"];
    if (!rollout.missing())
        release.rollout = TRY(parse_rollout(rollout));
    return release;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    auto year_of_era = static_cast<unsigned>(year - era * 400);
    unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

bool is_leap(int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int64_t year, unsigned month) {
    static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// The number in text[at, at + digits), all of them digits.
std::optional<unsigned> digits_at(std::string_view text, size_t at, size_t digits) {
    if (at + digits > text.size())
        return std::nullopt;
    unsigned value = 0;
    for (size_t i = at; i < at + digits; ++i) {
        if (!is_ascii_digit(text[i]))
            return std::nullopt;
        value = value * 10 + unsigned(text[i] - '0');
    }
    return value;
}

} // namespace

std::strong_ordering operator<=>(const Version& a, const Version& b) {
    return compare_parts(a.parts, b.parts);
}

bool operator==(const Version& a, const Version& b) {
    return compare_parts(a.parts, b.parts) == std::strong_ordering::equal;
}

Result<Version> parse_version(std::string_view text) {
    auto invalid = [&](std::string_view why) {
        return error(cat("version ", quoted(text.substr(0, 64)), ": ", why));
    };
    if (text.empty())
        return invalid("empty");
    Version version;
    for (std::string_view part : split(text, '.')) {
        if (part.empty())
            return invalid("expected dotted numbers such as 1.2.3");
        if (part.size() > kMaxVersionDigits)
            return invalid(cat("a part has more than ", kMaxVersionDigits, " digits"));
        if (!std::all_of(part.begin(), part.end(), is_ascii_digit))
            return invalid("expected dotted numbers such as 1.2.3");
        if (version.parts.size() == kMaxVersionParts)
            return invalid(cat("more than ", kMaxVersionParts, " parts"));
        version.parts.push_back(*parse_u64(part));
    }
    version.text = std::string(text);
    return version;
}

Result<Channel> parse_channel(std::string_view text) {
    if (text.size() > kMaxChannelBytes)
        return error(
            cat("channel document of ", text.size(), " bytes: the most is ", kMaxChannelBytes));
    JsonValue document = TRY(parse_json(text));
    JsonCursor root(document);
    JsonObjectCursor object = TRY(root.object());
    TRY(refuse_unknown_members(object, {"channel", "releases", "expires"}));
    Channel channel;
    channel.name = TRY(object["channel"].string());
    if (channel.name.empty())
        return error("channel: empty");
    if (JsonCursor expires = object["expires"]; !expires.missing())
        channel.expires =
            TRY_CTX(parse_rfc3339_utc(TRY(expires.string())), std::string(expires.path()));
    if (object["releases"].missing())
        return error("releases: missing");
    std::set<std::vector<uint64_t>> seen;
    for (const JsonCursor& field : TRY(object["releases"].array())) {
        Release release = TRY(parse_release(field));
        std::vector<uint64_t> key = release.version.parts;
        while (key.size() > 1 && key.back() == 0)
            key.pop_back();
        if (!seen.insert(key).second)
            return error(
                cat(field.path(), ".version: ", release.version.text, " is listed more than once"));
        channel.releases.push_back(std::move(release));
    }
    return channel;
}

Result<int64_t> parse_rfc3339_utc(std::string_view text) {
    auto invalid = [&](std::string_view why) {
        return error(cat("time ", quoted(text.substr(0, 64)), ": ", why));
    };
    // YYYY-MM-DDTHH:MM:SS[.fraction]Z
    constexpr std::string_view kShape = "expected RFC 3339 UTC such as 2026-12-06T18:00:00Z";
    auto year = digits_at(text, 0, 4);
    auto month = digits_at(text, 5, 2);
    auto day = digits_at(text, 8, 2);
    auto hour = digits_at(text, 11, 2);
    auto minute = digits_at(text, 14, 2);
    auto second = digits_at(text, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' ||
        text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':')
        return invalid(kShape);
    size_t at = 19;
    if (at < text.size() && text[at] == '.') {
        size_t start = ++at;
        while (at < text.size() && is_ascii_digit(text[at]))
            ++at;
        if (at == start)
            return invalid("expected digits after `.`");
    }
    if (at == text.size())
        return invalid("no time zone: end it with Z (UTC)");
    if (text.substr(at) != "Z")
        return invalid("only UTC (Z) is accepted as the time zone");
    if (*month < 1 || *month > 12)
        return invalid("no such month");
    if (*day < 1 || *day > days_in_month(*year, *month))
        return invalid("no such day");
    if (*hour > 23 || *minute > 59 || *second > 59)
        return invalid("no such time of day");
    return days_from_civil(*year, *month, *day) * 86400 + int64_t(*hour) * 3600 +
           int64_t(*minute) * 60 + int64_t(*second);
}

std::string format_rfc3339_utc(int64_t seconds) {
    // Howard Hinnant's civil_from_days.
    int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    int64_t in_day = seconds - days * 86400;
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    auto day_of_era = static_cast<unsigned>(days - era * 146097);
    unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t year = static_cast<int64_t>(year_of_era) + era * 400;
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    unsigned mp = (5 * day_of_year + 2) / 153;
    unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    year += month <= 2;
    auto two = [](int64_t n) { return cat(n < 10 ? "0" : "", n); };
    std::string year_text = cat(year);
    if (year >= 0 && year < 1000)
        year_text.insert(0, 4 - year_text.size(), '0');
    return cat(year_text, "-", two(month), "-", two(day), "T", two(in_day / 3600), ":",
               two(in_day / 60 % 60), ":", two(in_day % 60), "Z");
}

uint64_t rollout_delay_seconds(std::string_view machine_id, const Version& version,
                               uint64_t window_seconds) {
    if (window_seconds == 0)
        return 0;
    // The version's canonical digits, so "1.2" and "1.2.0" wait alike.
    std::vector<uint64_t> parts = version.parts;
    while (parts.size() > 1 && parts.back() == 0)
        parts.pop_back();
    std::string version_text;
    for (uint64_t part : parts)
        version_text += cat(part, ".");
    std::string hex = sha256_hex(cat("keel-rollout\n", trim(machine_id), "\n", version_text));
    uint64_t value = 0;
    for (size_t i = 0; i < 16; ++i)
        value = value << 4 | uint64_t(hex_digit_value(hex[i]));
    return value % window_seconds;
}

Decision choose_update(const Channel& channel, const Version& running, const VersionPolicy& policy,
                       std::string_view machine_id, int64_t now) {
    Decision decision;
    const Release* chosen = nullptr;
    if (policy.pinned) {
        for (const Release& release : channel.releases)
            if (release.version == *policy.pinned)
                chosen = &release;
        if (running == *policy.pinned) {
            decision.reason = cat("pinned to ", policy.pinned->text, ", which is running");
            return decision;
        }
        if (!chosen) {
            decision.verdict = Verdict::PinnedNotOffered;
            decision.reason = cat("pinned to ", policy.pinned->text, ", which channel ",
                                  quoted(channel.name), " does not offer");
            return decision;
        }
        decision.reason = cat("pinned to ", policy.pinned->text);
    } else {
        const Release* above_maximum = nullptr;
        for (const Release& release : channel.releases) {
            if (release.version <= running)
                continue;
            if (policy.minimum && release.version < *policy.minimum)
                continue;
            if (policy.maximum && release.version > *policy.maximum) {
                if (!above_maximum || release.version > above_maximum->version)
                    above_maximum = &release;
                continue;
            }
            if (!chosen || release.version > chosen->version)
                chosen = &release;
        }
        if (!chosen) {
            if (above_maximum)
                decision.reason =
                    cat(above_maximum->version.text, " is above MaxVersion=", policy.maximum->text);
            return decision;
        }
    }
    decision.release = *chosen;
    decision.verdict = Verdict::Update;
    if (chosen->rollout) {
        const RolloutWave& wave = *chosen->rollout;
        uint64_t delay = rollout_delay_seconds(machine_id, chosen->version, wave.window_seconds);
        int64_t eligible_at = wave.start + static_cast<int64_t>(delay);
        if (now < eligible_at) {
            decision.verdict = Verdict::Waiting;
            decision.eligible_at = eligible_at;
        }
    }
    return decision;
}

} // namespace keel::update
