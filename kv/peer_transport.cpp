// PeerTransport: the listening socket and the connections peers open to it
// (Hello checked, frames decoded, messages handed up), and one outgoing
// connection per peer (non-blocking connect, a queue of encoded frames
// written with sendmsg in batches, reconnect with backoff).
#include "kv/peer_transport.h"

#include "base/framing.h"
#include "base/log.h"
#include "base/strings.h"
#include "kv/byte_stream.h"
#include "kv/raft_codec.h"
#include "kv/tls_stream.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace keel::kv {

// In a named namespace, not the anonymous one: PeerTransport::Peer, a
// class of the header, holds them.
namespace detail {

/// A numeric "host:port" as a sockaddr.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    /// As given, for log lines.
    std::string text;
};

/// What a queued frame is, for the bookkeeping once it is written or lost.
enum class FrameKind : uint8_t { Hello, Raft, Snapshot };

struct QueuedFrame {
    FrameKind kind = FrameKind::Raft;
    std::string bytes;
};

enum class PeerState : uint8_t {
    /// No usable address.
    Idle,
    /// Waiting for the reconnect timer.
    Waiting,
    Connecting,
    Connected,
};

} // namespace detail

namespace {

using detail::FrameKind;
using detail::PeerState;
using detail::QueuedFrame;
using detail::SocketAddress;

Result<SocketAddress> parse_socket_address(std::string_view text) {
    SocketAddress address;
    address.text = std::string(text);
    std::string host;
    std::string_view port_text;
    if (starts_with(text, "[")) {
        size_t close = text.find("]:");
        if (close == std::string_view::npos)
            return error(cat("address ", quoted(text), ": expected [IPv6]:port"));
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            return error(cat("address ", quoted(text), ": expected IPv4:port or [IPv6]:port"));
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    std::optional<uint64_t> port = parse_u64(port_text);
    if (!port || *port > 65535)
        return error(cat("address ", quoted(text), ": bad port ", quoted(port_text)));
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(uint16_t(*port));
        address.length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(uint16_t(*port));
        address.length = sizeof(sockaddr_in6);
    } else {
        return error(
            cat("address ", quoted(text), ": ", quoted(host), " is no numeric IP address"));
    }
    return address;
}

std::string describe(const sockaddr_storage& storage) {
    char host[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
        ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        return cat(host, ":", ntohs(v4->sin_port));
    }
    if (storage.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        return cat("[", host, "]:", ntohs(v6->sin6_port));
    }
    return "?";
}

/// True for TCP's simultaneous open with itself: a connect to a port of
/// this host that nothing listens on can be given that same port as its
/// own, and then "connects" to itself.
bool connected_to_itself(int fd) {
    sockaddr_storage local{};
    sockaddr_storage remote{};
    socklen_t local_length = sizeof local;
    socklen_t remote_length = sizeof remote;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) < 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_length) < 0)
        return false;
    return local_length == remote_length && describe(local) == describe(remote);
}

/// Frames written per sendmsg call, at most.
constexpr size_t kMaxIovecs = 256;
/// Bytes read from one incoming connection per readiness event, at most, so
/// that one busy peer does not starve the loop.
constexpr size_t kMaxReadPerEvent = 4 << 20;

} // namespace

struct PeerTransport::Peer {
    NodeId id = 0;
    std::optional<SocketAddress> address;
    PeerState state = PeerState::Idle;
    Fd socket;
    /// The TLS session on socket, when the transport has connect_tls.
    std::unique_ptr<ByteStream> stream;
    std::deque<QueuedFrame> queue;
    /// Bytes of Raft frames in `queue` (the Hello does not count).
    size_t queued_bytes = 0;
    /// Bytes of queue.front() already written.
    size_t written = 0;
    std::chrono::milliseconds backoff{0};
    std::optional<Reactor::TimerId> timer;
    uint32_t events = 0;
    bool flush_scheduled = false;
    /// When the connection became Connected (nullopt while it is not).
    std::optional<std::chrono::steady_clock::time_point> connected_at;
};

struct PeerTransport::Inbound {
    uint64_t serial = 0;
    Fd socket;
    std::string remote;
    FrameDecoder decoder;
    std::optional<PeerHello> hello;
    /// The socket itself, or a TLS session on it.
    std::unique_ptr<ByteStream> stream;
    /// EPOLLOUT is watched: the TLS handshake has records the socket did
    /// not take.
    bool watching_output = false;
};

PeerTransport::PeerTransport(Reactor& reactor, PeerTransportOptions options)
    : m_reactor(reactor), m_options(std::move(options)),
      m_self(std::make_shared<PeerTransport*>(this)) {}

Result<std::unique_ptr<PeerTransport>>
PeerTransport::listen(Reactor& reactor, PeerTransportOptions options, ReceiveCallback receive,
                      UnreachableCallback unreachable, SnapshotSentCallback snapshot_sent) {
    if (options.self == 0)
        return error("peer transport: this member's id is 0");
    SocketAddress address = TRY_CTX(parse_socket_address(options.listen), "peer transport: listen");
    std::unique_ptr<PeerTransport> transport(new PeerTransport(reactor, std::move(options)));
    transport->m_receive = std::move(receive);
    transport->m_unreachable = std::move(unreachable);
    transport->m_snapshot_sent = std::move(snapshot_sent);

    Fd listener(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener)
        return errno_error("peer transport: socket");
    int on = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address.storage),
               address.length) < 0)
        return errno_error(cat("peer transport: bind ", address.text));
    if (::listen(listener.get(), 128) < 0)
        return errno_error(cat("peer transport: listen on ", address.text));
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof bound;
    if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) < 0)
        return errno_error("peer transport: getsockname");
    transport->m_port = bound.ss_family == AF_INET6
                            ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                            : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    PeerTransport* self = transport.get();
    TRY_CTX(
        reactor.add_fd(listener.get(), EPOLLIN, [self](uint32_t) { self->accept_connections(); }),
        "peer transport: watch listener");
    transport->m_listener = std::move(listener);
    return transport;
}

PeerTransport::~PeerTransport() {
    m_self.reset();
    if (m_listener)
        m_reactor.remove_fd(m_listener.get());
    for (auto& [id, peer] : m_peers) {
        if (peer->socket)
            m_reactor.remove_fd(peer->socket.get());
        if (peer->timer)
            m_reactor.cancel_timer(*peer->timer);
    }
    for (auto& [fd, inbound] : m_inbound)
        m_reactor.remove_fd(fd);
}

void PeerTransport::set_peer(NodeId id, std::string address) {
    auto [it, added] = m_peers.try_emplace(id);
    if (added) {
        it->second = std::make_unique<Peer>();
        it->second->id = id;
    }
    Peer& peer = *it->second;
    if (!added && peer.address && peer.address->text == address)
        return;
    // What is queued goes out on the connection that is up before it is
    // closed, such as the commit of the very change that moved the peer:
    // the moved member hears that its update committed.
    if (peer.state == PeerState::Connected)
        flush(peer);
    if (peer.state == PeerState::Connecting || peer.state == PeerState::Connected)
        drop_connection(peer, "its address changed");
    if (peer.timer) {
        m_reactor.cancel_timer(*peer.timer);
        peer.timer.reset();
    }
    peer.backoff = std::chrono::milliseconds(0);
    Result<SocketAddress> parsed = parse_socket_address(address);
    if (!parsed) {
        log_warning(cat("kv peer ", hex_number(id), ": ", parsed.error().to_string()));
        peer.address.reset();
        peer.state = PeerState::Idle;
        notify_unreachable(id);
        return;
    }
    peer.address = std::move(*parsed);
    connect(peer);
}

std::optional<std::chrono::steady_clock::time_point>
PeerTransport::connected_since(NodeId id) const {
    auto it = m_peers.find(id);
    if (it == m_peers.end())
        return std::nullopt;
    return it->second->connected_at;
}

void PeerTransport::remove_peer(NodeId id) {
    auto it = m_peers.find(id);
    if (it == m_peers.end())
        return;
    Peer& peer = *it->second;
    if (peer.socket)
        m_reactor.remove_fd(peer.socket.get());
    if (peer.timer)
        m_reactor.cancel_timer(*peer.timer);
    m_peers.erase(it);
}

void PeerTransport::send(std::vector<Message> messages) {
    for (Message& message : messages) {
        NodeId to = message.to;
        bool snapshot = message.type == MessageType::Snapshot;
        auto it = m_peers.find(to);
        if (it == m_peers.end()) {
            log_debug(cat("kv peer: dropping a ", kMessageTypeNames.name(message.type),
                          " message to unknown member ", hex_number(to)));
            if (snapshot)
                notify_snapshot(to, SnapshotStatus::Failure);
            continue;
        }
        Peer& peer = *it->second;
        std::string frame = encode_frame(encode_raft_message(message));
        if (frame.size() - kFrameHeaderSize > m_options.max_frame) {
            log_warning(cat("kv peer ", hex_number(to), ": dropping a ",
                            kMessageTypeNames.name(message.type), " message of ", frame.size(),
                            " bytes, over the frame limit of ", m_options.max_frame));
            notify_unreachable(to);
            if (snapshot)
                notify_snapshot(to, SnapshotStatus::Failure);
            continue;
        }
        if (peer.queued_bytes + frame.size() > m_options.max_queued_bytes_per_peer) {
            log_debug(cat("kv peer ", hex_number(to), ": queue full (", peer.queued_bytes,
                          " bytes), dropping a ", kMessageTypeNames.name(message.type),
                          " message"));
            notify_unreachable(to);
            if (snapshot)
                notify_snapshot(to, SnapshotStatus::Failure);
            continue;
        }
        peer.queued_bytes += frame.size();
        peer.queue.push_back({snapshot ? FrameKind::Snapshot : FrameKind::Raft, std::move(frame)});
        schedule_flush(peer);
    }
}

void PeerTransport::connect(Peer& peer) {
    peer.timer.reset();
    if (!peer.address) {
        peer.state = PeerState::Idle;
        return;
    }
    const SocketAddress& address = *peer.address;
    auto fail = [&](std::string why) {
        log_debug(cat("kv peer ", hex_number(peer.id), ": connect to ", address.text, ": ", why));
        peer.socket.reset();
        drop_connection(peer, "");
    };
    peer.socket =
        Fd(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!peer.socket)
        return fail(std::strerror(errno));
    int on = 1;
    ::setsockopt(peer.socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    // Best effort: without it, the kernel's defaults (minutes).
    (void)set_dead_peer_timeout(peer.socket.get(), m_options.dead_peer_timeout);
    int rc = ::connect(peer.socket.get(), reinterpret_cast<const sockaddr*>(&address.storage),
                       address.length);
    if (rc < 0 && errno != EINPROGRESS)
        return fail(std::strerror(errno));
    NodeId id = peer.id;
    peer.state = PeerState::Connecting;
    peer.events = EPOLLOUT;
    Result<void> watched = m_reactor.add_fd(
        peer.socket.get(), peer.events, [this, id](uint32_t events) { on_peer_event(id, events); });
    if (!watched)
        return fail(watched.error().to_string());
}

void PeerTransport::on_peer_event(NodeId id, uint32_t events) {
    auto it = m_peers.find(id);
    if (it == m_peers.end())
        return;
    Peer& peer = *it->second;
    if (peer.state == PeerState::Connecting) {
        int socket_error = 0;
        socklen_t length = sizeof socket_error;
        if (::getsockopt(peer.socket.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length) < 0)
            socket_error = errno;
        if (socket_error != 0) {
            log_debug(cat("kv peer ", hex_number(id), ": connect to ", peer.address->text, ": ",
                          std::strerror(socket_error)));
            return drop_connection(peer, "");
        }
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
            return;
        if (connected_to_itself(peer.socket.get()))
            return drop_connection(peer,
                                   "connected to itself (nothing listens on the peer's port)");
        if (m_options.connect_tls) {
            auto stream = tls_stream(m_options.connect_tls, peer.socket.get());
            if (!stream)
                return drop_connection(peer, stream.error().to_string());
            peer.stream = std::move(*stream);
        }
        peer.state = PeerState::Connected;
        peer.connected_at = std::chrono::steady_clock::now();
        peer.backoff = std::chrono::milliseconds(0);
        peer.written = 0;
        PeerHello hello{m_options.cluster_id, m_options.self, id, kPeerProtocolVersion};
        peer.queue.push_front({FrameKind::Hello, encode_frame(encode_hello(hello))});
        log_info(cat("kv peer ", hex_number(id), ": connected to ", peer.address->text));
        return flush(peer);
    }
    if (peer.state != PeerState::Connected)
        return;
    if (peer.stream) {
        // The TLS handshake runs on reads; afterwards a peer sends nothing
        // on this connection but its close.
        char scratch[4096];
        Result<std::optional<size_t>> got = peer.stream->read(scratch, sizeof scratch);
        if (!got)
            return drop_connection(peer, got.error().to_string());
        if (*got && **got == 0)
            return drop_connection(peer, "the peer closed the connection");
        return flush(peer);
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        // A peer never writes on the connection we opened: readable means
        // it closed (or sent something it should not have).
        char scratch[4096];
        ssize_t got = ::recv(peer.socket.get(), scratch, sizeof scratch, MSG_DONTWAIT);
        if (got == 0)
            return drop_connection(peer, "the peer closed the connection");
        if (got < 0 && errno != EAGAIN && errno != EINTR)
            return drop_connection(peer, std::strerror(errno));
    }
    if (events & EPOLLOUT)
        flush(peer);
}

void PeerTransport::schedule_flush(Peer& peer) {
    if (peer.state != PeerState::Connected || peer.flush_scheduled)
        return;
    peer.flush_scheduled = true;
    std::weak_ptr<PeerTransport*> weak = m_self;
    NodeId id = peer.id;
    m_reactor.defer([weak, id] {
        std::shared_ptr<PeerTransport*> self = weak.lock();
        if (!self)
            return;
        auto it = (*self)->m_peers.find(id);
        if (it == (*self)->m_peers.end())
            return;
        it->second->flush_scheduled = false;
        (*self)->flush(*it->second);
    });
}

void PeerTransport::flush(Peer& peer) {
    if (peer.stream)
        return flush_stream(peer);
    while (peer.state == PeerState::Connected && !peer.queue.empty()) {
        iovec iov[kMaxIovecs];
        size_t count = 0;
        for (size_t i = 0; i < peer.queue.size() && count < kMaxIovecs; ++i, ++count) {
            std::string& bytes = peer.queue[i].bytes;
            size_t skip = i == 0 ? peer.written : 0;
            iov[count].iov_base = bytes.data() + skip;
            iov[count].iov_len = bytes.size() - skip;
        }
        msghdr header{};
        header.msg_iov = iov;
        header.msg_iovlen = count;
        ssize_t sent = ::sendmsg(peer.socket.get(), &header, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return drop_connection(peer, std::strerror(errno));
        }
        size_t left = size_t(sent);
        while (left > 0) {
            QueuedFrame& front = peer.queue.front();
            size_t rest = front.bytes.size() - peer.written;
            if (left < rest) {
                peer.written += left;
                break;
            }
            left -= rest;
            pop_sent_frame(peer);
        }
    }
    update_peer_events(peer);
}

void PeerTransport::flush_stream(Peer& peer) {
    while (peer.state == PeerState::Connected) {
        std::string_view bytes;
        if (!peer.queue.empty())
            bytes = std::string_view(peer.queue.front().bytes).substr(peer.written);
        Result<size_t> sent = peer.stream->write(bytes);
        if (!sent)
            return drop_connection(peer, sent.error().to_string());
        if (peer.queue.empty())
            break;
        peer.written += *sent;
        QueuedFrame& front = peer.queue.front();
        if (peer.written < front.bytes.size())
            break; // the socket is full, or the handshake is not done
        pop_sent_frame(peer);
    }
    update_peer_events(peer);
}

void PeerTransport::pop_sent_frame(Peer& peer) {
    QueuedFrame& front = peer.queue.front();
    peer.written = 0;
    if (front.kind != FrameKind::Hello)
        peer.queued_bytes -= front.bytes.size();
    if (front.kind == FrameKind::Snapshot)
        notify_snapshot(peer.id, SnapshotStatus::Finish);
    peer.queue.pop_front();
}

void PeerTransport::update_peer_events(Peer& peer) {
    if (peer.state != PeerState::Connected)
        return;
    bool output = peer.stream ? peer.stream->wants_writable() : !peer.queue.empty();
    uint32_t events = EPOLLIN | EPOLLRDHUP | (output ? uint32_t(EPOLLOUT) : 0u);
    if (events == peer.events)
        return;
    peer.events = events;
    if (Result<void> modified = m_reactor.modify_fd(peer.socket.get(), events); !modified)
        drop_connection(peer, modified.error().to_string());
}

void PeerTransport::drop_connection(Peer& peer, std::string_view why) {
    if (!why.empty())
        log_warning(cat("kv peer ", hex_number(peer.id), ": connection to ",
                        peer.address ? peer.address->text : std::string("?"), " lost: ", why));
    peer.stream.reset();
    if (peer.socket) {
        m_reactor.remove_fd(peer.socket.get());
        peer.socket.reset();
    }
    // A frame cut off mid-way is lost (the next connection starts with a
    // Hello); so is a Hello that was queued for this connection.
    if (peer.written > 0 && !peer.queue.empty()) {
        QueuedFrame& front = peer.queue.front();
        if (front.kind != FrameKind::Hello)
            peer.queued_bytes -= front.bytes.size();
        if (front.kind == FrameKind::Snapshot)
            notify_snapshot(peer.id, SnapshotStatus::Failure);
        peer.queue.pop_front();
    }
    peer.written = 0;
    if (!peer.queue.empty() && peer.queue.front().kind == FrameKind::Hello)
        peer.queue.pop_front();
    peer.events = 0;
    peer.state = PeerState::Waiting;
    peer.connected_at.reset();
    notify_unreachable(peer.id);

    peer.backoff = std::clamp(peer.backoff * 2, m_options.reconnect_min, m_options.reconnect_max);
    NodeId id = peer.id;
    Result<Reactor::TimerId> timer = m_reactor.add_timer(peer.backoff, [this, id] {
        auto it = m_peers.find(id);
        if (it != m_peers.end() && it->second->state == PeerState::Waiting)
            connect(*it->second);
    });
    if (timer)
        peer.timer = *timer;
    else
        log_warning(cat("kv peer ", hex_number(id),
                        ": cannot schedule a reconnect: ", timer.error().to_string()));
}

void PeerTransport::accept_connections() {
    while (true) {
        sockaddr_storage remote{};
        socklen_t length = sizeof remote;
        int fd = ::accept4(m_listener.get(), reinterpret_cast<sockaddr*>(&remote), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                log_warning(cat("kv peer: accept: ", std::strerror(errno)));
            return;
        }
        auto inbound = std::make_unique<Inbound>();
        inbound->serial = m_next_inbound_serial++;
        inbound->socket = Fd(fd);
        (void)set_dead_peer_timeout(fd, m_options.dead_peer_timeout);
        inbound->remote = describe(remote);
        inbound->decoder = FrameDecoder(m_options.max_frame);
        if (m_options.accept_tls) {
            auto stream = tls_stream(m_options.accept_tls, fd);
            if (!stream) {
                log_warning(cat("kv peer: connection from ", inbound->remote, ": ",
                                stream.error().to_string()));
                continue;
            }
            inbound->stream = std::move(*stream);
        } else {
            inbound->stream = std::make_unique<PlainStream>(fd);
        }
        Result<void> watched = m_reactor.add_fd(fd, EPOLLIN | EPOLLRDHUP,
                                                [this, fd](uint32_t) { on_inbound_event(fd); });
        if (!watched) {
            log_warning(cat("kv peer: connection from ", inbound->remote, ": ",
                            watched.error().to_string()));
            continue;
        }
        std::weak_ptr<PeerTransport*> weak = m_self;
        uint64_t serial = inbound->serial;
        Result<Reactor::TimerId> timer =
            m_reactor.add_timer(m_options.hello_timeout, [weak, fd, serial] {
                if (std::shared_ptr<PeerTransport*> self = weak.lock())
                    (*self)->expire_silent_inbound(fd, serial);
            });
        if (!timer) {
            m_reactor.remove_fd(fd);
            log_warning(
                cat("kv peer: connection from ", inbound->remote, ": ", timer.error().to_string()));
            continue;
        }
        m_inbound.emplace(fd, std::move(inbound));
    }
}

void PeerTransport::expire_silent_inbound(int fd, uint64_t serial) {
    auto it = m_inbound.find(fd);
    if (it == m_inbound.end() || it->second->serial != serial || it->second->hello)
        return;
    log_warning(cat("kv peer: closing the connection from ", it->second->remote,
                    ": no Hello within ", m_options.hello_timeout.count(), " ms"));
    close_inbound(fd);
}

void PeerTransport::on_inbound_event(int fd) {
    auto it = m_inbound.find(fd);
    if (it == m_inbound.end())
        return;
    Inbound& inbound = *it->second;
    std::vector<Message> received;
    std::string refusal;
    // A Hello that asks a question (members, HashKV): answered, then the
    // connection is closed.
    std::optional<PeerHello> query;
    bool closed = false;
    size_t total = 0;
    char buffer[65536];
    while (refusal.empty() && !query && !closed && total < kMaxReadPerEvent) {
        Result<std::optional<size_t>> read = read_inbound(inbound, buffer, sizeof buffer);
        if (!read) {
            refusal = read.error().to_string();
            break;
        }
        if (!*read)
            break;
        size_t got = **read;
        if (got == 0) {
            closed = true;
            if (Result<void> finished = inbound.decoder.finish(); !finished)
                refusal = finished.error().to_string();
            break;
        }
        total += got;
        inbound.decoder.feed(std::string_view(buffer, got));
        while (refusal.empty()) {
            Result<std::optional<std::string>> frame = inbound.decoder.next();
            if (!frame) {
                refusal = frame.error().to_string();
                break;
            }
            if (!*frame)
                break;
            if (!inbound.hello) {
                Result<PeerHello> hello = decode_hello(**frame);
                if (!hello)
                    refusal = hello.error().to_string();
                else if (hello->purpose == HelloPurpose::Members) {
                    if (hello->protocol_version != kPeerProtocolVersion)
                        refusal = cat("it speaks peer protocol version ", hello->protocol_version,
                                      ", this member speaks ", kPeerProtocolVersion);
                    else if (!m_options.members)
                        refusal = "it asks for the members, which this member does not tell";
                    else
                        query = *hello;
                    break;
                } else if (hello->cluster_id != m_options.cluster_id)
                    refusal = cat("it is from cluster ", hex_number(hello->cluster_id),
                                  ", this member is in cluster ", hex_number(m_options.cluster_id));
                else if (hello->to != m_options.self)
                    refusal = cat("it is for member ", hex_number(hello->to), ", this is member ",
                                  hex_number(m_options.self));
                else if (hello->protocol_version != kPeerProtocolVersion)
                    refusal = cat("it speaks peer protocol version ", hello->protocol_version,
                                  ", this member speaks ", kPeerProtocolVersion);
                else if (hello->purpose == HelloPurpose::HashKv && !m_options.hash_kv)
                    refusal = "it asks for a HashKV, which this member does not tell";
                else if (hello->purpose == HelloPurpose::HashKv) {
                    query = *hello;
                    break;
                } else
                    inbound.hello = *hello;
                continue;
            }
            Result<Message> message = decode_raft_message(**frame);
            if (!message)
                refusal = message.error().to_string();
            else if (message->from != inbound.hello->from)
                refusal = cat("a message claims to be from member ", hex_number(message->from),
                              " on member ", hex_number(inbound.hello->from), "'s connection");
            else if (message->to != m_options.self)
                refusal = cat("a message is for member ", hex_number(message->to),
                              ", this is member ", hex_number(m_options.self));
            else
                received.push_back(std::move(*message));
        }
    }
    if (query) {
        answer_query(inbound, *query);
        close_inbound(fd);
    } else if (!refusal.empty()) {
        log_warning(cat("kv peer: closing the connection from ", inbound.remote,
                        inbound.hello ? cat(" (member ", hex_number(inbound.hello->from), ")")
                                      : std::string(),
                        ": ", refusal));
        close_inbound(fd);
    } else if (closed) {
        log_debug(cat("kv peer: connection from ", inbound.remote, " closed"));
        close_inbound(fd);
    } else if (inbound.stream->has_buffered_input()) {
        // Decrypted and left by the read limit: no readiness event comes.
        std::weak_ptr<PeerTransport*> weak = m_self;
        m_reactor.defer([weak, fd] {
            if (std::shared_ptr<PeerTransport*> self = weak.lock())
                (*self)->on_inbound_event(fd);
        });
    }
    // Handed up last: the callback may call back into the transport.
    for (Message& message : received)
        m_receive(std::move(message));
}

Result<std::optional<size_t>> PeerTransport::read_inbound(Inbound& inbound, char* buffer,
                                                          size_t size) {
    Result<std::optional<size_t>> read = inbound.stream->read(buffer, size);
    if (!read || *read || (!inbound.stream->has_pending_output() && !inbound.watching_output))
        return read;
    // A TLS handshake's records the socket did not take: wait for room.
    if (inbound.stream->has_pending_output())
        TRY(inbound.stream->write(""));
    bool output = inbound.stream->wants_writable();
    if (output != inbound.watching_output) {
        inbound.watching_output = output;
        TRY(m_reactor.modify_fd(inbound.socket.get(), uint32_t(EPOLLIN | EPOLLRDHUP) |
                                                          (output ? uint32_t(EPOLLOUT) : 0u)));
    }
    return read;
}

void PeerTransport::answer_query(Inbound& inbound, const PeerHello& hello) {
    bool members = hello.purpose == HelloPurpose::Members;
    // The answer is small (a member list, a hash), so one write into the
    // fresh socket's buffer takes it whole (through TLS too); should it
    // not, the connection is closed and the asker tries again or asks
    // another member.
    std::string frame =
        encode_frame(members ? encode_cluster_members(m_options.members())
                             : encode_peer_hash_kv(m_options.hash_kv(hello.revision)));
    std::string_view what = members ? "the members query" : "the HashKV query";
    Result<size_t> sent = inbound.stream->write(frame);
    if (!sent || *sent != frame.size() || inbound.stream->has_pending_output())
        log_warning(cat("kv peer: answering ", what, " from ", inbound.remote, ": ",
                        !sent ? sent.error().to_string()
                              : std::string("the answer did not fit the socket")));
    else if (members)
        log_info(cat("kv peer: told ", inbound.remote, " the cluster's members"));
    else
        log_debug(cat("kv peer: told member ", hex_number(hello.from), " the HashKV at revision ",
                      hello.revision));
}

Result<void> set_dead_peer_timeout(int fd, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0)
        return {};
    int seconds = int(std::clamp<int64_t>(timeout.count() / 1000, 2, 3600));
    int on = 1;
    int idle = seconds / 2;
    int interval = 1;
    int count = std::min(seconds - idle, 127);
    unsigned user_timeout = unsigned(std::min<int64_t>(timeout.count(), INT32_MAX));
    if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) < 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) < 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) < 0 ||
        ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) < 0)
        return errno_error("set the socket's keepalive and user timeout");
    return {};
}

void PeerTransport::close_inbound(int fd) {
    m_reactor.remove_fd(fd);
    m_inbound.erase(fd);
}

void PeerTransport::notify_unreachable(NodeId id) {
    std::weak_ptr<PeerTransport*> weak = m_self;
    m_reactor.defer([weak, id] {
        if (std::shared_ptr<PeerTransport*> self = weak.lock(); self && (*self)->m_unreachable)
            (*self)->m_unreachable(id);
    });
}

void PeerTransport::notify_snapshot(NodeId id, SnapshotStatus status) {
    std::weak_ptr<PeerTransport*> weak = m_self;
    m_reactor.defer([weak, id, status] {
        if (std::shared_ptr<PeerTransport*> self = weak.lock(); self && (*self)->m_snapshot_sent)
            (*self)->m_snapshot_sent(id, status);
    });
}

} // namespace keel::kv
