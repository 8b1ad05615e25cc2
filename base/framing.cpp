// Length-prefixed frames: encoding, incremental stream decoding, seqpacket
// decoding, and blocking reads and writes on sockets.
//
// Sizes are checked against the maximum before anything is allocated for a
// payload, so a peer cannot make keel buffer more than one maximal frame.
// Writes use MSG_NOSIGNAL: a client that hangs up must not kill PID 1 with
// SIGPIPE. On a non-blocking descriptor EAGAIN is returned, never waited out:
// PID 1 replies on non-blocking sockets and must not hang on a client that
// stops reading.
#include "base/framing.h"

#include "base/strings.h"

#include <cerrno>
#include <cstdint>
#include <limits>
#include <sys/socket.h>
#include <unistd.h>

namespace keel {

namespace {

void put_be32(char* out, uint32_t value) {
    out[0] = char(value >> 24);
    out[1] = char(value >> 16);
    out[2] = char(value >> 8);
    out[3] = char(value);
}

uint32_t get_be32(const char* in) {
    auto byte = [&](int i) { return uint32_t(static_cast<unsigned char>(in[i])); };
    return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

std::unexpected<Error> oversize_error(uint64_t size, std::size_t max) {
    return error(cat("frame of ", size, " bytes exceeds the maximum of ", uint64_t(max)));
}

std::unexpected<Error> connection_closed_error() {
    return std::unexpected(Error::from_code(ErrorCode::ConnectionClosed, "connection closed"));
}

std::unexpected<Error> truncated_error(uint64_t have, uint64_t want) {
    return error(cat("truncated frame: ", have, " of ", want, " bytes"));
}

std::unexpected<Error> truncated_header_error(uint64_t have) {
    return error(
        cat("truncated frame header: ", have, " of ", uint64_t(kFrameHeaderSize), " bytes"));
}

// Sends all of `data`; falls back to write(2) for pipes and other non-sockets.
Result<void> send_all(int fd, std::string_view data) {
    bool socket = true;
    while (!data.empty()) {
        ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL)
                           : ::write(fd, data.data(), data.size());
        if (n < 0 && errno == ENOTSOCK && socket) {
            socket = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("send frame");
        data.remove_prefix(size_t(n));
    }
    return {};
}

// Reads until `size` bytes arrived or the stream ended; returns the count.
Result<size_t> read_exactly(int fd, char* buffer, size_t size) {
    size_t have = 0;
    while (have < size) {
        ssize_t n = ::read(fd, buffer + have, size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("receive frame");
        if (n == 0)
            break;
        have += size_t(n);
    }
    return have;
}

// recv(2) retrying EINTR.
Result<size_t> receive(int fd, char* buffer, size_t size, int flags) {
    for (;;) {
        ssize_t n = ::recv(fd, buffer, size, flags);
        if (n >= 0)
            return size_t(n);
        if (errno != EINTR)
            return errno_error("receive frame");
    }
}

Result<std::string> read_stream_frame(int fd, std::size_t max_frame) {
    char header[kFrameHeaderSize];
    size_t have = TRY(read_exactly(fd, header, sizeof header));
    if (have == 0)
        return connection_closed_error();
    if (have < sizeof header)
        return truncated_header_error(have);
    uint32_t length = get_be32(header);
    if (length > max_frame)
        return oversize_error(length, max_frame);
    std::string payload(length, '\0');
    have = TRY(read_exactly(fd, payload.data(), length));
    if (have < length)
        return truncated_error(have, length);
    return payload;
}

Result<std::string> read_seqpacket_frame(int fd, std::size_t max_frame) {
    // MSG_TRUNC makes the peek report the whole packet's size.
    char header[kFrameHeaderSize] = {};
    size_t packet_size = TRY(receive(fd, header, sizeof header, MSG_PEEK | MSG_TRUNC));
    if (packet_size == 0)
        return connection_closed_error();
    if (packet_size - std::min(packet_size, kFrameHeaderSize) > max_frame) {
        // Reading part of a packet discards the rest of it.
        TRY(receive(fd, header, sizeof header, 0));
        uint32_t announced = get_be32(header);
        return oversize_error(announced > max_frame ? announced : packet_size - kFrameHeaderSize,
                              max_frame);
    }
    std::string packet(packet_size, '\0');
    size_t got = TRY(receive(fd, packet.data(), packet.size(), 0));
    packet.resize(got);
    return decode_packet(packet, max_frame);
}

} // namespace

std::string encode_frame(std::string_view payload) {
    std::string frame(kFrameHeaderSize, '\0');
    put_be32(frame.data(), uint32_t(payload.size()));
    frame += payload;
    return frame;
}

void FrameDecoder::feed(std::string_view bytes) {
    if (m_failed)
        return;
    if (m_consumed > 0) {
        m_buffer.erase(0, m_consumed);
        m_consumed = 0;
    }
    m_buffer.append(bytes);
    // Refuse an oversize frame as soon as its header is in, so its payload
    // is never kept.
    if (m_buffer.size() >= kFrameHeaderSize && get_be32(m_buffer.data()) > m_max) {
        m_buffer.resize(kFrameHeaderSize);
        m_failed = true;
    }
}

Result<std::optional<std::string>> FrameDecoder::next() {
    if (m_failed)
        return oversize_error(get_be32(m_buffer.data()), m_max);
    size_t available = m_buffer.size() - m_consumed;
    if (available < kFrameHeaderSize)
        return std::nullopt;
    uint32_t length = get_be32(m_buffer.data() + m_consumed);
    if (length > m_max) {
        // Keep only the header, for the message on later calls.
        m_buffer.erase(0, m_consumed);
        m_buffer.resize(kFrameHeaderSize);
        m_consumed = 0;
        m_failed = true;
        return oversize_error(length, m_max);
    }
    if (available - kFrameHeaderSize < length)
        return std::nullopt;
    std::string payload = m_buffer.substr(m_consumed + kFrameHeaderSize, length);
    m_consumed += kFrameHeaderSize + length;
    if (m_consumed == m_buffer.size()) {
        m_buffer.clear();
        m_consumed = 0;
    }
    return payload;
}

Result<void> FrameDecoder::finish() const {
    if (m_failed)
        return oversize_error(get_be32(m_buffer.data()), m_max);
    // Frames still complete in the buffer are fine; what follows them is not.
    std::string_view rest = std::string_view(m_buffer).substr(m_consumed);
    while (rest.size() >= kFrameHeaderSize) {
        uint32_t length = get_be32(rest.data());
        if (length > m_max)
            return oversize_error(length, m_max);
        if (rest.size() - kFrameHeaderSize < length)
            return truncated_error(rest.size() - kFrameHeaderSize, length);
        rest.remove_prefix(kFrameHeaderSize + length);
    }
    if (!rest.empty())
        return truncated_header_error(rest.size());
    return {};
}

Result<std::string> decode_packet(std::string_view packet, std::size_t max_frame) {
    if (packet.size() < kFrameHeaderSize)
        return truncated_header_error(packet.size());
    uint32_t length = get_be32(packet.data());
    if (length > max_frame)
        return oversize_error(length, max_frame);
    size_t carried = packet.size() - kFrameHeaderSize;
    if (carried < length)
        return truncated_error(carried, length);
    if (carried > length)
        return error(cat("frame of ", length, " bytes is followed by ", uint64_t(carried - length),
                         " stray bytes in its packet"));
    return std::string(packet.substr(kFrameHeaderSize));
}

Result<void> write_frame(int fd, std::string_view payload, Transport transport,
                         std::size_t max_frame) {
    if (payload.size() > max_frame || payload.size() > std::numeric_limits<uint32_t>::max())
        return oversize_error(payload.size(), max_frame);
    std::string frame = encode_frame(payload);
    if (transport == Transport::Stream)
        return send_all(fd, frame);
    for (;;) {
        ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("send frame");
        // A seqpacket send is all or nothing; anything else is a kernel surprise.
        if (size_t(n) != frame.size())
            return error(cat("send frame: short packet write: ", uint64_t(n), " of ",
                             uint64_t(frame.size()), " bytes"));
        return {};
    }
}

Result<std::string> read_frame(int fd, Transport transport, std::size_t max_frame) {
    if (transport == Transport::Stream)
        return read_stream_frame(fd, max_frame);
    return read_seqpacket_frame(fd, max_frame);
}

} // namespace keel
