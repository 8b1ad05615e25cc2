// net/tls: TLS client connections (mbedTLS) over a TCP connection: SNI and
// certificate verification against the system's CA bundle, plus a CA file
// or directory the user names (a registry with its own CA). A failed
// handshake says why in words ("TLS handshake with registry.example:
// certificate not trusted").
#pragma once

#include "base/result.h"
#include "net/connection.h"

#include <memory>
#include <string>
#include <string_view>

namespace keel::net {

/// Debian's (and most distributions') bundle of trusted CA certificates.
inline constexpr std::string_view kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

/// Which certificates a server's chain must lead to.
struct TlsOptions {
    /// The system bundle; empty for none (then ca_file or ca_directory
    /// must name some).
    std::string system_ca_file = std::string(kSystemCaFile);
    /// Extra trusted CAs: a PEM file, and a directory of PEM files.
    std::string ca_file;
    /// (Trailing field: see base/result.h.)
    std::string ca_directory;
};

/// Performs a TLS handshake as a client with `server_name` (SNI and the
/// name the certificate must carry) over `socket`, and returns the
/// encrypted connection.
Result<std::unique_ptr<Connection>> tls_connect(std::unique_ptr<SocketConnection> socket,
                                                const std::string& server_name,
                                                const TlsOptions& options);

} // namespace keel::net
