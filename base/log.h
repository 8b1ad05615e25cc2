// Logging with levels. Lines go to stderr, or to /dev/kmsg with a syslog
// priority when keel is PID 1 (so they land in dmesg and on the console).
#pragma once

#include "base/names.h"

#include <functional>
#include <string_view>

namespace keel {

/// Syslog priorities, most severe first.
enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };
/// Their names, as keel.log= takes them.
inline constexpr auto kLogLevelNames = name_table<LogLevel>({
    {LogLevel::Error, "error"},
    {LogLevel::Warning, "warning"},
    {LogLevel::Notice, "notice"},
    {LogLevel::Info, "info"},
    {LogLevel::Debug, "debug"},
});

/// Messages less severe than `level` are dropped. Default: Info.
void set_log_level(LogLevel level);
/// Routes log lines to /dev/kmsg (when it can be opened) instead of stderr.
void log_to_kmsg();
/// The tag before each line ("keel", or "keel[pid]" in children).
void set_log_tag(std::string_view tag);
/// Who writes a log line out.
enum class LogWriter {
    /// Whoever logs it, before log() returns (the default).
    Caller,
    /// A thread of keel's own, in the order lines were logged: a record
    /// written to /dev/kmsg is printed on the console in the writer's time
    /// (on a serial console, at the UART's pace), and PID 1 must not wait
    /// for that.
    Thread,
};
/// Switches who writes lines from now on. Back to Caller waits for every
/// line handed to the thread first (before reboot(2), exec or exit). Call
/// from one thread; its signals should be blocked while the thread starts
/// (AllSignalsBlocked), as the writer inherits them.
void set_log_writer(LogWriter writer);
/// Waits until the writer thread has written every line logged so far;
/// false at once when nothing was waiting to be written.
bool flush_log();

void log(LogLevel level, std::string_view message);
/// log() for a line the caller records in the journal itself: not handed
/// to the sink.
void log_unrecorded(LogLevel level, std::string_view message);

/// PID 1's journal: every line logged (and not filtered by level) is also
/// handed to `sink`, except lines logged while the sink runs. Empty: none.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;
void set_log_sink(LogSink sink);
inline void log_error(std::string_view m) {
    log(LogLevel::Error, m);
}
inline void log_warning(std::string_view m) {
    log(LogLevel::Warning, m);
}
inline void log_notice(std::string_view m) {
    log(LogLevel::Notice, m);
}
inline void log_info(std::string_view m) {
    log(LogLevel::Info, m);
}
inline void log_debug(std::string_view m) {
    log(LogLevel::Debug, m);
}

} // namespace keel
