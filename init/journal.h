// The journal: every service's stdout/stderr captured line by line with
// timestamps, keel's own messages about units, and kernel messages. A
// bounded in-memory ring per unit serves `keel logs`; an on-disk journal
// under /var/log/keel (rotated by size) keeps them across restarts of the
// viewer. Lives in PID 1, so it is small and never blocks: pipes are read on
// the reactor, disk writes are appended, a slow follower is dropped.
#pragma once

#include "base/fd.h"
#include "base/reactor.h"
#include "base/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

struct LogEntry {
    uint64_t realtime_usec = 0; // CLOCK_REALTIME
    uint64_t boottime_usec = 0; // CLOCK_BOOTTIME, as the kernel's timestamps
    std::string unit;           // "web.service", "kernel", "keel"
    std::string stream;         // "stdout", "stderr", "kernel", "keel"
    int priority = 6;           // syslog priority (6 = info)
    std::string message;        // one line, without the newline
};

struct JournalOptions {
    std::size_t lines_per_unit = 1000;     // in-memory ring size per unit
    std::size_t max_line = 16 * 1024;      // longer lines are split
    std::string directory;                 // empty: memory only (until set_directory)
    std::size_t max_file_bytes = 8u << 20; // rotate journal files at this size
    std::size_t max_files = 4;             // journal.log, journal.log.1 ... .3
};

class Journal {
public:
    static Result<std::unique_ptr<Journal>> create(Reactor& reactor, JournalOptions options);
    ~Journal();

    /// A pipe for a child's stdout or stderr: the journal reads the other end
    /// on the reactor and records each line under `unit` and `stream`. The
    /// returned write end is handed to the child (spawn) and then closed by
    /// the caller.
    Result<Fd> open_stream(const std::string& unit, std::string_view stream);

    /// Records one entry (keel's own messages about a unit, e.g. "Started").
    /// Timestamps left at 0 are filled in.
    void record(LogEntry entry);

    /// Starts reading /dev/kmsg (kernel messages, from boot on).
    Result<void> follow_kernel();

    /// Starts (or moves) the on-disk journal to `directory`, e.g. once /var is
    /// writable; entries recorded so far are written out first.
    Result<void> set_directory(const std::string& directory);

    /// The last `lines` entries of `unit` (all units when empty), oldest first.
    std::vector<LogEntry> tail(std::string_view unit, std::size_t lines) const;

    using Subscriber = std::function<void(const LogEntry&)>;
    /// Calls `subscriber` for every new entry of `unit` (all when empty).
    uint64_t subscribe(std::string unit, Subscriber subscriber);
    void unsubscribe(uint64_t id);

private:
    struct Impl;
    explicit Journal(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace keel
