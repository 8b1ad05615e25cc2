// sd_notify datagrams: the strict parser, the receiving socket on init's
// reactor, and the sending side used by `keel notify`.
#include "init/notify.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
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

// A value echoed in an error: shortened, control bytes made visible.
std::string shown(std::string_view text) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (char c : text.substr(0, 40)) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 15];
        } else {
            out += c;
        }
    }
    if (text.size() > 40)
        out += "...";
    return quoted(out);
}

bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Datagrams handled per wakeup: a flood cannot starve the rest of PID 1;
// the socket stays readable and the loop comes back to it.
constexpr int kBatch = 64;

Result<sockaddr_un> socket_address(const std::string& path, socklen_t& length) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path)
        return error(cat("notify socket path ", quoted(path), " is empty or too long"));
    std::memcpy(address.sun_path, path.data(), path.size());
    if (path[0] == '@')
        address.sun_path[0] = '\0'; // abstract namespace
    length = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
    return address;
}

} // namespace

Result<NotifyMessage> parse_notify_message(std::string_view datagram) {
    if (datagram.size() > kMaxNotifyMessage)
        return error(cat("message of ", datagram.size(), " bytes exceeds the maximum of ",
                         kMaxNotifyMessage));
    if (datagram.find('\0') != std::string_view::npos)
        return error("message contains a NUL byte");
    NotifyMessage message;
    int number = 0;
    bool any = false;
    while (!datagram.empty()) {
        size_t end = datagram.find('\n');
        std::string_view line = datagram.substr(0, end);
        datagram.remove_prefix(end == std::string_view::npos ? datagram.size() : end + 1);
        ++number;
        if (line.empty())
            continue;
        auto fail = [&](std::string_view what) { return error(cat("line ", number, ": ", what)); };
        size_t equals = line.find('=');
        if (equals == std::string_view::npos)
            return fail(cat("expected KEY=value, got ", shown(line)));
        std::string_view key = line.substr(0, equals);
        std::string_view value = line.substr(equals + 1);
        if (key.empty())
            return fail(cat("missing key before `=` in ", shown(line)));
        for (char c : key)
            if (!is_key_char(c))
                return fail(cat("invalid key ", shown(key),
                                " (keys are upper-case letters, digits and `_`)"));
        auto invalid = [&](std::string_view expected) {
            return fail(cat(key, ": ", shown(value), " is not ", expected));
        };
        auto number_value = [&](uint64_t max) -> std::optional<uint64_t> {
            auto parsed = parse_u64(value);
            if (!parsed || *parsed > max)
                return std::nullopt;
            return parsed;
        };
        any = true;
        if (key == "READY" || key == "RELOADING" || key == "STOPPING") {
            if (value != "1")
                return invalid("`1`");
            (key == "READY"       ? message.ready
             : key == "RELOADING" ? message.reloading
                                  : message.stopping) = true;
        } else if (key == "STATUS") {
            for (char c : value) {
                auto byte = static_cast<unsigned char>(c);
                if ((byte < 0x20 && c != '\t') || byte == 0x7f)
                    return invalid("printable text");
            }
            message.status = std::string(value);
        } else if (key == "MAINPID") {
            auto pid = number_value(INT_MAX);
            if (!pid || *pid == 0)
                return invalid("a pid");
            message.main_pid = pid_t(*pid);
        } else if (key == "WATCHDOG") {
            if (value == "1")
                message.watchdog = true;
            else if (value == "trigger")
                message.watchdog_trigger = true;
            else
                return invalid("`1` or `trigger`");
        } else if (key == "WATCHDOG_USEC" || key == "EXTEND_TIMEOUT_USEC") {
            auto usec = number_value(UINT64_MAX - 1);
            if (!usec || *usec == 0)
                return invalid("a positive number of microseconds");
            (key == "WATCHDOG_USEC" ? message.watchdog_usec : message.extend_timeout_usec) = *usec;
        } else if (key == "ERRNO") {
            auto code = number_value(4095);
            if (!code)
                return invalid("an errno number");
            message.errno_value = int(*code);
        } else {
            message.ignored.emplace_back(key);
        }
    }
    if (!any)
        return error("empty message");
    return message;
}

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
    socklen_t length = 0;
    sockaddr_un address = TRY(socket_address(path, length));
    if (path[0] != '@')
        ::unlink(path.c_str()); // a socket left by an earlier run
    if (::bind(socket->m_fd.get(), reinterpret_cast<sockaddr*>(&address), length) < 0)
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

Result<void> send_notify(const std::string& socket, std::string_view message, pid_t as_pid) {
    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error("create a socket");
    socklen_t length = 0;
    sockaddr_un address = TRY(socket_address(socket, length));
    iovec vector{const_cast<char*>(message.data()), message.size()};
    msghdr header{};
    header.msg_name = &address;
    header.msg_namelen = length;
    header.msg_iov = &vector;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))] = {};
    if (as_pid > 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&header);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred credentials {
            as_pid, ::getuid(), ::getgid()
        };
        std::memcpy(CMSG_DATA(c), &credentials, sizeof credentials);
        if (::sendmsg(fd.get(), &header, MSG_NOSIGNAL) >= 0)
            return {};
        if (errno != EPERM && errno != ESRCH)
            return errno_error(cat("send to ", quoted(socket)));
        // Not allowed to speak for that pid: send as ourselves.
        header.msg_control = nullptr;
        header.msg_controllen = 0;
    }
    if (::sendmsg(fd.get(), &header, MSG_NOSIGNAL) < 0)
        return errno_error(cat("send to ", quoted(socket)));
    return {};
}

} // namespace keel
