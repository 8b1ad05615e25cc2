// Tests for base/reactor.h: fd readiness, timers, signals and the reaper, with
// real pipes, timerfds, signals and child processes.
#include "base/reactor.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <set>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace keel;
using namespace std::chrono_literals;
using keel::testing::make_reactor;
using keel::testing::run_until;

namespace {

struct NonblockingPipe {
    Fd read_end;
    Fd write_end;
    NonblockingPipe() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
        read_end.reset(fds[0]);
        write_end.reset(fds[1]);
    }
    void write(std::string_view data) const {
        REQUIRE(::write(write_end.get(), data.data(), data.size()) == ssize_t(data.size()));
    }
};

// A child that exits at once with `code`.
pid_t spawn_exiting_child(int code) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        ::_exit(code);
    return pid;
}

} // namespace

TEST_CASE("a readable pipe runs its callback with EPOLLIN") {
    auto reactor = make_reactor();
    NonblockingPipe pipe;
    uint32_t seen = 0;
    std::string received;
    REQUIRE(reactor->add_fd(pipe.read_end.get(), EPOLLIN, [&](uint32_t events) {
        seen = events;
        char buffer[16];
        ssize_t n = ::read(pipe.read_end.get(), buffer, sizeof buffer);
        if (n > 0)
            received.append(buffer, size_t(n));
    }));
    REQUIRE(reactor->run_once(0ms));
    CHECK(seen == 0);

    pipe.write("hi");
    run_until(*reactor, [&] { return seen != 0; });
    CHECK((seen & EPOLLIN) != 0);
    CHECK(received == "hi");
}

TEST_CASE("an fd callback that removes its own fd is not called again") {
    auto reactor = make_reactor();
    NonblockingPipe pipe;
    int calls = 0;
    REQUIRE(reactor->add_fd(pipe.read_end.get(), EPOLLIN, [&](uint32_t) {
        ++calls;
        reactor->remove_fd(pipe.read_end.get());
    }));
    pipe.write("x"); // never read: stays readable
    run_until(*reactor, [&] { return calls > 0; });
    for (int i = 0; i < 3; ++i)
        REQUIRE(reactor->run_once(10ms));
    CHECK(calls == 1);
}

TEST_CASE("an fd removed by an earlier callback in the same batch is not dispatched") {
    auto reactor = make_reactor();
    NonblockingPipe first;
    NonblockingPipe second;
    int first_calls = 0;
    int second_calls = 0;
    // Whichever runs first removes the other; exactly one may run.
    REQUIRE(reactor->add_fd(first.read_end.get(), EPOLLIN, [&](uint32_t) {
        ++first_calls;
        reactor->remove_fd(first.read_end.get());
        reactor->remove_fd(second.read_end.get());
    }));
    REQUIRE(reactor->add_fd(second.read_end.get(), EPOLLIN, [&](uint32_t) {
        ++second_calls;
        reactor->remove_fd(first.read_end.get());
        reactor->remove_fd(second.read_end.get());
    }));
    first.write("a");
    second.write("b");
    run_until(*reactor, [&] { return first_calls + second_calls > 0; });
    REQUIRE(reactor->run_once(10ms));
    CHECK(first_calls + second_calls == 1);
}

TEST_CASE("a callback may replace its fd's registration with a new callback") {
    auto reactor = make_reactor();
    NonblockingPipe pipe;
    std::vector<std::string> calls;
    REQUIRE(reactor->add_fd(pipe.read_end.get(), EPOLLIN, [&](uint32_t) {
        calls.push_back("old");
        reactor->remove_fd(pipe.read_end.get());
        REQUIRE(reactor->add_fd(pipe.read_end.get(), EPOLLIN, [&](uint32_t) {
            calls.push_back("new");
            reactor->remove_fd(pipe.read_end.get());
        }));
    }));
    pipe.write("x");
    run_until(*reactor, [&] { return calls.size() == 2; });
    CHECK(calls == std::vector<std::string>{"old", "new"});
}

TEST_CASE("modify_fd changes the events an fd is watched for") {
    auto reactor = make_reactor();
    NonblockingPipe pipe;
    int calls = 0;
    REQUIRE(reactor->add_fd(pipe.write_end.get(), EPOLLOUT, [&](uint32_t) { ++calls; }));
    run_until(*reactor, [&] { return calls > 0; });
    REQUIRE(reactor->modify_fd(pipe.write_end.get(), EPOLLIN)); // a write end never reads
    calls = 0;
    REQUIRE(reactor->run_once(20ms));
    CHECK(calls == 0);
}

TEST_CASE("watching an fd twice or modifying an unwatched fd is an error") {
    auto reactor = make_reactor();
    NonblockingPipe pipe;
    REQUIRE(reactor->add_fd(pipe.read_end.get(), EPOLLIN, [](uint32_t) {}));
    Result<void> again = reactor->add_fd(pipe.read_end.get(), EPOLLIN, [](uint32_t) {});
    REQUIRE(!again);
    CHECK(again.error().code() == EEXIST);

    Result<void> modified = reactor->modify_fd(pipe.write_end.get(), EPOLLOUT);
    REQUIRE(!modified);
    CHECK(modified.error().to_string() ==
          "modify fd " + std::to_string(pipe.write_end.get()) + ": not watched");
    reactor->remove_fd(12345); // unknown fds are ignored
}

TEST_CASE("timers fire in the order of their deadlines") {
    auto reactor = make_reactor();
    std::vector<int> fired;
    REQUIRE(reactor->add_timer(30ms, [&] { fired.push_back(30); }));
    REQUIRE(reactor->add_timer(10ms, [&] { fired.push_back(10); }));
    REQUIRE(reactor->add_timer(20ms, [&] { fired.push_back(20); }));
    run_until(*reactor, [&] { return fired.size() == 3; });
    CHECK(fired == std::vector<int>{10, 20, 30});
}

TEST_CASE("timers that expire together still run in deadline order") {
    auto reactor = make_reactor();
    std::vector<int> fired;
    REQUIRE(reactor->add_timer(3ms, [&] { fired.push_back(3); }));
    REQUIRE(reactor->add_timer(1ms, [&] { fired.push_back(1); }));
    REQUIRE(reactor->add_timer(2ms, [&] { fired.push_back(2); }));
    ::usleep(20000); // all three are due before the loop looks
    REQUIRE(reactor->run_once(0ms));
    CHECK(fired == std::vector<int>{1, 2, 3});
}

TEST_CASE("a zero delay timer fires on the next pass of the loop") {
    auto reactor = make_reactor();
    bool fired = false;
    REQUIRE(reactor->add_timer(0ns, [&] { fired = true; }));
    run_until(
        *reactor, [&] { return fired; }, 1s);
}

TEST_CASE("deferred work runs before the loop waits, and work it defers runs a round later") {
    auto reactor = make_reactor();
    std::vector<std::string> order;
    reactor->defer([&] {
        order.push_back("first");
        reactor->defer([&] { order.push_back("second"); });
    });
    CHECK(order.empty()); // nothing runs at defer() time
    auto started = std::chrono::steady_clock::now();
    // A long timeout: pending deferred work must keep the wait from blocking.
    REQUIRE(reactor->run_once(10s));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(order == std::vector<std::string>{"first"});
    REQUIRE(reactor->run_once(0ms));
    CHECK(order == std::vector<std::string>{"first", "second"});
}

TEST_CASE("a cancelled timer never fires") {
    auto reactor = make_reactor();
    bool cancelled_fired = false;
    bool marker_fired = false;
    Result<Reactor::TimerId> id = reactor->add_timer(5ms, [&] { cancelled_fired = true; });
    REQUIRE(id);
    REQUIRE(reactor->add_timer(30ms, [&] { marker_fired = true; }));
    reactor->cancel_timer(*id);
    run_until(*reactor, [&] { return marker_fired; });
    CHECK(!cancelled_fired);
    reactor->cancel_timer(*id);    // already cancelled: ignored
    reactor->cancel_timer(999999); // unknown: ignored
}

TEST_CASE("a timer cancelled by another timer's callback in the same batch does not fire") {
    auto reactor = make_reactor();
    bool victim_fired = false;
    Result<Reactor::TimerId> victim = reactor->add_timer(2ms, [&] { victim_fired = true; });
    REQUIRE(victim);
    bool killer_fired = false;
    REQUIRE(reactor->add_timer(1ms, [&] {
        killer_fired = true;
        reactor->cancel_timer(*victim);
    }));
    ::usleep(20000);
    REQUIRE(reactor->run_once(0ms));
    CHECK(killer_fired);
    REQUIRE(reactor->run_once(20ms));
    CHECK(!victim_fired);
}

TEST_CASE("a repeating timer fires until it cancels itself") {
    auto reactor = make_reactor();
    int ticks = 0;
    Reactor::TimerId id = 0;
    Result<Reactor::TimerId> added = reactor->add_timer(
        1ms,
        [&] {
            if (++ticks == 3)
                reactor->cancel_timer(id);
        },
        2ms);
    REQUIRE(added);
    id = *added;
    run_until(*reactor, [&] { return ticks == 3; });
    for (int i = 0; i < 3; ++i)
        REQUIRE(reactor->run_once(10ms));
    CHECK(ticks == 3);
}

TEST_CASE("a one-shot timer's id is forgotten once it has fired") {
    auto reactor = make_reactor();
    int fired = 0;
    Result<Reactor::TimerId> first = reactor->add_timer(1ms, [&] { ++fired; });
    REQUIRE(first);
    run_until(*reactor, [&] { return fired == 1; });
    Result<Reactor::TimerId> second = reactor->add_timer(5ms, [&] { ++fired; });
    REQUIRE(second);
    CHECK(*second != *first);      // ids are never reused
    reactor->cancel_timer(*first); // must not touch the new timer
    run_until(*reactor, [&] { return fired == 2; });
}

TEST_CASE("a signal sent to the process reaches its on_signal callback") {
    auto reactor = make_reactor();
    int received = 0;
    pid_t sender = 0;
    REQUIRE(reactor->on_signal(SIGUSR1, [&](const signalfd_siginfo& info) {
        received = int(info.ssi_signo);
        sender = pid_t(info.ssi_pid);
    }));
    REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
    run_until(*reactor, [&] { return received != 0; });
    CHECK(received == SIGUSR1);
    CHECK(sender == ::getpid());
}

TEST_CASE("each signal goes to its own callback as the mask grows") {
    auto reactor = make_reactor();
    std::set<int> received;
    REQUIRE(reactor->on_signal(SIGUSR1, [&](const signalfd_siginfo&) { received.insert(1); }));
    REQUIRE(reactor->on_signal(SIGUSR2, [&](const signalfd_siginfo&) { received.insert(2); }));
    REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
    REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
    run_until(*reactor, [&] { return received.size() == 2; });
    // A second delivery of the same signal is seen too.
    received.clear();
    REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
    run_until(*reactor, [&] { return received.count(2) == 1; });
    CHECK(received.count(1) == 0);
}

TEST_CASE("an invalid signal number is refused") {
    auto reactor = make_reactor();
    Result<void> handled = reactor->on_signal(0, [](const signalfd_siginfo&) {});
    CHECK(!handled);
}

TEST_CASE("a watched child's exit goes to its owner, not to the orphan handler") {
    auto reactor = make_reactor();
    int orphans = 0;
    REQUIRE(reactor->enable_reaper([&](pid_t, int) { ++orphans; }));
    pid_t child = spawn_exiting_child(3);
    pid_t reported = 0;
    int status = 0;
    reactor->watch_child(child, [&](pid_t pid, int exit_status) {
        reported = pid;
        status = exit_status;
    });
    run_until(*reactor, [&] { return reported != 0; });
    CHECK(reported == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 3);
    CHECK(orphans == 0);
}

TEST_CASE("an unwatched child's exit goes to the orphan handler") {
    auto reactor = make_reactor();
    pid_t orphan = 0;
    int status = 0;
    REQUIRE(reactor->enable_reaper([&](pid_t pid, int exit_status) {
        orphan = pid;
        status = exit_status;
    }));
    pid_t child = spawn_exiting_child(7);
    run_until(*reactor, [&] { return orphan != 0; });
    CHECK(orphan == child);
    CHECK(WEXITSTATUS(status) == 7);
}

TEST_CASE("a child killed by a signal reports the signal") {
    auto reactor = make_reactor();
    REQUIRE(reactor->enable_reaper([](pid_t, int) {}));
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    int status = 0;
    bool done = false;
    reactor->watch_child(child, [&](pid_t, int exit_status) {
        status = exit_status;
        done = true;
    });
    REQUIRE(::kill(child, SIGKILL) == 0);
    run_until(*reactor, [&] { return done; });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("a child that exited before the reaper was enabled is still reaped") {
    // With SIGCHLD unblocked (and ignored by default) the exit leaves no
    // signal behind: only the reaper's first pass can find the child.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &chld, nullptr) == 0);
    pid_t child = spawn_exiting_child(0);
    for (int i = 0; i < 200; ++i) {
        siginfo_t info{};
        if (::waitid(P_PID, id_t(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == child)
            break;
        ::usleep(5000);
    }
    auto reactor = make_reactor();
    pid_t orphan = 0;
    REQUIRE(reactor->enable_reaper([&](pid_t pid, int) { orphan = pid; }));
    run_until(*reactor, [&] { return orphan != 0; });
    CHECK(orphan == child);
}

TEST_CASE("200 children exiting at once are all reaped and reported once each") {
    auto reactor = make_reactor();
    int orphans = 0;
    REQUIRE(reactor->enable_reaper([&](pid_t, int) { ++orphans; }));
    std::set<pid_t> pending;
    int reported = 0;
    for (int i = 0; i < 200; ++i) {
        pid_t child = spawn_exiting_child(i % 256);
        pending.insert(child);
        reactor->watch_child(child, [&, i](pid_t pid, int status) {
            CHECK(WEXITSTATUS(status) == i % 256);
            CHECK(pending.erase(pid) == 1);
            ++reported;
        });
    }
    run_until(
        *reactor, [&] { return reported == 200; }, 30s);
    CHECK(pending.empty());
    CHECK(orphans == 0);
    errno = 0;
    CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
    CHECK(errno == ECHILD);
}

TEST_CASE("run dispatches until a callback calls stop") {
    auto reactor = make_reactor();
    int ticks = 0;
    REQUIRE(reactor->add_timer(
        1ms,
        [&] {
            if (++ticks == 5)
                reactor->stop();
        },
        1ms));
    REQUIRE(reactor->run());
    CHECK(ticks == 5);
}

TEST_CASE("run_once with a timeout returns when nothing is ready") {
    auto reactor = make_reactor();
    auto start = std::chrono::steady_clock::now();
    REQUIRE(reactor->run_once(20ms));
    CHECK(std::chrono::steady_clock::now() - start >= 15ms);
}
