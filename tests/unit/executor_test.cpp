// init/executor.h: how the manager's lines about units reach the console
// (keel's log, here stderr) and the journal.
#include "init/executor.h"

#include "init/journal.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace keel;
using namespace std::chrono_literals;

namespace {

// Everything written to stderr while it lives.
class CapturedStderr {
public:
    CapturedStderr() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        m_read.reset(fds[0]);
        m_saved.reset(::dup(STDERR_FILENO));
        REQUIRE(m_saved);
        REQUIRE(::dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
        ::close(fds[1]);
    }
    ~CapturedStderr() { restore(); }
    // Restores stderr and returns what was written.
    std::string take() {
        restore();
        std::string text;
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(m_read.get(), buffer, sizeof buffer)) > 0)
            text.append(buffer, size_t(n));
        return text;
    }

private:
    void restore() {
        if (m_saved) {
            ::dup2(m_saved.get(), STDERR_FILENO);
            m_saved.reset();
        }
    }
    Fd m_read, m_saved;
};

} // namespace

TEST_CASE(
    "a progress line stays off the console when its unit's next line comes in the same turn") {
    auto reactor = Reactor::create();
    REQUIRE(reactor);
    auto journal = Journal::create(**reactor, {});
    REQUIRE(journal);
    CapturedStderr captured;
    {
        Executor executor(**reactor, journal->get(), {});
        executor.record_progress("a.service", 6, "Starting a...");
        executor.record("a.service", 6, "Started a."); // done at once: no "Starting a..."
        executor.record_progress("b.service", 6, "Starting b...");
        executor.record("c.service", 6, "Started c."); // another unit: b's line comes first
        executor.record_progress("d.service", 6, "Starting d...");
        REQUIRE((*reactor)->run_once(0ms)); // the turn ends: d's line is printed
        executor.record_progress("e.service", 6, "Stopping e..."); // printed when the executor goes
    }
    CHECK(captured.take() == "keel: Started a.\nkeel: Starting b...\nkeel: Started c.\n"
                             "keel: Starting d...\nkeel: Stopping e...\n");
    // The journal has every line, in order, under its unit.
    auto a = (*journal)->tail("a.service", 10);
    REQUIRE(a.size() == 2);
    CHECK(a[0].message == "Starting a...");
    CHECK(a[1].message == "Started a.");
    CHECK((*journal)->tail("e.service", 10).size() == 1);
}
