// Logging: one line per message, to stderr or /dev/kmsg, written by the
// caller or by a writer thread (set_log_writer).
#include "base/log.h"

#include "base/strings.h"

#include <condition_variable>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace keel {

namespace {

LogLevel g_level = LogLevel::Info;
int g_kmsg = -1; // kept open for the life of the process
std::string g_tag = "keel";
LogSink g_sink;
bool g_in_sink = false;

struct Line {
    LogLevel level;
    std::string tag;
    std::string message;
};

// Lines handed to the writer thread, and the thread.
struct Background {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Line> lines;
    size_t dropped = 0;   // lines not queued since `lines` was full
    bool writing = false; // lines taken from `lines` are being written
    bool stop = false;
    std::thread writer;
};
Background* g_background = nullptr;
// Beyond this many lines waiting (a console far slower than PID 1's
// logging), lines are counted instead of kept.
constexpr size_t kMaxQueuedLines = 4096;

} // namespace

void set_log_level(LogLevel level) {
    g_level = level;
}

void log_to_kmsg() {
    if (g_kmsg < 0)
        g_kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
}

void set_log_tag(std::string_view tag) {
    g_tag = tag;
}

namespace {

void write_line(LogLevel level, std::string_view tag, std::string_view message) {
    std::string line;
    if (g_kmsg >= 0) {
        // kmsg takes one record per write; the priority prefix sets its level.
        line = cat("<", int(level), ">", tag, ": ", message, "\n");
        if (::write(g_kmsg, line.data(), line.size()) >= 0)
            return;
    }
    if (level <= LogLevel::Warning)
        line = cat(tag, ": ", kLogLevelNames.name(level), ": ", message, "\n");
    else
        line = cat(tag, ": ", message, "\n");
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void write_in_background(Background& background) {
    std::vector<Line> taken;
    std::unique_lock lock(background.mutex);
    for (;;) {
        background.changed.wait(lock, [&] { return background.stop || !background.lines.empty(); });
        if (background.lines.empty())
            return; // stopped, and everything is written
        taken.swap(background.lines);
        size_t dropped = std::exchange(background.dropped, 0);
        background.writing = true;
        lock.unlock();
        try { // an exception must not end the thread (and with it PID 1)
            for (const Line& line : taken)
                write_line(line.level, line.tag, line.message);
            if (dropped) // they came after the lines just written
                write_line(LogLevel::Warning, taken.back().tag,
                           cat(dropped, " log lines dropped: the console is too slow"));
        } catch (...) {
        }
        taken.clear();
        lock.lock();
        background.writing = false;
        background.changed.notify_all();
    }
}

} // namespace

void set_log_writer(LogWriter writer) {
    if ((writer == LogWriter::Thread) == (g_background != nullptr))
        return;
    if (writer == LogWriter::Thread) {
        auto background = std::make_unique<Background>();
        try {
            background->writer = std::thread(write_in_background, std::ref(*background));
        } catch (const std::system_error&) {
            return; // no thread: lines are written by whoever logs them
        }
        g_background = background.release();
        return;
    }
    {
        std::lock_guard lock(g_background->mutex);
        g_background->stop = true;
    }
    g_background->changed.notify_all();
    g_background->writer.join(); // it writes what is left first
    delete std::exchange(g_background, nullptr);
}

bool flush_log() {
    if (!g_background)
        return false;
    std::unique_lock lock(g_background->mutex);
    if (g_background->lines.empty() && !g_background->writing)
        return false;
    g_background->changed.wait(
        lock, [] { return g_background->lines.empty() && !g_background->writing; });
    return true;
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
    if (!g_background) {
        write_line(level, g_tag, message);
        return;
    }
    {
        std::lock_guard lock(g_background->mutex);
        if (g_background->lines.size() >= kMaxQueuedLines) {
            ++g_background->dropped;
            return;
        }
        g_background->lines.push_back({level, g_tag, std::string(message)});
    }
    g_background->changed.notify_all();
}

} // namespace keel
