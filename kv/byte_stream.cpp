// PlainStream, the ByteStream that reads and sends on the socket directly,
// and send_queued() over any stream.
#include "kv/byte_stream.h"

#include <cerrno>
#include <sys/socket.h>

namespace keel::kv {

Result<std::optional<size_t>> PlainStream::read(char* buffer, size_t size) {
    for (;;) {
        ssize_t n = ::recv(m_fd, buffer, size, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return std::optional<size_t>();
        if (n < 0)
            return errno_error("recv");
        return std::optional<size_t>(size_t(n));
    }
}

Result<size_t> PlainStream::write(std::string_view bytes) {
    m_blocked = false;
    size_t total = 0;
    while (total < bytes.size()) {
        ssize_t sent = ::send(m_fd, bytes.data() + total, bytes.size() - total, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            m_blocked = true;
            break;
        }
        if (sent < 0)
            return errno_error("send");
        total += size_t(sent);
    }
    return total;
}

Result<SendProgress> send_queued(ByteStream& stream, ByteQueue& queue) {
    for (;;) {
        size_t sent = TRY(stream.write(queue.front()));
        queue.consume(sent);
        if (queue.empty() && !stream.has_pending_output())
            return SendProgress::Drained;
        if (sent == 0 || stream.wants_writable())
            return SendProgress::Blocked;
    }
}

} // namespace keel::kv
