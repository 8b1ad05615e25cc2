// A gRPC server over HTTP/2 (nghttp2) on base/reactor.h: the transport the
// etcd v3 API is served with. It knows nothing about etcd: a route maps a
// method path ("/etcdserverpb.KV/Range") to a handler of serialized
// messages. Plaintext h2c with prior knowledge (what grpc-go does for
// http:// endpoints), or HTTP/2 over TLS with ALPN "h2" when the options
// carry a TLS context (kv/tls_stream.h). Single-threaded: every callback runs on the reactor's
// thread, and sockets never block the loop.
#pragma once

#include "base/reactor.h"
#include "base/result.h"
#include "kv/grpc_status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

class TlsContext;

/// One RPC on the server, shared by the connection and the handler. After
/// the call finished, the client reset the stream or the connection
/// dropped, send() and finish() are ignored and is_open() is false. An
/// interface, so that handlers can be tested with a fake call.
class GrpcCall {
public:
    virtual ~GrpcCall() = default;
    /// The method path, "/etcdserverpb.KV/Range".
    virtual const std::string& path() const = 0;
    /// The request's :authority.
    virtual const std::string& authority() const = 0;
    /// The value of a request header (lowercase name), e.g. "grpc-timeout"
    /// or "token"; nullopt when the request has none.
    virtual std::optional<std::string> header(std::string_view name) const = 0;
    /// Queues one serialized message for the client. The response headers
    /// go out with the first.
    virtual void send(std::string message) = 0;
    /// Ends the call with `status` (trailers grpc-status and grpc-message)
    /// after the messages queued so far. Without any message sent it is a
    /// Trailers-Only response.
    virtual void finish(GrpcStatus status) = 0;
    /// False once finished, reset by the client or its connection gone.
    virtual bool is_open() const = 0;
    /// Bytes of messages queued and not yet handed to HTTP/2 (which sends
    /// only as far as the client's flow-control windows allow): a watch
    /// stops producing while this is large.
    virtual size_t queued_bytes() const = 0;
    /// `callback` runs (on the loop, once per time) when queued_bytes()
    /// drops to 0 after it was not.
    virtual void on_drained(std::function<void()> callback) = 0;
};

/// What the server calls for one call. Every callback runs on the loop;
/// after on_cancel() nothing more is called and the handler is destroyed
/// soon after.
class GrpcHandler {
public:
    virtual ~GrpcHandler() = default;
    /// One request message, serialized.
    virtual void on_message(std::string_view message) = 0;
    /// The client sent END_STREAM: no more messages come.
    virtual void on_half_close() {}
    /// The client reset the stream, the connection is gone, the server
    /// stopped, or the request broke the wire format (the server then ended
    /// the call with that status itself).
    virtual void on_cancel() {}
};

/// Makes the handler for a new call of one path.
using GrpcRoute = std::function<std::unique_ptr<GrpcHandler>(std::shared_ptr<GrpcCall>)>;

/// Limits of a server.
struct GrpcServerOptions {
    /// The largest request message taken (etcd: 1.5 MiB requests plus
    /// gRPC's overhead); a larger one ends its call with ResourceExhausted.
    size_t max_receive_message = 2u << 20;
    /// SETTINGS_MAX_CONCURRENT_STREAMS announced to each client.
    uint32_t max_concurrent_streams = 1000;
    /// Each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    uint32_t stream_window = 1u << 20;
    /// The connection's receive window.
    uint32_t connection_window = 4u << 20;
    /// The most bytes of request headers per call (a larger header block
    /// resets the stream).
    size_t max_header_bytes = 64u << 10;
    /// Serve TLS with this server context (its ALPN list should hold
    /// "h2"); null for plaintext h2c. A connection whose handshake fails is
    /// closed and logged once with the reason.
    std::shared_ptr<TlsContext> tls;
};

/// Serves gRPC calls on a TCP (or unix) socket from the reactor.
class GrpcServer {
public:
    /// Listens on `address`: "IPv4:port" ("127.0.0.1:2379"), "[IPv6]:port"
    /// ("[::1]:2379"), port 0 picking a free port, or "unix:PATH" (an
    /// existing socket file at PATH is replaced).
    static Result<std::unique_ptr<GrpcServer>> listen(Reactor& reactor, std::string_view address,
                                                      GrpcServerOptions options = {});
    /// Closes the listener and every connection (handlers see on_cancel).
    ~GrpcServer();
    GrpcServer(const GrpcServer&) = delete;
    GrpcServer& operator=(const GrpcServer&) = delete;

    /// Serves calls of `path` ("/service/method") with `route`; a second
    /// route for a path replaces the first.
    void route(std::string path, GrpcRoute route);
    /// Asks `admission` before each call's route runs: a status it returns
    /// ends the call with it (a learner refusing what it cannot serve).
    void admit_with(std::function<std::optional<GrpcStatus>(std::string_view path)> admission);
    /// Serves an already-connected stream socket (made non-blocking here):
    /// a socketpair in tests and fuzzing, or a socket handed over by a
    /// supervisor. `peer` names it in log lines.
    Result<void> serve(Fd socket, std::string peer);
    /// The TCP port listened on (0 for a unix socket).
    uint16_t port() const;
    /// Stops: closes the listener, sends GOAWAY on every connection, cancels
    /// its calls and closes it. Safe to call from a handler.
    void stop();
    /// Connections open now (for tests and status).
    size_t connection_count() const;

    class Connection;

private:
    GrpcServer(Reactor& reactor, GrpcServerOptions options);
    void accept_connections();
    /// Stops watching the listener for a moment (accept ran out of fds).
    void pause_accepting();
    void forget(Connection* connection);

    Reactor& m_reactor;
    GrpcServerOptions m_options;
    Fd m_listener;
    uint16_t m_port = 0;
    std::map<std::string, GrpcRoute, std::less<>> m_routes;
    std::function<std::optional<GrpcStatus>(std::string_view path)> m_admission;
    std::map<Connection*, std::shared_ptr<Connection>> m_connections;
    /// Tells callbacks deferred on the reactor that the server is gone.
    std::shared_ptr<bool> m_alive;
};

/// A route for a unary method: `handle` gets the one request message and
/// answers through the call (send + finish), now or later. A request with
/// no message or a second one ends the call with Internal, as grpc-go does.
GrpcRoute
unary_route(std::function<void(std::string_view request, std::shared_ptr<GrpcCall>)> handle);

} // namespace keel::kv
