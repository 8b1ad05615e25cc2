// init's notify socket: sd_notify datagrams received on the reactor, with
// the sender's credentials, parsed by base/notify.h; passed fds are closed.
#include "init/notify_socket.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel {

namespace {

// musl's CMSG_NXTHDR compares signed with unsigned; keep -Werror for the rest.
cmsghdr* next_control_message(msghdr* header, cmsghdr* current) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
    return CMSG_NXTHDR(header, current);
#pragma GCC diagnostic pop
}

// Datagrams handled per wakeup: a flood cannot starve the rest of PID 1;
// the socket stays readable and the loop comes back to it.
constexpr int kBatch = 64;

} // namespace

Result<std::unique_ptr<NotifySocket>> NotifySocket::open(Reactor& reactor, const std::string& path,
                                                         Handler handler) {
    std::unique_ptr<NotifySocket> socket(new NotifySocket(reactor, std::move(handler)));
    size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0)
        TRY(make_directories(path.substr(0, slash)));
    socket->m_fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!socket->m_fd)
        return errno_error("create the notify socket");
    int on = 1;
    if (::setsockopt(socket->m_fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
        return errno_error("enable SO_PASSCRED on the notify socket");
    NotifySocketAddress address = TRY(notify_socket_address(path));
    if (path[0] != '@')
        ::unlink(path.c_str()); // a socket left by an earlier run
    if (::bind(socket->m_fd.get(), reinterpret_cast<sockaddr*>(&address.address), address.length) <
        0)
        return errno_error(cat("bind the notify socket ", quoted(path)));
    if (path[0] != '@' && ::chmod(path.c_str(), 0666) < 0)
        return errno_error(cat("chmod ", quoted(path)));
    socket->m_path = path;
    NotifySocket* self = socket.get();
    TRY(reactor.add_fd(socket->m_fd.get(), EPOLLIN, [self](uint32_t) { self->drain(); }));
    return socket;
}

NotifySocket::~NotifySocket() {
    if (m_fd) {
        m_reactor.remove_fd(m_fd.get());
        if (!m_path.empty() && m_path[0] != '@')
            ::unlink(m_path.c_str());
    }
}

void NotifySocket::drain() {
    for (int i = 0; i < kBatch; ++i) {
        char buffer[kMaxNotifyMessage + 1];
        // Room for the credentials and for fds a service passes (FDSTORE=1):
        // they are closed, never kept.
        alignas(
            cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 253)];
        iovec vector{buffer, sizeof buffer};
        msghdr header{};
        header.msg_iov = &vector;
        header.msg_iovlen = 1;
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(m_fd.get(), &header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warning(Error::from_errno(errno, "receive on the notify socket").to_string());
            return;
        }
        std::optional<struct ucred> sender;
        for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = next_control_message(&header, c)) {
            if (c->cmsg_level != SOL_SOCKET)
                continue;
            if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                struct ucred credentials;
                std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
                sender = credentials;
            } else if (c->cmsg_type == SCM_RIGHTS) {
                size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t k = 0; k < count; ++k) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    ::close(fd);
                }
            }
        }
        if (!sender || sender->pid <= 0) {
            log_warning("notify socket: a message without sender credentials, ignored");
            continue;
        }
        if ((header.msg_flags & MSG_TRUNC) || size_t(n) > kMaxNotifyMessage) {
            m_handler(*sender, error(cat("message of ", n, " bytes exceeds the maximum of ",
                                         kMaxNotifyMessage)));
            continue;
        }
        m_handler(*sender, parse_notify_message(std::string_view(buffer, size_t(n))));
    }
}

} // namespace keel
