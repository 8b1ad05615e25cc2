// Length-prefixed framing for protobuf messages on sockets.
//
// A frame is a 4-byte big-endian payload length followed by the payload.
// On SOCK_STREAM frames are reassembled from arbitrary chunks; on
// SOCK_SEQPACKET each packet carries exactly one frame and the prefix must
// match the packet size. Frames larger than the maximum are refused before
// any payload is buffered.
#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// Default maximum payload size: 1 MiB.
inline constexpr std::size_t kDefaultMaxFrame = 1u << 20;
/// Bytes in the length prefix.
inline constexpr std::size_t kFrameHeaderSize = 4;

/// How a socket delimits messages.
enum class Transport { Stream, Seqpacket };

/// Prefix + payload.
std::string encode_frame(std::string_view payload);

/// Incremental decoder for byte streams.
class FrameDecoder {
public:
    explicit FrameDecoder(std::size_t max_frame = kDefaultMaxFrame) : m_max(max_frame) {}
    /// Appends received bytes.
    void feed(std::string_view bytes);
    /// The next complete payload, nullopt when more bytes are needed, or an
    /// error when the announced length exceeds the maximum ("frame of N bytes
    /// exceeds the maximum of M"). After an error the decoder stays failed.
    Result<std::optional<std::string>> next();
    /// Call at end of stream: an error names a truncated frame
    /// ("truncated frame: N of M bytes").
    Result<void> finish() const;

private:
    std::size_t m_max;
    std::string m_buffer;
    bool m_failed = false;
    /// Bytes at the front of m_buffer already returned by next(); dropped on
    /// the next feed() so draining many small frames stays linear.
    std::size_t m_consumed = 0;
};

/// Checks and strips the prefix of one seqpacket packet.
Result<std::string> decode_packet(std::string_view packet,
                                  std::size_t max_frame = kDefaultMaxFrame);

/// Writes one frame (blocking; retries EINTR and short writes). On a
/// non-blocking fd a full socket fails with EAGAIN instead of waiting; on a
/// stream part of the frame may then be sent, so drop the connection.
Result<void> write_frame(int fd, std::string_view payload, Transport transport,
                         std::size_t max_frame = kDefaultMaxFrame);
/// Reads one frame (blocking). End of stream before a frame starts is an
/// error for which is_connection_closed() holds ("connection closed"). On a
/// non-blocking fd, no data fails with EAGAIN (on a stream, possibly
/// mid-frame).
Result<std::string> read_frame(int fd, Transport transport,
                               std::size_t max_frame = kDefaultMaxFrame);

/// True when `error` is read_frame's (or read_message's) "the peer closed
/// the connection cleanly, between frames": the ordinary end of a stream of
/// messages, not a failure. Its code is ErrorCode::ConnectionClosed, not an
/// errno (a reset connection fails with ECONNRESET, a stream cut inside a
/// frame as a truncated frame), and it holds through any context wrapped
/// around the error.
inline bool is_connection_closed(const Error& error) {
    return error.code() == int(ErrorCode::ConnectionClosed);
}

/// Serializes a protobuf-lite message and writes it as one frame.
template <typename Message>
Result<void> write_message(int fd, const Message& message, Transport transport,
                           std::size_t max_frame = kDefaultMaxFrame) {
    std::string bytes;
    if (!message.SerializeToString(&bytes))
        return error("serialize " + message.GetTypeName());
    return write_frame(fd, bytes, transport, max_frame);
}

/// Reads one frame and parses it as `Message`.
template <typename Message>
Result<Message> read_message(int fd, Transport transport,
                             std::size_t max_frame = kDefaultMaxFrame) {
    std::string bytes = TRY(read_frame(fd, transport, max_frame));
    Message message;
    if (!message.ParseFromString(bytes))
        return error("malformed " + message.GetTypeName() + " message");
    return message;
}

} // namespace keel
