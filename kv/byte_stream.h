// The seam between the KV's connection code (the gRPC server, the peer
// transport) and its non-blocking socket: a ByteStream reads and sends
// plaintext, either straight on the socket (PlainStream) or through a TLS
// session (kv/tls_stream.h) whose handshake is driven by the same readiness
// events. The code above it does not care which.
#pragma once

#include "base/result.h"
#include "kv/byte_queue.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

namespace keel::kv {

/// Plaintext in and out of one connected, non-blocking socket. The stream
/// does not own the socket.
class ByteStream {
public:
    virtual ~ByteStream() = default;
    /// Reads up to `size` plaintext bytes: their count; 0 when the peer
    /// closed; nullopt when nothing is there now (wait for EPOLLIN). An
    /// error (a socket or TLS failure) means the connection is done.
    virtual Result<std::optional<size_t>> read(char* buffer, size_t size) = 0;
    /// Sends a prefix of `bytes` and returns its length: less than all when
    /// the socket is full (then wants_writable()) or a TLS handshake waits
    /// for the other end. An empty `bytes` sends only what the stream
    /// holds itself.
    virtual Result<size_t> write(std::string_view bytes) = 0;
    /// Bytes the stream holds for the socket itself (TLS records): send()
    /// write() must be called even when the caller has nothing to send.
    virtual bool has_pending_output() const = 0;
    /// Whether the last write() stopped on a full socket (watch EPOLLOUT).
    virtual bool wants_writable() const = 0;
    /// Plaintext decrypted and not read yet, which no readiness event will
    /// announce: read again soon.
    virtual bool has_buffered_input() const = 0;
};

/// A stream that is the socket itself: recv() and send().
class PlainStream final : public ByteStream {
public:
    explicit PlainStream(int fd) : m_fd(fd) {}
    Result<std::optional<size_t>> read(char* buffer, size_t size) override;
    Result<size_t> write(std::string_view bytes) override;
    bool has_pending_output() const override { return false; }
    bool wants_writable() const override { return m_blocked; }
    bool has_buffered_input() const override { return false; }

private:
    int m_fd;
    bool m_blocked = false;
};

/// Sends from the front of `queue` on `stream`, consuming what was taken.
/// Drained: the queue and what the stream held are out. Blocked: wait for
/// EPOLLOUT when stream.wants_writable(), else for the other end (EPOLLIN).
Result<SendProgress> send_queued(ByteStream& stream, ByteQueue& queue);

} // namespace keel::kv
