// Logging: one line per message, to stderr or /dev/kmsg.
#include "base/log.h"

#include "base/strings.h"

#include <fcntl.h>
#include <unistd.h>

namespace keel {

namespace {

LogLevel g_level = LogLevel::Info;
int g_kmsg = -1; // kept open for the life of the process
std::string g_tag = "keel";
LogSink g_sink;
bool g_in_sink = false;

constexpr std::string_view level_name(LogLevel level) {
    switch (level) {
    case LogLevel::Error:
        return "error";
    case LogLevel::Warning:
        return "warning";
    case LogLevel::Notice:
        return "notice";
    case LogLevel::Info:
        return "info";
    case LogLevel::Debug:
        return "debug";
    }
    return "info";
}

} // namespace

void set_log_level(LogLevel level) {
    g_level = level;
}

bool parse_log_level(std::string_view text, LogLevel& out) {
    for (LogLevel level :
         {LogLevel::Error, LogLevel::Warning, LogLevel::Notice, LogLevel::Info, LogLevel::Debug}) {
        if (text == level_name(level)) {
            out = level;
            return true;
        }
    }
    return false;
}

void log_to_kmsg() {
    if (g_kmsg < 0)
        g_kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
}

void set_log_tag(std::string_view tag) {
    g_tag = tag;
}

void set_log_sink(LogSink sink) {
    g_sink = std::move(sink);
}

void log(LogLevel level, std::string_view message) {
    if (int(level) > int(g_level))
        return;
    log_unrecorded(level, message);
    if (g_sink && !g_in_sink) {
        g_in_sink = true;
        g_sink(level, message);
        g_in_sink = false;
    }
}

void log_unrecorded(LogLevel level, std::string_view message) {
    if (int(level) > int(g_level))
        return;
    std::string line;
    if (g_kmsg >= 0) {
        // kmsg takes one record per write; the priority prefix sets its level.
        line = cat("<", int(level), ">", g_tag, ": ", message, "\n");
        if (::write(g_kmsg, line.data(), line.size()) >= 0)
            return;
    }
    if (level <= LogLevel::Warning)
        line = cat(g_tag, ": ", level_name(level), ": ", message, "\n");
    else
        line = cat(g_tag, ": ", message, "\n");
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace keel
