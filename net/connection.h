// net/connection: a byte stream to a server, read and written with
// timeouts: a TCP socket (SocketConnection, made by connect_tcp from a host
// name through net/resolver), or TLS over one (net/tls.h). The HTTP client
// reads and writes through the Connection interface, whichever it is.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "net/resolver.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace keel::net {

/// A connected byte stream.
class Connection {
public:
    virtual ~Connection() = default;
    /// Reads up to `size` bytes; 0 at the end of the stream. Fails with
    /// ETIMEDOUT when nothing arrives within the idle timeout.
    virtual Result<size_t> read_some(char* buffer, size_t size) = 0;
    /// Writes all of `data` (ETIMEDOUT when the peer stops reading).
    virtual Result<void> write_all(std::string_view data) = 0;
};

/// Timeouts of a connection.
struct ConnectTimeouts {
    /// For the TCP handshake, per address tried.
    std::chrono::milliseconds connect{10000};
    /// For each read or write to make progress.
    std::chrono::milliseconds idle{30000};
};

/// A TCP socket with the idle timeout applied to each read and write.
class SocketConnection final : public Connection {
public:
    SocketConnection(Fd fd, std::chrono::milliseconds idle) : m_fd(std::move(fd)), m_idle(idle) {}
    Result<size_t> read_some(char* buffer, size_t size) override;
    Result<void> write_all(std::string_view data) override;
    int fd() const { return m_fd.get(); }

private:
    Fd m_fd;
    std::chrono::milliseconds m_idle;
};

/// Resolves `host` and connects to the first of its addresses that
/// answers on `port`; the error names the host, port and the last failure.
Result<std::unique_ptr<SocketConnection>> connect_tcp(std::string_view host, uint16_t port,
                                                      const ConnectTimeouts& timeouts,
                                                      const ResolverOptions& resolver);

} // namespace keel::net
