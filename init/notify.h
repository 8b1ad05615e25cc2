// The sd_notify protocol: services report readiness, status, their main
// pid and watchdog keep-alives as datagrams of newline-separated KEY=value
// lines on the AF_UNIX socket named by $NOTIFY_SOCKET, and the kernel
// attaches the sender's credentials (SO_PASSCRED) so init knows who spoke.
//
// The parser is strict (a datagram from a service is outside input to
// PID 1) and depends on base/ only, so the fuzz build compiles this file
// directly.
#pragma once

#include "base/fd.h"
#include "base/reactor.h"
#include "base/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

namespace keel {

/// Longer datagrams are refused, as systemd does (its buffer is PIPE_BUF).
inline constexpr std::size_t kMaxNotifyMessage = 4096;

/// What one datagram said.
struct NotifyMessage {
    bool ready = false;                          // READY=1
    bool reloading = false;                      // RELOADING=1
    bool stopping = false;                       // STOPPING=1
    std::optional<std::string> status;           // STATUS=free text
    std::optional<pid_t> main_pid;               // MAINPID=
    bool watchdog = false;                       // WATCHDOG=1
    bool watchdog_trigger = false;               // WATCHDOG=trigger
    std::optional<uint64_t> watchdog_usec;       // WATCHDOG_USEC=: a new watchdog timeout
    std::optional<uint64_t> extend_timeout_usec; // EXTEND_TIMEOUT_USEC=
    std::optional<int> errno_value;              // ERRNO=
    /// Well-formed keys keel does not act on (FDSTORE=1, BUSERROR=...).
    std::vector<std::string> ignored;
};

/// Parses one datagram. Every non-empty line must be KEY=value with an
/// upper-case key; known keys must have valid values ("line 2: MAINPID:
/// `abc` is not a pid"). Unknown keys are listed in `ignored`.
Result<NotifyMessage> parse_notify_message(std::string_view datagram);

/// The receiving socket, served on the reactor.
class NotifySocket {
public:
    /// `message` is the parsed datagram or why it was refused.
    using Handler = std::function<void(const struct ucred& sender, Result<NotifyMessage> message)>;

    /// Binds a datagram socket at `path` (mode 0666: services running as
    /// any user may report; the sender's pid decides what counts).
    static Result<std::unique_ptr<NotifySocket>> open(Reactor& reactor, const std::string& path,
                                                      Handler handler);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    const std::string& path() const { return m_path; }
    /// Handles what is queued now. Init calls it before acting on a child's
    /// exit, so a READY=1 sent just before exiting is not lost to the race.
    void drain();

private:
    NotifySocket(Reactor& reactor, Handler handler)
        : m_reactor(reactor), m_handler(std::move(handler)) {}

    Reactor& m_reactor;
    Handler m_handler;
    Fd m_fd;
    std::string m_path;
};

/// Sends `message` to the notify socket `socket` (a path, or `@name` for an
/// abstract socket) like sd_pid_notify: with `as_pid`'s credentials when
/// non-zero and permitted (root), else with the caller's own.
Result<void> send_notify(const std::string& socket, std::string_view message, pid_t as_pid = 0);

} // namespace keel
