// keel's nftables rule set, spoken over NETLINK_NETFILTER: the table
// `ip keel` with
//   - chain postrouting (nat): the bridges' subnets masqueraded when they
//     leave through any other interface, and connections from 127.0.0.0/8
//     (published ports reached on the host's loopback) masqueraded as they
//     enter a bridge;
//   - chains prerouting and output (nat): DNAT of published ports, for
//     traffic arriving from outside and from the host itself;
//   - chain forward (filter): the bridges' traffic accepted.
// The whole table is replaced in one nfnetlink batch (add the table, delete
// it, add it again with every chain and rule), so the kernel applies the
// new rule set whole or not at all, and keeps none of the old one's rules:
// a container's rules are removed by rebuilding without them.
#pragma once

#include "containers/containers.h"
#include "containers/ipv4.h"
#include "containers/netlink.h"

#include <cstdint>
#include <string>
#include <vector>

namespace keel::containers {

/// The nftables table keel owns (family ip).
inline constexpr std::string_view kNftablesTable = "keel";

/// A bridge whose containers' traffic is masqueraded.
struct NatBridge {
    Ipv4Subnet subnet;
    std::string name;
};

/// A published port: connections to `host_address` (any of the host's
/// own addresses when 0) port `host_port` go to the container.
struct NatPort {
    Protocol protocol = Protocol::Tcp;
    uint16_t host_port = 0;
    uint16_t container_port = 0;
    Ipv4Address host_address;
    Ipv4Address container_address;
    /// The container's id, put in the rules' comments.
    std::string container_id;
};

/// Everything the table holds.
struct NatRuleset {
    std::vector<NatBridge> bridges;
    std::vector<NatPort> ports;
};

/// The batch that replaces table `ip keel` with `ruleset`: framed by
/// NFNL_MSG_BATCH_BEGIN and END; with no bridges, it only removes the
/// table (and is harmless when there is none).
std::vector<BatchRequest> nftables_ruleset_batch(const NatRuleset& ruleset);

/// Sends that batch on a NETLINK_NETFILTER socket of the caller's network
/// namespace. Errors name the request the kernel refused.
Result<void> apply_nftables_ruleset(const NatRuleset& ruleset);

} // namespace keel::containers
