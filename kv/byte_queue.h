// A byte queue read from the front, for the gRPC layer's outputs: what
// nghttp2 produced and the socket has not taken yet (client and server),
// and a server stream's messages that nghttp2 has not read yet. Bytes taken
// from the front are dropped in bulk, so draining stays linear.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::kv {

class ByteQueue {
public:
    /// Adds `bytes` at the back.
    void append(std::string_view bytes);
    /// The bytes queued, front first (valid until the next change).
    std::string_view front() const { return std::string_view(m_bytes).substr(m_offset); }
    /// How many bytes are queued.
    size_t size() const { return m_bytes.size() - m_offset; }
    bool empty() const { return size() == 0; }
    /// Drops the first `count` bytes (at most size()).
    void consume(size_t count);
    /// Drops everything.
    void clear();

private:
    std::string m_bytes;
    size_t m_offset = 0; // bytes at the front already taken
};

/// What send_queued() left behind.
enum class SendProgress : uint8_t {
    /// Everything queued was sent.
    Drained,
    /// The socket is full (EAGAIN): wait for it to be writable.
    Blocked,
};

/// Sends from the front of `queue` on the non-blocking socket `fd`
/// (MSG_NOSIGNAL, retrying EINTR) until the queue is empty or the socket
/// full. A socket error is an errno error; what was sent is consumed.
Result<SendProgress> send_queued(int fd, ByteQueue& queue);

} // namespace keel::kv
