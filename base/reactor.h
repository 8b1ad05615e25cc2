// Reactor: one epoll loop for file descriptors, timers, signals and child
// exits. Single-threaded; callbacks run on the thread that calls run().
//
// Signals are delivered through a signalfd, so callers block them first
// (block_signals()). Child exits come from one SIGCHLD reaper that calls
// waitpid(-1, WNOHANG) until nothing is left and hands each exit to the
// owner that registered the pid, or to the orphan handler: the only correct
// way for PID 1 to reap, since per-child waits race with a global reaper.
#pragma once

#include "base/fd.h"
#include "base/result.h"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <vector>

namespace keel {

/// Blocks `signals` for the calling thread (so a signalfd can receive them).
Result<void> block_signals(std::initializer_list<int> signals);
/// Unblocks every signal for the calling thread: a child forked from the
/// loop inherits the reactor's blocked set and must clear it before exec.
Result<void> unblock_all_signals();

class Reactor {
public:
    using FdCallback = std::function<void(uint32_t events)>;
    using TimerCallback = std::function<void()>;
    using SignalCallback = std::function<void(const signalfd_siginfo&)>;
    /// `status` is as from waitpid (use WIFEXITED etc.).
    using ExitCallback = std::function<void(pid_t pid, int status)>;
    using TimerId = uint64_t;

    static Result<std::unique_ptr<Reactor>> create();
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    /// Watches `fd` for `events` (EPOLLIN, ...). The reactor does not own fd.
    Result<void> add_fd(int fd, uint32_t events, FdCallback callback);
    Result<void> modify_fd(int fd, uint32_t events);
    /// Stops watching fd; safe to call from inside its own callback.
    void remove_fd(int fd);

    /// Runs `callback` once after `delay`, then every `interval` if non-zero.
    Result<TimerId> add_timer(std::chrono::nanoseconds delay, TimerCallback callback,
                              std::chrono::nanoseconds interval = {});
    /// Cancels a timer; unknown or already-fired ids are ignored.
    void cancel_timer(TimerId id);

    /// Delivers `signo` to `callback` via the reactor's signalfd. The signal is
    /// blocked for the calling thread as a side effect.
    Result<void> on_signal(int signo, SignalCallback callback);

    /// Starts reaping children on SIGCHLD. Exits of pids registered with
    /// watch_child() go to their callback; all others go to `orphan`.
    Result<void> enable_reaper(ExitCallback orphan);
    /// Routes the exit of `pid` to `callback` (once). Register right after
    /// fork/clone, before returning to the loop, so no exit is missed.
    void watch_child(pid_t pid, ExitCallback callback);
    /// Reaps everything that has exited now (also runs on each SIGCHLD).
    void reap();

    /// Runs `callback` once, before the loop next waits for events: work that
    /// batches whatever one dispatch produced (a journal's disk write).
    void defer(std::function<void()> callback);

    /// Runs deferred work, then waits up to `timeout` (negative: forever)
    /// and dispatches what is ready.
    Result<void> run_once(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /// Dispatches until stop() is called.
    Result<void> run();
    void stop() { m_stopped = true; }

private:
    Reactor() = default;
    Result<void> update_signal_mask();

    struct Timer;
    Fd m_epoll;
    Fd m_signal_fd;
    sigset_t m_signal_mask{};
    std::map<int, std::shared_ptr<FdCallback>> m_fds;
    std::map<TimerId, std::unique_ptr<Timer>> m_timers;
    TimerId m_next_timer = 1;
    std::map<int, SignalCallback> m_signals;
    std::map<pid_t, ExitCallback> m_children;
    ExitCallback m_orphan;
    std::vector<std::function<void()>> m_deferred;
    bool m_stopped = false;
};

} // namespace keel
