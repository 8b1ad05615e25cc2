// TCP connections with connect and idle timeouts (non-blocking sockets
// and poll).
#include "net/connection.h"

#include "base/strings.h"

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace keel::net {

namespace {

// Waits up to `timeout` for `events` on `fd`; ETIMEDOUT when none came.
Result<void> wait_for(int fd, short events, std::chrono::milliseconds timeout) {
    for (;;) {
        pollfd entry{fd, events, 0};
        int n = ::poll(&entry, 1, int(timeout.count()));
        if (n < 0 && errno == EINTR)
            continue; // (restarts the whole timeout; signals are rare here)
        if (n < 0)
            return errno_error("poll");
        if (n == 0)
            return errno_error(ETIMEDOUT, "no progress within the timeout");
        return {};
    }
}

} // namespace

Result<size_t> SocketConnection::read_some(char* buffer, size_t size) {
    for (;;) {
        ssize_t n = ::recv(m_fd.get(), buffer, size, 0);
        if (n >= 0)
            return size_t(n);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno_error("read from the server");
        TRY_CTX(wait_for(m_fd.get(), POLLIN, m_idle), "read from the server");
    }
}

Result<void> SocketConnection::write_all(std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data.remove_prefix(size_t(n));
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno_error("write to the server");
        TRY_CTX(wait_for(m_fd.get(), POLLOUT, m_idle), "write to the server");
    }
    return {};
}

Result<std::unique_ptr<SocketConnection>> connect_tcp(std::string_view host, uint16_t port,
                                                      const ConnectTimeouts& timeouts,
                                                      const ResolverOptions& resolver) {
    std::vector<IpAddress> addresses = TRY(resolve_host(host, resolver));
    std::string where = cat(host, " port ", port);
    Error last = Error::message("no address");
    for (const IpAddress& address : addresses) {
        Fd fd(::socket(address.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd)
            return errno_error("socket");
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_storage storage;
        socklen_t length = socket_address(address, port, storage);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) < 0) {
            if (errno != EINPROGRESS) {
                last = Error::from_errno(errno, cat("connect to ", address.str()));
                continue;
            }
            if (Result<void> ready = wait_for(fd.get(), POLLOUT, timeouts.connect); !ready) {
                last = std::move(ready.error()).wrap(cat("connect to ", address.str()));
                continue;
            }
            int connect_error = 0;
            socklen_t size = sizeof connect_error;
            ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &connect_error, &size);
            if (connect_error != 0) {
                last = Error::from_errno(connect_error, cat("connect to ", address.str()));
                continue;
            }
        }
        return std::make_unique<SocketConnection>(std::move(fd), timeouts.idle);
    }
    return std::unexpected(std::move(last).wrap(cat("connect to ", where)));
}

} // namespace keel::net
