// The blocking gRPC client (see kv/grpc_client.h). One GrpcConnection per
// client: a non-blocking socket and an nghttp2 client session, driven by
// pump(), which writes what nghttp2 has queued, reads what arrived and
// feeds it to nghttp2 until the caller's condition holds or its deadline
// passes. Streams keep their state (queued output, received messages, the
// final status) in a State shared with the connection, so a stream's
// messages pile up while another call pumps.
#include "kv/grpc_client.h"

#include "base/fd.h"
#include "base/strings.h"
#include "kv/byte_queue.h"
#include "kv/grpc_address.h"
#include "kv/grpc_frame.h"
#include "kv/http2_callbacks.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <unistd.h>

namespace keel::kv {

namespace {

using Clock = std::chrono::steady_clock;

GrpcStatus unavailable(std::string message) {
    return {GrpcCode::Unavailable, std::move(message)};
}

/// gRPC's mapping of an HTTP status without grpc-status to a code.
GrpcCode code_for_http_status(int status) {
    switch (status) {
    case 400:
        return GrpcCode::Internal;
    case 401:
        return GrpcCode::Unauthenticated;
    case 403:
        return GrpcCode::PermissionDenied;
    case 404:
        return GrpcCode::Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
        return GrpcCode::Unavailable;
    default:
        return GrpcCode::Unknown;
    }
}

} // namespace

struct GrpcStream::State {
    explicit State(size_t max_message) : decoder(max_message) {}
    int32_t id = -1;
    std::string output;
    size_t output_offset = 0;
    /// close_send() was called; END_STREAM follows the queued output.
    bool send_closed = false;
    /// END_STREAM went to nghttp2.
    bool end_sent = false;
    std::deque<std::string> received;
    GrpcMessageDecoder decoder;
    std::optional<int> http_status;
    std::optional<GrpcCode> grpc_status;
    std::string grpc_message;
    std::optional<GrpcStatus> final;

    size_t queued() const { return output.size() - output_offset; }
};

class GrpcConnection {
public:
    using State = GrpcStream::State;

    GrpcConnection(Fd fd, std::string authority, GrpcClientOptions options)
        : m_fd(std::move(fd)), m_authority(std::move(authority)), m_options(options) {}
    ~GrpcConnection() {
        if (m_session)
            nghttp2_session_del(m_session);
    }
    GrpcConnection(const GrpcConnection&) = delete;
    GrpcConnection& operator=(const GrpcConnection&) = delete;

    Result<void> start();
    /// Starts a call; `timeout` is sent as grpc-timeout when set.
    GrpcResult<std::shared_ptr<State>> open(std::string_view path, const GrpcMetadata& metadata,
                                            std::optional<std::chrono::nanoseconds> timeout,
                                            std::string first_message, bool close_after);
    /// Drives the connection until `done` holds; DeadlineExceeded when
    /// `deadline` passes first, the connection's failure when it breaks.
    GrpcResult<void> pump(Clock::time_point deadline, const std::function<bool()>& done);
    /// More output is queued on `state`.
    void resume(State& state) { nghttp2_session_resume_data(m_session, state.id); }
    /// RST_STREAM CANCEL, written as far as the socket takes it now.
    void cancel(State& state);
    const GrpcClientOptions& options() const { return m_options; }

    // nghttp2 callbacks.
    int on_header(const nghttp2_frame& frame, std::string_view name, std::string_view value);
    int on_frame_recv(const nghttp2_frame& frame);
    int on_data_chunk(int32_t stream_id, std::string_view data);
    int on_stream_close(int32_t stream_id, uint32_t error_code);
    ssize_t read_data(int32_t stream_id, uint8_t* buffer, size_t length, uint32_t* flags);

private:
    State* find(int32_t stream_id) {
        auto it = m_streams.find(stream_id);
        return it == m_streams.end() ? nullptr : it->second.get();
    }
    void fail(GrpcStatus status);
    void write_pending();
    void read_available();

    Fd m_fd;
    std::string m_authority;
    GrpcClientOptions m_options;
    nghttp2_session* m_session = nullptr;
    std::map<int32_t, std::shared_ptr<State>> m_streams;
    ByteQueue m_output;
    bool m_settings_received = false;
    std::optional<GrpcStatus> m_broken;
};

Result<void> GrpcConnection::start() {
    using Callbacks = Http2Callbacks<GrpcConnection>;
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0)
        return error("create HTTP/2 callbacks: out of memory");
    nghttp2_session_callbacks_set_on_header_callback(callbacks, Callbacks::header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::stream_close);
    int rc = nghttp2_session_client_new(&m_session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rc != 0)
        return error(cat("create HTTP/2 session: ", nghttp2_strerror(rc)));
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, m_options.stream_window},
    };
    rc = nghttp2_submit_settings(m_session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    if (rc == 0)
        rc = nghttp2_session_set_local_window_size(m_session, NGHTTP2_FLAG_NONE, 0,
                                                   int32_t(m_options.connection_window));
    if (rc != 0)
        return error(cat("send HTTP/2 settings: ", nghttp2_strerror(rc)));
    // The server's SETTINGS show that HTTP/2 is spoken at the other end.
    auto exchanged =
        pump(Clock::now() + m_options.connect_timeout, [this] { return m_settings_received; });
    if (!exchanged)
        return error(cat("HTTP/2 handshake: ", exchanged.error().message));
    return {};
}

void GrpcConnection::fail(GrpcStatus status) {
    if (m_broken)
        return;
    m_broken = status;
    for (auto& [id, state] : m_streams)
        if (!state->final)
            state->final = status;
    m_streams.clear();
}

void GrpcConnection::write_pending() {
    while (!m_broken) {
        while (m_output.size() < (64u << 10)) {
            const uint8_t* data = nullptr;
            ssize_t n = nghttp2_session_mem_send(m_session, &data);
            if (n < 0) {
                fail(unavailable(cat("HTTP/2: ", nghttp2_strerror(int(n)))));
                return;
            }
            if (n == 0)
                break;
            m_output.append(std::string_view(reinterpret_cast<const char*>(data), size_t(n)));
        }
        if (m_output.empty())
            return;
        auto sent = send_queued(m_fd.get(), m_output);
        if (!sent) {
            fail(unavailable(cat("connection to ", m_authority, ": ", sent.error().to_string())));
            return;
        }
        if (*sent == SendProgress::Blocked)
            return;
    }
}

void GrpcConnection::read_available() {
    char buffer[16u << 10];
    while (!m_broken) {
        ssize_t n = ::recv(m_fd.get(), buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            fail(unavailable(cat("connection to ", m_authority, ": ", std::strerror(errno))));
            return;
        }
        if (n == 0) {
            fail(unavailable(cat("connection to ", m_authority, " closed by the server")));
            return;
        }
        ssize_t used = nghttp2_session_mem_recv(m_session, reinterpret_cast<const uint8_t*>(buffer),
                                                size_t(n));
        if (used < 0) {
            fail(unavailable(
                cat("connection to ", m_authority, ": HTTP/2: ", nghttp2_strerror(int(used)))));
            return;
        }
    }
}

GrpcResult<void> GrpcConnection::pump(Clock::time_point deadline,
                                      const std::function<bool()>& done) {
    for (;;) {
        write_pending();
        if (done())
            return {};
        if (m_broken)
            return std::unexpected(*m_broken);
        auto now = Clock::now();
        if (now >= deadline)
            return std::unexpected(
                GrpcStatus{GrpcCode::DeadlineExceeded, "context deadline exceeded"});
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        pollfd entry{m_fd.get(), short(POLLIN), 0};
        if (!m_output.empty())
            entry.events |= POLLOUT;
        int n = ::poll(&entry, 1, int(std::min<int64_t>(wait.count(), 60'000)));
        if (n < 0 && errno != EINTR)
            fail(unavailable(cat("wait for ", m_authority, ": ", std::strerror(errno))));
        if (n > 0 && (entry.revents & (POLLIN | POLLHUP | POLLERR)))
            read_available();
    }
}

GrpcResult<std::shared_ptr<GrpcConnection::State>>
GrpcConnection::open(std::string_view path, const GrpcMetadata& metadata,
                     std::optional<std::chrono::nanoseconds> timeout, std::string first_message,
                     bool close_after) {
    if (m_broken)
        return std::unexpected(*m_broken);
    auto state = std::make_shared<State>(m_options.max_receive_message);
    if (!first_message.empty() || close_after)
        state->output = encode_grpc_message(first_message);
    state->send_closed = close_after;
    std::string timeout_text = timeout ? format_grpc_timeout(*timeout) : std::string();
    std::vector<nghttp2_nv> headers = {
        http2_header(":method", "POST"),
        http2_header(":scheme", "http"),
        http2_header(":path", path),
        http2_header(":authority", m_authority),
        http2_header("content-type", "application/grpc"),
        http2_header("te", "trailers"),
        http2_header("user-agent", "keel-grpc"),
    };
    if (timeout)
        headers.push_back(http2_header("grpc-timeout", timeout_text));
    for (const auto& [name, value] : metadata)
        headers.push_back(http2_header(name, value));
    nghttp2_data_provider provider{};
    provider.read_callback = Http2Callbacks<GrpcConnection>::data_read;
    int32_t id = nghttp2_submit_request(m_session, nullptr, headers.data(), headers.size(),
                                        &provider, nullptr);
    if (id < 0)
        return std::unexpected(
            unavailable(cat("start a call of ", path, ": HTTP/2: ", nghttp2_strerror(id))));
    state->id = id;
    m_streams[id] = state;
    return state;
}

void GrpcConnection::cancel(State& state) {
    if (state.final)
        return;
    state.final = GrpcStatus{GrpcCode::Cancelled, "context canceled"};
    if (m_broken)
        return;
    nghttp2_submit_rst_stream(m_session, NGHTTP2_FLAG_NONE, state.id, NGHTTP2_CANCEL);
    write_pending();
}

int GrpcConnection::on_header(const nghttp2_frame& frame, std::string_view name,
                              std::string_view value) {
    if (frame.hd.type != NGHTTP2_HEADERS)
        return 0;
    State* state = find(frame.hd.stream_id);
    if (!state)
        return 0;
    if (name == ":status") {
        if (auto status = parse_u64(value); status && *status < 1000)
            state->http_status = int(*status);
    } else if (name == "grpc-status") {
        std::optional<uint64_t> code = parse_u64(value);
        state->grpc_status = code && *code <= uint64_t(GrpcCode::Unauthenticated)
                                 ? GrpcCode(*code)
                                 : GrpcCode::Unknown;
    } else if (name == "grpc-message") {
        state->grpc_message = percent_decode_grpc_message(value);
    }
    return 0;
}

int GrpcConnection::on_frame_recv(const nghttp2_frame& frame) {
    if (frame.hd.type == NGHTTP2_SETTINGS && !(frame.hd.flags & NGHTTP2_FLAG_ACK))
        m_settings_received = true;
    return 0;
}

int GrpcConnection::on_data_chunk(int32_t stream_id, std::string_view data) {
    State* state = find(stream_id);
    if (!state || state->final)
        return 0;
    state->decoder.feed(data);
    for (;;) {
        auto message = state->decoder.next();
        if (!message) {
            state->final = message.error();
            nghttp2_submit_rst_stream(m_session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
            return 0;
        }
        if (!*message)
            return 0;
        state->received.push_back(std::move(**message));
    }
}

int GrpcConnection::on_stream_close(int32_t stream_id, uint32_t error_code) {
    auto it = m_streams.find(stream_id);
    if (it == m_streams.end())
        return 0;
    std::shared_ptr<State> state = it->second;
    m_streams.erase(it);
    if (state->final)
        return 0;
    if (state->grpc_status) {
        state->final = GrpcStatus{*state->grpc_status, state->grpc_message};
        if (state->final->ok())
            if (auto finished = state->decoder.finish(); !finished)
                state->final = finished.error();
    } else if (state->http_status && *state->http_status != 200) {
        state->final = GrpcStatus{
            code_for_http_status(*state->http_status),
            cat("unexpected HTTP status code received from server: ", *state->http_status)};
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
        state->final = unavailable("the server refused the stream (REFUSED_STREAM)");
    } else if (error_code == NGHTTP2_CANCEL) {
        state->final = GrpcStatus{GrpcCode::Cancelled, "the server cancelled the stream"};
    } else if (error_code != NGHTTP2_NO_ERROR) {
        state->final =
            GrpcStatus{GrpcCode::Internal, cat("stream terminated by RST_STREAM with error code: ",
                                               nghttp2_http2_strerror(error_code))};
    } else {
        state->final =
            GrpcStatus{GrpcCode::Internal, "server closed the stream without sending trailers"};
    }
    return 0;
}

ssize_t GrpcConnection::read_data(int32_t stream_id, uint8_t* buffer, size_t length,
                                  uint32_t* flags) {
    State* state = find(stream_id);
    if (!state || state->final)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t count = std::min(length, state->queued());
    std::memcpy(buffer, state->output.data() + state->output_offset, count);
    state->output_offset += count;
    if (state->queued() > 0)
        return ssize_t(count);
    state->output.clear();
    state->output_offset = 0;
    if (state->send_closed) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        state->end_sent = true;
        return ssize_t(count);
    }
    return count == 0 ? ssize_t(NGHTTP2_ERR_DEFERRED) : ssize_t(count);
}

// ---- GrpcStream ----

GrpcStream::GrpcStream(std::shared_ptr<GrpcConnection> connection, std::shared_ptr<State> state)
    : m_connection(std::move(connection)), m_state(std::move(state)) {}

GrpcStream::~GrpcStream() {
    cancel();
}

GrpcResult<void> GrpcStream::send(std::string_view message) {
    if (m_state->final)
        return std::unexpected(
            m_state->final->ok() ? GrpcStatus{GrpcCode::FailedPrecondition, "the stream has ended"}
                                 : *m_state->final);
    if (m_state->send_closed)
        return std::unexpected(
            GrpcStatus{GrpcCode::FailedPrecondition, "send after close_send on the stream"});
    if (m_state->output_offset > 0) {
        m_state->output.erase(0, m_state->output_offset);
        m_state->output_offset = 0;
    }
    m_state->output += encode_grpc_message(message);
    m_connection->resume(*m_state);
    State& state = *m_state;
    TRY(m_connection->pump(Clock::now() + m_connection->options().send_timeout,
                           [&state] { return state.queued() == 0 || state.final; }));
    if (state.queued() > 0 && state.final && !state.final->ok())
        return std::unexpected(*state.final);
    return {};
}

GrpcResult<void> GrpcStream::close_send() {
    if (m_state->send_closed || m_state->final)
        return {};
    m_state->send_closed = true;
    m_connection->resume(*m_state);
    State& state = *m_state;
    TRY(m_connection->pump(Clock::now() + m_connection->options().send_timeout,
                           [&state] { return state.end_sent || state.final; }));
    return {};
}

GrpcResult<std::optional<std::string>> GrpcStream::receive(std::chrono::milliseconds timeout) {
    State& state = *m_state;
    auto pumped = m_connection->pump(Clock::now() + timeout,
                                     [&state] { return !state.received.empty() || state.final; });
    if (!state.received.empty()) {
        std::string message = std::move(state.received.front());
        state.received.pop_front();
        return message;
    }
    if (state.final) {
        if (state.final->ok())
            return std::nullopt;
        return std::unexpected(*state.final);
    }
    if (!pumped && pumped.error().code == GrpcCode::DeadlineExceeded)
        return std::unexpected(GrpcStatus{GrpcCode::DeadlineExceeded,
                                          cat("no message within ", timeout.count(), " ms")});
    return std::unexpected(pumped ? GrpcStatus{GrpcCode::Internal, "no message"} : pumped.error());
}

void GrpcStream::cancel() {
    m_connection->cancel(*m_state);
}

bool GrpcStream::ended() const {
    return m_state->final.has_value();
}

std::optional<GrpcStatus> GrpcStream::status() const {
    return m_state->final;
}

// ---- GrpcClient ----

GrpcClient::GrpcClient(std::shared_ptr<GrpcConnection> connection)
    : m_connection(std::move(connection)) {}

GrpcClient::~GrpcClient() = default;

Result<std::unique_ptr<GrpcClient>> GrpcClient::connect(std::string_view address,
                                                        GrpcClientOptions options) {
    GrpcAddress parsed = TRY(parse_grpc_address(address));
    std::string what = cat("connect to ", parsed.text);
    int family = parsed.storage.ss_family;
    Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error(what);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&parsed.storage), parsed.length) <
        0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return errno_error(what);
        pollfd entry{fd.get(), short(POLLOUT), 0};
        int n = 0;
        do {
            n = ::poll(&entry, 1, int(options.connect_timeout.count()));
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return errno_error(what);
        if (n == 0)
            return errno_error(ETIMEDOUT, what);
        int connect_error = 0;
        socklen_t size = sizeof connect_error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &connect_error, &size);
        if (connect_error != 0)
            return errno_error(connect_error, what);
    }
    if (family != AF_UNIX) {
        int on = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    // A unix socket's authority is what grpc-go sends for one: "localhost".
    std::string authority = family == AF_UNIX ? std::string("localhost") : parsed.text;
    auto connection = std::make_shared<GrpcConnection>(std::move(fd), authority, options);
    TRY_CTX(connection->start(), what);
    return std::unique_ptr<GrpcClient>(new GrpcClient(std::move(connection)));
}

GrpcResult<std::string> GrpcClient::unary(std::string_view path, std::string_view request,
                                          std::chrono::milliseconds timeout,
                                          const GrpcMetadata& metadata) {
    auto deadline = Clock::now() + timeout;
    std::shared_ptr<GrpcStream::State> state =
        TRY(m_connection->open(path, metadata, timeout, std::string(request), true));
    GrpcStream stream(m_connection, state);
    auto pumped = m_connection->pump(deadline, [&state] { return state->final.has_value(); });
    if (!pumped) {
        stream.cancel();
        return std::unexpected(pumped.error());
    }
    if (!state->final->ok())
        return std::unexpected(*state->final);
    if (state->received.size() != 1)
        return std::unexpected(
            GrpcStatus{GrpcCode::Internal, cat("expected one response message for ", path, ", got ",
                                               state->received.size())});
    return std::move(state->received.front());
}

GrpcResult<std::unique_ptr<GrpcStream>> GrpcClient::open_stream(std::string_view path,
                                                                const GrpcMetadata& metadata) {
    std::shared_ptr<GrpcStream::State> state =
        TRY(m_connection->open(path, metadata, std::nullopt, std::string(), false));
    return std::unique_ptr<GrpcStream>(new GrpcStream(m_connection, std::move(state)));
}

} // namespace keel::kv
