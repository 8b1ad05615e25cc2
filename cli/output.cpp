// Output, failures and exit statuses, colours and times (see output.h).
#include "cli/output.h"

#include "base/strings.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iterator>
#include <unistd.h>

namespace keel::cli {

namespace {

// The SGR parameter of each colour, and the one that resets them.
constexpr int ansi_code(Color color) {
    switch (color) {
    case Color::Red:
        return 31;
    case Color::Green:
        return 32;
    case Color::Yellow:
        return 33;
    }
    return 0;
}
constexpr int kAnsiReset = 0;

constexpr uint64_t kUsecPerMsec = 1000;
constexpr uint64_t kUsecPerSecond = 1'000'000;
constexpr uint64_t kNsecPerUsec = 1000;
constexpr uint64_t kSecondsPerMinute = 60;
constexpr uint64_t kSecondsPerHour = 3600;
constexpr uint64_t kSecondsPerDay = 86400;

std::string format_time(uint64_t realtime_usec, const char* format) {
    time_t seconds = time_t(realtime_usec / kUsecPerSecond);
    struct tm local {};
    ::localtime_r(&seconds, &local);
    char buffer[64];
    size_t n = std::strftime(buffer, sizeof buffer, format, &local);
    return std::string(buffer, n);
}

} // namespace

std::unexpected<Failure> usage_error(std::string message) {
    return std::unexpected(Failure(Error::message(std::move(message)), kExitUsage));
}

void print(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

void print_error(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
}

void report(const Error& error) {
    print_error(cat("keel: ", error.to_string(), "\n"));
}

int finish(const CommandResult& result) {
    if (result)
        return *result;
    report(result.error().error);
    return result.error().status;
}

std::string pad(std::string_view text, size_t width) {
    std::string out(text);
    if (out.size() < width)
        out.append(width - out.size(), ' ');
    return out;
}

std::string cell(std::string_view text, size_t width) {
    return pad(text, width) + " ";
}

std::string human_size(uint64_t bytes, SizeUnits units) {
    static constexpr const char* kDecimal[] = {"B", "kB", "MB", "GB", "TB"};
    static constexpr const char* kBinary[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    const char* const* names = units == SizeUnits::Decimal ? kDecimal : kBinary;
    double step = units == SizeUnits::Decimal ? 1000 : 1024;
    double value = double(bytes);
    size_t unit = 0;
    while (value >= step && unit + 1 < std::size(kDecimal)) {
        value /= step;
        ++unit;
    }
    char text[32];
    const char* format = unit == 0 ? "%.0f%s" : units == SizeUnits::Decimal ? "%.3g%s" : "%.4g%s";
    std::snprintf(text, sizeof text, format, value, names[unit]);
    return text;
}

Coloring terminal_coloring() {
    const char* term = std::getenv("TERM");
    bool takes_color = ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR") &&
                       !(term && std::string_view(term) == "dumb");
    return takes_color ? Coloring::On : Coloring::Off;
}

std::string colored(std::string_view text, Color color, Coloring coloring) {
    if (coloring == Coloring::Off)
        return std::string(text);
    return cat("\x1b[", ansi_code(color), "m", text, "\x1b[", kAnsiReset, "m");
}

std::string short_time(uint64_t realtime_usec) {
    return format_time(realtime_usec, "%b %d %H:%M:%S");
}

std::string long_time(uint64_t realtime_usec) {
    return format_time(realtime_usec, "%a %Y-%m-%d %H:%M:%S %Z");
}

std::string time_span(uint64_t usec) {
    uint64_t seconds = usec / kUsecPerSecond;
    if (seconds < 1)
        return cat(usec / kUsecPerMsec, "ms");
    if (seconds < kSecondsPerMinute)
        return cat(seconds, "s");
    if (seconds < kSecondsPerHour)
        return seconds % kSecondsPerMinute
                   ? cat(seconds / kSecondsPerMinute, "min ", seconds % kSecondsPerMinute, "s")
                   : cat(seconds / kSecondsPerMinute, "min");
    if (seconds < kSecondsPerDay)
        return cat(seconds / kSecondsPerHour, "h ", seconds / kSecondsPerMinute % kSecondsPerMinute,
                   "min");
    uint64_t days = seconds / kSecondsPerDay;
    return cat(days, days == 1 ? " day" : " days");
}

uint64_t realtime_usec() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return uint64_t(now.tv_sec) * kUsecPerSecond + uint64_t(now.tv_nsec) / kNsecPerUsec;
}

} // namespace keel::cli
