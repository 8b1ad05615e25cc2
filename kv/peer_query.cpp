// One question to one peer: a connect bounded by the socket's send
// timeout, then the Hello out and one frame back through a ByteStream on
// the non-blocking socket with poll() (so the same loop drives plaintext
// and a TLS handshake), all within the caller's timeout.
#include "kv/peer_query.h"

#include "base/fd.h"
#include "base/framing.h"
#include "base/strings.h"
#include "kv/byte_stream.h"
#include "kv/grpc_address.h"
#include "kv/tls_stream.h"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace keel::kv {

namespace {

// The largest answer read (a member list is a few hundred bytes a member).
constexpr size_t kMaxPeerAnswer = 1 << 20;

Result<Fd> connect_blocking(const ServerUrl& peer, std::chrono::milliseconds timeout) {
    GrpcAddress address = TRY(parse_grpc_address(peer.address()));
    Fd socket(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket)
        return errno_error("socket");
    // Linux applies the send timeout to a blocking connect.
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    if (::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) < 0)
        return errno_error("setsockopt");
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address.storage),
                  address.length) < 0)
        return errno_error("connect");
    return socket;
}

} // namespace

Result<std::shared_ptr<TlsContext>> peer_client_tls(const ServerConfig& config) {
    // All members of a cluster use one scheme: https:// anywhere means TLS.
    bool tls = config.listen_peer_urls.front().scheme == UrlScheme::Https;
    for (const auto& member : config.initial_cluster)
        for (const auto& url : member.peer_urls)
            tls = tls || url.scheme == UrlScheme::Https;
    if (!tls)
        return std::shared_ptr<TlsContext>();
    TlsContextOptions options;
    options.role = TlsRole::Client;
    // The server's chain is checked whenever a CA is given.
    options.verify = PeerVerification::None;
    // Peers are dialed by IP: a server's certificate must name it.
    options.server_address = ServerAddress::InCertificate;
    options.cert_file = config.peer_tls.cert_file;
    options.key_file = config.peer_tls.key_file;
    // The dialed peer's certificate passes the same name check as a
    // dialing one's (etcd checks both directions).
    options.allowed_cn = config.peer_tls.allowed_cn;
    options.allowed_hostname = config.peer_tls.allowed_hostname;
    options.trusted_ca_file = config.peer_tls.trusted_ca_file;
    return TRY_CTX(TlsContext::create(options), "kv: peer TLS (--peer-cert-file, "
                                                "--peer-key-file, --peer-trusted-ca-file)");
}

Result<std::string> ask_peer(const ServerUrl& peer, const PeerHello& hello,
                             std::chrono::milliseconds timeout,
                             const std::shared_ptr<TlsContext>& tls) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + timeout;
    Fd socket = TRY(connect_blocking(peer, timeout));
    // From here on non-blocking and bounded by poll(): a TLS handshake
    // step may read records and then have its own to send before the other
    // end says more, which a blocking read would wait out.
    if (::fcntl(socket.get(), F_SETFL, ::fcntl(socket.get(), F_GETFL) | O_NONBLOCK) < 0)
        return errno_error("fcntl");
    std::unique_ptr<ByteStream> stream;
    if (tls)
        stream = TRY(tls_stream(tls, socket.get()));
    else
        stream = std::make_unique<PlainStream>(socket.get());
    std::string frame = encode_frame(encode_hello(hello));
    std::string_view unsent = frame;
    FrameDecoder decoder(kMaxPeerAnswer);
    char buffer[16384];
    for (;;) {
        if (!unsent.empty() || stream->has_pending_output())
            unsent.remove_prefix(TRY(stream->write(unsent)));
        std::optional<size_t> got = TRY(stream->read(buffer, sizeof buffer));
        if (got && *got == 0)
            return error("it closed the connection without an answer (a member that refuses "
                         "the question, or one of another cluster)");
        if (got) {
            decoder.feed(std::string_view(buffer, *got));
            if (auto answer = TRY(decoder.next()))
                return std::move(*answer);
            continue;
        }
        // Records a handshake step just made go out before waiting.
        if (stream->has_buffered_input() ||
            (stream->has_pending_output() && !stream->wants_writable()))
            continue;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return error(cat("no answer within ", timeout.count(), " ms"));
        pollfd wait{socket.get(), short(POLLIN | (stream->wants_writable() ? POLLOUT : 0)), 0};
        if (::poll(&wait, 1, int(left.count()) + 1) < 0 && errno != EINTR)
            return errno_error("poll");
    }
}

} // namespace keel::kv
