// IPv4 addresses and subnets as numbers (10.88.0.1 is 0x0a580001), with
// the dotted-quad and CIDR spellings read and written: what the bridge
// network's configuration, its leases and the netlink encoders share.
#pragma once

#include "base/result.h"

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace keel::containers {

/// An IPv4 address in host order.
struct Ipv4Address {
    uint32_t value = 0;

    /// The four bytes in network order, as netlink and packets carry them.
    std::array<uint8_t, 4> bytes() const {
        return {uint8_t(value >> 24), uint8_t(value >> 16), uint8_t(value >> 8), uint8_t(value)};
    }
    friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

/// "10.88.0.1".
std::string format_ipv4(Ipv4Address address);
/// Reads a dotted quad: four decimal numbers 0..255, no leading zeros
/// beyond a lone 0, nothing else. Errors quote the text.
Result<Ipv4Address> parse_ipv4(std::string_view text);

/// An address block: its first address and prefix length.
struct Ipv4Subnet {
    Ipv4Address network;
    int prefix_length = 0;

    /// The netmask as a number (0xffff0000 for /16).
    uint32_t mask() const { return prefix_length == 0 ? 0 : ~uint32_t(0) << (32 - prefix_length); }
    bool contains(Ipv4Address address) const { return (address.value & mask()) == network.value; }
    /// The broadcast address (the last of the block).
    Ipv4Address broadcast() const { return {network.value | ~mask()}; }
    /// The first host address: the gateway's.
    Ipv4Address first_host() const { return {network.value + 1}; }
};

/// "10.88.0.0/16".
std::string format_subnet(const Ipv4Subnet& subnet);
/// Reads "A.B.C.D/N" with N 8..30 (a bridge network needs room for a
/// gateway and at least one container, and more than /8 is no private
/// block); host bits must be zero ("10.88.0.1/16" is refused, naming the
/// network it should be).
Result<Ipv4Subnet> parse_subnet(std::string_view text);

} // namespace keel::containers
