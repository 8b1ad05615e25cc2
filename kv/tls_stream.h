// TLS for the KV's connections (mbedTLS), non-blocking on the reactor: a
// TlsContext holds what every connection of one listener (or one dialer)
// shares — its certificate and key, the CA that peers' certificates must
// lead to, ALPN — loaded once; a TlsStream is one session over a
// non-blocking socket. The session's records go through a queue the stream
// owns, so mbedTLS never waits on the socket: reads return "nothing now"
// until the handshake, driven by readiness, is done; then the stream is a
// ByteStream (kv/byte_stream.h) like the plain one.
#pragma once

#include "base/result.h"
#include "kv/byte_stream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace keel::kv {

/// Which end of the handshake a context makes.
enum class TlsRole : uint8_t { Server, Client };

/// Whether the other end must show a certificate that leads to the trusted
/// CA (a server: --client-cert-auth; a client always verifies the server
/// when it has a CA).
enum class PeerVerification : uint8_t { None, Required };

/// What a TlsContext is made from (etcd's --cert-file, --key-file,
/// --trusted-ca-file, --client-cert-auth and their --peer- twins).
/// For a client that verifies the server: whether the server's certificate
/// must also name the IP address dialed (a subjectAltName iPAddress), as
/// Go's TLS requires of an address dialed by IP. Without it any certificate
/// of the CA passes for any server.
enum class ServerAddress : uint8_t { Unchecked, InCertificate };

struct TlsContextOptions {
    TlsRole role = TlsRole::Server;
    PeerVerification verify = PeerVerification::None;
    ServerAddress server_address = ServerAddress::Unchecked;
    /// ALPN protocols offered (client) or accepted (server), e.g. {"h2"}.
    /// A server with a list refuses clients that offer only others.
    std::vector<std::string> alpn;
    /// This end's certificate chain and private key (PEM; RSA or ECDSA).
    /// Required for a server; a client sends it when the server asks.
    std::string cert_file;
    std::string key_file;
    /// When set, the other end's verified certificate must have this
    /// subject CommonName (etcd's --peer-cert-allowed-cn) ...
    std::string allowed_cn;
    /// ... or be for this host name or IP address (its subjectAltName
    /// entries, a leftmost "*." label matching one label: etcd's
    /// --peer-cert-allowed-hostname, --client-cert-allowed-hostname).
    std::string allowed_hostname;
    /// (Trailing field: see base/result.h.) The CA certificates (PEM) the
    /// other end's certificate must lead to; required with
    /// PeerVerification::Required.
    std::string trusted_ca_file;
};

/// Certificates, key, random generator and mbedTLS configuration shared by
/// the sessions of one listener or dialer. Single-threaded.
class TlsContext {
public:
    /// Loads the files; errors name the file and what is wrong with it.
    static Result<std::shared_ptr<TlsContext>> create(const TlsContextOptions& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    struct State;
    State& state() { return *m_state; }

private:
    TlsContext();
    std::unique_ptr<State> m_state;
};

/// One TLS session over a connected non-blocking socket (not owned). The
/// handshake starts with the first read() or send(); errors say why in
/// words ("TLS handshake: certificate not trusted").
Result<std::unique_ptr<ByteStream>> tls_stream(std::shared_ptr<TlsContext> context, int fd);

} // namespace keel::kv
