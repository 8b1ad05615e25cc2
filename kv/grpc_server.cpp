// The gRPC server (see kv/grpc_server.h): a listener on the reactor, one
// Connection per accepted socket, each an nghttp2 server session fed with
// nghttp2_session_mem_recv and drained with nghttp2_session_mem_send, so
// that nghttp2 never touches the socket and writes never block: what the
// kernel does not take waits in the connection's buffer for EPOLLOUT, and
// nghttp2 is asked for more only once that buffer is small again.
//
// A call's response goes out as HEADERS, then DATA from a data provider
// that reads the call's queued messages (deferred while the queue is empty,
// resumed by send()), then trailers submitted from the provider once the
// queue is empty and finish() was called. A finish() before any message is
// a Trailers-Only response: one HEADERS frame with END_STREAM.
//
// Handlers and calls may be called back into from anywhere on the loop (a
// handler finishing a call from a Raft apply, or stopping the server from
// on_message), so nothing a callback may be running in is destroyed while
// it runs: closed streams and connections are parked and destroyed by a
// deferred task.
#include "kv/grpc_server.h"

#include "base/log.h"
#include "base/strings.h"
#include "kv/byte_queue.h"
#include "kv/byte_stream.h"
#include "kv/grpc_address.h"
#include "kv/grpc_frame.h"
#include "kv/http2_callbacks.h"
#include "kv/tls_stream.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace keel::kv {

// In a named namespace, not the anonymous one: ServerCall, a class with
// linkage, holds it.
namespace detail {

/// Where a call is in its life.
enum class CallState {
    /// Messages may be sent.
    Open,
    /// finish() was called with messages still queued: trailers follow them.
    Finishing,
    /// Trailers handed to nghttp2.
    Finished,
    /// The stream or the connection is gone.
    Detached,
};

} // namespace detail

namespace {

using detail::CallState;

constexpr std::string_view kGrpcContentType = "application/grpc";
/// nghttp2 is asked for more frames only while less than this waits for
/// the socket: the bound on what one slow client makes the server hold.
constexpr size_t kWriteHighWater = 256u << 10;
constexpr size_t kReadChunk = 16u << 10;
/// Reads per readiness event, so that one busy client cannot starve the
/// others on the loop.
constexpr int kReadsPerEvent = 16;
/// How long the listener rests after accept() ran out of descriptors.
constexpr std::chrono::milliseconds kAcceptPause{100};

// What a call whose deadline passed ends with (grpc-go's words).
GrpcStatus deadline_exceeded() {
    return {GrpcCode::DeadlineExceeded, "context deadline exceeded"};
}

std::string peer_name(const sockaddr_storage& address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(address);
        ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
        return cat(text, ":", ntohs(in.sin_port));
    }
    if (address.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
        ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
        return cat("[", text, "]:", ntohs(in6.sin6_port));
    }
    return "unix socket";
}

/// How unary_route's handler has seen its request so far.
enum class UnaryRequest { Waiting, Received, Answered };

} // namespace

class ServerCall;

class GrpcServer::Connection : public std::enable_shared_from_this<GrpcServer::Connection> {
public:
    Connection(GrpcServer& server, Fd fd, std::string peer)
        : m_server(server), m_fd(std::move(fd)), m_peer(std::move(peer)) {}
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Creates the session, queues the server's SETTINGS and starts watching
    /// the socket.
    Result<void> start();
    /// GOAWAY, a best-effort flush, then close().
    void shut_down();
    /// Cancels every call and closes the socket; the server drops the
    /// connection from a deferred task.
    void close();
    /// Writes what nghttp2 has queued, from a deferred task (one per loop
    /// round however many calls sent).
    void schedule_flush();

    // For ServerCall.
    void submit_messages(int32_t stream_id);
    void submit_trailers_only(int32_t stream_id, const GrpcStatus& status);
    void resume(int32_t stream_id);
    Reactor& reactor() { return m_server.m_reactor; }

    // The nghttp2 callbacks (static trampolines below forward here).
    int on_begin_headers(const nghttp2_frame& frame);
    int on_header(const nghttp2_frame& frame, std::string_view name, std::string_view value);
    int on_frame_recv(const nghttp2_frame& frame);
    int on_data_chunk(int32_t stream_id, std::string_view data);
    int on_stream_close(int32_t stream_id, uint32_t error_code);
    int on_frame_send(const nghttp2_frame& frame);
    ssize_t read_data(int32_t stream_id, uint8_t* buffer, size_t length, uint32_t* flags);

private:
    /// The calls' deadlines (steady-clock nanoseconds) and their streams.
    using Deadlines = std::multimap<int64_t, int32_t>;

    /// One request stream: what arrived of the request, and its call.
    struct Stream {
        explicit Stream(int32_t id, size_t max_message) : id(id), decoder(max_message) {}
        int32_t id;
        std::string method;
        std::string path;
        std::string authority;
        std::vector<std::pair<std::string, std::string>> headers;
        size_t header_bytes = 0;
        std::shared_ptr<ServerCall> call;
        std::unique_ptr<GrpcHandler> handler;
        GrpcMessageDecoder decoder;
        /// The handler got on_cancel() (or never existed): nothing more goes
        /// to it, and request bytes are dropped.
        bool handler_done = false;
        /// The client sent END_STREAM.
        bool half_closed = false;
        /// Its place in m_deadlines while its grpc-timeout runs.
        std::optional<Deadlines::iterator> deadline;
    };

    Stream* find(int32_t stream_id);
    void on_events(uint32_t events);
    void read_socket();
    void flush();
    void start_call(Stream& stream);
    /// Arms the call's grpc-timeout; false when it has passed already (the
    /// call is then ended).
    bool start_deadline(Stream& stream);
    /// Ends the calls whose deadlines passed and arms the timer for the
    /// next.
    void deadlines_passed();
    void arm_deadline_timer();
    void reject_http(Stream& stream, std::string_view status);
    void fail_call(Stream& stream, const GrpcStatus& status);
    void cancel(Stream& stream);
    void park(std::unique_ptr<Stream> stream);
    void update_events();
    /// Logs why the socket or its TLS session failed (a TLS failure once at
    /// warning level, a dropped socket at debug) and closes.
    void fail_stream(const Error& error);

    GrpcServer& m_server;
    Fd m_fd;
    std::string m_peer;
    /// Plaintext in and out of m_fd: the socket itself, or a TLS session.
    std::unique_ptr<ByteStream> m_stream;
    nghttp2_session* m_session = nullptr;
    std::map<int32_t, std::unique_ptr<Stream>> m_streams;
    /// Closed streams, destroyed by a deferred task (a handler of one may be
    /// on the stack).
    std::vector<std::unique_ptr<Stream>> m_parked;
    ByteQueue m_output;
    bool m_closed = false;
    bool m_flush_scheduled = false;
    /// Inside nghttp2_session_mem_recv or _mem_send, whose callbacks reach
    /// handlers (on_message, on_cancel): nghttp2 must not be re-entered.
    bool m_in_session = false;
    /// shut_down() was called: the next flush closes.
    bool m_close_after_flush = false;
    bool m_watching_output = false;
    /// Every open call's deadline, and one timer for the earliest: a timer
    /// (a timerfd) per call cost four syscalls a call.
    Deadlines m_deadlines;
    std::optional<Reactor::TimerId> m_deadline_timer;
    int64_t m_deadline_timer_at = 0;
};

/// The server's side of one call.
class ServerCall final : public GrpcCall {
public:
    ServerCall(std::weak_ptr<GrpcServer::Connection> connection, int32_t stream_id,
               std::string path, std::string authority,
               std::vector<std::pair<std::string, std::string>> headers)
        : m_connection(std::move(connection)), m_stream_id(stream_id), m_path(std::move(path)),
          m_authority(std::move(authority)), m_headers(std::move(headers)) {}

    const std::string& path() const override { return m_path; }
    const std::string& authority() const override { return m_authority; }
    std::optional<std::string> header(std::string_view name) const override {
        for (const auto& [key, value] : m_headers)
            if (key == name)
                return value;
        return std::nullopt;
    }
    void send(std::string message) override {
        auto connection = m_connection.lock();
        if (m_state != CallState::Open || !connection)
            return;
        m_output.append(encode_grpc_message(message));
        if (!m_headers_sent) {
            m_headers_sent = true;
            connection->submit_messages(m_stream_id);
        } else {
            connection->resume(m_stream_id);
        }
        connection->schedule_flush();
    }
    void finish(GrpcStatus status) override {
        auto connection = m_connection.lock();
        if (m_state != CallState::Open || !connection)
            return;
        if (!m_headers_sent) {
            m_headers_sent = true;
            m_state = CallState::Finished;
            connection->submit_trailers_only(m_stream_id, status);
        } else {
            m_status = std::move(status);
            m_state = CallState::Finishing;
            connection->resume(m_stream_id);
        }
        connection->schedule_flush();
    }
    bool is_open() const override { return m_state == CallState::Open; }
    size_t queued_bytes() const override { return m_output.size(); }
    void on_drained(std::function<void()> callback) override { m_drained = std::move(callback); }

    /// The stream or connection is gone: nothing more is sent.
    void detach() {
        m_state = CallState::Detached;
        m_connection.reset();
        m_output.clear();
        m_drained = nullptr;
    }
    CallState state() const { return m_state; }
    const GrpcStatus& status() const { return m_status; }
    void mark_finished() { m_state = CallState::Finished; }
    /// Moves up to `length` queued bytes to `buffer`; returns how many.
    size_t take(uint8_t* buffer, size_t length) {
        size_t count = std::min(length, m_output.size());
        std::memcpy(buffer, m_output.front().data(), count);
        m_output.consume(count);
        return count;
    }
    /// Runs the on_drained callback from a deferred task: it may send, and
    /// nghttp2 is not to be re-entered from its own data callback.
    void notify_drained(Reactor& reactor, const std::shared_ptr<ServerCall>& self) {
        if (!m_drained)
            return;
        reactor.defer([weak = std::weak_ptr<ServerCall>(self)] {
            auto call = weak.lock();
            if (!call || !call->m_drained || call->queued_bytes() != 0)
                return;
            std::function<void()> callback = call->m_drained; // may replace itself
            callback();
        });
    }

private:
    std::weak_ptr<GrpcServer::Connection> m_connection;
    int32_t m_stream_id;
    std::string m_path;
    std::string m_authority;
    std::vector<std::pair<std::string, std::string>> m_headers;
    ByteQueue m_output;
    CallState m_state = CallState::Open;
    bool m_headers_sent = false;
    GrpcStatus m_status;
    std::function<void()> m_drained;
};

// ---- the connection ----

GrpcServer::Connection::~Connection() {
    if (m_session)
        nghttp2_session_del(m_session);
}

Result<void> GrpcServer::Connection::start() {
    using Callbacks = Http2Callbacks<GrpcServer::Connection>;
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0)
        return error("create HTTP/2 callbacks: out of memory");
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Callbacks::begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, Callbacks::header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Callbacks::frame_send);
    // nghttp2's HTTP messaging checks reset a stream whose :authority is
    // not host[:port], and etcdctl's --cluster sends the member's whole
    // client URL there ("http://127.0.0.1:2379", through grpc-go's
    // passthrough resolver), which etcd's Go server takes. keel checks
    // what it reads itself: the method (POST), the content type and the
    // path (start_call), the header sizes (on_header); HTTP/2's framing
    // is still nghttp2's.
    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) {
        nghttp2_session_callbacks_del(callbacks);
        return error("create HTTP/2 options: out of memory");
    }
    nghttp2_option_set_no_http_messaging(option, 1);
    int rc = nghttp2_session_server_new2(&m_session, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rc != 0)
        return error(cat("create HTTP/2 session: ", nghttp2_strerror(rc)));

    const GrpcServerOptions& options = m_server.m_options;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(options.max_header_bytes)},
    };
    rc = nghttp2_submit_settings(m_session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    if (rc == 0)
        rc = nghttp2_session_set_local_window_size(m_session, NGHTTP2_FLAG_NONE, 0,
                                                   int32_t(options.connection_window));
    if (rc != 0)
        return error(cat("send HTTP/2 settings: ", nghttp2_strerror(rc)));

    if (options.tls)
        m_stream = TRY(tls_stream(options.tls, m_fd.get()));
    else
        m_stream = std::make_unique<PlainStream>(m_fd.get());

    std::weak_ptr<Connection> weak = weak_from_this();
    TRY(m_server.m_reactor.add_fd(m_fd.get(), EPOLLIN, [weak](uint32_t events) {
        if (auto self = weak.lock())
            self->on_events(events);
    }));
    schedule_flush();
    return {};
}

void GrpcServer::Connection::on_events(uint32_t events) {
    auto keep_alive = shared_from_this();
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        read_socket();
    }
    if (!m_closed)
        flush();
}

void GrpcServer::Connection::read_socket() {
    char buffer[kReadChunk];
    for (int i = 0; i < kReadsPerEvent && !m_closed; ++i) {
        auto read = m_stream->read(buffer, sizeof buffer);
        if (!read) {
            fail_stream(read.error());
            return;
        }
        if (!*read)
            return;
        size_t n = **read;
        if (n == 0) {
            close();
            return;
        }
        m_in_session = true;
        ssize_t used =
            nghttp2_session_mem_recv(m_session, reinterpret_cast<const uint8_t*>(buffer), n);
        m_in_session = false;
        if (m_closed)
            return;
        if (used < 0) {
            log_warning(cat("grpc: closing connection from ", m_peer,
                            ": HTTP/2: ", nghttp2_strerror(int(used))));
            flush(); // a GOAWAY nghttp2 queued, if any
            close();
            return;
        }
    }
    // Plaintext a TLS session decrypted and the loop above left: no
    // readiness event will announce it.
    if (!m_closed && m_stream->has_buffered_input())
        m_server.m_reactor.defer([weak = weak_from_this()] {
            if (auto self = weak.lock(); self && !self->m_closed) {
                self->read_socket();
                if (!self->m_closed)
                    self->flush();
            }
        });
}

void GrpcServer::Connection::fail_stream(const Error& error) {
    // A socket error (code() is its errno) is a client gone, as in
    // plaintext; anything else is the TLS session refusing the client.
    if (m_server.m_options.tls && error.code() == 0)
        log_warning(cat("grpc: closing connection from ", m_peer, ": ", error.to_string()));
    else
        log_debug(cat("grpc: connection from ", m_peer, ": ", error.to_string()));
    close();
}

void GrpcServer::Connection::flush() {
    m_flush_scheduled = false;
    if (m_in_session) {
        schedule_flush(); // called back from inside nghttp2: later
        return;
    }
    while (!m_closed) {
        while (m_output.size() < kWriteHighWater) {
            const uint8_t* data = nullptr;
            m_in_session = true;
            ssize_t n = nghttp2_session_mem_send(m_session, &data);
            m_in_session = false;
            if (m_closed)
                return;
            if (n < 0) {
                log_warning(cat("grpc: closing connection from ", m_peer,
                                ": HTTP/2: ", nghttp2_strerror(int(n))));
                close();
                return;
            }
            if (n == 0)
                break;
            m_output.append(std::string_view(reinterpret_cast<const char*>(data), size_t(n)));
        }
        if (m_output.empty() && !m_stream->has_pending_output())
            break;
        auto sent = send_queued(*m_stream, m_output);
        if (!sent) {
            fail_stream(sent.error());
            return;
        }
        if (*sent == SendProgress::Blocked)
            break;
    }
    if (m_closed)
        return;
    bool pending = !m_output.empty() || m_stream->has_pending_output();
    if (m_close_after_flush) {
        close(); // what the socket did not take now is given up
        return;
    }
    if (!pending && nghttp2_session_want_read(m_session) == 0 &&
        nghttp2_session_want_write(m_session) == 0) {
        close(); // GOAWAY exchanged, or the session ended on an error
        return;
    }
    update_events();
}

void GrpcServer::Connection::update_events() {
    bool pending = m_stream->wants_writable();
    if (pending == m_watching_output)
        return;
    m_watching_output = pending;
    if (auto modified = m_server.m_reactor.modify_fd(
            m_fd.get(), uint32_t(EPOLLIN) | (pending ? uint32_t(EPOLLOUT) : 0u));
        !modified) {
        log_warning(cat("grpc: connection from ", m_peer, ": ", modified.error().to_string()));
        close();
    }
}

void GrpcServer::Connection::schedule_flush() {
    if (m_flush_scheduled || m_closed)
        return;
    m_flush_scheduled = true;
    m_server.m_reactor.defer([weak = weak_from_this()] {
        if (auto self = weak.lock(); self && !self->m_closed)
            self->flush();
    });
}

void GrpcServer::Connection::shut_down() {
    if (m_closed || m_close_after_flush)
        return;
    nghttp2_submit_goaway(m_session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(m_session), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    m_close_after_flush = true;
    // nghttp2 must not be asked for output from inside its own input
    // callbacks (a handler stopping the server): then the flush waits.
    if (m_in_session)
        schedule_flush();
    else
        flush();
}

void GrpcServer::Connection::close() {
    if (m_closed)
        return;
    m_closed = true;
    m_server.m_reactor.remove_fd(m_fd.get());
    m_fd.reset();
    std::map<int32_t, std::unique_ptr<Stream>> streams = std::move(m_streams);
    m_streams.clear();
    for (auto& [id, stream] : streams) {
        cancel(*stream);
        m_parked.push_back(std::move(stream));
    }
    if (m_deadline_timer)
        m_server.m_reactor.cancel_timer(*m_deadline_timer);
    m_deadline_timer.reset();
    m_server.forget(this);
}

GrpcServer::Connection::Stream* GrpcServer::Connection::find(int32_t stream_id) {
    auto it = m_streams.find(stream_id);
    return it == m_streams.end() ? nullptr : it->second.get();
}

void GrpcServer::Connection::cancel(Stream& stream) {
    // The timer stays armed: it finds nothing due then, or the next one.
    if (stream.deadline) {
        m_deadlines.erase(*stream.deadline);
        stream.deadline.reset();
    }
    bool cancelled = stream.call && stream.call->state() != CallState::Finished;
    if (stream.call)
        stream.call->detach();
    if (!stream.handler_done) {
        stream.handler_done = true;
        if (stream.handler && cancelled)
            stream.handler->on_cancel();
    }
}

void GrpcServer::Connection::park(std::unique_ptr<Stream> stream) {
    bool first = m_parked.empty();
    m_parked.push_back(std::move(stream));
    if (!first)
        return;
    m_server.m_reactor.defer([weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            std::vector<std::unique_ptr<Stream>> parked = std::move(self->m_parked);
            self->m_parked.clear();
        }
    });
}

int GrpcServer::Connection::on_begin_headers(const nghttp2_frame& frame) {
    if (m_closed)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (frame.hd.type != NGHTTP2_HEADERS || frame.headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    m_streams[frame.hd.stream_id] =
        std::make_unique<Stream>(frame.hd.stream_id, m_server.m_options.max_receive_message);
    return 0;
}

int GrpcServer::Connection::on_header(const nghttp2_frame& frame, std::string_view name,
                                      std::string_view value) {
    if (m_closed)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (frame.hd.type != NGHTTP2_HEADERS || frame.headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; // the client's trailers carry nothing gRPC uses
    Stream* stream = find(frame.hd.stream_id);
    if (!stream)
        return 0;
    // RFC 7541's accounting: 32 bytes of overhead per field.
    stream->header_bytes += name.size() + value.size() + 32;
    if (stream->header_bytes > m_server.m_options.max_header_bytes)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // resets this stream only
    if (name == ":method")
        stream->method = value;
    else if (name == ":path")
        stream->path = value;
    else if (name == ":authority")
        stream->authority = value;
    else if (!name.starts_with(":"))
        stream->headers.emplace_back(name, value);
    return 0;
}

int GrpcServer::Connection::on_frame_recv(const nghttp2_frame& frame) {
    if (m_closed)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (frame.hd.type != NGHTTP2_HEADERS && frame.hd.type != NGHTTP2_DATA)
        return 0;
    Stream* stream = find(frame.hd.stream_id);
    if (!stream)
        return 0;
    if (frame.hd.type == NGHTTP2_HEADERS && frame.headers.cat == NGHTTP2_HCAT_REQUEST)
        start_call(*stream);
    if (m_closed || !(frame.hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    stream = find(frame.hd.stream_id);
    if (!stream)
        return 0;
    stream->half_closed = true;
    if (stream->handler_done)
        return 0;
    if (auto finished = stream->decoder.finish(); !finished) {
        fail_call(*stream, finished.error());
        return 0;
    }
    if (stream->handler)
        stream->handler->on_half_close();
    return 0;
}

void GrpcServer::Connection::reject_http(Stream& stream, std::string_view status) {
    stream.handler_done = true;
    nghttp2_nv headers[] = {http2_header(":status", status)};
    nghttp2_submit_response(m_session, stream.id, headers, std::size(headers), nullptr);
}

void GrpcServer::Connection::start_call(Stream& stream) {
    // What is not gRPC gets a plain HTTP answer, as the gRPC spec says.
    if (stream.method != "POST")
        return reject_http(stream, "405");
    auto content_type = std::find_if(stream.headers.begin(), stream.headers.end(),
                                     [](const auto& h) { return h.first == "content-type"; });
    if (content_type == stream.headers.end() ||
        !content_type->second.starts_with(kGrpcContentType) ||
        (content_type->second.size() > kGrpcContentType.size() &&
         content_type->second[kGrpcContentType.size()] != '+' &&
         content_type->second[kGrpcContentType.size()] != ';'))
        return reject_http(stream, "415");

    stream.call = std::make_shared<ServerCall>(weak_from_this(), stream.id, stream.path,
                                               stream.authority, std::move(stream.headers));
    stream.headers.clear();
    if (auto encoding = stream.call->header("grpc-encoding"); encoding && *encoding != "identity") {
        stream.handler_done = true;
        stream.call->finish(
            {GrpcCode::Unimplemented,
             cat("grpc: Decompressor is not installed for grpc-encoding ", quoted(*encoding))});
        return;
    }
    if (m_server.m_admission) {
        if (std::optional<GrpcStatus> refusal = m_server.m_admission(stream.path)) {
            stream.handler_done = true;
            stream.call->finish(std::move(*refusal));
            return;
        }
    }
    auto route = m_server.m_routes.find(stream.path);
    if (route == m_server.m_routes.end()) {
        stream.handler_done = true;
        std::string_view method = stream.path;
        if (method.starts_with("/"))
            method.remove_prefix(1);
        size_t slash = method.rfind('/');
        if (slash == std::string_view::npos) {
            stream.call->finish(
                {GrpcCode::Unimplemented, cat("malformed method name: ", quoted(stream.path))});
            return;
        }
        std::string_view service = method.substr(0, slash);
        std::string prefix = cat("/", service, "/");
        auto known = m_server.m_routes.lower_bound(prefix);
        if (known != m_server.m_routes.end() && known->first.starts_with(prefix))
            stream.call->finish(
                {GrpcCode::Unimplemented,
                 cat("unknown method ", method.substr(slash + 1), " for service ", service)});
        else
            stream.call->finish({GrpcCode::Unimplemented, cat("unknown service ", service)});
        return;
    }
    if (!start_deadline(stream))
        return;
    // Copied: the route may replace itself (server.route()) while it runs.
    GrpcRoute make_handler = route->second;
    stream.handler = make_handler(stream.call);
    if (!stream.handler) {
        stream.handler_done = true;
        stream.call->finish({GrpcCode::Unavailable, "no handler for the call"});
    }
}

// grpc-timeout: the client's deadline. A call still open when it passes
// ends with DeadlineExceeded and its handler is cancelled, so work not
// started yet (a unary request still arriving) is never started; a call
// whose deadline passed before it began gets no handler at all.
bool GrpcServer::Connection::start_deadline(Stream& stream) {
    auto text = stream.call->header("grpc-timeout");
    if (!text)
        return true;
    auto timeout = parse_grpc_timeout(*text);
    if (!timeout)
        return true; // grpc-go ignores a malformed one as well
    if (timeout->count() <= 0) {
        stream.handler_done = true;
        stream.call->finish(deadline_exceeded());
        return false;
    }
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    // grpc-timeout has 8 digits of hours at most: no overflow.
    stream.deadline = m_deadlines.emplace(now + timeout->count(), stream.id);
    if (!m_deadline_timer || now + timeout->count() < m_deadline_timer_at)
        arm_deadline_timer();
    return true;
}

void GrpcServer::Connection::arm_deadline_timer() {
    if (m_deadline_timer)
        m_server.m_reactor.cancel_timer(*m_deadline_timer);
    m_deadline_timer.reset();
    if (m_deadlines.empty() || m_closed)
        return;
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    int64_t at = m_deadlines.begin()->first;
    auto timer = m_server.m_reactor.add_timer(
        std::chrono::nanoseconds(std::max<int64_t>(at - now, 0)), [weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                self->m_deadline_timer.reset();
                self->deadlines_passed();
            }
        });
    if (timer) {
        m_deadline_timer = *timer;
        m_deadline_timer_at = at;
    }
}

void GrpcServer::Connection::deadlines_passed() {
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    while (!m_closed && !m_deadlines.empty() && m_deadlines.begin()->first <= now) {
        int32_t id = m_deadlines.begin()->second;
        m_deadlines.erase(m_deadlines.begin());
        Stream* stream = find(id);
        if (!stream)
            continue;
        stream->deadline.reset();
        if (stream->call && stream->call->is_open())
            fail_call(*stream, deadline_exceeded());
    }
    arm_deadline_timer();
}

void GrpcServer::Connection::fail_call(Stream& stream, const GrpcStatus& status) {
    if (stream.call)
        stream.call->finish(status);
    if (!stream.handler_done) {
        stream.handler_done = true;
        if (stream.handler)
            stream.handler->on_cancel();
    }
}

int GrpcServer::Connection::on_data_chunk(int32_t stream_id, std::string_view data) {
    if (m_closed)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    Stream* stream = find(stream_id);
    if (!stream || stream->handler_done)
        return 0;
    stream->decoder.feed(data);
    for (;;) {
        auto message = stream->decoder.next();
        if (!message) {
            fail_call(*stream, message.error());
            return 0;
        }
        if (!*message)
            return 0;
        stream->handler->on_message(**message);
        // The handler may have stopped the server or been cancelled.
        if (m_closed)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        stream = find(stream_id);
        if (!stream || stream->handler_done)
            return 0;
    }
}

int GrpcServer::Connection::on_stream_close(int32_t stream_id, uint32_t) {
    auto it = m_streams.find(stream_id);
    if (it == m_streams.end())
        return 0;
    std::unique_ptr<Stream> stream = std::move(it->second);
    m_streams.erase(it);
    cancel(*stream);
    park(std::move(stream));
    return 0;
}

int GrpcServer::Connection::on_frame_send(const nghttp2_frame& frame) {
    if (frame.hd.type == NGHTTP2_GOAWAY && frame.goaway.error_code != NGHTTP2_NO_ERROR)
        log_warning(cat("grpc: closing connection from ", m_peer, ": HTTP/2 ",
                        nghttp2_http2_strerror(frame.goaway.error_code)));
    if (frame.hd.type != NGHTTP2_HEADERS || !(frame.hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    Stream* stream = find(frame.hd.stream_id);
    if (!stream)
        return 0;
    if (stream->call)
        stream->call->mark_finished();
    // The response is complete; a client still sending is told to stop
    // (RST_STREAM NO_ERROR), as grpc-go's server does.
    if (!stream->half_closed)
        nghttp2_submit_rst_stream(m_session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
    return 0;
}

void GrpcServer::Connection::submit_messages(int32_t stream_id) {
    nghttp2_nv headers[] = {http2_header(":status", "200"),
                            http2_header("content-type", kGrpcContentType)};
    nghttp2_data_provider provider{};
    provider.read_callback = Http2Callbacks<GrpcServer::Connection>::data_read;
    int rc = nghttp2_submit_response(m_session, stream_id, headers, std::size(headers), &provider);
    if (rc != 0)
        log_debug(cat("grpc: stream ", stream_id, ": ", nghttp2_strerror(rc)));
}

void GrpcServer::Connection::submit_trailers_only(int32_t stream_id, const GrpcStatus& status) {
    std::string code = cat(int(status.code));
    std::string message = percent_encode_grpc_message(status.message);
    std::vector<nghttp2_nv> headers = {http2_header(":status", "200"),
                                       http2_header("content-type", kGrpcContentType),
                                       http2_header("grpc-status", code)};
    if (!message.empty())
        headers.push_back(http2_header("grpc-message", message));
    int rc = nghttp2_submit_response(m_session, stream_id, headers.data(), headers.size(), nullptr);
    if (rc != 0)
        log_debug(cat("grpc: stream ", stream_id, ": ", nghttp2_strerror(rc)));
}

void GrpcServer::Connection::resume(int32_t stream_id) {
    // Fails harmlessly when the provider is not deferred (it runs anyway).
    nghttp2_session_resume_data(m_session, stream_id);
}

ssize_t GrpcServer::Connection::read_data(int32_t stream_id, uint8_t* buffer, size_t length,
                                          uint32_t* flags) {
    Stream* stream = find(stream_id);
    if (!stream || !stream->call)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    ServerCall& call = *stream->call;
    bool had_bytes = call.queued_bytes() > 0;
    size_t count = call.take(buffer, length);
    if (call.queued_bytes() > 0)
        return ssize_t(count);
    if (had_bytes)
        call.notify_drained(m_server.m_reactor, stream->call);
    if (call.state() == CallState::Finishing) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::string code = cat(int(call.status().code));
        std::string message = percent_encode_grpc_message(call.status().message);
        std::vector<nghttp2_nv> trailers = {http2_header("grpc-status", code)};
        if (!message.empty())
            trailers.push_back(http2_header("grpc-message", message));
        nghttp2_submit_trailer(m_session, stream_id, trailers.data(), trailers.size());
        call.mark_finished();
        return ssize_t(count);
    }
    if (call.state() != CallState::Open) {
        *flags |= NGHTTP2_DATA_FLAG_EOF; // detached: end the stream
        return ssize_t(count);
    }
    return count == 0 ? ssize_t(NGHTTP2_ERR_DEFERRED) : ssize_t(count);
}

// ---- the server ----

GrpcServer::GrpcServer(Reactor& reactor, GrpcServerOptions options)
    : m_reactor(reactor), m_options(options), m_alive(std::make_shared<bool>(true)) {}

GrpcServer::~GrpcServer() {
    stop();
    m_connections.clear();
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::listen(Reactor& reactor, std::string_view address,
                                                       GrpcServerOptions options) {
    GrpcAddress parsed = TRY(parse_grpc_address(address));
    std::string what = cat("listen on ", parsed.text);
    int family = parsed.storage.ss_family;
    Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error(what);
    if (family == AF_UNIX) {
        // A socket file left by an earlier run would fail bind.
        const auto& un = reinterpret_cast<const sockaddr_un&>(parsed.storage);
        struct stat status {};
        if (::lstat(un.sun_path, &status) == 0 && S_ISSOCK(status.st_mode))
            ::unlink(un.sun_path);
    } else {
        int on = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&parsed.storage), parsed.length) < 0)
        return errno_error(what);
    if (::listen(fd.get(), SOMAXCONN) < 0)
        return errno_error(what);

    std::unique_ptr<GrpcServer> server(new GrpcServer(reactor, options));
    if (family != AF_UNIX) {
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) < 0)
            return errno_error(what);
        server->m_port = family == AF_INET
                             ? ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port)
                             : ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port);
    }
    server->m_listener = std::move(fd);
    GrpcServer* raw = server.get();
    TRY_CTX(reactor.add_fd(raw->m_listener.get(), EPOLLIN,
                           [raw](uint32_t) { raw->accept_connections(); }),
            what);
    return server;
}

void GrpcServer::accept_connections() {
    for (;;) {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        Fd fd(::accept4(m_listener.get(), reinterpret_cast<sockaddr*>(&address), &length,
                        SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            // Out of descriptors or memory: the listener stays readable, so
            // stop watching it for a while instead of spinning on it.
            log_warning(Error::from_errno(errno, "grpc: accept a connection").to_string());
            pause_accepting();
            return;
        }
        if (address.ss_family != AF_UNIX) {
            int on = 1;
            ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        }
        std::string peer = peer_name(address);
        if (auto served = serve(std::move(fd), peer); !served)
            log_warning(cat("grpc: connection from ", peer, ": ", served.error().to_string()));
    }
}

Result<void> GrpcServer::serve(Fd socket, std::string peer) {
    int flags = ::fcntl(socket.get(), F_GETFL);
    if (flags < 0 || ::fcntl(socket.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        return errno_error("make the socket non-blocking");
    auto connection = std::make_shared<Connection>(*this, std::move(socket), std::move(peer));
    m_connections.emplace(connection.get(), connection);
    if (auto started = connection->start(); !started) {
        connection->close();
        return std::unexpected(std::move(started).error());
    }
    return {};
}

void GrpcServer::pause_accepting() {
    m_reactor.remove_fd(m_listener.get());
    auto resumed = m_reactor.add_timer(kAcceptPause, [this, alive = std::weak_ptr<bool>(m_alive)] {
        if (!alive.lock() || !m_listener)
            return;
        if (auto watched = m_reactor.add_fd(m_listener.get(), EPOLLIN,
                                            [this](uint32_t) { accept_connections(); });
            !watched)
            log_warning(cat("grpc: ", watched.error().to_string()));
    });
    if (!resumed)
        log_warning(cat("grpc: ", resumed.error().to_string()));
}

void GrpcServer::forget(Connection* connection) {
    // Later: the connection may be running one of its own callbacks.
    m_reactor.defer([this, connection, alive = std::weak_ptr<bool>(m_alive)] {
        if (alive.lock())
            m_connections.erase(connection);
    });
}

void GrpcServer::admit_with(
    std::function<std::optional<GrpcStatus>(std::string_view path)> admission) {
    m_admission = std::move(admission);
}

void GrpcServer::route(std::string path, GrpcRoute route) {
    m_routes[std::move(path)] = std::move(route);
}

uint16_t GrpcServer::port() const {
    return m_port;
}

size_t GrpcServer::connection_count() const {
    size_t count = 0;
    for (const auto& [key, connection] : m_connections)
        count += connection ? 1 : 0;
    return count;
}

void GrpcServer::stop() {
    if (m_listener) {
        m_reactor.remove_fd(m_listener.get());
        m_listener.reset();
    }
    std::vector<std::shared_ptr<Connection>> connections;
    for (auto& [key, connection] : m_connections)
        connections.push_back(connection);
    for (auto& connection : connections)
        connection->shut_down();
}

// ---- unary methods ----

namespace {

class UnaryHandler final : public GrpcHandler {
public:
    UnaryHandler(std::function<void(std::string_view, std::shared_ptr<GrpcCall>)> handle,
                 std::shared_ptr<GrpcCall> call)
        : m_handle(std::move(handle)), m_call(std::move(call)) {}

    void on_message(std::string_view message) override {
        if (m_state != UnaryRequest::Waiting) {
            m_state = UnaryRequest::Answered;
            m_call->finish(
                {GrpcCode::Internal, "grpc: too many request messages for a unary method"});
            return;
        }
        m_request = message;
        m_state = UnaryRequest::Received;
    }
    void on_half_close() override {
        if (m_state == UnaryRequest::Answered)
            return;
        if (m_state == UnaryRequest::Waiting) {
            m_state = UnaryRequest::Answered;
            m_call->finish({GrpcCode::Internal, "grpc: no request message for a unary method"});
            return;
        }
        m_state = UnaryRequest::Answered;
        std::string request = std::move(m_request);
        m_handle(request, m_call);
    }

private:
    std::function<void(std::string_view, std::shared_ptr<GrpcCall>)> m_handle;
    std::shared_ptr<GrpcCall> m_call;
    std::string m_request;
    UnaryRequest m_state = UnaryRequest::Waiting;
};

} // namespace

GrpcRoute
unary_route(std::function<void(std::string_view request, std::shared_ptr<GrpcCall>)> handle) {
    return [handle = std::move(handle)](std::shared_ptr<GrpcCall> call) {
        return std::make_unique<UnaryHandler>(handle, std::move(call));
    };
}

} // namespace keel::kv
