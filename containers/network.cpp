// Bridge networking (containers.h's Networking section): the lease
// directory, the bridge made on first use, a container's veth pair and
// its namespace's addresses and route, and table ip keel rebuilt from the
// leases after every change. One lock (the lease directory's) serialises
// every attach and detach, so leases and rules always agree.
#include "containers/network.h"

#include "base/strings.h"
#include "base/sys.h"
#include "containers/netlink.h"
#include "containers/nftables.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

namespace keel::containers {

namespace {

constexpr std::string_view kLeaseSuffix = ".json";
constexpr std::string_view kContainerInterface = "eth0";

// How many ports the kernel is asked for before giving up on finding one
// that no lease publishes already.
constexpr int kPortTries = 64;

bool publishes(std::span<const PortMapping> ports, const PortMapping& candidate) {
    return std::ranges::any_of(ports, [&](const PortMapping& port) {
        return port.host_port == candidate.host_port && port.protocol == candidate.protocol;
    });
}

// A host port for `-p CONTAINER_PORT` (Docker's "random" port): one the
// kernel says is free now on the mapping's address (a bind to port 0 from
// its ephemeral range), and that no lease publishes (published ports are
// DNAT rules, which the kernel's choice does not see).
Result<uint16_t> free_host_port(const PortMapping& mapping,
                                std::span<const NetworkAttachment> leases,
                                std::span<const PortMapping> chosen) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    if (!mapping.host_ip.empty())
        address.sin_addr.s_addr = htonl(TRY(parse_ipv4(mapping.host_ip)).value);
    for (int attempt = 0; attempt < kPortTries; ++attempt) {
        int type = mapping.protocol == Protocol::Udp ? SOCK_DGRAM : SOCK_STREAM;
        Fd socket(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
        if (!socket)
            return errno_error("socket");
        if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0)
            return errno_error(
                cat("find a free port on ", mapping.host_ip.empty() ? "0.0.0.0" : mapping.host_ip));
        sockaddr_in bound{};
        socklen_t length = sizeof bound;
        if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&bound), &length) < 0)
            return errno_error("getsockname");
        PortMapping candidate = mapping;
        candidate.host_port = ntohs(bound.sin_port);
        bool leased = std::ranges::any_of(leases, [&](const NetworkAttachment& lease) {
            return publishes(lease.ports, candidate);
        });
        if (candidate.host_port != 0 && !leased && !publishes(chosen, candidate))
            return candidate.host_port;
    }
    return errno_error(EADDRINUSE, cat("no free host port for container port ",
                                       mapping.container_port, " after ", kPortTries, " tries"));
}

} // namespace

Result<LeaseStore> LeaseStore::open(const std::string& state_directory) {
    TRY(make_directories(state_directory, 0700));
    std::string lock_path = cat(state_directory, "/lock");
    Fd lock = TRY(open_file(lock_path, O_RDWR | O_CREAT, 0600));
    while (::flock(lock.get(), LOCK_EX) < 0) {
        if (errno != EINTR)
            return errno_error(cat("lock ", quoted(lock_path)));
    }
    return LeaseStore(state_directory, std::move(lock));
}

std::string LeaseStore::lease_path(std::string_view container_id) const {
    return cat(m_directory, "/", container_id, kLeaseSuffix);
}

Result<std::vector<NetworkAttachment>> LeaseStore::list() const {
    std::vector<NetworkAttachment> leases;
    for (const std::string& name : TRY(list_directory(m_directory))) {
        if (!name.ends_with(kLeaseSuffix))
            continue;
        std::string path = cat(m_directory, "/", name);
        std::string text = TRY(read_file(path));
        leases.push_back(TRY_CTX(parse_attachment_json(text), cat("lease ", quoted(path))));
    }
    return leases;
}

Result<NetworkAttachment> LeaseStore::find(std::string_view container_id) const {
    std::string path = lease_path(container_id);
    if (!path_exists(path))
        return errno_error(ENOENT, cat("container ", quoted(container_id), " is not attached"));
    std::string text = TRY(read_file(path));
    return TRY_CTX(parse_attachment_json(text), cat("lease ", quoted(path)));
}

Result<NetworkAttachment> LeaseStore::lease(std::string_view bridge, const Ipv4Subnet& subnet,
                                            std::string_view container_id,
                                            std::span<const PortMapping> ports) {
    Result<NetworkAttachment> existing = find(container_id);
    if (existing)
        return errno_error(EEXIST, cat("container ", quoted(container_id), " is attached already (",
                                       existing->address, " on ", existing->bridge, ")"));
    if (existing.error().code() != ENOENT)
        return std::unexpected(std::move(existing).error());
    std::vector<Ipv4Address> taken;
    std::vector<NetworkAttachment> other_leases = TRY(list());
    for (const NetworkAttachment& other : other_leases) {
        if (other.bridge == bridge)
            taken.push_back(TRY(parse_ipv4(other.address)));
    }
    Ipv4Address address = TRY(allocate_address(subnet, taken));
    NetworkAttachment attachment;
    attachment.container_id = std::string(container_id);
    attachment.bridge = std::string(bridge);
    attachment.subnet = format_subnet(subnet);
    attachment.address = format_ipv4(address);
    attachment.gateway = format_ipv4(subnet.first_host());
    attachment.host_interface = host_interface_name(address);
    attachment.ports.assign(ports.begin(), ports.end());
    for (PortMapping& port : attachment.ports)
        if (port.host_port == 0)
            port.host_port = TRY(free_host_port(port, other_leases, attachment.ports));

    // Written whole under another name and renamed: a crash leaves the
    // lease or nothing, never half a file.
    std::string path = lease_path(container_id);
    std::string temporary = cat(path, ".new");
    TRY(write_new_file(temporary, attachment_json(attachment), 0600));
    if (::rename(temporary.c_str(), path.c_str()) < 0)
        return errno_error(cat("rename ", quoted(temporary), " to ", quoted(path)));
    return attachment;
}

Result<void> LeaseStore::release(std::string_view container_id) {
    std::string path = lease_path(container_id);
    if (::unlink(path.c_str()) < 0)
        return errno_error(cat("release the lease of ", quoted(container_id)));
    return {};
}

namespace {

// Makes the bridge unless it is there, with the gateway's address, up;
// lets the host forward, and lets DNAT to a container take connections
// made to 127.0.0.1. Returns its index.
Result<int> ensure_bridge(NetlinkSocket& host, const std::string& bridge,
                          const Ipv4Subnet& subnet) {
    Result<int> index = link_index(host, bridge);
    if (!index && index.error().code() == ENODEV) {
        TRY(create_bridge(host, bridge));
        index = link_index(host, bridge);
    }
    if (!index)
        return std::unexpected(std::move(index).error());
    Result<void> address =
        add_ipv4_address(host, *index, subnet.first_host(), subnet.prefix_length);
    if (!address && address.error().code() != EEXIST)
        return std::unexpected(std::move(address).error());
    TRY(set_link_up(host, bridge));
    TRY(write_existing_file("/proc/sys/net/ipv4/ip_forward", "1"));
    TRY(write_existing_file(cat("/proc/sys/net/ipv4/conf/", bridge, "/route_localnet"), "1"));
    return *index;
}

// The veth pair, its host end on the bridge, and the container's side:
// loopback and eth0 up, the address, the default route.
Result<void> connect_container(NetlinkSocket& host, const NetworkAttachment& attachment,
                               int bridge_index, int netns_fd) {
    Ipv4Subnet subnet = TRY(parse_subnet(attachment.subnet));
    Ipv4Address address = TRY(parse_ipv4(attachment.address));
    TRY(create_veth_pair(host, attachment.host_interface, netns_fd, kContainerInterface));
    TRY(set_link_master(host, attachment.host_interface, bridge_index));
    TRY(set_bridge_port_hairpin(host, attachment.host_interface));
    TRY(set_link_up(host, attachment.host_interface));

    NetlinkSocket inside = TRY(open_route_socket_in(netns_fd));
    TRY_CTX(set_link_up(inside, "lo"), "in the container");
    int eth0 = TRY_CTX(link_index(inside, kContainerInterface), "in the container");
    TRY_CTX(add_ipv4_address(inside, eth0, address, subnet.prefix_length), "in the container");
    TRY_CTX(set_link_up(inside, kContainerInterface), "in the container");
    TRY_CTX(add_default_route(inside, subnet.first_host()), "in the container");
    return {};
}

Result<void> apply_leases(std::span<const NetworkAttachment> leases) {
    NatRuleset ruleset = TRY(ruleset_for(leases));
    return apply_nftables_ruleset(ruleset);
}

Result<void> check_bridge_name(std::string_view bridge) {
    if (bridge.empty() || bridge.size() > kInterfaceNameMax ||
        bridge.find_first_of("/ \t\n:") != std::string_view::npos || bridge == "." ||
        bridge == "..")
        return error(cat("bridge name ", quoted(bridge),
                         ": 1 to 15 characters, no `/`, `:` or "
                         "spaces"));
    return {};
}

Result<NetworkAttachment> attach(const BridgeConfig& config, std::string_view container_id,
                                 int netns_fd, std::span<const PortMapping> ports) {
    TRY(check_id(container_id));
    TRY(check_bridge_name(config.bridge));
    Ipv4Subnet subnet = TRY(parse_subnet(config.subnet));
    LeaseStore store = TRY(LeaseStore::open(config.state_directory));
    NetlinkSocket host = TRY(NetlinkSocket::open(NETLINK_ROUTE));
    int bridge_index = TRY(ensure_bridge(host, config.bridge, subnet));
    NetworkAttachment attachment = TRY(store.lease(config.bridge, subnet, container_id, ports));

    Result<void> done = connect_container(host, attachment, bridge_index, netns_fd);
    if (done) {
        Result<std::vector<NetworkAttachment>> leases = store.list();
        done = leases ? apply_leases(*leases) : Result<void>(std::unexpected(leases.error()));
    }
    if (!done) {
        // The rule set is untouched (a batch applies whole or not at all);
        // the veth (and its peer with it) and the lease go.
        (void)delete_link(host, attachment.host_interface);
        (void)store.release(container_id);
        return std::unexpected(std::move(done).error());
    }
    return attachment;
}

} // namespace

Result<NetworkAttachment> attach_bridge(const BridgeConfig& config, std::string_view container_id,
                                        int netns_fd, std::span<const PortMapping> ports) {
    Result<NetworkAttachment> attached = attach(config, container_id, netns_fd, ports);
    if (!attached)
        return std::unexpected(std::move(attached).error().wrap(
            cat("attach container ", quoted(container_id), " to ", config.bridge)));
    return attached;
}

Result<void> detach_bridge(const BridgeConfig& config, std::string_view container_id) {
    std::string context = cat("detach container ", quoted(container_id));
    TRY_CTX(check_id(container_id), context);
    LeaseStore store = TRY_CTX(LeaseStore::open(config.state_directory), context);
    NetworkAttachment attachment = TRY_CTX(store.find(container_id), context);
    NetlinkSocket host = TRY_CTX(NetlinkSocket::open(NETLINK_ROUTE), context);
    // Gone already when the container's namespace went away.
    Result<void> deleted = delete_link(host, attachment.host_interface);
    if (!deleted && deleted.error().code() != ENODEV)
        return std::unexpected(std::move(deleted).error().wrap(context));
    // The rules first: if they cannot be rebuilt the lease stays, and
    // detach can be tried again.
    std::vector<NetworkAttachment> remaining;
    for (NetworkAttachment& lease : TRY_CTX(store.list(), context))
        if (lease.container_id != container_id)
            remaining.push_back(std::move(lease));
    TRY_CTX(apply_leases(remaining), context);
    TRY_CTX(store.release(container_id), context);
    return {};
}

Result<std::vector<NetworkAttachment>> list_attachments(const BridgeConfig& config) {
    if (!is_directory(config.state_directory))
        return std::vector<NetworkAttachment>();
    LeaseStore store = TRY(LeaseStore::open(config.state_directory));
    return store.list();
}

} // namespace keel::containers
