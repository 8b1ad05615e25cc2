// base/log.h: lines written by a thread of their own (set_log_writer).
#include "base/log.h"

#include "base/fd.h"
#include "base/strings.h"

#include <doctest/doctest.h>

#include <atomic>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>

using namespace keel;

namespace {

// stderr goes to `fd` while it lives; the writer thread is stopped first.
class RedirectedStderr {
public:
    explicit RedirectedStderr(int fd) : m_saved(::dup(STDERR_FILENO)) {
        REQUIRE(m_saved);
        REQUIRE(::dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    }
    ~RedirectedStderr() {
        set_log_writer(LogWriter::Caller);
        ::dup2(m_saved.get(), STDERR_FILENO);
    }

private:
    Fd m_saved;
};

} // namespace

TEST_CASE("logging in the background does not wait for a stalled output, and every line comes "
          "out in order") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    Fd read_end(fds[0]), write_end(fds[1]);
    REQUIRE(::fcntl(write_end.get(), F_SETPIPE_SZ, 4096) >= 0);
    set_log_level(LogLevel::Info);
    std::string expected, text;
    std::atomic<bool> logged = false;
    bool rescued = false;
    // Reads the pipe once the lines are logged, or after 5 s if logging
    // is stuck on the full pipe (the failure this test is about).
    std::thread reader([&] {
        for (int i = 0; i < 500 && !logged.load(); ++i)
            ::usleep(10'000);
        rescued = !logged.load();
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(read_end.get(), buffer, sizeof buffer)) > 0)
            text.append(buffer, size_t(n));
    });
    {
        RedirectedStderr redirected(write_end.get());
        set_log_writer(LogWriter::Thread);
        // 9 KB into a 4 KB pipe that nobody reads yet: the writer waits for
        // it, the caller must not.
        for (int i = 0; i < 100; ++i) {
            std::string message = cat("line ", i, " ", std::string(80, 'x'));
            log_info(message);
            expected += cat(": ", message, "\n");
        }
        logged = true;
        flush_log();              // returns once every line is written
        CHECK_FALSE(flush_log()); // nothing left to wait for
    }
    write_end.reset(); // the reader sees the end
    reader.join();
    CHECK_FALSE(rescued);
    // Each line is "<tag>: <message>"; the tag is whatever this test
    // process was given, so compare from the ": " on.
    std::string stripped;
    for (std::string_view line : split(text, '\n'))
        if (!line.empty())
            stripped += cat(line.substr(line.find(": ")), "\n");
    CHECK(stripped == expected);
}

TEST_CASE("outside the background a line is written before log returns") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    Fd read_end(fds[0]), write_end(fds[1]);
    set_log_level(LogLevel::Info);
    {
        RedirectedStderr redirected(write_end.get());
        log_info("written at once");
        CHECK_FALSE(flush_log());
    }
    char buffer[256];
    ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    REQUIRE(n > 0);
    CHECK(std::string_view(buffer, size_t(n)).ends_with(": written at once\n"));
}
