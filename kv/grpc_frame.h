// gRPC's own wire format inside HTTP/2, apart from HTTP/2 itself: the
// 5-byte prefix before each message (a compressed flag and a big-endian
// u32 length), the percent-encoding of grpc-message and the grpc-timeout
// header. Used by both the server (kv/grpc_server.h) and the client
// (kv/grpc_client.h); every function here takes bytes from the network.
#pragma once

#include "kv/grpc_status.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

/// Bytes in the prefix of each message: the compressed flag and the length.
inline constexpr size_t kGrpcPrefixSize = 5;

/// `message` with its prefix (not compressed), ready for DATA frames.
std::string encode_grpc_message(std::string_view message);

/// Splits the bytes of a stream's DATA frames into messages. Compressed
/// messages are refused (keel announces no grpc-encoding), and so is a
/// message longer than the maximum, as soon as its prefix arrives and before
/// any of it is buffered.
class GrpcMessageDecoder {
public:
    explicit GrpcMessageDecoder(size_t max_message) : m_max(max_message) {}
    /// Appends received bytes.
    void feed(std::string_view bytes);
    /// The next complete message; nullopt when more bytes are needed. Fails
    /// with ResourceExhausted ("grpc: received message larger than max (N
    /// vs. M)") or Internal (a compressed or unknown flag); after a failure
    /// the decoder stays failed and returns the same status.
    GrpcResult<std::optional<std::string>> next();
    /// At the end of the stream: Internal when it ended inside a message.
    GrpcResult<void> finish() const;
    /// Bytes fed and not yet returned as messages.
    size_t buffered() const { return m_buffer.size() - m_consumed; }

private:
    size_t m_max;
    std::string m_buffer;
    /// Bytes at the front of m_buffer already returned; dropped on the next
    /// feed(), so that many small messages cost linear time.
    size_t m_consumed = 0;
    std::optional<GrpcStatus> m_failure;
};

/// grpc-message's encoding: bytes outside printable ASCII, and '%', as
/// %XX (upper-case hex), so that any text survives an HTTP/2 header.
std::string percent_encode_grpc_message(std::string_view message);
/// The reverse; a '%' not followed by two hex digits is kept as it is, as
/// gRPC's own implementations do.
std::string percent_decode_grpc_message(std::string_view encoded);

/// grpc-timeout: at most 8 digits and a unit (H, M, S, m, u, n). Nullopt
/// for anything else.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view text);
/// The header value for `timeout` in the finest unit that fits 8 digits
/// (a negative timeout is sent as 0).
std::string format_grpc_timeout(std::chrono::nanoseconds timeout);

} // namespace keel::kv
