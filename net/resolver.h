// net/resolver: host names to addresses without NSS (keel is a static
// binary; glibc's getaddrinfo would need NSS modules it does not have):
// a literal IP address, then /etc/hosts, then DNS over UDP (TCP when the
// answer is truncated) to the nameservers /etc/resolv.conf lists, asking
// for A and AAAA records, with bounded attempts and timeouts. The DNS
// message codec (query builder, response parser) is pure and separate from
// the sockets, since a response is outside input.
#pragma once

#include "base/result.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace keel::net {

/// An IPv4 or IPv6 address.
struct IpAddress {
    /// AF_INET or AF_INET6.
    int family = AF_INET;
    /// 4 (IPv4) or 16 (IPv6) bytes used, network order.
    std::array<uint8_t, 16> bytes{};

    /// "192.0.2.1", "2001:db8::1".
    std::string str() const;
    bool operator==(const IpAddress&) const = default;
};

/// Fills `storage` with `address` and `port` as a sockaddr_in or
/// sockaddr_in6; returns its length.
socklen_t socket_address(const IpAddress& address, uint16_t port, sockaddr_storage& storage);

/// Parses a literal IPv4 or IPv6 address (no brackets, no zone).
std::optional<IpAddress> parse_ip_address(std::string_view text);

/// The addresses /etc/hosts's `content` gives `name` (names compared
/// without case; comments and malformed lines skipped), in file order.
std::vector<IpAddress> lookup_hosts(std::string_view content, std::string_view name);

/// What resolv.conf says.
struct ResolvConf {
    std::vector<IpAddress> nameservers;
    /// `search` (or `domain`) suffixes, in order.
    std::vector<std::string> search;
    /// options ndots:N (default 1), timeout:N seconds (5), attempts:N (2).
    int ndots = 1;
    int timeout_seconds = 5;
    int attempts = 2;
    /// (Trailing field: see base/result.h.)
    std::string domain;
};

/// Parses resolv.conf; unknown lines and options are ignored.
ResolvConf parse_resolv_conf(std::string_view content);

/// DNS record types keel asks for.
inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeCname = 5;
inline constexpr uint16_t kDnsTypeAaaa = 28;

/// A DNS query for `name`'s records of `type` (class IN, recursion
/// desired), with `id`; an error for a name no DNS message can carry.
Result<std::string> build_dns_query(uint16_t id, std::string_view name, uint16_t type);

/// What a response says about the question.
struct DnsAnswer {
    /// RCODE (0 no error, 3 no such name).
    int rcode = 0;
    /// TC was set: ask again over TCP.
    bool truncated = false;
    /// The A or AAAA records of the name asked for, following CNAMEs inside
    /// the answer.
    std::vector<IpAddress> addresses;
};

/// Parses a response to the query `id` for `name` and `type`: the header
/// must be a response with that id, the question must echo the name;
/// names use compression pointers only backwards, within 255 bytes and a
/// bounded number of jumps; every length is checked against the packet.
Result<DnsAnswer> parse_dns_response(std::string_view packet, uint16_t id, std::string_view name,
                                     uint16_t type);

/// Where and how to resolve; the defaults read the system's files.
struct ResolverOptions {
    std::string hosts_file = "/etc/hosts";
    std::string resolv_conf = "/etc/resolv.conf";
    /// Port of the nameservers (53; tests point it at their own server).
    uint16_t dns_port = 53;
    /// Overrides resolv.conf's timeout when set.
    std::optional<std::chrono::milliseconds> timeout;
    /// (Trailing field: see base/result.h.)
    std::vector<IpAddress> nameservers_override;
};

/// The addresses of `host`, IPv4 first: a literal, /etc/hosts, or DNS.
/// The error names the host and what the nameservers said.
Result<std::vector<IpAddress>> resolve_host(std::string_view host, const ResolverOptions& options);

} // namespace keel::net
