// sd_notify datagrams: the strict parser, socket addresses (paths and
// abstract names), and the sending side used by `keel notify`.
#include "base/notify.h"

#include "base/fd.h"
#include "base/strings.h"

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <unistd.h>

namespace keel {

namespace {

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

} // namespace

Result<NotifySocketAddress> notify_socket_address(const std::string& socket) {
    NotifySocketAddress out{};
    out.address.sun_family = AF_UNIX;
    if (socket.empty() || socket.size() >= sizeof out.address.sun_path)
        return error(cat("notify socket path ", quoted(socket), " is empty or too long"));
    std::memcpy(out.address.sun_path, socket.data(), socket.size());
    if (socket[0] == '@')
        out.address.sun_path[0] = '\0'; // abstract namespace
    out.length =
        socklen_t(offsetof(sockaddr_un, sun_path) + socket.size() + (socket[0] == '@' ? 0 : 1));
    return out;
}

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

Result<void> send_notify(const std::string& socket, std::string_view message, pid_t as_pid) {
    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error("create a socket");
    NotifySocketAddress address = TRY(notify_socket_address(socket));
    iovec vector{const_cast<char*>(message.data()), message.size()};
    msghdr header{};
    header.msg_name = &address.address;
    header.msg_namelen = address.length;
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
