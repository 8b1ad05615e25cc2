// Reactor: the epoll loop behind PID 1 and the subsystems.
//
// Each epoll registration carries a tag in its 64-bit cookie: a watched fd, a
// timer (one timerfd each, keyed by a never-reused id) or the one signalfd.
// Callbacks may add or remove anything, including themselves, so dispatch
// re-checks every event against the current tables before running it and
// keeps the callback alive through a copy while it runs.
#include "base/reactor.h"

#include "base/log.h"
#include "base/strings.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace keel {

struct Reactor::Timer {
    Fd fd;
    std::shared_ptr<TimerCallback> callback;
    std::chrono::nanoseconds interval{};
    // CLOCK_MONOTONIC nanoseconds of the next expiry: orders timers that
    // become ready in the same epoll batch.
    int64_t deadline = 0;
};

namespace {

enum class Source : uint64_t { Fd = 1, Timer = 2, Signal = 3 };

constexpr int kSourceShift = 56;
constexpr uint64_t kValueMask = (uint64_t(1) << kSourceShift) - 1;

uint64_t make_cookie(Source source, uint64_t value) {
    return (uint64_t(source) << kSourceShift) | (value & kValueMask);
}
Source cookie_source(uint64_t cookie) {
    return Source(cookie >> kSourceShift);
}
uint64_t cookie_value(uint64_t cookie) {
    return cookie & kValueMask;
}

int64_t monotonic_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return int64_t(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

timespec to_timespec(int64_t ns) {
    timespec ts{};
    ts.tv_sec = time_t(ns / 1'000'000'000);
    ts.tv_nsec = long(ns % 1'000'000'000);
    return ts;
}

// Reads that may be interrupted; EAGAIN comes back as -1 with errno set.
ssize_t read_retrying(int fd, void* buffer, size_t size) {
    ssize_t n;
    do {
        n = ::read(fd, buffer, size);
    } while (n < 0 && errno == EINTR);
    return n;
}

} // namespace

Result<void> block_signals(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int signo : signals)
        sigaddset(&set, signo);
    int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    if (rc != 0)
        return errno_error(rc, "block signals");
    return {};
}

Result<void> unblock_all_signals() {
    sigset_t set;
    sigemptyset(&set);
    int rc = ::pthread_sigmask(SIG_SETMASK, &set, nullptr);
    if (rc != 0)
        return errno_error(rc, "unblock signals");
    return {};
}

Result<std::unique_ptr<Reactor>> Reactor::create() {
    std::unique_ptr<Reactor> reactor(new Reactor());
    reactor->m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!reactor->m_epoll)
        return errno_error("create epoll instance");
    sigemptyset(&reactor->m_signal_mask);
    return reactor;
}

Reactor::~Reactor() = default;

Result<void> Reactor::add_fd(int fd, uint32_t events, FdCallback callback) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = make_cookie(Source::Fd, uint64_t(fd));
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) < 0)
        return errno_error(cat("watch fd ", fd));
    m_fds[fd] = std::make_shared<FdCallback>(std::move(callback));
    return {};
}

Result<void> Reactor::modify_fd(int fd, uint32_t events) {
    if (!m_fds.contains(fd))
        return error(cat("modify fd ", fd, ": not watched"));
    epoll_event event{};
    event.events = events;
    event.data.u64 = make_cookie(Source::Fd, uint64_t(fd));
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, fd, &event) < 0)
        return errno_error(cat("modify fd ", fd));
    return {};
}

void Reactor::remove_fd(int fd) {
    auto it = m_fds.find(fd);
    if (it == m_fds.end())
        return;
    // Fails harmlessly when the caller already closed fd (epoll dropped it).
    ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    m_fds.erase(it);
}

Result<Reactor::TimerId> Reactor::add_timer(std::chrono::nanoseconds delay, TimerCallback callback,
                                            std::chrono::nanoseconds interval) {
    auto timer = std::make_unique<Timer>();
    timer->fd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer->fd)
        return errno_error("create timerfd");
    // An all-zero expiry disarms a timerfd, so "now" is one nanosecond away.
    int64_t delay_ns = std::max<int64_t>(delay.count(), 1);
    timer->deadline = monotonic_ns() + delay_ns;
    timer->interval = std::max(interval, std::chrono::nanoseconds(0));
    timer->callback = std::make_shared<TimerCallback>(std::move(callback));

    itimerspec spec{};
    spec.it_value = to_timespec(timer->deadline);
    spec.it_interval = to_timespec(timer->interval.count());
    if (::timerfd_settime(timer->fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr) < 0)
        return errno_error("arm timerfd");

    TimerId id = m_next_timer++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = make_cookie(Source::Timer, id);
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, timer->fd.get(), &event) < 0)
        return errno_error("watch timerfd");
    m_timers.emplace(id, std::move(timer));
    return id;
}

void Reactor::cancel_timer(TimerId id) {
    // Closing the timerfd also removes it from the epoll set.
    m_timers.erase(id);
}

Result<void> Reactor::update_signal_mask() {
    if (int rc = ::pthread_sigmask(SIG_BLOCK, &m_signal_mask, nullptr); rc != 0)
        return errno_error(rc, "block signals");
    if (m_signal_fd) {
        // signalfd() on an existing descriptor replaces its mask.
        if (::signalfd(m_signal_fd.get(), &m_signal_mask, 0) < 0)
            return errno_error("update signalfd mask");
        return {};
    }
    Fd fd(::signalfd(-1, &m_signal_mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd)
        return errno_error("create signalfd");
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = make_cookie(Source::Signal, 0);
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd.get(), &event) < 0)
        return errno_error("watch signalfd");
    m_signal_fd = std::move(fd);
    return {};
}

Result<void> Reactor::on_signal(int signo, SignalCallback callback) {
    sigset_t previous = m_signal_mask;
    if (sigaddset(&m_signal_mask, signo) < 0)
        return errno_error(cat("handle signal ", signo));
    if (auto updated = update_signal_mask(); !updated) {
        m_signal_mask = previous;
        return std::unexpected(std::move(updated).error().wrap(cat("handle signal ", signo)));
    }
    m_signals[signo] = std::move(callback);
    return {};
}

Result<void> Reactor::enable_reaper(ExitCallback orphan) {
    m_orphan = std::move(orphan);
    TRY_CTX(on_signal(SIGCHLD, [this](const signalfd_siginfo&) { reap(); }), "enable reaper");
    // Children that exited before SIGCHLD was blocked left no signal behind;
    // a first pass from the loop collects them.
    TRY_CTX(add_timer(std::chrono::nanoseconds(0), [this] { reap(); }), "enable reaper");
    return {};
}

void Reactor::watch_child(pid_t pid, ExitCallback callback) {
    m_children[pid] = std::move(callback);
}

void Reactor::reap() {
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0) {
            if (errno != ECHILD)
                log_warning(Error::from_errno(errno, "reap children").to_string());
            return;
        }
        if (pid == 0)
            return; // children remain, none has exited
        auto it = m_children.find(pid);
        if (it != m_children.end()) {
            ExitCallback owner = std::move(it->second);
            m_children.erase(it);
            if (owner)
                owner(pid, status);
        } else if (m_orphan) {
            ExitCallback orphan = m_orphan; // the handler may replace itself
            orphan(pid, status);
        }
    }
}

void Reactor::defer(std::function<void()> callback) {
    m_deferred.push_back(std::move(callback));
}

Result<void> Reactor::run_once(std::chrono::milliseconds timeout) {
    // Deferred work may defer more; that waits for the next round.
    std::vector<std::function<void()>> deferred;
    deferred.swap(m_deferred);
    for (auto& callback : deferred)
        callback();
    if (!m_deferred.empty())
        timeout = std::chrono::milliseconds(0);

    constexpr int kMaxEvents = 64;
    epoll_event events[kMaxEvents];
    int timeout_ms = timeout.count() < 0 ? -1 : int(std::min<int64_t>(timeout.count(), INT32_MAX));
    int count = ::epoll_wait(m_epoll.get(), events, kMaxEvents, timeout_ms);
    if (count < 0 && errno == EINTR)
        return {};
    if (count < 0)
        return errno_error("wait for events");

    // Resolve every event before running any callback: a callback that
    // removes an fd and registers a new one with the same number must not
    // receive the old descriptor's events.
    struct Ready {
        uint64_t cookie;
        uint32_t events;
        std::shared_ptr<FdCallback> fd_callback;
        int64_t deadline;
    };
    std::vector<Ready> timers;
    std::vector<Ready> others;
    for (int i = 0; i < count; ++i) {
        uint64_t cookie = events[i].data.u64;
        Ready ready{cookie, events[i].events, nullptr, 0};
        switch (cookie_source(cookie)) {
        case Source::Fd: {
            auto it = m_fds.find(int(cookie_value(cookie)));
            if (it == m_fds.end())
                continue;
            ready.fd_callback = it->second;
            others.push_back(std::move(ready));
            break;
        }
        case Source::Timer: {
            auto it = m_timers.find(cookie_value(cookie));
            if (it == m_timers.end())
                continue;
            ready.deadline = it->second->deadline;
            timers.push_back(std::move(ready));
            break;
        }
        case Source::Signal:
            others.push_back(std::move(ready));
            break;
        }
    }
    std::stable_sort(timers.begin(), timers.end(),
                     [](const Ready& a, const Ready& b) { return a.deadline < b.deadline; });

    for (const Ready& ready : timers) {
        TimerId id = cookie_value(ready.cookie);
        auto it = m_timers.find(id);
        if (it == m_timers.end())
            continue; // cancelled by an earlier callback in this batch
        Timer& timer = *it->second;
        uint64_t expirations = 0;
        if (read_retrying(timer.fd.get(), &expirations, sizeof expirations) !=
            ssize_t(sizeof expirations))
            continue; // not actually expired (re-armed meanwhile)
        std::shared_ptr<TimerCallback> callback = timer.callback;
        if (timer.interval.count() == 0)
            m_timers.erase(it); // one-shot: its id is now unknown to cancel_timer
        else
            timer.deadline += int64_t(expirations) * timer.interval.count();
        (*callback)();
    }

    for (const Ready& ready : others) {
        if (cookie_source(ready.cookie) == Source::Fd) {
            int fd = int(cookie_value(ready.cookie));
            auto it = m_fds.find(fd);
            if (it == m_fds.end() || it->second != ready.fd_callback)
                continue; // removed, or replaced, by an earlier callback
            (*ready.fd_callback)(ready.events);
            continue;
        }
        // The signalfd: drain everything queued.
        for (;;) {
            signalfd_siginfo infos[16];
            if (!m_signal_fd)
                break;
            ssize_t n = read_retrying(m_signal_fd.get(), infos, sizeof infos);
            if (n <= 0)
                break;
            for (size_t i = 0; i < size_t(n) / sizeof(signalfd_siginfo); ++i) {
                auto it = m_signals.find(int(infos[i].ssi_signo));
                if (it == m_signals.end())
                    continue;
                SignalCallback callback = it->second; // may re-register itself
                callback(infos[i]);
            }
        }
    }
    return {};
}

Result<void> Reactor::run() {
    while (!m_stopped)
        TRY(run_once());
    m_stopped = false; // so the loop can be entered again
    return {};
}

} // namespace keel
