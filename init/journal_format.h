// The on-disk journal's line format: one entry per line, six fields
// separated by single spaces, the last one running to the end of the line:
//
//     2024-05-01T12:34:56.123456Z 12.345678 web.service stdout 6 Listening on :80
//     REALTIME (UTC)              BOOTTIME  UNIT        STREAM PRIO MESSAGE
//
// Bytes below 0x20, 0x7f and `\` are escaped in every field (`\\`, `\xNN`),
// so an entry is always exactly one line whatever a service printed; UNIT and
// STREAM also escape spaces, and an empty one is written `-`. Other bytes
// (UTF-8 or not) are written as they are. Lines read back are outside input
// (anyone with write access to /var/log/keel), so the parser is strict.
// No dependencies beyond base/.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace keel {

/// One journal entry (init/journal.h's unit of storage).
struct LogEntry {
    uint64_t realtime_usec = 0; // CLOCK_REALTIME
    uint64_t boottime_usec = 0; // CLOCK_BOOTTIME, as the kernel's timestamps
    std::string unit;           // "web.service", "kernel", "keel"
    std::string stream;         // "stdout", "stderr", "kernel", "keel"
    int priority = 6;           // syslog priority (6 = info)
    std::string message;        // one line, without the newline

    bool operator==(const LogEntry&) const = default;
};

/// One entry as a journal line, with the trailing newline.
std::string format_journal_line(const LogEntry& entry);

/// Parses one line (with or without its trailing newline). Errors start with
/// "journal line: ".
Result<LogEntry> parse_journal_line(std::string_view line);

/// CLOCK_REALTIME microseconds as "2024-05-01T12:34:56.123456Z".
std::string format_utc_timestamp(uint64_t realtime_usec);

} // namespace keel
