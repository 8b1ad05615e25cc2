// Output helpers (see output.h).
#include "cli/output.h"

#include "base/strings.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unistd.h>

namespace keel {

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                out += cat("\\u00", hex[(c >> 4) & 15], hex[c & 15]);
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

bool use_color() {
    const char* term = std::getenv("TERM");
    return ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR") &&
           !(term && std::string_view(term) == "dumb");
}

std::string colored(std::string_view text, int color, bool enabled) {
    if (!enabled)
        return std::string(text);
    return cat("\x1b[", color, "m", text, "\x1b[0m");
}

namespace {
std::string format_time(uint64_t realtime_usec, const char* format) {
    time_t seconds = time_t(realtime_usec / 1'000'000);
    struct tm local {};
    ::localtime_r(&seconds, &local);
    char buffer[64];
    size_t n = std::strftime(buffer, sizeof buffer, format, &local);
    return std::string(buffer, n);
}
} // namespace

std::string short_time(uint64_t realtime_usec) {
    return format_time(realtime_usec, "%b %d %H:%M:%S");
}

std::string long_time(uint64_t realtime_usec) {
    return format_time(realtime_usec, "%a %Y-%m-%d %H:%M:%S %Z");
}

std::string time_span(uint64_t usec) {
    uint64_t seconds = usec / 1'000'000;
    if (seconds < 1)
        return cat(usec / 1000, "ms");
    if (seconds < 60)
        return cat(seconds, "s");
    if (seconds < 3600)
        return seconds % 60 ? cat(seconds / 60, "min ", seconds % 60, "s")
                            : cat(seconds / 60, "min");
    if (seconds < 86400)
        return cat(seconds / 3600, "h ", seconds / 60 % 60, "min");
    return cat(seconds / 86400, seconds / 86400 == 1 ? " day" : " days");
}

uint64_t realtime_usec() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return uint64_t(now.tv_sec) * 1'000'000 + uint64_t(now.tv_nsec) / 1000;
}

} // namespace keel
