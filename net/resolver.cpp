// Name resolution without NSS: literals, /etc/hosts, and a small DNS stub
// resolver (RFC 1035 messages over UDP, and TCP on truncation).
#include "net/resolver.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <unistd.h>

namespace keel::net {

namespace {

// A name as compared: lower case, no trailing dot.
std::string canonical_name(std::string_view name) {
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    return ascii_lower(name);
}

// Splits a line into fields separated by spaces and tabs.
std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
            ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            ++i;
        if (i > start)
            out.push_back(line.substr(start, i - start));
    }
    return out;
}

std::string_view strip_comment(std::string_view line) {
    size_t hash = line.find_first_of("#;");
    return line.substr(0, hash);
}

uint16_t read_u16(std::string_view packet, size_t offset) {
    return uint16_t(static_cast<unsigned char>(packet[offset]) << 8 |
                    static_cast<unsigned char>(packet[offset + 1]));
}

// Reads the (possibly compressed) name at `offset`; `next` is set to the
// offset just after the name where it appears (after the first pointer).
Result<std::string> read_name(std::string_view packet, size_t offset, size_t& next) {
    std::string name;
    size_t wire_length = 1; // the final zero
    size_t position = offset;
    bool jumped = false;
    int jumps = 0;
    for (;;) {
        if (position >= packet.size())
            return error("DNS name runs past the end of the message");
        auto length = static_cast<unsigned char>(packet[position]);
        if ((length & 0xc0) == 0xc0) {
            if (position + 1 >= packet.size())
                return error("DNS compression pointer runs past the end of the message");
            size_t target = size_t(read_u16(packet, position) & 0x3fff);
            // Only backwards: a pointer to itself or forwards could loop.
            if (target >= position)
                return error("DNS compression pointer does not point backwards");
            if (++jumps > 64)
                return error("DNS name has too many compression pointers");
            if (!jumped)
                next = position + 2;
            jumped = true;
            position = target;
            continue;
        }
        if ((length & 0xc0) != 0)
            return error("DNS label has a reserved length type");
        if (length == 0) {
            if (!jumped)
                next = position + 1;
            return name;
        }
        if (position + 1 + length > packet.size())
            return error("DNS label runs past the end of the message");
        wire_length += 1 + length;
        if (wire_length > 255)
            return error("DNS name longer than 255 bytes");
        if (!name.empty())
            name += '.';
        name += ascii_lower(packet.substr(position + 1, length));
        position += 1 + length;
    }
}

struct Record {
    std::string owner;
    uint16_t type = 0;
    std::string data; // raw rdata, or the target name of a CNAME
};

} // namespace

socklen_t socket_address(const IpAddress& address, uint16_t port, sockaddr_storage& storage) {
    std::memset(&storage, 0, sizeof storage);
    if (address.family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
        return sizeof(sockaddr_in6);
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, address.bytes.data(), 4);
    return sizeof(sockaddr_in);
}

std::string IpAddress::str() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes.data(), buffer, sizeof buffer);
    return buffer;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
        return std::nullopt;
    std::string copy(text);
    IpAddress address;
    if (::inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) {
        address.family = AF_INET;
        return address;
    }
    if (::inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) == 1) {
        address.family = AF_INET6;
        return address;
    }
    return std::nullopt;
}

std::vector<IpAddress> lookup_hosts(std::string_view content, std::string_view name) {
    std::string wanted = canonical_name(name);
    std::vector<IpAddress> out;
    for (std::string_view line : split(content, '\n')) {
        std::vector<std::string_view> words = fields(line.substr(0, line.find('#')));
        if (words.size() < 2)
            continue;
        std::optional<IpAddress> address = parse_ip_address(words[0]);
        if (!address)
            continue;
        for (size_t i = 1; i < words.size(); ++i)
            if (canonical_name(words[i]) == wanted) {
                out.push_back(*address);
                break;
            }
    }
    return out;
}

ResolvConf parse_resolv_conf(std::string_view content) {
    ResolvConf conf;
    for (std::string_view line : split(content, '\n')) {
        std::vector<std::string_view> words = fields(strip_comment(line));
        if (words.empty())
            continue;
        if (words[0] == "nameserver" && words.size() >= 2) {
            if (std::optional<IpAddress> address = parse_ip_address(words[1]))
                conf.nameservers.push_back(*address);
        } else if ((words[0] == "search" || words[0] == "domain") && words.size() >= 2) {
            // The last of search and domain wins (resolv.conf(5)).
            conf.search.clear();
            for (size_t i = 1; i < words.size(); ++i)
                conf.search.push_back(canonical_name(words[i]));
            if (words[0] == "domain")
                conf.domain = canonical_name(words[1]);
        } else if (words[0] == "options") {
            for (size_t i = 1; i < words.size(); ++i) {
                std::string_view option = words[i];
                auto number = [&](std::string_view prefix, int& into, int limit) {
                    if (starts_with(option, prefix))
                        if (std::optional<uint64_t> n = parse_u64(option.substr(prefix.size())))
                            into = int(std::min<uint64_t>(*n, uint64_t(limit)));
                };
                number("ndots:", conf.ndots, 15);
                number("timeout:", conf.timeout_seconds, 30);
                number("attempts:", conf.attempts, 5);
            }
        }
    }
    if (conf.timeout_seconds < 1)
        conf.timeout_seconds = 1;
    if (conf.attempts < 1)
        conf.attempts = 1;
    return conf;
}

Result<std::string> build_dns_query(uint16_t id, std::string_view name, uint16_t type) {
    std::string packet;
    auto put16 = [&](uint16_t value) {
        packet += char(value >> 8);
        packet += char(value & 0xff);
    };
    put16(id);
    put16(0x0100); // RD
    put16(1);      // QDCOUNT
    put16(0);
    put16(0);
    put16(0);
    std::string canonical = canonical_name(name);
    if (canonical.empty() || canonical.size() > 253)
        return error(cat("host name ", quoted(name), " is empty or longer than 253 bytes"));
    for (std::string_view label : split(canonical, '.')) {
        if (label.empty() || label.size() > 63)
            return error(cat("host name ", quoted(name), " has an empty or over-long label"));
        packet += char(label.size());
        packet += label;
    }
    packet += '\0';
    put16(type);
    put16(1); // IN
    return packet;
}

Result<DnsAnswer> parse_dns_response(std::string_view packet, uint16_t id, std::string_view name,
                                     uint16_t type) {
    if (packet.size() < 12)
        return error("DNS response shorter than its header");
    if (read_u16(packet, 0) != id)
        return error("DNS response id does not match the query");
    uint16_t flags = read_u16(packet, 2);
    if (!(flags & 0x8000))
        return error("DNS message is not a response");
    if ((flags >> 11 & 0xf) != 0)
        return error("DNS response has an unexpected opcode");
    DnsAnswer answer;
    answer.truncated = flags & 0x0200;
    answer.rcode = flags & 0xf;
    uint16_t questions = read_u16(packet, 4);
    uint16_t answers = read_u16(packet, 6);
    if (questions != 1) {
        // A truncated or failed answer may come without the question.
        if (questions == 0 && (answer.truncated || answer.rcode != 0))
            return answer;
        return error("DNS response does not carry exactly one question");
    }

    size_t offset = 12;
    std::string question = TRY(read_name(packet, offset, offset));
    if (offset + 4 > packet.size())
        return error("DNS question runs past the end of the message");
    if (question != canonical_name(name) || read_u16(packet, offset) != type ||
        read_u16(packet, offset + 2) != 1)
        return error("DNS response answers another question");
    offset += 4;

    std::vector<Record> records;
    for (uint16_t i = 0; i < answers; ++i) {
        Record record;
        record.owner = TRY(read_name(packet, offset, offset));
        if (offset + 10 > packet.size()) {
            if (answer.truncated)
                break;
            return error("DNS record runs past the end of the message");
        }
        record.type = read_u16(packet, offset);
        uint16_t record_class = read_u16(packet, offset + 2);
        uint16_t length = read_u16(packet, offset + 8);
        offset += 10;
        if (offset + length > packet.size()) {
            if (answer.truncated)
                break;
            return error("DNS record data runs past the end of the message");
        }
        if (record_class != 1) {
            offset += length;
            continue;
        }
        if (record.type == kDnsTypeCname) {
            size_t end = offset;
            record.data = TRY(read_name(packet.substr(0, offset + length), offset, end));
        } else {
            record.data = std::string(packet.substr(offset, length));
        }
        offset += length;
        records.push_back(std::move(record));
    }

    // Follow the CNAME chain from the name asked for, a bounded number of
    // links, and take the addresses of the name it ends at (or on the way).
    std::vector<std::string> chain{canonical_name(name)};
    for (int hop = 0; hop < 16; ++hop) {
        bool followed = false;
        for (const Record& record : records)
            if (record.type == kDnsTypeCname && record.owner == chain.back()) {
                bool seen = false;
                for (const std::string& link : chain)
                    seen = seen || link == record.data;
                if (!seen) {
                    chain.push_back(record.data);
                    followed = true;
                }
                break;
            }
        if (!followed)
            break;
    }
    for (const Record& record : records) {
        if (record.type != type || (type != kDnsTypeA && type != kDnsTypeAaaa))
            continue;
        bool on_chain = false;
        for (const std::string& link : chain)
            on_chain = on_chain || link == record.owner;
        if (!on_chain)
            continue;
        size_t size = type == kDnsTypeA ? 4 : 16;
        if (record.data.size() != size)
            return error("DNS address record has the wrong length");
        IpAddress address;
        address.family = type == kDnsTypeA ? AF_INET : AF_INET6;
        std::memcpy(address.bytes.data(), record.data.data(), size);
        answer.addresses.push_back(address);
    }
    return answer;
}

namespace {

// Waits for `events` on `fd` until `deadline` (monotonic microseconds).
Result<void> wait_for(int fd, short events, uint64_t deadline, std::string_view what) {
    for (;;) {
        uint64_t now = monotonic_usec();
        if (now >= deadline)
            return errno_error(ETIMEDOUT, std::string(what));
        pollfd entry{fd, events, 0};
        int n = ::poll(&entry, 1, int((deadline - now + 999) / 1000));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(std::string(what));
        if (n > 0)
            return {};
    }
}

Result<Fd> connected_socket(const IpAddress& server, uint16_t port, int type) {
    Fd fd(::socket(server.family, type | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error("socket");
    sockaddr_storage storage;
    socklen_t length = socket_address(server, port, storage);
    if (type == SOCK_STREAM) {
        int flags = ::fcntl(fd.get(), F_GETFL);
        ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) < 0 &&
        errno != EINPROGRESS)
        return errno_error(cat("connect to nameserver ", server.str()));
    return fd;
}

// One query over TCP (after a truncated UDP answer).
Result<std::string> exchange_tcp(const IpAddress& server, uint16_t port, std::string_view query,
                                 uint64_t deadline) {
    Fd fd = TRY(connected_socket(server, port, SOCK_STREAM));
    TRY(wait_for(fd.get(), POLLOUT, deadline, "connect to nameserver over TCP"));
    int connect_error = 0;
    socklen_t size = sizeof connect_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &connect_error, &size);
    if (connect_error != 0)
        return errno_error(connect_error, cat("connect to nameserver ", server.str(), " over TCP"));
    std::string message;
    message += char(query.size() >> 8);
    message += char(query.size() & 0xff);
    message += query;
    size_t sent = 0;
    while (sent < message.size()) {
        TRY(wait_for(fd.get(), POLLOUT, deadline, "send to nameserver"));
        ssize_t n = ::send(fd.get(), message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno_error("send to nameserver");
        sent += size_t(n);
    }
    std::string received;
    size_t wanted = 2;
    while (received.size() < wanted) {
        TRY(wait_for(fd.get(), POLLIN, deadline, "read from nameserver"));
        char buffer[4096];
        ssize_t n = ::recv(fd.get(), buffer, std::min(sizeof buffer, wanted - received.size()), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno_error("read from nameserver");
        if (n == 0)
            return error("nameserver closed the TCP connection early");
        received.append(buffer, size_t(n));
        if (wanted == 2 && received.size() == 2) {
            wanted = 2 + read_u16(received, 0);
        }
    }
    return received.substr(2);
}

// One query to one server: UDP, then TCP when the answer is truncated.
Result<DnsAnswer> exchange(const IpAddress& server, uint16_t port, std::string_view name,
                           uint16_t type, std::chrono::milliseconds timeout) {
    uint16_t id = uint16_t(std::random_device{}());
    std::string query = TRY(build_dns_query(id, name, type));
    uint64_t deadline = monotonic_usec() + uint64_t(timeout.count()) * 1000;
    Fd fd = TRY(connected_socket(server, port, SOCK_DGRAM));
    if (::send(fd.get(), query.data(), query.size(), 0) < 0)
        return errno_error(cat("send to nameserver ", server.str()));
    for (;;) {
        TRY(wait_for(fd.get(), POLLIN, deadline, cat("no answer from nameserver ", server.str())));
        char buffer[4096];
        ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno_error(cat("read from nameserver ", server.str()));
        Result<DnsAnswer> answer = parse_dns_response({buffer, size_t(n)}, id, name, type);
        if (!answer)
            continue; // a stray or forged datagram: keep waiting for ours
        if (!answer->truncated)
            return answer;
        std::string response = TRY(exchange_tcp(server, port, query, deadline));
        return parse_dns_response(response, id, name, type);
    }
}

} // namespace

Result<std::vector<IpAddress>> resolve_host(std::string_view host, const ResolverOptions& options) {
    if (std::optional<IpAddress> literal = parse_ip_address(host))
        return std::vector<IpAddress>{*literal};
    if (Result<std::string> hosts = read_file(options.hosts_file)) {
        std::vector<IpAddress> found = lookup_hosts(*hosts, host);
        if (!found.empty())
            return found;
    }

    ResolvConf conf;
    if (Result<std::string> text = read_file(options.resolv_conf))
        conf = parse_resolv_conf(*text);
    if (!options.nameservers_override.empty())
        conf.nameservers = options.nameservers_override;
    if (conf.nameservers.empty())
        conf.nameservers.push_back(*parse_ip_address("127.0.0.1"));
    std::chrono::milliseconds timeout =
        options.timeout.value_or(std::chrono::seconds(conf.timeout_seconds));

    // The names to try, in resolv.conf(5)'s order.
    std::vector<std::string> candidates;
    std::string name = canonical_name(host);
    bool absolute = !host.empty() && host.back() == '.';
    size_t dots = size_t(std::count(name.begin(), name.end(), '.'));
    if (absolute || dots >= size_t(conf.ndots))
        candidates.push_back(name);
    if (!absolute)
        for (const std::string& suffix : conf.search)
            candidates.push_back(cat(name, ".", suffix));
    if (!absolute && dots < size_t(conf.ndots))
        candidates.push_back(name);

    std::string last_error = "no nameserver answered";
    for (const std::string& candidate : candidates) {
        std::vector<IpAddress> found;
        bool no_such_name = false;
        for (uint16_t type : {kDnsTypeA, kDnsTypeAaaa}) {
            bool answered = false;
            for (int attempt = 0; attempt < conf.attempts && !answered; ++attempt) {
                for (const IpAddress& server : conf.nameservers) {
                    Result<DnsAnswer> answer =
                        exchange(server, options.dns_port, candidate, type, timeout);
                    if (!answer) {
                        last_error = answer.error().to_string();
                        continue;
                    }
                    if (answer->rcode != 0 && answer->rcode != 3) {
                        last_error = cat("nameserver ", server.str(), " answered with rcode ",
                                         answer->rcode);
                        continue; // SERVFAIL, REFUSED: another server may know
                    }
                    answered = true;
                    no_such_name = answer->rcode == 3;
                    if (no_such_name)
                        last_error = "no such name";
                    found.insert(found.end(), answer->addresses.begin(), answer->addresses.end());
                    break;
                }
            }
            if (no_such_name)
                break;
        }
        if (!found.empty())
            return found;
    }
    return error(cat("resolve ", quoted(host), ": ", last_error));
}

} // namespace keel::net
