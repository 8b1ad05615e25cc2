// The sd_notify protocol, as both ends share it: services report readiness,
// status, their main pid and watchdog keep-alives as datagrams of
// newline-separated KEY=value lines on the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or `@name` for an abstract socket). Here are the
// message parser and the sending side (`keel notify`, which also works under
// another service manager); init's receiving socket is init/notify_socket.h.
//
// The parser is strict (a datagram from a service is outside input to
// PID 1) and needs no system library, so the fuzz build takes it with the
// rest of base/.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
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

/// A notify socket's address, ready for bind(2) or sendmsg(2).
struct NotifySocketAddress {
    sockaddr_un address;
    socklen_t length; // of the path, or of the name of an abstract socket
};

/// The address of the notify socket `socket`: a path, or `@name` for an
/// abstract socket. Empty and too long names are errors.
Result<NotifySocketAddress> notify_socket_address(const std::string& socket);

/// Sends `message` to the notify socket `socket` (a path, or `@name` for an
/// abstract socket) like sd_pid_notify: with `as_pid`'s credentials when
/// non-zero and permitted (root), else with the caller's own.
Result<void> send_notify(const std::string& socket, std::string_view message, pid_t as_pid = 0);

} // namespace keel
