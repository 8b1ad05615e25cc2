// Control socket server and client.
#include "init/control.h"

#include "base/framing.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "base/users.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/epoll.h>
#include <unistd.h>

namespace keel {

namespace {
// A client that connects and says nothing is dropped after this long.
constexpr auto kClientTimeout = std::chrono::seconds(5);
// Requests are tiny; this bounds what a peer can make init allocate.
constexpr std::size_t kMaxRequest = 64 * 1024;
} // namespace

std::string control_socket_path() {
    const char* path = std::getenv("KEEL_CONTROL_SOCKET");
    return path && *path ? path : kDefaultControlSocket;
}

Result<std::unique_ptr<ControlServer>>
ControlServer::start(Reactor& reactor, const std::string& path, ControlHandler handler) {
    std::unique_ptr<ControlServer> server(new ControlServer(reactor, std::move(handler)));
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0)
        TRY(make_directories(path.substr(0, slash)));
    // Anyone may connect; credentials decide what they may do, and a refused
    // peer gets a clear answer instead of EACCES on connect.
    server->m_listener = TRY(unix_listen(path, SOCK_SEQPACKET | SOCK_NONBLOCK, 0666));
    server->m_path = path;
    ControlServer* self = server.get();
    TRY(reactor.add_fd(server->m_listener.get(), EPOLLIN,
                       [self](uint32_t) { self->accept_client(); }));
    return server;
}

ControlServer::~ControlServer() {
    for (auto& [fd, client] : m_clients) {
        m_reactor.remove_fd(fd);
        m_reactor.cancel_timer(client.timeout);
    }
    if (m_listener) {
        m_reactor.remove_fd(m_listener.get());
        ::unlink(m_path.c_str());
    }
}

void ControlServer::accept_client() {
    for (;;) {
        int fd = ::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warning(cat("control socket: accept: ", std::strerror(errno)));
            return;
        }
        auto timer = m_reactor.add_timer(kClientTimeout, [this, fd] { drop_client(fd); });
        auto watched = m_reactor.add_fd(fd, EPOLLIN, [this, fd](uint32_t) { serve_client(fd); });
        if (!timer || !watched) {
            if (timer)
                m_reactor.cancel_timer(*timer);
            ::close(fd);
            continue;
        }
        m_clients.emplace(fd, Client{Fd(fd), *timer});
    }
}

void ControlServer::drop_client(int fd) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end())
        return;
    m_reactor.remove_fd(fd);
    m_reactor.cancel_timer(it->second.timeout);
    m_clients.erase(it); // closes fd
}

void ControlServer::serve_client(int fd) {
    std::string packet(kMaxRequest + kFrameHeaderSize + 1, '\0');
    ssize_t n = ::recv(fd, packet.data(), packet.size(), MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    control::Response response;
    auto reply = [&] {
        std::string bytes;
        if (response.SerializeToString(&bytes))
            (void)write_frame(fd, bytes, Transport::Seqpacket);
        drop_client(fd);
    };
    if (n <= 0) {
        drop_client(fd);
        return;
    }
    packet.resize(std::min<size_t>(size_t(n), packet.size()));
    auto payload = size_t(n) > packet.size() ? Result<std::string>(error("request too large"))
                                             : decode_packet(packet, kMaxRequest);
    control::Request request;
    auto peer = peer_credentials(fd);
    if (!payload || !request.ParseFromString(*payload) || !peer) {
        response.set_error(!payload ? payload.error().to_string()
                           : !peer  ? peer.error().to_string()
                                    : "malformed request");
        log_warning(cat("control socket: ", response.error()));
        reply();
        return;
    }
    response = m_handler(request, *peer);
    reply();
}

Result<control::Response> call_init(const control::Request& request, const std::string& path) {
    Fd fd = TRY_CTX(unix_connect(path, SOCK_SEQPACKET), "reach init (is keel running as init?)");
    TRY_CTX(write_message(fd.get(), request, Transport::Seqpacket), "send request to init");
    return TRY_CTX(read_message<control::Response>(fd.get(), Transport::Seqpacket),
                   "read init's response");
}

bool may_read(const struct ucred& peer) {
    if (peer.uid == 0)
        return true;
    auto group = find_group("keel");
    if (!group)
        return false;
    if (peer.gid == group->gid)
        return true;
    auto user = find_user(std::to_string(peer.uid));
    if (!user)
        return false;
    for (const std::string& member : group->members)
        if (member == user->name)
            return true;
    return false;
}

} // namespace keel
