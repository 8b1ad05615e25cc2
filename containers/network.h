// The bridge network's parts that need no kernel: address leasing (IPAM)
// over a directory of lease files, the lease file's JSON, the host end's
// interface name, the nftables rule set made from the leases. network.cpp
// puts them together with netlink.h and nftables.h into attach_bridge()
// and detach_bridge() (containers.h).
#pragma once

#include "base/fd.h"
#include "containers/containers.h"
#include "containers/ipv4.h"
#include "containers/nftables.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel::containers {

/// The longest network interface name the kernel takes (IFNAMSIZ - 1).
inline constexpr size_t kInterfaceNameMax = 15;

/// The lowest address of `subnet` after its gateway (the first host
/// address) that is not in `taken`, short of the broadcast address. ENOSPC
/// when every one is taken.
Result<Ipv4Address> allocate_address(const Ipv4Subnet& subnet, std::span<const Ipv4Address> taken);

/// The host end of a container's veth pair: "keel" and the container's
/// address in hex ("keel0a580002"), unique as long as addresses are, and
/// within IFNAMSIZ.
std::string host_interface_name(Ipv4Address address);

/// A lease file's text (JSON: id, bridge, subnet, address, gateway,
/// interface, ports).
std::string attachment_json(const NetworkAttachment& attachment);
/// Reads a lease file's text, checking every field (addresses, the subnet,
/// ports, protocol, the interface name's length). Errors name the field.
Result<NetworkAttachment> parse_attachment_json(std::string_view text);

/// The nftables rule set for these attachments: each bridge (with its
/// subnet) once, every published port.
Result<NatRuleset> ruleset_for(std::span<const NetworkAttachment> attachments);

/// The lease directory, locked (flock on STATE/lock) for as long as it
/// lives, so that two attaches never lease the same address.
class LeaseStore {
public:
    /// Creates the directory if needed and waits for its lock.
    static Result<LeaseStore> open(const std::string& state_directory);

    /// Every lease, by container id.
    Result<std::vector<NetworkAttachment>> list() const;
    /// The lease of `container_id`; ENOENT when it has none.
    Result<NetworkAttachment> find(std::string_view container_id) const;
    /// Leases the lowest free address of `subnet` on `bridge` to
    /// `container_id` and records it (with `ports`); EEXIST when that
    /// container holds a lease already. Addresses leased on other bridges
    /// are not looked at (their subnets are their own).
    Result<NetworkAttachment> lease(std::string_view bridge, const Ipv4Subnet& subnet,
                                    std::string_view container_id,
                                    std::span<const PortMapping> ports);
    /// Releases a lease; ENOENT when there is none.
    Result<void> release(std::string_view container_id);

private:
    LeaseStore(std::string directory, Fd lock)
        : m_lock(std::move(lock)), m_directory(std::move(directory)) {}
    std::string lease_path(std::string_view container_id) const;

    // The lock first: no tail padding for std::expected's flag (base/result.h).
    Fd m_lock;
    std::string m_directory;
};

} // namespace keel::containers
