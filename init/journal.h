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
#include "base/storage.h"
#include "init/journal_format.h" // LogEntry

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

struct JournalOptions {
    std::size_t lines_per_unit = 1000;     // in-memory ring size per unit
    std::size_t bytes_per_unit = 1u << 20; // and its bound in message bytes
    std::size_t max_line = 16 * 1024;      // longer lines are split
    std::string directory;                 // empty: memory only (until set_directory)
    std::size_t max_file_bytes = 8u << 20; // rotate journal files at this size
    std::size_t max_files = 4;             // journal.log, journal.log.1 ... .3
    /// The journal files are opened, written, renamed and removed through
    /// this (tests pass a fake); it must outlive the journal.
    Storage* storage = &system_storage();
};

class Journal {
public:
    static Result<std::unique_ptr<Journal>> create(Reactor& reactor, JournalOptions options);
    ~Journal();

    /// A pipe for a child's stdout or stderr: the journal reads the other end
    /// on the reactor and records each line under `unit` and `stream`. The
    /// returned write end is handed to the child (spawn) and then closed by
    /// the caller.
    ///
    /// Lines end at "\n" (a "\r" before it is dropped); a line longer than
    /// max_line becomes several entries; a last line without "\n" is
    /// recorded when the child closes the pipe. Bytes are kept as they are
    /// (NULs included). Priority: 6 (info) for "stdout", 4 (warning) for
    /// "stderr" and any other stream, unless the line starts with a
    /// sd-daemon(3) prefix "<0>" ... "<7>", which sets it and is removed.
    /// The read end is non-blocking; the write end blocks, so a service that
    /// outruns PID 1 waits rather than losing lines.
    Result<Fd> open_stream(const std::string& unit, std::string_view stream);

    /// Records one entry (keel's own messages about a unit, e.g. "Started").
    /// Timestamps left at 0 are filled in; a message longer than max_line is
    /// cut there. The disk write happens before the reactor next waits, for
    /// all entries recorded until then.
    void record(LogEntry entry);
    /// Writes what record() queued for the disk now.
    void flush();
    /// The end of the system, once every process is gone: records what is
    /// still unread in the services' pipes and the kernel log, writes every
    /// queued entry and closes the journal file, the last of PID 1's files
    /// on /var, so that the filesystem can be unmounted. Later entries stay
    /// in memory.
    void close_disk();

    /// Starts reading /dev/kmsg (kernel messages, from boot on). keel's own
    /// log lines ("keel: ..." written by base/log.h) are recorded under unit
    /// and stream "keel" without the tag, everything else under "kernel";
    /// records the kernel dropped before they were read are counted in a
    /// "kernel" entry. `path` is for tests.
    Result<void> follow_kernel(const std::string& path = "/dev/kmsg");

    /// Takes keel's own log lines (base/log.h) straight from the logger, under
    /// unit and stream "keel", instead of back from /dev/kmsg, from the
    /// moment the kernel log has been read up to its end (on the reactor,
    /// so that a boot's backlog of kernel records does not delay the first
    /// service): "keel: " lines written before are recorded from the kernel
    /// log, in order with the kernel's, later ones there are skipped (lines
    /// of keel's children, "keel[pid]: ", are not). Without follow_kernel,
    /// at once. Undone when the journal goes.
    void capture_log();
    /// When capture_log took effect (CLOCK_BOOTTIME microseconds), nullopt
    /// before. keel's lines about a unit recorded before then are in the
    /// journal twice: under the unit, and read back from the kernel log.
    std::optional<uint64_t> capture_began_usec() const;

    /// Starts (or moves) the on-disk journal to `directory`, e.g. once /var is
    /// writable; entries recorded so far are written out first.
    ///
    /// Files: `directory`/journal.log, one line per entry in the format of
    /// init/journal_format.h, appended with O_APPEND (no fsync: a crash may
    /// lose the last lines, never corrupt older ones). A last line left
    /// without its newline (a write cut short by a full disk, a crash
    /// during one) is ended before the next entry, so that entries are
    /// never glued to it. When the next write would pass max_file_bytes,
    /// journal.log becomes journal.log.1 (.1 becomes .2, ...; the oldest
    /// beyond max_files is deleted). A write, rename or open that fails
    /// (disk full) is logged once and stops the disk journal until
    /// set_directory is called again; memory keeps working.
    Result<void> set_directory(const std::string& directory);

    /// The last `lines` entries of `unit` (all units when empty), oldest first.
    std::vector<LogEntry> tail(std::string_view unit, std::size_t lines) const;
    /// Units with entries in memory, sorted.
    std::vector<std::string> units() const;

    using Subscriber = std::function<void(const LogEntry&)>;
    /// Calls `subscriber` for every new entry of `unit` (all when empty),
    /// synchronously on the reactor thread: it must not block (a follower
    /// that cannot keep up is the caller's to drop). It may subscribe or
    /// unsubscribe anything, itself included; a subscription made during a
    /// callback sees the next entry, not the current one.
    uint64_t subscribe(std::string unit, Subscriber subscriber);
    /// Unknown or already removed ids are ignored.
    void unsubscribe(uint64_t id);

private:
    struct Impl;
    explicit Journal(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace keel
