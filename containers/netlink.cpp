// Netlink messages built and read, the request/acknowledgement exchange,
// and the rtnetlink requests of the bridge network (netlink.h).
#include "containers/netlink.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <linux/if_link.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <optional>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

namespace keel::containers {

namespace {

constexpr size_t kHeaderSize = sizeof(nlmsghdr);
constexpr size_t kAttributeHeaderSize = sizeof(nlattr);
// Big enough for any answer to the requests here (a link's description is
// a few kilobytes).
constexpr size_t kReceiveBufferSize = 64 * 1024;
// No kernel answer takes this long; a socket that never answers is a bug
// to report, not to wait on.
constexpr time_t kReceiveTimeoutSeconds = 5;
constexpr unsigned kInterfaceUp = 0x1; // IFF_UP (<net/if.h> clashes with <linux/if.h>)

constexpr size_t align4(size_t n) {
    return (n + 3) & ~size_t(3);
}

uint32_t read_u32(std::span<const uint8_t> data, size_t offset) {
    uint32_t value = 0;
    std::memcpy(&value, data.data() + offset, sizeof value);
    return value;
}
uint16_t read_u16(std::span<const uint8_t> data, size_t offset) {
    uint16_t value = 0;
    std::memcpy(&value, data.data() + offset, sizeof value);
    return value;
}

} // namespace

NetlinkMessage::NetlinkMessage(uint16_t type, uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    m_bytes.resize(kHeaderSize);
    std::memcpy(m_bytes.data(), &header, sizeof header);
    update_length();
}

void NetlinkMessage::append_aligned(std::span<const uint8_t> data) {
    m_bytes.insert(m_bytes.end(), data.begin(), data.end());
    m_bytes.resize(align4(m_bytes.size()), 0);
    update_length();
}

void NetlinkMessage::update_length() {
    uint32_t length = uint32_t(m_bytes.size());
    std::memcpy(m_bytes.data() + offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
}

NetlinkMessage& NetlinkMessage::attribute(uint16_t type, std::span<const uint8_t> payload) {
    nlattr header{uint16_t(kAttributeHeaderSize + payload.size()), type};
    size_t start = m_bytes.size();
    m_bytes.resize(start + kAttributeHeaderSize);
    std::memcpy(m_bytes.data() + start, &header, sizeof header);
    append_aligned(payload);
    return *this;
}

NetlinkMessage& NetlinkMessage::attribute_string(uint16_t type, std::string_view text) {
    std::vector<uint8_t> payload(text.begin(), text.end());
    payload.push_back(0);
    return attribute(type, payload);
}

NetlinkMessage& NetlinkMessage::attribute_u32(uint16_t type, uint32_t value) {
    uint8_t payload[4];
    std::memcpy(payload, &value, sizeof value);
    return attribute(type, payload);
}

NetlinkMessage& NetlinkMessage::attribute_be32(uint16_t type, uint32_t value) {
    uint8_t payload[4] = {uint8_t(value >> 24), uint8_t(value >> 16), uint8_t(value >> 8),
                          uint8_t(value)};
    return attribute(type, payload);
}

size_t NetlinkMessage::begin_nested(uint16_t type) {
    size_t start = m_bytes.size();
    nlattr header{uint16_t(kAttributeHeaderSize), uint16_t(type | NLA_F_NESTED)};
    m_bytes.resize(start + kAttributeHeaderSize);
    std::memcpy(m_bytes.data() + start, &header, sizeof header);
    update_length();
    return start;
}

void NetlinkMessage::end_nested(size_t start) {
    uint16_t length = uint16_t(m_bytes.size() - start);
    std::memcpy(m_bytes.data() + start + offsetof(nlattr, nla_len), &length, sizeof length);
}

void NetlinkMessage::set_sequence(uint32_t sequence) {
    std::memcpy(m_bytes.data() + offsetof(nlmsghdr, nlmsg_seq), &sequence, sizeof sequence);
}

void NetlinkMessage::add_flags(uint16_t flags) {
    uint16_t current = read_u16(m_bytes, offsetof(nlmsghdr, nlmsg_flags));
    current |= flags;
    std::memcpy(m_bytes.data() + offsetof(nlmsghdr, nlmsg_flags), &current, sizeof current);
}

uint16_t NetlinkMessage::type() const {
    return read_u16(m_bytes, offsetof(nlmsghdr, nlmsg_type));
}

Result<std::vector<NetlinkAttribute>> parse_attributes(std::span<const uint8_t> data) {
    std::vector<NetlinkAttribute> attributes;
    size_t offset = 0;
    while (offset < data.size()) {
        size_t left = data.size() - offset;
        if (left < kAttributeHeaderSize)
            return error(cat("netlink attribute at byte ", offset, ": ", left,
                             " bytes left, less than its header"));
        uint16_t length = read_u16(data, offset + offsetof(nlattr, nla_len));
        uint16_t type = read_u16(data, offset + offsetof(nlattr, nla_type));
        if (length < kAttributeHeaderSize || length > left)
            return error(cat("netlink attribute at byte ", offset, ": length ", length,
                             " does not fit in the ", left, " bytes left"));
        attributes.push_back(
            {uint16_t(type & NLA_TYPE_MASK),
             data.subspan(offset + kAttributeHeaderSize, length - kAttributeHeaderSize)});
        offset += std::min(align4(length), left);
    }
    return attributes;
}

const NetlinkAttribute* find_attribute(std::span<const NetlinkAttribute> attributes,
                                       uint16_t type) {
    for (const NetlinkAttribute& attribute : attributes)
        if (attribute.type == type)
            return &attribute;
    return nullptr;
}

Result<std::vector<NetlinkReply>> parse_replies(std::span<const uint8_t> datagram) {
    std::vector<NetlinkReply> replies;
    size_t offset = 0;
    while (offset < datagram.size()) {
        size_t left = datagram.size() - offset;
        if (left < kHeaderSize)
            return error(cat("netlink message at byte ", offset, ": ", left,
                             " bytes left, less than its header"));
        uint32_t length = read_u32(datagram, offset + offsetof(nlmsghdr, nlmsg_len));
        if (length < kHeaderSize || length > left)
            return error(cat("netlink message at byte ", offset, ": length ", length,
                             " does not fit in the ", left, " bytes left"));
        NetlinkReply reply;
        reply.type = read_u16(datagram, offset + offsetof(nlmsghdr, nlmsg_type));
        reply.flags = read_u16(datagram, offset + offsetof(nlmsghdr, nlmsg_flags));
        reply.sequence = read_u32(datagram, offset + offsetof(nlmsghdr, nlmsg_seq));
        reply.payload = datagram.subspan(offset + kHeaderSize, length - kHeaderSize);
        replies.push_back(reply);
        offset += std::min<size_t>(align4(length), left);
    }
    return replies;
}

Result<NetlinkAck> parse_ack(const NetlinkReply& reply) {
    constexpr size_t kErrorSize = sizeof(int32_t);
    if (reply.payload.size() < kErrorSize + kHeaderSize)
        return error(cat("netlink error message: ", reply.payload.size(),
                         " bytes, less than an error and the request's header"));
    int32_t code = 0;
    std::memcpy(&code, reply.payload.data(), sizeof code);
    if (code > 0 || code < -4095)
        return error(cat("netlink error message: ", code, " is no errno"));
    NetlinkAck ack{-code, {}};
    if (!(reply.flags & NLM_F_ACK_TLVS))
        return ack;
    // The request comes back whole unless capped to its header.
    size_t offset = kErrorSize + kHeaderSize;
    if (!(reply.flags & NLM_F_CAPPED)) {
        uint32_t request_length = read_u32(reply.payload, kErrorSize);
        if (request_length < kHeaderSize || request_length > reply.payload.size() - kErrorSize)
            return error(cat("netlink error message: the request's length ", request_length,
                             " does not fit"));
        offset = kErrorSize + align4(request_length);
    }
    if (offset > reply.payload.size())
        return ack;
    auto attributes = TRY_CTX(parse_attributes(reply.payload.subspan(offset)),
                              "netlink error message's attributes");
    if (const NetlinkAttribute* text = find_attribute(attributes, NLMSGERR_ATTR_MSG)) {
        std::string_view message(reinterpret_cast<const char*>(text->payload.data()),
                                 text->payload.size());
        ack.message = std::string(message.substr(0, message.find('\0')));
    }
    return ack;
}

namespace {

std::unexpected<Error> refusal(const NetlinkAck& ack, std::string_view what) {
    if (ack.message.empty())
        return errno_error(ack.error, std::string(what));
    return errno_error(ack.error, cat(what, " (", ack.message, ")"));
}

} // namespace

Result<NetlinkSocket> NetlinkSocket::open(int protocol) {
    int raw = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (raw < 0)
        return errno_error(cat("netlink socket (protocol ", protocol, ")"));
    Fd fd(raw);
    int on = 1;
    // Best effort: older kernels lack these; answers are read either way.
    ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
    ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
    timeval timeout{kReceiveTimeoutSeconds, 0};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0)
        return errno_error("netlink socket: SO_RCVTIMEO");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)
        return errno_error("bind netlink socket");
    return NetlinkSocket(std::move(fd));
}

Result<std::vector<uint8_t>> NetlinkSocket::receive() {
    std::vector<uint8_t> buffer(kReceiveBufferSize);
    ssize_t n = 0;
    do
        n = ::recv(m_fd.get(), buffer.data(), buffer.size(), MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno_error(errno == EAGAIN ? ETIMEDOUT : errno, "receive from netlink");
    if (size_t(n) > buffer.size())
        return error(cat("netlink answer of ", n, " bytes does not fit in ", buffer.size()));
    buffer.resize(size_t(n));
    return buffer;
}

namespace {

Result<void> send_bytes(int fd, std::span<const uint8_t> bytes, std::string_view what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n = 0;
    do
        n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof kernel);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno_error(cat(what, ": send"));
    if (size_t(n) != bytes.size())
        return error(cat(what, ": sent ", n, " of ", bytes.size(), " bytes"));
    return {};
}

} // namespace

Result<std::vector<std::vector<uint8_t>>> NetlinkSocket::request(NetlinkMessage message,
                                                                 std::string_view what) {
    uint32_t sequence = m_next_sequence++;
    message.set_sequence(sequence);
    message.add_flags(NLM_F_REQUEST | NLM_F_ACK);
    TRY(send_bytes(m_fd.get(), message.bytes(), what));
    std::vector<std::vector<uint8_t>> answers;
    for (;;) {
        std::vector<uint8_t> datagram = TRY_CTX(receive(), std::string(what));
        auto replies = TRY_CTX(parse_replies(datagram), std::string(what));
        for (const NetlinkReply& reply : replies) {
            if (reply.sequence != sequence)
                continue; // an answer to an earlier request that timed out
            if (reply.type == NLMSG_ERROR) {
                NetlinkAck ack = TRY_CTX(parse_ack(reply), std::string(what));
                if (ack.error != 0)
                    return refusal(ack, what);
                return answers;
            }
            answers.emplace_back(reply.payload.begin(), reply.payload.end());
        }
    }
}

Result<void> NetlinkSocket::send_batch(std::span<BatchRequest> requests) {
    if (requests.empty())
        return {};
    uint32_t first = m_next_sequence;
    std::vector<uint8_t> datagram;
    std::vector<bool> acked(requests.size(), false);
    std::vector<bool> wants_ack(requests.size(), true);
    for (size_t i = 0; i < requests.size(); ++i) {
        NetlinkMessage& message = requests[i].message;
        message.set_sequence(m_next_sequence++);
        // An nfnetlink batch's framing messages are never acknowledged.
        uint16_t type = message.type();
        wants_ack[i] = type != NFNL_MSG_BATCH_BEGIN && type != NFNL_MSG_BATCH_END;
        message.add_flags(uint16_t(NLM_F_REQUEST | (wants_ack[i] ? NLM_F_ACK : 0)));
        datagram.insert(datagram.end(), message.bytes().begin(), message.bytes().end());
    }
    TRY(send_bytes(m_fd.get(), datagram, "send netlink batch"));

    std::optional<size_t> first_refused;
    std::optional<NetlinkAck> refused_ack;
    size_t waiting = size_t(std::count(wants_ack.begin(), wants_ack.end(), true));
    while (waiting > 0) {
        std::vector<uint8_t> answer = TRY_CTX(receive(), "netlink batch");
        auto replies = TRY_CTX(parse_replies(answer), "netlink batch");
        for (const NetlinkReply& reply : replies) {
            if (reply.type != NLMSG_ERROR || reply.sequence < first ||
                reply.sequence - first >= requests.size())
                continue;
            size_t index = reply.sequence - first;
            NetlinkAck ack = TRY_CTX(parse_ack(reply), "netlink batch");
            if (ack.error != 0 && (!first_refused || index < *first_refused)) {
                first_refused = index;
                refused_ack = ack;
            }
            if (wants_ack[index] && !acked[index]) {
                acked[index] = true;
                --waiting;
            }
        }
        // A refused batch is answered whole while it is sent; the
        // acknowledgements still missing will not come.
        if (first_refused)
            break;
    }
    if (first_refused)
        return refusal(*refused_ack, requests[*first_refused].what);
    return {};
}

Result<NetlinkSocket> open_route_socket_in(int netns_fd) {
    Result<NetlinkSocket> result = error("no socket");
    {
        // The thread inherits a fully blocked signal mask: no handler of
        // the caller's runs on it.
        AllSignalsBlocked blocked;
        std::thread opener([&] {
            if (::setns(netns_fd, CLONE_NEWNET) < 0) {
                result = errno_error("join the container's network namespace");
                return;
            }
            result = NetlinkSocket::open(NETLINK_ROUTE);
        });
        opener.join();
    }
    return result;
}

namespace {

ifinfomsg link_header() {
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    return header;
}

} // namespace

Result<int> link_index(NetlinkSocket& socket, std::string_view name) {
    NetlinkMessage message(RTM_GETLINK, 0);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, name);
    auto answers = TRY(socket.request(std::move(message), cat("find link ", name)));
    for (const std::vector<uint8_t>& answer : answers) {
        if (answer.size() < sizeof(ifinfomsg))
            continue;
        ifinfomsg header{};
        std::memcpy(&header, answer.data(), sizeof header);
        return header.ifi_index;
    }
    return errno_error(ENODEV, cat("find link ", name));
}

Result<void> create_bridge(NetlinkSocket& socket, std::string_view name) {
    NetlinkMessage message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, name);
    size_t info = message.begin_nested(IFLA_LINKINFO);
    message.attribute_string(IFLA_INFO_KIND, "bridge");
    message.end_nested(info);
    TRY(socket.request(std::move(message), cat("add bridge ", name)));
    return {};
}

Result<void> create_veth_pair(NetlinkSocket& socket, std::string_view host_name, int peer_netns_fd,
                              std::string_view peer_name) {
    NetlinkMessage message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, host_name);
    size_t info = message.begin_nested(IFLA_LINKINFO);
    message.attribute_string(IFLA_INFO_KIND, "veth");
    size_t data = message.begin_nested(IFLA_INFO_DATA);
    size_t peer = message.begin_nested(VETH_INFO_PEER);
    message.family_header(link_header());
    message.attribute_string(IFLA_IFNAME, peer_name);
    message.attribute_u32(IFLA_NET_NS_FD, uint32_t(peer_netns_fd));
    message.end_nested(peer);
    message.end_nested(data);
    message.end_nested(info);
    TRY(socket.request(std::move(message),
                       cat("add veth ", host_name, " (peer ", peer_name, " in the container)")));
    return {};
}

Result<void> set_link_master(NetlinkSocket& socket, std::string_view name, int master_index) {
    NetlinkMessage message(RTM_NEWLINK, 0);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, name);
    message.attribute_u32(IFLA_MASTER, uint32_t(master_index));
    TRY(socket.request(std::move(message), cat("set the master of ", name)));
    return {};
}

Result<void> set_bridge_port_hairpin(NetlinkSocket& socket, std::string_view name) {
    NetlinkMessage message(RTM_NEWLINK, 0);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, name);
    size_t info = message.begin_nested(IFLA_LINKINFO);
    message.attribute_string(IFLA_INFO_SLAVE_KIND, "bridge");
    size_t data = message.begin_nested(IFLA_INFO_SLAVE_DATA);
    const uint8_t on = 1;
    message.attribute(IFLA_BRPORT_MODE, std::span<const uint8_t>(&on, 1));
    message.end_nested(data);
    message.end_nested(info);
    TRY(socket.request(std::move(message), cat("set hairpin mode on bridge port ", name)));
    return {};
}

Result<void> set_link_up(NetlinkSocket& socket, std::string_view name) {
    ifinfomsg header = link_header();
    header.ifi_flags = kInterfaceUp;
    header.ifi_change = kInterfaceUp;
    NetlinkMessage message(RTM_NEWLINK, 0);
    message.family_header(header).attribute_string(IFLA_IFNAME, name);
    TRY(socket.request(std::move(message), cat("set ", name, " up")));
    return {};
}

Result<void> add_ipv4_address(NetlinkSocket& socket, int link_index, Ipv4Address address,
                              int prefix_length) {
    ifaddrmsg header{};
    header.ifa_family = AF_INET;
    header.ifa_prefixlen = uint8_t(prefix_length);
    header.ifa_scope = RT_SCOPE_UNIVERSE;
    header.ifa_index = uint32_t(link_index);
    Ipv4Subnet subnet{{address.value}, prefix_length};
    Ipv4Address broadcast{address.value | ~subnet.mask()};
    auto local = address.bytes();
    auto broadcast_bytes = broadcast.bytes();
    NetlinkMessage message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    message.family_header(header)
        .attribute(IFA_LOCAL, local)
        .attribute(IFA_ADDRESS, local)
        .attribute(IFA_BROADCAST, broadcast_bytes);
    TRY(socket.request(std::move(message), cat("add address ", format_ipv4(address), "/",
                                               prefix_length, " to link #", link_index)));
    return {};
}

Result<void> add_default_route(NetlinkSocket& socket, Ipv4Address gateway) {
    rtmsg header{};
    header.rtm_family = AF_INET;
    header.rtm_table = RT_TABLE_MAIN;
    header.rtm_protocol = RTPROT_BOOT;
    header.rtm_scope = RT_SCOPE_UNIVERSE;
    header.rtm_type = RTN_UNICAST;
    auto via = gateway.bytes();
    NetlinkMessage message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    message.family_header(header).attribute(RTA_GATEWAY, via);
    TRY(socket.request(std::move(message), cat("add default route via ", format_ipv4(gateway))));
    return {};
}

Result<void> delete_link(NetlinkSocket& socket, std::string_view name) {
    NetlinkMessage message(RTM_DELLINK, 0);
    message.family_header(link_header()).attribute_string(IFLA_IFNAME, name);
    TRY(socket.request(std::move(message), cat("delete link ", name)));
    return {};
}

} // namespace keel::containers
