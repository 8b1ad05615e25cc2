// The watch log: what the watchers of a cluster test received and which
// writes the clients made, as a text file the workload writes
// (tests/go/kvhistory) and keel_check_watches reads for the watch checker
// (tests/cluster/watch_guarantees.h). One record a line (docs/kv.md,
// "Watch guarantees"):
//
//   watcher NAME KEY RANGE_END START     a watcher (before its messages)
//   partial                              writes with unknown outcomes exist
//   write REV put|delete KEY VALUE       a client's write and its revision
//   events NAME (REV put|delete KEY VALUE)...   one watch response
//   progress NAME REV                    a progress notification
//   resume NAME REV                      watching again from REV
//
// Strings (KEY, RANGE_END, VALUE) are one word: bytes outside printable
// ASCII, `%` and `"` written as %XX, the empty string as "". Blank lines
// and lines starting with `#` are skipped.
#pragma once

#include "base/result.h"
#include "tests/cluster/watch_guarantees.h"

#include <string>
#include <string_view>
#include <vector>

namespace keel::watch_log {

/// A parsed watch log: the watchers with their messages, and the writes.
struct WatchLog {
    /// Partial when a `partial` line says some writes are missing.
    watch_guarantees::WriteSet write_set = watch_guarantees::WriteSet::Complete;
    std::vector<watch_guarantees::Watcher> watchers;
    std::vector<watch_guarantees::Event> writes;
};

/// Parses a watch log. Errors name the line: "line 4: events: no watcher
/// `w2`".
Result<WatchLog> parse_watch_log(std::string_view text);

/// A string as one word of the log (the inverse of what the parser reads).
std::string encode_string(std::string_view text);

/// The log written back in its text form; parse_watch_log() reads it to an
/// equal log.
std::string format_watch_log(const WatchLog& log);

} // namespace keel::watch_log
