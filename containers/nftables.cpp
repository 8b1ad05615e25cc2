// table ip keel encoded as nf_tables netlink messages (nftables.h). The
// expressions are the kernel's: meta, payload, bitwise, cmp, fib,
// immediate, nat and masq, each an NFTA_LIST_ELEM of the rule's
// NFTA_RULE_EXPRESSIONS, with its numbers in network order as nf_tables
// reads them.
#include "containers/nftables.h"

#include "base/strings.h"

#include <arpa/inet.h>
#include <cstring>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

namespace keel::containers {

namespace {

constexpr size_t kInterfaceNameSize = 16; // IFNAMSIZ
// <linux/netfilter.h>'s values, spelled out: that header pulls in
// <linux/in.h>, which clashes with musl's <netinet/in.h>.
constexpr uint32_t kVerdictAccept = 1;   // NF_ACCEPT
constexpr uint8_t kFamilyIpv4 = 2;       // NFPROTO_IPV4
constexpr uint32_t kHookPreRouting = 0;  // NF_INET_PRE_ROUTING
constexpr uint32_t kHookForward = 2;     // NF_INET_FORWARD
constexpr uint32_t kHookLocalOut = 3;    // NF_INET_LOCAL_OUT
constexpr uint32_t kHookPostRouting = 4; // NF_INET_POST_ROUTING
// The hook priorities `nft` calls dstnat, srcnat and filter.
constexpr int32_t kDestinationNatPriority = -100;
constexpr int32_t kSourceNatPriority = 100;
constexpr int32_t kFilterPriority = 0;
// An IPv4 header's source and destination fields; a TCP or UDP header's
// destination port.
constexpr uint32_t kSourceOffset = 12;
constexpr uint32_t kDestinationOffset = 16;
constexpr uint32_t kDestinationPortOffset = 2;
// nftnl's rule comment: a user-data TLV of type 0.
constexpr uint8_t kCommentUserData = 0;
constexpr size_t kMaxCommentSize = 128;

constexpr uint16_t nft_message_type(int message) {
    return uint16_t((NFNL_SUBSYS_NFTABLES << 8) | message);
}

NetlinkMessage nft_message(int message, uint16_t flags, int family = kFamilyIpv4) {
    NetlinkMessage m(nft_message_type(message), flags);
    nfgenmsg header{};
    header.nfgen_family = uint8_t(family);
    header.version = NFNETLINK_V0;
    header.res_id = 0;
    m.family_header(header);
    return m;
}

NetlinkMessage batch_frame(uint16_t type) {
    NetlinkMessage m(type, 0);
    nfgenmsg header{};
    header.nfgen_family = AF_UNSPEC;
    header.version = NFNETLINK_V0;
    header.res_id = htons(NFNL_SUBSYS_NFTABLES);
    m.family_header(header);
    return m;
}

std::array<uint8_t, kInterfaceNameSize> interface_name_bytes(std::string_view name) {
    std::array<uint8_t, kInterfaceNameSize> bytes{};
    std::memcpy(bytes.data(), name.data(), std::min(name.size(), kInterfaceNameSize - 1));
    return bytes;
}

// A 32-bit value as a register holds it in host order (ct status).
std::array<uint8_t, 4> host_order_bytes(uint32_t value) {
    std::array<uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, sizeof value);
    return bytes;
}

std::array<uint8_t, 2> port_bytes(uint16_t port) {
    return {uint8_t(port >> 8), uint8_t(port)};
}

// A rule's expressions, appended to its message in order.
class Rule {
public:
    Rule(std::string_view chain, std::string_view comment)
        : m_message(nft_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND)) {
        m_message.attribute_string(NFTA_RULE_TABLE, kNftablesTable);
        m_message.attribute_string(NFTA_RULE_CHAIN, chain);
        m_comment = std::string(comment.substr(0, kMaxCommentSize));
        m_expressions = m_message.begin_nested(NFTA_RULE_EXPRESSIONS);
    }

    Rule& meta(uint32_t key) {
        size_t data = begin("meta");
        m_message.attribute_be32(NFTA_META_KEY, key);
        m_message.attribute_be32(NFTA_META_DREG, NFT_REG_1);
        return end(data);
    }
    Rule& payload(uint32_t base, uint32_t offset, uint32_t length) {
        size_t data = begin("payload");
        m_message.attribute_be32(NFTA_PAYLOAD_DREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_PAYLOAD_BASE, base);
        m_message.attribute_be32(NFTA_PAYLOAD_OFFSET, offset);
        m_message.attribute_be32(NFTA_PAYLOAD_LEN, length);
        return end(data);
    }
    // Register 1 &= mask (an IPv4 address's network part).
    Rule& mask(uint32_t netmask) { return mask(Ipv4Address{netmask}.bytes()); }
    // Register 1 &= `mask_bytes`, four bytes as the register holds them.
    Rule& mask(std::array<uint8_t, 4> mask_bytes) {
        std::array<uint8_t, 4> zero{};
        size_t data = begin("bitwise");
        m_message.attribute_be32(NFTA_BITWISE_SREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_BITWISE_DREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_BITWISE_LEN, 4);
        value(NFTA_BITWISE_MASK, mask_bytes);
        value(NFTA_BITWISE_XOR, zero);
        return end(data);
    }
    Rule& compare(uint32_t op, std::span<const uint8_t> bytes) {
        size_t data = begin("cmp");
        m_message.attribute_be32(NFTA_CMP_SREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_CMP_OP, op);
        value(NFTA_CMP_DATA, bytes);
        return end(data);
    }
    // Register 1 = the status bits of the packet's connection
    // (conntrack's IPS_*), host order.
    Rule& connection_status() {
        size_t data = begin("ct");
        m_message.attribute_be32(NFTA_CT_DREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_CT_KEY, NFT_CT_STATUS);
        return end(data);
    }
    // Register 1 = the type of the packet's destination address
    // (RTN_LOCAL for the host's own), host order.
    Rule& destination_address_type() {
        size_t data = begin("fib");
        m_message.attribute_be32(NFTA_FIB_DREG, NFT_REG_1);
        m_message.attribute_be32(NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        m_message.attribute_be32(NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
        return end(data);
    }
    Rule& load(uint32_t reg, std::span<const uint8_t> bytes) {
        size_t data = begin("immediate");
        m_message.attribute_be32(NFTA_IMMEDIATE_DREG, reg);
        value(NFTA_IMMEDIATE_DATA, bytes);
        return end(data);
    }
    // DNAT to the address in register 1 and the port in register 2.
    Rule& destination_nat() {
        size_t data = begin("nat");
        m_message.attribute_be32(NFTA_NAT_TYPE, NFT_NAT_DNAT);
        m_message.attribute_be32(NFTA_NAT_FAMILY, kFamilyIpv4);
        m_message.attribute_be32(NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
        m_message.attribute_be32(NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
        return end(data);
    }
    Rule& masquerade() {
        size_t element = m_message.begin_nested(NFTA_LIST_ELEM);
        m_message.attribute_string(NFTA_EXPR_NAME, "masq");
        m_message.end_nested(element);
        return *this;
    }
    Rule& accept() {
        size_t data = begin("immediate");
        m_message.attribute_be32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
        size_t immediate = m_message.begin_nested(NFTA_IMMEDIATE_DATA);
        size_t verdict = m_message.begin_nested(NFTA_DATA_VERDICT);
        m_message.attribute_be32(NFTA_VERDICT_CODE, kVerdictAccept);
        m_message.end_nested(verdict);
        m_message.end_nested(immediate);
        return end(data);
    }

    NetlinkMessage finish() {
        m_message.end_nested(m_expressions);
        if (!m_comment.empty()) {
            std::vector<uint8_t> user_data{kCommentUserData, uint8_t(m_comment.size() + 1)};
            user_data.insert(user_data.end(), m_comment.begin(), m_comment.end());
            user_data.push_back(0);
            m_message.attribute(NFTA_RULE_USERDATA, user_data);
        }
        return std::move(m_message);
    }

private:
    size_t begin(std::string_view name) {
        m_element = m_message.begin_nested(NFTA_LIST_ELEM);
        m_message.attribute_string(NFTA_EXPR_NAME, name);
        return m_message.begin_nested(NFTA_EXPR_DATA);
    }
    Rule& end(size_t data) {
        m_message.end_nested(data);
        m_message.end_nested(m_element);
        return *this;
    }
    void value(uint16_t type, std::span<const uint8_t> bytes) {
        size_t nested = m_message.begin_nested(type);
        m_message.attribute(NFTA_DATA_VALUE, bytes);
        m_message.end_nested(nested);
    }

    NetlinkMessage m_message;
    size_t m_expressions = 0;
    size_t m_element = 0;
    std::string m_comment;
};

struct ChainSpec {
    std::string_view name;
    std::string_view type;
    uint32_t hook = 0;
    int32_t priority = 0;
};

constexpr ChainSpec kChains[] = {
    {"prerouting", "nat", kHookPreRouting, kDestinationNatPriority},
    {"output", "nat", kHookLocalOut, kDestinationNatPriority},
    {"postrouting", "nat", kHookPostRouting, kSourceNatPriority},
    {"forward", "filter", kHookForward, kFilterPriority},
};

NetlinkMessage chain_message(const ChainSpec& chain) {
    NetlinkMessage m = nft_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    m.attribute_string(NFTA_CHAIN_TABLE, kNftablesTable);
    m.attribute_string(NFTA_CHAIN_NAME, chain.name);
    size_t hook = m.begin_nested(NFTA_CHAIN_HOOK);
    m.attribute_be32(NFTA_HOOK_HOOKNUM, chain.hook);
    m.attribute_be32(NFTA_HOOK_PRIORITY, uint32_t(chain.priority));
    m.end_nested(hook);
    m.attribute_be32(NFTA_CHAIN_POLICY, kVerdictAccept);
    m.attribute_string(NFTA_CHAIN_TYPE, chain.type);
    return m;
}

NetlinkMessage table_message(int message) {
    NetlinkMessage m =
        nft_message(message, message == NFT_MSG_NEWTABLE ? uint16_t(NLM_F_CREATE) : uint16_t(0));
    m.attribute_string(NFTA_TABLE_NAME, kNftablesTable);
    return m;
}

// The DNAT rule of `port` in `chain` (prerouting or output).
NetlinkMessage published_port_rule(std::string_view chain, const PortRule& port) {
    std::string comment = cat("container ", port.container_id);
    Rule rule(chain, comment);
    if (port.host_address.value != 0) {
        rule.payload(NFT_PAYLOAD_NETWORK_HEADER, kDestinationOffset, 4)
            .compare(NFT_CMP_EQ, port.host_address.bytes());
    } else {
        uint32_t local = RTN_LOCAL;
        uint8_t local_bytes[sizeof local];
        std::memcpy(local_bytes, &local, sizeof local);
        rule.destination_address_type().compare(NFT_CMP_EQ, local_bytes);
    }
    uint8_t protocol = port.protocol == Protocol::Udp ? IPPROTO_UDP : IPPROTO_TCP;
    rule.meta(NFT_META_L4PROTO)
        .compare(NFT_CMP_EQ, std::span<const uint8_t>(&protocol, 1))
        .payload(NFT_PAYLOAD_TRANSPORT_HEADER, kDestinationPortOffset, 2)
        .compare(NFT_CMP_EQ, port_bytes(port.host_port))
        .load(NFT_REG_1, port.container_address.bytes())
        .load(NFT_REG_2, port_bytes(port.container_port))
        .destination_nat();
    return std::move(rule).finish();
}

std::string describe_port(const PortRule& port) {
    return cat(port.host_address.value ? format_ipv4(port.host_address) : std::string("*"), ":",
               port.host_port, "/", kProtocolNames.name(port.protocol), " -> ",
               format_ipv4(port.container_address), ":", port.container_port, " (container ",
               port.container_id, ")");
}

} // namespace

std::vector<BatchRequest> nftables_ruleset_batch(const NatRuleset& ruleset) {
    std::vector<BatchRequest> batch;
    batch.push_back({batch_frame(NFNL_MSG_BATCH_BEGIN), "begin nftables batch"});
    // Made if missing, so that deleting it cannot fail for its absence.
    batch.push_back({table_message(NFT_MSG_NEWTABLE), "add table ip keel"});
    batch.push_back({table_message(NFT_MSG_DELTABLE), "delete table ip keel"});
    if (!ruleset.bridges.empty()) {
        batch.push_back({table_message(NFT_MSG_NEWTABLE), "add table ip keel"});
        for (const ChainSpec& chain : kChains)
            batch.push_back({chain_message(chain), cat("add chain ", chain.name)});

        const std::array<uint8_t, 4> loopback = Ipv4Address{0x7f000000}.bytes();
        for (const NatBridge& bridge : ruleset.bridges) {
            auto name = interface_name_bytes(bridge.name);
            std::string comment = cat("bridge ", bridge.name);
            batch.push_back({Rule("postrouting", comment)
                                 .payload(NFT_PAYLOAD_NETWORK_HEADER, kSourceOffset, 4)
                                 .mask(bridge.subnet.mask())
                                 .compare(NFT_CMP_EQ, bridge.subnet.network.bytes())
                                 .meta(NFT_META_OIFNAME)
                                 .compare(NFT_CMP_NEQ, name)
                                 .masquerade()
                                 .finish(),
                             cat("add masquerade rule for ", format_subnet(bridge.subnet))});
            batch.push_back({Rule("postrouting", comment)
                                 .meta(NFT_META_OIFNAME)
                                 .compare(NFT_CMP_EQ, name)
                                 .payload(NFT_PAYLOAD_NETWORK_HEADER, kSourceOffset, 4)
                                 .mask(0xff000000)
                                 .compare(NFT_CMP_EQ, loopback)
                                 .masquerade()
                                 .finish(),
                             cat("add loopback masquerade rule for ", bridge.name)});
            // Hairpin: a container that reaches a published port through
            // the host's address is DNATed back into the bridge; the reply
            // must come back through the host, so the source is the
            // bridge's address (as the loopback rule above does for the host).
            batch.push_back({Rule("postrouting", comment)
                                 .meta(NFT_META_OIFNAME)
                                 .compare(NFT_CMP_EQ, name)
                                 .payload(NFT_PAYLOAD_NETWORK_HEADER, kSourceOffset, 4)
                                 .mask(bridge.subnet.mask())
                                 .compare(NFT_CMP_EQ, bridge.subnet.network.bytes())
                                 .connection_status()
                                 .mask(host_order_bytes(IPS_DST_NAT))
                                 .compare(NFT_CMP_NEQ, std::array<uint8_t, 4>{})
                                 .masquerade()
                                 .finish(),
                             cat("add hairpin masquerade rule for ", bridge.name)});
            batch.push_back({Rule("forward", comment)
                                 .meta(NFT_META_IIFNAME)
                                 .compare(NFT_CMP_EQ, name)
                                 .accept()
                                 .finish(),
                             cat("add forward rule from ", bridge.name)});
            batch.push_back({Rule("forward", comment)
                                 .meta(NFT_META_OIFNAME)
                                 .compare(NFT_CMP_EQ, name)
                                 .accept()
                                 .finish(),
                             cat("add forward rule to ", bridge.name)});
        }
        for (const PortRule& port : ruleset.ports) {
            for (std::string_view chain : {"prerouting", "output"})
                batch.push_back({published_port_rule(chain, port),
                                 cat("add ", chain, " rule ", describe_port(port))});
        }
    }
    batch.push_back({batch_frame(NFNL_MSG_BATCH_END), "end nftables batch"});
    return batch;
}

Result<void> apply_nftables_ruleset(const NatRuleset& ruleset) {
    NetlinkSocket socket = TRY_CTX(NetlinkSocket::open(NETLINK_NETFILTER), "nftables");
    std::vector<BatchRequest> batch = nftables_ruleset_batch(ruleset);
    TRY_CTX(socket.send_batch(batch), "nftables");
    return {};
}

} // namespace keel::containers
