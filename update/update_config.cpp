// The update role's settings (update_config.h): update.conf's [Update]
// keys, the kernel command line's keel.update.* words over them, and the
// reboot window's syntax and arithmetic (locksmith's, in the machine's
// local time: "23:00" is 23:00 on the wall clock of its time zone).
#include "update/update_config.h"

#include "base/go_duration.h"
#include "base/strings.h"
#include "base/unit_file.h"
#include "kv/grpc_address.h"

#include <algorithm>
#include <cctype>

namespace keel::update {

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr int64_t kDay = 24 * 60 * 60;
constexpr int64_t kWeek = 7 * kDay;
// 1970-01-01 was a Thursday: Monday 00:00 is three days before the epoch's
// day started.
constexpr int64_t kEpochWeekday = 3;

// "Thu", "thursday", "THU" -> Thursday.
std::optional<Weekday> parse_weekday(std::string_view text) {
    static constexpr std::string_view kFullNames[] = {"monday", "tuesday",  "wednesday", "thursday",
                                                      "friday", "saturday", "sunday"};
    std::string lower = ascii_lower(text);
    for (const auto& entry : kWeekdayNames.entries()) {
        if (lower == ascii_lower(entry.name) || lower == kFullNames[int(entry.value)])
            return entry.value;
    }
    return std::nullopt;
}

// "23:00" -> minutes after midnight; hours 0-23, minutes 0-59, two digits
// for the minutes.
std::optional<uint32_t> parse_clock_time(std::string_view text) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() - colon != 3)
        return std::nullopt;
    auto hours = parse_u64(text.substr(0, colon));
    auto minutes = parse_u64(text.substr(colon + 1));
    if (!hours || !minutes || *hours > 23 || *minutes > 59)
        return std::nullopt;
    return uint32_t(*hours * 60 + *minutes);
}

// The period the window repeats with.
int64_t period_of(const RebootWindow& window) {
    return window.day ? kWeek : kDay;
}

// Seconds from the window's start in the current period to `now` (0 to
// period - 1).
int64_t since_window_start(sys_seconds now, const RebootWindow& window) {
    int64_t period = period_of(window);
    int64_t start = int64_t(window.start_minute) * 60;
    int64_t origin = 0;
    if (window.day) {
        start += int64_t(*window.day) * kDay;
        origin = kEpochWeekday * kDay; // seconds since Monday 00:00
    }
    int64_t offset = (now.time_since_epoch().count() + origin - start) % period;
    return offset < 0 ? offset + period : offset;
}

// One setting and where it came from, for errors.
struct Assignment {
    std::string key;
    std::string value;
    std::string where; // "update.conf:3", "kernel command line"
};

// Version=, MinVersion=, MaxVersion= and CAFile= belong to the update
// source (update/source.h reads them from the same section): known here,
// not kept. Source=, Channel= and SignedChannel= are kept too: the kernel
// command line's words override the file's.
constexpr std::string_view kKeys[] = {
    "HealthUnits",        "HealthyFor", "HealthTimeout", "RebootStrategy", "RebootWindowStart",
    "RebootWindowLength", "LockGroup",  "KVEndpoints",   "Source",         "Channel",
    "CheckInterval",      "Version",    "MinVersion",    "MaxVersion",     "CAFile",
    "SignedChannel",
};

bool is_key(std::string_view key) {
    return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// A list value: words separated by spaces or commas.
std::vector<std::string> list_words(std::string_view value) {
    std::vector<std::string> out;
    std::string word;
    for (char c : value) {
        if (c == ',' || c == ' ' || c == '\t') {
            if (!word.empty())
                out.push_back(std::move(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty())
        out.push_back(std::move(word));
    return out;
}

Result<std::string> health_unit_name(std::string_view word) {
    for (char c : word)
        if (c == '/' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
            return error(cat(quoted(word), " is not a unit name"));
    std::string name(word);
    if (name.find('.') == std::string::npos)
        name += ".service"; // "web" is web.service, as on the command line
    if (name.front() == '.')
        return error(cat(quoted(word), " is not a unit name"));
    return name;
}

Result<void> apply(UpdateConfig& config, const Assignment& assignment,
                   std::optional<std::string>& window_start,
                   std::optional<std::string>& window_length) {
    const std::string& key = assignment.key;
    const std::string& value = assignment.value;
    if (key == "HealthUnits") {
        config.health_units.clear(); // a later assignment replaces the list
        for (const std::string& word : list_words(value))
            config.health_units.push_back(TRY(health_unit_name(word)));
    } else if (key == "HealthyFor" || key == "HealthTimeout") {
        uint64_t usec = TRY(parse_timespan_usec(value));
        if (usec == UINT64_MAX) {
            if (key == "HealthyFor")
                return error("infinity would never mark a slot good");
            config.health_timeout.reset();
        } else if (usec > uint64_t(INT64_MAX)) {
            return error("too long");
        } else {
            (key == "HealthyFor" ? config.healthy_for : config.health_timeout.emplace()) =
                std::chrono::microseconds(int64_t(usec));
        }
    } else if (key == "RebootStrategy") {
        config.strategy = TRY(parse_reboot_strategy(value));
    } else if (key == "RebootWindowStart") {
        window_start = value.empty() ? std::nullopt : std::optional<std::string>(value);
    } else if (key == "RebootWindowLength") {
        window_length = value.empty() ? std::nullopt : std::optional<std::string>(value);
    } else if (key == "LockGroup") {
        for (char c : value)
            if (c == '/' || static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
                return error(cat(quoted(value), " is not a group name (no slashes or spaces)"));
        config.lock_group = value;
    } else if (key == "KVEndpoints") {
        std::vector<std::string> endpoints = list_words(value);
        if (endpoints.empty())
            return error("no endpoint given (such as 127.0.0.1:2379)");
        for (const std::string& endpoint : endpoints)
            TRY(kv::parse_grpc_address(endpoint));
        config.kv_endpoints = std::move(endpoints);
    } else if (key == "CheckInterval") {
        uint64_t usec = TRY(parse_timespan_usec(value));
        if (usec < 1000000 || usec > uint64_t(INT64_MAX))
            return error("expected a time span of a second or more, such as 1h");
        config.check_interval =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::microseconds(usec));
    } else if (key == "Source") {
        config.source = value;
    } else if (key == "Channel") {
        config.channel = value;
    } else if (key == "SignedChannel") {
        config.signed_channel = TRY(parse_boolean(value));
    }
    return {};
}

} // namespace

Result<RebootStrategy> parse_reboot_strategy(std::string_view text) {
    if (text == "etcd-lock") // locksmith's name for the same thing
        return RebootStrategy::KvLock;
    if (auto strategy = kRebootStrategyNames.parse(text))
        return *strategy;
    return error(cat("unknown strategy ", quoted(text), " (expected ",
                     kRebootStrategyNames.names(", ", " or "), ")"));
}

std::string RebootWindow::to_string() const {
    int64_t total = length.count();
    std::string span;
    if (total >= 3600)
        span += cat(total / 3600, "h");
    if (total >= 60)
        span += cat(total / 60 % 60, "m");
    span += cat(total % 60, "s");
    uint32_t hours = start_minute / 60, minutes = start_minute % 60;
    return cat(day ? std::string(kWeekdayNames.name(*day)) : std::string("daily"), " ",
               hours < 10 ? "0" : "", hours, ":", minutes < 10 ? "0" : "", minutes, " for ", span);
}

Result<RebootWindow> parse_reboot_window(std::string_view start, std::string_view length) {
    RebootWindow window;
    std::string_view text = trim(start);
    std::string_view clock = text;
    if (size_t space = text.find(' '); space != std::string_view::npos) {
        std::string_view day = text.substr(0, space);
        clock = trim(text.substr(space + 1));
        window.day = parse_weekday(day);
        if (!window.day)
            return error(cat("RebootWindowStart=", start, ": ", quoted(day),
                             " is not a day of the week (Mon to Sun)"));
    }
    auto minute = parse_clock_time(clock);
    if (!minute)
        return error(cat("RebootWindowStart=", start,
                         ": expected a time of day such as 23:00, after a day such as Thu "
                         "for a weekly window"));
    window.start_minute = *minute;
    // Whole seconds, rounded down.
    window.length = std::chrono::duration_cast<std::chrono::seconds>(
        TRY_CTX(parse_go_duration(trim(length)), cat("RebootWindowLength=", length)));
    if (window.length.count() <= 0)
        return error(cat("RebootWindowLength=", length, ": must be at least a second"));
    if (window.length.count() > period_of(window))
        return error(cat("RebootWindowLength=", length, ": longer than the window's period (",
                         window.day ? "a week" : "a day", ")"));
    return window;
}

sys_seconds next_reboot_time(sys_seconds now, const std::optional<RebootWindow>& window,
                             seconds utc_offset) {
    if (!window)
        return now;
    int64_t offset = since_window_start(now + utc_offset, *window);
    if (offset < window->length.count())
        return now;
    return now + seconds(period_of(*window) - offset);
}

std::optional<sys_seconds>
reboot_window_end(sys_seconds now, const std::optional<RebootWindow>& window, seconds utc_offset) {
    if (!window)
        return std::nullopt;
    int64_t offset = since_window_start(now + utc_offset, *window);
    if (offset >= window->length.count())
        return std::nullopt;
    return now + seconds(window->length.count() - offset);
}

Result<UpdateConfig> parse_update_config(std::string_view text, std::string_view filename,
                                         const KernelCommandLine& cmdline) {
    std::vector<Assignment> assignments;
    UnitFile file = TRY(UnitFile::parse(text, std::string(filename)));
    for (const UnitSection& section : file.sections()) {
        if (section.name != kUpdateSection)
            return error(cat(filename, ":", section.line, ": unknown section [", section.name,
                             "] (the settings go in [Update])"));
        for (const UnitEntry& entry : section.entries) {
            if (!is_key(entry.key))
                return error(cat(filename, ":", entry.line, ": unknown key ", quoted(entry.key)));
            assignments.push_back({entry.key, entry.value, cat(filename, ":", entry.line)});
        }
    }
    for (const KernelParameter& parameter : cmdline.parameters()) {
        std::string_view word = parameter.key;
        if (!word.starts_with(kUpdateParameterPrefix))
            continue;
        std::string key(word.substr(kUpdateParameterPrefix.size()));
        if (key == "health")
            key = "HealthUnits";
        if (!is_key(key))
            return error(cat("kernel command line ", quoted(word), ": unknown setting (",
                             "keel.update.health= or keel.update.KEY= with a key of ",
                             kUpdateConfigFile, ")"));
        if (!parameter.value)
            return error(
                cat("kernel command line ", quoted(word), ": needs a value (", word, "=...)"));
        assignments.push_back({key, *parameter.value, cat("kernel command line ", word)});
    }

    UpdateConfig config;
    std::optional<std::string> window_start, window_length;
    std::string start_where, length_where;
    for (const Assignment& assignment : assignments) {
        TRY_CTX(apply(config, assignment, window_start, window_length),
                cat(assignment.where, ": ", assignment.key, "=", assignment.value));
        if (assignment.key == "RebootWindowStart")
            start_where = assignment.where;
        else if (assignment.key == "RebootWindowLength")
            length_where = assignment.where;
    }
    if (window_start && window_length)
        config.window = TRY_CTX(parse_reboot_window(*window_start, *window_length),
                                cat(start_where, ", ", length_where));
    else if (window_start)
        return error(cat(start_where, ": RebootWindowStart= needs RebootWindowLength= too"));
    else if (window_length)
        return error(cat(length_where, ": RebootWindowLength= needs RebootWindowStart= too"));
    if (config.health_timeout && *config.health_timeout < config.healthy_for)
        return error(cat("HealthTimeout= is shorter than HealthyFor=: no slot could ever pass "
                         "the health gate"));
    return config;
}

bool update_role_requested(const KernelCommandLine& cmdline) {
    for (const KernelParameter& parameter : cmdline.parameters())
        if (parameter.key.starts_with(kUpdateParameterPrefix))
            return true;
    return false;
}

} // namespace keel::update
