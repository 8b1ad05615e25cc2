// The journal (see journal.h): service output pipes and /dev/kmsg read on
// the reactor, entries kept in a bounded ring per unit, appended to the
// on-disk journal and handed to subscribers.
//
// Every path that adds entries from one event (a pipe read, a batch of
// kernel records, record()) queues their lines and writes them with one
// write(2) at the end, so a busy service costs one syscall per read rather
// than one per line. The journal files are reached through a Storage
// (base/storage.h), so that tests can fail or cut short any call. Memory:
// at most lines_per_unit entries and about bytes_per_unit bytes per unit,
// max_line per open stream, one kmsg record.
#include "init/journal.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "init/kmsg.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <map>
#include <sys/epoll.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kFileName = "journal.log";
// Bounded work per wakeup, so one chatty pipe cannot starve the loop;
// epoll is level-triggered and calls again for the rest.
constexpr int kReadsPerWakeup = 16;
constexpr size_t kReadSize = 16384;
constexpr int kKmsgRecordsPerWakeup = 64;
// What an entry costs besides its message, for bytes_per_unit.
constexpr size_t kEntryOverhead = 64;

uint64_t clock_usec(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
}

int default_priority(std::string_view stream) {
    return stream == "stdout" ? 6 : 4;
}

} // namespace

struct Journal::Impl {
    Impl(Reactor& reactor, JournalOptions options)
        : m_reactor(reactor), m_options(std::move(options)), m_storage(*m_options.storage) {
        m_options.max_line = std::max<size_t>(m_options.max_line, 1);
        m_options.lines_per_unit = std::max<size_t>(m_options.lines_per_unit, 1);
        m_options.max_files = std::max<size_t>(m_options.max_files, 1);
    }
    ~Impl();

    struct Stored {
        uint64_t sequence; // global order, for tail() over all units
        LogEntry entry;
    };
    struct Ring {
        std::deque<Stored> entries;
        size_t bytes = 0;
    };
    struct Stream {
        std::string unit;
        std::string stream;
        Fd fd;
        std::string partial;    // bytes of the current line read so far
        bool continued = false; // partial continues a line already split at max_line
        int line_priority = 6;
    };
    struct Subscription {
        std::string unit;
        std::shared_ptr<Subscriber> callback;
    };

    void add(LogEntry entry);
    void record(LogEntry entry);
    void start_capture();
    void notify(const LogEntry& entry);
    void on_stream_readable(int fd);
    // Reads up to `reads` times; true when it stopped with more to read.
    bool read_stream(int fd, int reads);
    void consume(Stream& stream, std::string_view data);
    // How a line given to emit_line ended.
    enum class LineEnd {
        Complete, // a newline, or the end of the stream
        Cut,      // max_line: the next entry continues it
    };
    void emit_line(Stream& stream, std::string_view line, LineEnd end);
    // Records a last line without its newline and closes the pipe.
    void end_stream(int fd);
    void on_kmsg_readable();
    void add_kmsg_record(const KmsgRecord& record);
    void queue_for_disk(const Stored& stored);
    void flush_disk();
    Result<void> rotate();
    Result<void> open_file_in(const std::string& directory);
    std::string file_path(size_t index) const;
    void disk_failed(const Error& problem);

    Reactor& m_reactor;
    JournalOptions m_options;
    Storage& m_storage;
    std::map<std::string, Ring, std::less<>> m_rings;
    uint64_t m_next_sequence = 1;
    std::map<int, std::unique_ptr<Stream>> m_streams;

    Fd m_kmsg;
    std::string m_kmsg_buffer;
    std::optional<uint64_t> m_kmsg_last_sequence;

    std::string m_directory; // empty: no disk journal
    File m_file;
    uint64_t m_file_bytes = 0;
    uint64_t m_disk_sequence = 0; // entries up to this one are on disk (or queued)
    std::string m_disk_pending;
    bool m_flush_deferred = false;
    bool m_captured_log = false;             // keel's lines come from the logger
    bool m_capture_pending = false;          // they will once the kernel log is read up
    bool m_log_flushed = false;              // no record read since the log writer was drained
    std::optional<uint64_t> m_capture_began; // CLOCK_BOOTTIME usec
    std::shared_ptr<Impl*> m_self = std::make_shared<Impl*>(this); // for deferred work

    std::map<uint64_t, Subscription> m_subscribers;
    uint64_t m_next_subscriber = 1;
};

Journal::Impl::~Impl() {
    if (m_captured_log)
        set_log_sink(nullptr);
    for (auto& [fd, stream] : m_streams)
        m_reactor.remove_fd(fd);
    if (m_kmsg)
        m_reactor.remove_fd(m_kmsg.get());
    flush_disk();
}

void Journal::Impl::add(LogEntry entry) {
    if (entry.realtime_usec == 0)
        entry.realtime_usec = clock_usec(CLOCK_REALTIME);
    if (entry.boottime_usec == 0)
        entry.boottime_usec = clock_usec(CLOCK_BOOTTIME);
    auto ring_it = m_rings.find(entry.unit);
    if (ring_it == m_rings.end())
        ring_it = m_rings.emplace(entry.unit, Ring{}).first;
    Ring& ring = ring_it->second;
    size_t cost = entry.message.size() + kEntryOverhead;
    ring.entries.push_back({m_next_sequence++, std::move(entry)});
    ring.bytes += cost;
    while (ring.entries.size() > 1 && (ring.entries.size() > m_options.lines_per_unit ||
                                       ring.bytes > m_options.bytes_per_unit)) {
        ring.bytes -= ring.entries.front().entry.message.size() + kEntryOverhead;
        ring.entries.pop_front();
    }
    // A copy: writing it out may log a disk failure, and a subscriber may
    // record; either can add to this ring and evict the entry.
    Stored stored = ring.entries.back();
    if (m_file)
        queue_for_disk(stored);
    if (!m_subscribers.empty())
        notify(stored.entry);
}

void Journal::Impl::notify(const LogEntry& entry) {
    // Snapshot first: callbacks may subscribe and unsubscribe.
    std::vector<std::pair<uint64_t, std::shared_ptr<Subscriber>>> targets;
    for (const auto& [id, subscription] : m_subscribers)
        if (subscription.unit.empty() || subscription.unit == entry.unit)
            targets.emplace_back(id, subscription.callback);
    for (const auto& [id, callback] : targets) {
        if (!m_subscribers.contains(id))
            continue; // unsubscribed by an earlier callback for this entry
        (*callback)(entry);
    }
}

void Journal::Impl::on_stream_readable(int fd) {
    read_stream(fd, kReadsPerWakeup);
    flush_disk();
}

bool Journal::Impl::read_stream(int fd, int reads) {
    char buffer[kReadSize];
    for (int round = 0; round < reads; ++round) {
        auto it = m_streams.find(fd);
        if (it == m_streams.end())
            return false;
        Stream& stream = *it->second;
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (n <= 0) { // end of file: every writer is gone (or a read error)
            end_stream(fd);
            return false;
        }
        consume(stream, std::string_view(buffer, size_t(n)));
    }
    return true;
}

void Journal::Impl::consume(Stream& stream, std::string_view data) {
    while (!data.empty()) {
        size_t newline = data.find('\n');
        size_t take = newline == std::string_view::npos ? data.size() : newline;
        size_t room = m_options.max_line - stream.partial.size();
        if (take > room) {
            // Too long for one entry: cut at max_line, the rest continues.
            stream.partial.append(data.substr(0, room));
            data.remove_prefix(room);
            emit_line(stream, stream.partial, LineEnd::Cut);
            continue;
        }
        stream.partial.append(data.substr(0, take));
        if (newline == std::string_view::npos)
            return;
        data.remove_prefix(newline + 1);
        emit_line(stream, stream.partial, LineEnd::Complete);
    }
}

// Records `line` (which may be stream.partial itself) and resets the
// partial line.
void Journal::Impl::emit_line(Stream& stream, std::string_view line, LineEnd end) {
    bool complete = end == LineEnd::Complete;
    if (!stream.continued) {
        stream.line_priority = default_priority(stream.stream);
        // sd-daemon(3) "<N>" prefix.
        if (line.size() >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
            line[2] == '>') {
            stream.line_priority = line[1] - '0';
            line.remove_prefix(3);
        }
    }
    if (complete && !line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    LogEntry entry;
    entry.unit = stream.unit;
    entry.stream = stream.stream;
    entry.priority = stream.line_priority;
    entry.message = std::string(line);
    stream.partial.clear();
    stream.continued = !complete;
    add(std::move(entry));
}

void Journal::Impl::end_stream(int fd) {
    auto it = m_streams.find(fd);
    if (it == m_streams.end())
        return;
    if (!it->second->partial.empty())
        emit_line(*it->second, it->second->partial, LineEnd::Complete);
    m_reactor.remove_fd(fd);
    m_streams.erase(it); // closes it
}

void Journal::Impl::on_kmsg_readable() {
    for (int round = 0; round < kKmsgRecordsPerWakeup && m_kmsg; ++round) {
        // One record per read; the buffer must hold the largest one.
        ssize_t n = ::read(m_kmsg.get(), m_kmsg_buffer.data(), m_kmsg_buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (m_capture_pending && !m_log_flushed) {
                // Lines keel logged may still be with the log writer (or
                // just written): drain it, and read up once more.
                flush_log();
                m_log_flushed = true;
                continue;
            }
            if (m_capture_pending)
                start_capture(); // everything keel logged until now was read back
            break;
        }
        // EPIPE: records were overwritten before we read them; the next read
        // returns the oldest one left and the sequence gap counts the loss.
        // EINVAL: a record larger than the buffer, skipped by the kernel
        // (also counted by the gap).
        if (n < 0 && (errno == EPIPE || errno == EINVAL))
            continue;
        if (n <= 0) {
            Error problem = n < 0 ? Error::from_errno(errno, "read /dev/kmsg")
                                  : Error::message("read /dev/kmsg: unexpected end of file");
            // Not log_warning(): that writes to the kmsg being given up on.
            LogEntry entry;
            entry.unit = entry.stream = "keel";
            entry.priority = 3;
            entry.message =
                cat("journal: stopped following kernel messages: ", problem.to_string());
            m_reactor.remove_fd(m_kmsg.get());
            m_kmsg.reset();
            add(std::move(entry));
            if (m_capture_pending)
                start_capture();
            break;
        }
        m_log_flushed = false;
        std::string_view text(m_kmsg_buffer.data(), size_t(n));
        auto record = parse_kmsg_record(text);
        if (!record) {
            LogEntry entry;
            entry.unit = entry.stream = "kernel";
            entry.priority = 4;
            entry.message =
                cat("keel: skipped a record of /dev/kmsg: ", record.error().to_string());
            add(std::move(entry));
            continue;
        }
        add_kmsg_record(*record);
    }
    flush_disk();
}

void Journal::Impl::add_kmsg_record(const KmsgRecord& record) {
    if (m_kmsg_last_sequence && record.sequence > *m_kmsg_last_sequence + 1) {
        LogEntry lost;
        lost.unit = lost.stream = "kernel";
        lost.priority = 4;
        lost.message = cat("keel: ", record.sequence - *m_kmsg_last_sequence - 1,
                           " kernel log records were lost (the kernel's buffer overran)");
        add(std::move(lost));
    }
    m_kmsg_last_sequence = record.sequence;

    LogEntry entry;
    std::string_view keel_message;
    if (m_captured_log && record.facility != 0 && starts_with(record.message, "keel: "))
        return; // recorded from the logger already
    if (strip_keel_tag(record, keel_message)) {
        entry.unit = entry.stream = "keel";
        entry.message = std::string(keel_message);
    } else {
        entry.unit = entry.stream = "kernel";
        entry.message = record.message;
    }
    entry.priority = record.level;
    // The kernel stamps records with its monotonic clock; the wall time is
    // estimated from how long ago that was.
    entry.boottime_usec = std::max<uint64_t>(record.timestamp_usec, 1);
    uint64_t now_monotonic = clock_usec(CLOCK_MONOTONIC);
    uint64_t now_realtime = clock_usec(CLOCK_REALTIME);
    uint64_t age =
        now_monotonic > record.timestamp_usec ? now_monotonic - record.timestamp_usec : 0;
    entry.realtime_usec = now_realtime > age ? now_realtime - age : 1;
    add(std::move(entry));
}

void Journal::Impl::queue_for_disk(const Stored& stored) {
    std::string line = format_journal_line(stored.entry);
    uint64_t size = m_file_bytes + m_disk_pending.size();
    if (size > 0 && size + line.size() > m_options.max_file_bytes) {
        flush_disk();
        if (auto rotated = rotate(); !rotated) {
            disk_failed(rotated.error());
            return;
        }
    }
    m_disk_pending += line;
    m_disk_sequence = stored.sequence;
}

void Journal::Impl::flush_disk() {
    if (m_disk_pending.empty())
        return;
    if (!m_file) {
        m_disk_pending.clear();
        return;
    }
    auto written = m_storage.write_all(m_file, m_disk_pending);
    m_file_bytes += m_disk_pending.size();
    m_disk_pending.clear();
    if (!written)
        disk_failed(written.error());
}

void Journal::Impl::disk_failed(const Error& problem) {
    m_file.close();
    m_disk_pending.clear();
    log_warning(cat("journal: ", problem.to_string(),
                    "; journal entries are kept in memory only from now on"));
}

std::string Journal::Impl::file_path(size_t index) const {
    return index == 0 ? cat(m_directory, "/", kFileName)
                      : cat(m_directory, "/", kFileName, ".", index);
}

Result<void> Journal::Impl::rotate() {
    m_file.close();
    if (m_options.max_files == 1) {
        auto removed = m_storage.unlink(file_path(0));
        if (!removed && removed.error().code() != ENOENT)
            return removed;
    }
    // rename() replaces the target, so the oldest file goes away by itself.
    for (size_t index = m_options.max_files - 1; index >= 1; --index) {
        auto renamed = m_storage.rename(file_path(index - 1), file_path(index));
        if (!renamed && renamed.error().code() != ENOENT)
            return renamed;
    }
    return open_file_in(m_directory);
}

// Opens `directory`/journal.log for appending and makes it the journal's
// file. A last line without its newline is what a write cut short (the disk
// filled up) or a crash during one leaves: the newline is queued first, so
// that the next entry starts on a line of its own and stays readable. This
// holds whoever left the half line, this journal or an earlier boot's,
// which truncating back after a failed write could not promise, and costs
// a read when the file is opened rather than anything per write.
Result<void> Journal::Impl::open_file_in(const std::string& directory) {
    std::string path = cat(directory, "/", kFileName);
    // Read and write: the last byte is read back.
    File file = TRY(m_storage.open(path, O_RDWR | O_APPEND | O_CREAT, 0640));
    uint64_t size = TRY(m_storage.file_size(file));
    bool ends_mid_line = false;
    if (size > 0) {
        std::string last = TRY(m_storage.pread_all(file, 1, size - 1));
        ends_mid_line = !last.ends_with('\n');
    }
    m_directory = directory;
    m_file = std::move(file);
    m_file_bytes = size;
    if (ends_mid_line)
        m_disk_pending.insert(0, 1, '\n');
    return {};
}

Journal::Journal(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::create(Reactor& reactor, JournalOptions options) {
    std::string directory = options.directory;
    auto impl = std::make_unique<Impl>(reactor, std::move(options));
    std::unique_ptr<Journal> journal(new Journal(std::move(impl)));
    if (!directory.empty())
        TRY(journal->set_directory(directory));
    return journal;
}

Result<Fd> Journal::open_stream(const std::string& unit, std::string_view stream) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0)
        return errno_error(cat("create the ", stream, " pipe of ", quoted(unit)));
    Fd read_end(fds[0]), write_end(fds[1]);
    // A new pipe's read end has no other status flags to keep.
    if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) < 0)
        return errno_error(cat("make the ", stream, " pipe of ", quoted(unit), " non-blocking"));
    auto entry = std::make_unique<Impl::Stream>();
    entry->unit = unit;
    entry->stream = std::string(stream);
    int fd = read_end.get();
    entry->fd = std::move(read_end);
    Impl* impl = m_impl.get();
    TRY_CTX(m_impl->m_reactor.add_fd(fd, EPOLLIN,
                                     [impl, fd](uint32_t) { impl->on_stream_readable(fd); }),
            cat("watch the ", stream, " pipe of ", quoted(unit)));
    m_impl->m_streams.emplace(fd, std::move(entry));
    return write_end;
}

void Journal::record(LogEntry entry) {
    m_impl->record(std::move(entry));
}

void Journal::Impl::record(LogEntry entry) {
    if (entry.message.size() > m_options.max_line)
        entry.message.resize(m_options.max_line);
    add(std::move(entry));
    if (m_flush_deferred || m_disk_pending.empty())
        return;
    m_flush_deferred = true;
    m_reactor.defer([self = std::weak_ptr<Impl*>(m_self)] {
        if (auto impl = self.lock()) {
            (*impl)->m_flush_deferred = false;
            (*impl)->flush_disk();
        }
    });
}

void Journal::flush() {
    m_impl->flush_disk();
}

void Journal::close_disk() {
    Impl& impl = *m_impl;
    // What is in a pipe now is all there is: its writers have exited (or,
    // in a container init, are not ours to wait for).
    while (!impl.m_streams.empty()) {
        int fd = impl.m_streams.begin()->first;
        while (impl.read_stream(fd, kReadsPerWakeup)) {
        }
        impl.end_stream(fd);
    }
    if (impl.m_kmsg)
        impl.on_kmsg_readable();
    impl.flush_disk();
    impl.m_file.close();
    impl.m_directory.clear();
}

void Journal::capture_log() {
    Impl& impl = *m_impl;
    if (impl.m_captured_log)
        return;
    // The kernel log at boot is a few hundred records: read on the loop,
    // not before the first service starts. Until then keel's lines keep
    // coming back from it, in order with the kernel's.
    if (impl.m_kmsg)
        impl.m_capture_pending = true;
    else
        impl.start_capture();
}

void Journal::Impl::start_capture() {
    m_capture_pending = false;
    m_captured_log = true;
    m_capture_began = clock_usec(CLOCK_BOOTTIME);
    set_log_sink([this](LogLevel level, std::string_view message) {
        LogEntry entry;
        entry.unit = entry.stream = "keel";
        entry.priority = int(level);
        entry.message = std::string(message);
        record(std::move(entry));
    });
}

std::optional<uint64_t> Journal::capture_began_usec() const {
    return m_impl->m_capture_began;
}

Result<void> Journal::follow_kernel(const std::string& path) {
    if (m_impl->m_kmsg)
        return {};
    Fd fd = TRY(open_file(path, O_RDONLY | O_NONBLOCK));
    m_impl->m_kmsg_buffer.resize(kKmsgRecordMax + 1);
    Impl* impl = m_impl.get();
    TRY_CTX(
        m_impl->m_reactor.add_fd(fd.get(), EPOLLIN, [impl](uint32_t) { impl->on_kmsg_readable(); }),
        cat("follow ", quoted(path)));
    m_impl->m_kmsg = std::move(fd);
    return {};
}

Result<void> Journal::set_directory(const std::string& directory) {
    Impl& impl = *m_impl;
    TRY_CTX(impl.m_storage.make_directories(directory, 0755), "journal directory");
    impl.flush_disk(); // anything queued belongs to the old directory
    TRY_CTX(impl.open_file_in(directory), "journal");

    // Entries recorded while there was no disk journal, in their order.
    std::vector<const Impl::Stored*> unwritten;
    for (const auto& [unit, ring] : impl.m_rings)
        for (const Impl::Stored& stored : ring.entries)
            if (stored.sequence > impl.m_disk_sequence)
                unwritten.push_back(&stored);
    std::sort(unwritten.begin(), unwritten.end(), [](const Impl::Stored* a, const Impl::Stored* b) {
        return a->sequence < b->sequence;
    });
    for (const Impl::Stored* stored : unwritten) {
        if (!impl.m_file)
            break; // rotation failed and was reported
        impl.queue_for_disk(*stored);
    }
    impl.flush_disk();
    return {};
}

std::vector<LogEntry> Journal::tail(std::string_view unit, std::size_t lines) const {
    std::vector<LogEntry> out;
    if (lines == 0)
        return out;
    if (!unit.empty()) {
        auto it = m_impl->m_rings.find(unit);
        if (it == m_impl->m_rings.end())
            return out;
        const auto& entries = it->second.entries;
        size_t skip = entries.size() > lines ? entries.size() - lines : 0;
        for (auto entry = entries.begin() + ptrdiff_t(skip); entry != entries.end(); ++entry)
            out.push_back(entry->entry);
        return out;
    }
    // All units: the newest `lines` of each ring, merged by sequence.
    std::vector<const Impl::Stored*> candidates;
    for (const auto& [name, ring] : m_impl->m_rings) {
        size_t skip = ring.entries.size() > lines ? ring.entries.size() - lines : 0;
        for (auto entry = ring.entries.begin() + ptrdiff_t(skip); entry != ring.entries.end();
             ++entry)
            candidates.push_back(&*entry);
    }
    std::sort(
        candidates.begin(), candidates.end(),
        [](const Impl::Stored* a, const Impl::Stored* b) { return a->sequence < b->sequence; });
    size_t skip = candidates.size() > lines ? candidates.size() - lines : 0;
    for (size_t i = skip; i < candidates.size(); ++i)
        out.push_back(candidates[i]->entry);
    return out;
}

std::vector<std::string> Journal::units() const {
    std::vector<std::string> out;
    for (const auto& [name, ring] : m_impl->m_rings)
        out.push_back(name);
    return out;
}

uint64_t Journal::subscribe(std::string unit, Subscriber subscriber) {
    uint64_t id = m_impl->m_next_subscriber++;
    m_impl->m_subscribers.emplace(
        id,
        Impl::Subscription{std::move(unit), std::make_shared<Subscriber>(std::move(subscriber))});
    return id;
}

void Journal::unsubscribe(uint64_t id) {
    m_impl->m_subscribers.erase(id);
}

} // namespace keel
