// init/executor.h: how the manager's lines about units reach the console
// (keel's log, here stderr) and the journal.
#include "init/executor.h"

#include "init/journal.h"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

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

TEST_CASE(
    "starts hold the CPU real-time until the loop's next turn; the processes started do not") {
    auto before = thread_scheduling();
    REQUIRE(before);
    if ((before->policy & ~SCHED_RESET_ON_FORK) != SCHED_OTHER) {
        MESSAGE("skipped: the tests run with a scheduling policy other than SCHED_OTHER");
        return;
    }
    if (auto allowed = set_thread_scheduling({SCHED_FIFO | SCHED_RESET_ON_FORK, 1}); !allowed) {
        MESSAGE("skipped: ", allowed.error().to_string());
        return;
    }
    REQUIRE(set_thread_scheduling(*before));
    auto reactor = Reactor::create();
    REQUIRE(reactor);
    struct Children { // killed and reaped whatever fails below
        std::vector<pid_t> pids;
        ~Children() {
            for (pid_t pid : pids) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } children;
    ExecutorOptions options;
    options.hold_cpu_while_starting = true;
    Executor executor(**reactor, nullptr, options); // its end restores the policy too
    Unit unit;
    unit.name = "hold.service";
    unit.service.type = ServiceType::Exec; // returns once the program runs
    auto start = [&] {
        auto started = executor.start_process(unit, ExecCommand{{"/bin/sleep", "30"}, false},
                                              ExecPhase::Start, {});
        REQUIRE(started);
        children.pids.push_back(*started);
    };
    auto held = [] {
        auto now = thread_scheduling();
        REQUIRE(now);
        return now->policy == (SCHED_FIFO | SCHED_RESET_ON_FORK) && now->priority == 1;
    };
    start();
    start();
    CHECK(held());
    for (pid_t pid : children.pids) {
        auto child = thread_scheduling(pid);
        REQUIRE(child);
        CHECK(child->policy == SCHED_OTHER);
        CHECK(child->priority == 0);
    }
    REQUIRE((*reactor)->run_once(0ms)); // the next turn begins
    auto after = thread_scheduling();
    REQUIRE(after);
    CHECK(after->policy == before->policy);
    CHECK(after->priority == before->priority);
    start(); // a later turn holds again
    CHECK(held());
    executor.release_cpu();
    CHECK(!held());
}
