// init's notify socket: the receiving end of the sd_notify protocol
// (base/notify.h). A datagram socket on init's reactor with SO_PASSCRED,
// so the kernel attaches the sender's credentials and init knows who spoke.
#pragma once

#include "base/fd.h"
#include "base/notify.h"
#include "base/reactor.h"
#include "base/result.h"

#include <functional>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace keel {

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

} // namespace keel
