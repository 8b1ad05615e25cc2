// The control socket server: accepting clients, reading their requests,
// queueing and flushing their replies without blocking, and who may read.
#include "init/control_server.h"

#include "base/framing.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "base/users.h"
#include "control/control.h"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <unistd.h>
#include <vector>

namespace keel {

namespace {
// A client that connects and says nothing is dropped after this long.
constexpr auto kClientTimeout = std::chrono::seconds(5);
// Requests are tiny; this bounds what a peer can make init allocate, well
// below the frame limit the protocol allows (kMaxControlFrame).
constexpr std::size_t kMaxRequest = 64 * 1024;
} // namespace

class ControlServer::Connection final : public ControlReply {
public:
    Connection(ControlServer& server, int fd) : m_server(&server), m_fd(fd) {}

    bool send(const control::Response& response) override {
        return m_server && m_server->queue(m_fd, response);
    }
    void finish(const control::Response& response) override {
        if (m_server && m_server->queue(m_fd, response))
            m_server->close_after_flush(m_fd);
    }
    void close() override {
        if (m_server)
            m_server->close_after_flush(m_fd);
    }
    bool open() const override { return m_server != nullptr; }
    void on_close(std::function<void()> callback) override { m_on_close = std::move(callback); }

    /// The server dropped the client: nothing more can be sent.
    void ended() {
        m_server = nullptr;
        if (auto callback = std::move(m_on_close))
            callback();
    }

private:
    ControlServer* m_server;
    int m_fd;
    std::function<void()> m_on_close;
};

Result<std::unique_ptr<ControlServer>>
ControlServer::start(Reactor& reactor, const std::string& path, ControlHandler handler) {
    return start(reactor, path,
                 [handler = std::move(handler)](const control::Request& request,
                                                const struct ucred& peer, ControlReplyPtr reply) {
                     reply->finish(handler(request, peer));
                 });
}

Result<std::unique_ptr<ControlServer>>
ControlServer::start(Reactor& reactor, const std::string& path, AsyncControlHandler handler) {
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
    std::vector<int> fds;
    for (auto& [fd, client] : m_clients)
        fds.push_back(fd);
    for (int fd : fds)
        drop_client(fd);
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
        // Room for a large reply (list-units of many units) in one packet;
        // FORCE works for root, the plain option is capped by wmem_max.
        int size = int(kMaxControlFrame + kFrameHeaderSize);
        if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        auto timer = m_reactor.add_timer(kClientTimeout, [this, fd] { drop_client(fd); });
        auto watched = m_reactor.add_fd(fd, EPOLLIN,
                                        [this, fd](uint32_t events) { serve_client(fd, events); });
        if (!timer || !watched) {
            if (timer)
                m_reactor.cancel_timer(*timer);
            if (watched)
                m_reactor.remove_fd(fd);
            ::close(fd);
            continue;
        }
        Client client;
        client.fd = Fd(fd);
        client.timeout = *timer;
        m_clients.emplace(fd, std::move(client));
    }
}

void ControlServer::drop_client(int fd) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end())
        return;
    m_reactor.remove_fd(fd);
    m_reactor.cancel_timer(it->second.timeout);
    std::shared_ptr<Connection> reply = std::move(it->second.reply);
    m_clients.erase(it); // closes fd
    if (reply)
        reply->ended();
}

void ControlServer::serve_client(int fd, uint32_t events) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end())
        return;
    if (!it->second.requested) {
        read_request(fd);
        return;
    }
    if (events & EPOLLOUT)
        flush(fd);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        // After its request a client only ever hangs up; anything else it
        // sends is ignored.
        char byte[256];
        ssize_t n = ::recv(fd, byte, sizeof byte, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLERR))
            drop_client(fd);
    }
}

void ControlServer::read_request(int fd) {
    std::string packet(kMaxRequest + kFrameHeaderSize + 1, '\0');
    ssize_t n = ::recv(fd, packet.data(), packet.size(), MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop_client(fd);
        return;
    }
    Client& client = m_clients.at(fd);
    client.requested = true;
    m_reactor.cancel_timer(client.timeout);
    client.timeout = 0;
    auto reply = std::make_shared<Connection>(*this, fd);
    client.reply = reply;

    packet.resize(std::min<size_t>(size_t(n), packet.size()));
    auto payload = size_t(n) > packet.size() ? Result<std::string>(error("request too large"))
                                             : decode_packet(packet, kMaxRequest);
    control::Request request;
    auto peer = peer_credentials(fd);
    if (!payload || !request.ParseFromString(*payload) || !peer) {
        control::Response response;
        response.set_error(!payload ? payload.error().to_string()
                           : !peer  ? peer.error().to_string()
                                    : "malformed request");
        log_warning(cat("control socket: ", response.error()));
        reply->finish(response);
        return;
    }
    m_handler(request, *peer, reply);
}

bool ControlServer::queue(int fd, const control::Response& response) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end() || it->second.closing)
        return false;
    Client& client = it->second;
    std::string bytes;
    if (!response.SerializeToString(&bytes) || bytes.size() > kMaxControlFrame) {
        log_warning(cat("control socket: a response of ", uint64_t(bytes.size()),
                        " bytes could not be sent"));
        drop_client(fd);
        return false;
    }
    client.queued += bytes.size() + kFrameHeaderSize;
    client.queue.push_back(encode_frame(bytes));
    if (client.queued > kMaxQueued) {
        log_warning("control socket: dropping a client that does not read its replies");
        drop_client(fd);
        return false;
    }
    flush(fd);
    return m_clients.contains(fd);
}

void ControlServer::flush(int fd) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end())
        return;
    Client& client = it->second;
    while (!client.queue.empty()) {
        const std::string& frame = client.queue.front();
        ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            (void)m_reactor.modify_fd(fd, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n < 0) {
            drop_client(fd); // the client went away
            return;
        }
        client.queued -= frame.size();
        client.queue.pop_front();
    }
    (void)m_reactor.modify_fd(fd, EPOLLIN);
    if (client.closing)
        drop_client(fd);
}

void ControlServer::close_after_flush(int fd) {
    auto it = m_clients.find(fd);
    if (it == m_clients.end())
        return;
    it->second.closing = true;
    if (it->second.queue.empty())
        drop_client(fd);
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
