// A blocking gRPC client over HTTP/2 (nghttp2): what keel's CLI commands
// and test tools call the KV's gRPC API with. Not for the server's loop:
// every call waits on the socket (with a deadline). One connection
// multiplexes any number of calls; a GrpcClient and its streams are used
// from one thread.
//
// Failures come back as a GrpcStatus, as in grpc-go: the server's status,
// or Unavailable for a connection that failed or closed, DeadlineExceeded
// for a deadline that passed, Internal for a reply that breaks the wire
// format.
#pragma once

#include "base/result.h"
#include "kv/grpc_status.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::kv {

/// Request metadata: (lowercase name, value) pairs, e.g. {"token", "..."}.
using GrpcMetadata = std::vector<std::pair<std::string, std::string>>;

/// How a client connects and what it accepts.
struct GrpcClientOptions {
    /// For the TCP (or unix socket) connect.
    std::chrono::milliseconds connect_timeout{5000};
    /// For send() and close_send() to hand their bytes to the socket.
    std::chrono::milliseconds send_timeout{30000};
    /// The largest response message taken (ResourceExhausted beyond).
    size_t max_receive_message = 64u << 20;
    /// Each stream's receive window and the connection's.
    uint32_t stream_window = 1u << 20;
    uint32_t connection_window = 4u << 20;
};

class GrpcConnection;

/// One call of a streaming method (or a unary one, message by message).
/// Destroying a stream that has not ended cancels it (RST_STREAM CANCEL).
class GrpcStream {
public:
    ~GrpcStream();
    GrpcStream(const GrpcStream&) = delete;
    GrpcStream& operator=(const GrpcStream&) = delete;

    /// Sends one serialized message; returns once HTTP/2 flow control let
    /// all of it go to the socket. Fails when the stream ended (with its
    /// status) or the send timeout passed (DeadlineExceeded).
    GrpcResult<void> send(std::string_view message);
    /// Ends the client's side (END_STREAM); replies may still come.
    GrpcResult<void> close_send();
    /// The next message from the server; nullopt once the server ended the
    /// stream with OK. Fails with the server's status when it ended with an
    /// error, and with DeadlineExceeded when nothing came within `timeout`
    /// (the stream stays usable: ended() is false then).
    GrpcResult<std::optional<std::string>> receive(std::chrono::milliseconds timeout);
    /// Resets the stream (RST_STREAM CANCEL): the server sees on_cancel().
    void cancel();
    /// True once the stream ended (status() says how).
    bool ended() const;
    /// How the stream ended; nullopt while it has not.
    std::optional<GrpcStatus> status() const;

private:
    friend class GrpcClient;
    friend class GrpcConnection;
    struct State;
    GrpcStream(std::shared_ptr<GrpcConnection> connection, std::shared_ptr<State> state);
    std::shared_ptr<GrpcConnection> m_connection;
    std::shared_ptr<State> m_state;
};

/// A connection to a gRPC server.
class GrpcClient {
public:
    /// Connects to `address` ("127.0.0.1:2379", "[::1]:2379",
    /// "localhost:2379", "http://..." or "unix:PATH") and exchanges HTTP/2
    /// SETTINGS. The error names the address and what failed.
    static Result<std::unique_ptr<GrpcClient>> connect(std::string_view address,
                                                       GrpcClientOptions options = {});
    ~GrpcClient();
    GrpcClient(const GrpcClient&) = delete;
    GrpcClient& operator=(const GrpcClient&) = delete;

    /// Calls a unary method: sends `request`, returns the one response
    /// message or the call's status. `timeout` is also sent to the server
    /// (grpc-timeout).
    GrpcResult<std::string> unary(std::string_view path, std::string_view request,
                                  std::chrono::milliseconds timeout,
                                  const GrpcMetadata& metadata = {});
    /// Starts a call of `path` (headers only; messages follow with send()).
    GrpcResult<std::unique_ptr<GrpcStream>> open_stream(std::string_view path,
                                                        const GrpcMetadata& metadata = {});

private:
    explicit GrpcClient(std::shared_ptr<GrpcConnection> connection);
    std::shared_ptr<GrpcConnection> m_connection;
};

} // namespace keel::kv
