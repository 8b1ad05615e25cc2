// Netlink by hand: messages built (header, family header, attributes,
// nested attributes), kernel replies split and their attributes read with
// every length checked against the bytes received, and a socket that sends
// a request and waits for its acknowledgement, or a batch of requests and
// collects one acknowledgement per message. On top, the rtnetlink
// (NETLINK_ROUTE) requests the bridge network needs: bridges, veth pairs
// with one end in a container's network namespace, masters, links up,
// IPv4 addresses, a default route, deleting links.
//
// No libmnl: keel is one static binary, and the few message shapes it
// sends are simpler to write than a library is to carry.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "containers/ipv4.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::containers {

/// One netlink message being built. Every append keeps nlmsg_len right, so
/// bytes() is always a whole message. Attributes are 4-byte aligned.
class NetlinkMessage {
public:
    /// A message of `type` (RTM_NEWLINK, ...) with `flags` (NLM_F_*; the
    /// socket adds NLM_F_REQUEST and NLM_F_ACK).
    NetlinkMessage(uint16_t type, uint16_t flags);

    /// Appends a family header (ifinfomsg, ifaddrmsg, rtmsg, nfgenmsg) as
    /// its bytes.
    template <typename Header> NetlinkMessage& family_header(const Header& header) {
        append_aligned({reinterpret_cast<const uint8_t*>(&header), sizeof header});
        return *this;
    }
    /// An attribute with `payload` as it is.
    NetlinkMessage& attribute(uint16_t type, std::span<const uint8_t> payload);
    /// A string attribute, NUL-terminated (as NLA_STRING and NLA_NUL_STRING take).
    NetlinkMessage& attribute_string(uint16_t type, std::string_view text);
    /// A 32-bit attribute in host order (rtnetlink's numbers).
    NetlinkMessage& attribute_u32(uint16_t type, uint32_t value);
    /// A 32-bit attribute in network order (nf_tables' numbers).
    NetlinkMessage& attribute_be32(uint16_t type, uint32_t value);
    /// Opens a nested attribute (NLA_F_NESTED set); returns where it starts,
    /// for end_nested().
    size_t begin_nested(uint16_t type);
    /// Closes the nested attribute begun at `start`: its length now covers
    /// what was appended since.
    void end_nested(size_t start);

    /// Sets the sequence number (the socket does, per request).
    void set_sequence(uint32_t sequence);
    /// Adds header flags.
    void add_flags(uint16_t flags);
    uint16_t type() const;
    /// The whole message.
    std::span<const uint8_t> bytes() const { return m_bytes; }

private:
    void append_aligned(std::span<const uint8_t> data);
    void update_length();

    std::vector<uint8_t> m_bytes;
};

/// An attribute of a kernel reply: its type (flags masked off) and payload,
/// a view into the reply's buffer.
struct NetlinkAttribute {
    uint16_t type = 0;
    std::span<const uint8_t> payload;
};

/// The attributes in `data` (a message's payload after its family header,
/// or a nested attribute's payload). Refuses an attribute whose header or
/// length does not fit in `data`; a last attribute's alignment padding may
/// be missing.
Result<std::vector<NetlinkAttribute>> parse_attributes(std::span<const uint8_t> data);

/// The first attribute of `type`, or nullptr.
const NetlinkAttribute* find_attribute(std::span<const NetlinkAttribute> attributes, uint16_t type);

/// One message of a kernel reply: header fields and payload (a view).
struct NetlinkReply {
    uint16_t type = 0;
    uint16_t flags = 0;
    uint32_t sequence = 0;
    std::span<const uint8_t> payload;
};

/// The messages in one datagram. Refuses a header that does not fit, a
/// length shorter than a header or longer than what is left.
Result<std::vector<NetlinkReply>> parse_replies(std::span<const uint8_t> datagram);

/// An NLMSG_ERROR message read: 0 is an acknowledgement, otherwise a
/// positive errno; `message` is the kernel's extended-ack text, if any.
struct NetlinkAck {
    int error = 0;
    std::string message;
};

/// Reads an NLMSG_ERROR payload (the socket asks for NETLINK_CAP_ACK, so it
/// holds the error and the request's header only, then extended-ack
/// attributes when NLM_F_ACK_TLVS is among `reply.flags`).
Result<NetlinkAck> parse_ack(const NetlinkReply& reply);

/// One message of a batch and what it does, for errors ("add rule ...").
struct BatchRequest {
    NetlinkMessage message;
    std::string what;
};

/// A netlink socket of one protocol, bound in the network namespace of the
/// thread that opened it (for as long as it lives, whatever thread uses it).
class NetlinkSocket {
public:
    /// A socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER), with
    /// NETLINK_CAP_ACK and NETLINK_EXT_ACK set, and a receive timeout so that
    /// no wait is endless.
    static Result<NetlinkSocket> open(int protocol);

    /// Sends `message` with NLM_F_ACK and waits for its acknowledgement.
    /// Messages that come before it with the same sequence (a GET's answer)
    /// are returned. A refusal is an errno error: "`what`: File exists",
    /// with the kernel's extended-ack text when it gave one.
    Result<std::vector<std::vector<uint8_t>>> request(NetlinkMessage message,
                                                      std::string_view what);

    /// Sends every request in one datagram (an nfnetlink batch is framed
    /// by its first and last), each with NLM_F_ACK, and returns once each
    /// has been acknowledged; the first refusal is returned, wrapped in its
    /// request's `what`. The kernel answers a batch while it is being sent,
    /// so all answers are queued when sendmsg returns.
    Result<void> send_batch(std::span<BatchRequest> requests);

    int fd() const { return m_fd.get(); }

private:
    explicit NetlinkSocket(Fd fd) : m_fd(std::move(fd)) {}
    Result<std::vector<uint8_t>> receive();

    Fd m_fd;
    uint32_t m_next_sequence = 1;
};

/// A NETLINK_ROUTE socket bound in the network namespace `netns_fd` names.
/// A short-lived thread joins the namespace (setns affects the calling
/// thread only), opens the socket and ends; the socket stays in that
/// namespace. A thread rather than a forked child: nothing has to be
/// passed back over a socket, and a multithreaded caller (init) is never
/// forked.
Result<NetlinkSocket> open_route_socket_in(int netns_fd);

// rtnetlink requests. Links are named; each error names the request:
// "add veth keel0a580002: File exists".

/// The index of the link `name`; ENODEV when there is none.
Result<int> link_index(NetlinkSocket& socket, std::string_view name);
/// Creates a bridge `name` (down, no addresses).
Result<void> create_bridge(NetlinkSocket& socket, std::string_view name);
/// Creates a veth pair: `host_name` in the socket's namespace and its peer
/// created straight in the namespace `peer_netns_fd` as `peer_name`.
Result<void> create_veth_pair(NetlinkSocket& socket, std::string_view host_name, int peer_netns_fd,
                              std::string_view peer_name);
/// Enslaves `name` to the bridge whose index is `master_index`.
Result<void> set_link_master(NetlinkSocket& socket, std::string_view name, int master_index);
/// Turns on hairpin mode on bridge port `name` (IFLA_BRPORT_MODE): a frame
/// may leave through the port it came in by. With br_netfilter loaded a
/// container's connection to its own published port is DNATed at the
/// bridge and sent back out of its own port.
Result<void> set_bridge_port_hairpin(NetlinkSocket& socket, std::string_view name);
/// Sets `name` up.
Result<void> set_link_up(NetlinkSocket& socket, std::string_view name);
/// Adds `address`/`prefix_length` to the link `link_index` (with its
/// subnet's broadcast address).
Result<void> add_ipv4_address(NetlinkSocket& socket, int link_index, Ipv4Address address,
                              int prefix_length);
/// Adds the default route via `gateway` in the main table.
Result<void> add_default_route(NetlinkSocket& socket, Ipv4Address gateway);
/// Deletes the link `name` (a veth's peer goes with it); ENODEV when there
/// is none.
Result<void> delete_link(NetlinkSocket& socket, std::string_view name);

} // namespace keel::containers
