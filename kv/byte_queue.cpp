// ByteQueue and send_queued(): the gRPC layer's output buffering.
#include "kv/byte_queue.h"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>

namespace keel::kv {

void ByteQueue::append(std::string_view bytes) {
    // Drop what was taken before growing, once it is at least half.
    if (m_offset > 0 && m_offset >= m_bytes.size() / 2) {
        m_bytes.erase(0, m_offset);
        m_offset = 0;
    }
    m_bytes.append(bytes);
}

void ByteQueue::consume(size_t count) {
    m_offset += std::min(count, size());
    if (m_offset == m_bytes.size())
        clear();
}

void ByteQueue::clear() {
    m_bytes.clear();
    m_offset = 0;
}

Result<SendProgress> send_queued(int fd, ByteQueue& queue) {
    while (!queue.empty()) {
        std::string_view bytes = queue.front();
        ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return SendProgress::Blocked;
        if (sent < 0)
            return errno_error("send");
        queue.consume(static_cast<size_t>(sent));
    }
    return SendProgress::Drained;
}

} // namespace keel::kv
