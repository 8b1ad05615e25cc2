// The IP addresses a certificate is for: the iPAddress entries of its
// subjectAltName extension, read from the certificate's DER extensions
// (mbedTLS 2.28 lists only a certificate's DNS names and otherNames). A
// member dials its peers by IP, so that is the name their certificates
// are checked against, as Go's TLS checks them for etcd.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// The iPAddress entries (4 or 16 bytes each, as on the wire) of the
/// subjectAltName extension in `extensions`: the DER of a certificate's
/// extensions, with or without their [3] wrapper. Empty when there is no
/// such extension; nullopt when the bytes are not well-formed DER.
std::optional<std::vector<std::string>> certificate_ip_addresses(std::string_view extensions);

/// An address as text ("10.0.0.1", "::1"); "?" for a length that is no IP.
std::string ip_address_text(std::string_view address);

/// Whether a certificate with these subjectAltName DNS names and IP
/// addresses (as certificate_ip_addresses() gives them) is for `host`, as
/// Go's VerifyHostname decides: an IP address (text) must be one of the
/// addresses; a name matches a DNS name case-insensitively, where a DNS name
/// "*.example.com" stands for exactly one leftmost label. The subject's
/// CommonName is never consulted.
bool certificate_is_for_host(std::string_view host, const std::vector<std::string>& dns_names,
                             const std::vector<std::string>& addresses);

} // namespace keel::kv
