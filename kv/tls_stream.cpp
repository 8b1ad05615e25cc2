// TlsContext and TlsStream (see kv/tls_stream.h) on mbedTLS 2.28 and 3.x.
// The session's BIO: receive reads the socket (WANT_READ on EAGAIN), send
// appends to the stream's record queue (never WANT_WRITE), and the queue
// goes to the socket with send_queued(). Plaintext is handed to mbedTLS
// only while that queue is empty, so what one slow peer makes us hold
// stays bounded by the caller's own queue plus one record burst.
#include "kv/tls_stream.h"

#include "base/strings.h"
#include "kv/tls_names.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

namespace keel::kv {

namespace {

std::string mbedtls_words(int code) {
    char buffer[256] = {};
    mbedtls_strerror(code, buffer, sizeof buffer);
    return buffer;
}

// Why the other end's certificate was refused, most telling reason first.
std::string verify_failure(uint32_t flags) {
    if (flags & MBEDTLS_X509_BADCERT_MISSING)
        return "no certificate presented";
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        return "certificate expired";
    if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        return "certificate not valid yet";
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return "certificate not trusted";
    if (flags & MBEDTLS_X509_BADCERT_REVOKED)
        return "certificate revoked";
    char buffer[512] = {};
    mbedtls_x509_crt_verify_info(buffer, sizeof buffer, "", flags);
    return cat("certificate verification failed: ", trim(buffer));
}

} // namespace

struct TlsContext::State {
    State() {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&random);
        mbedtls_x509_crt_init(&own_chain);
        mbedtls_pk_init(&own_key);
        mbedtls_x509_crt_init(&trusted);
        mbedtls_ssl_config_init(&config);
    }
    ~State() {
        mbedtls_ssl_config_free(&config);
        mbedtls_x509_crt_free(&trusted);
        mbedtls_pk_free(&own_key);
        mbedtls_x509_crt_free(&own_chain);
        mbedtls_ctr_drbg_free(&random);
        mbedtls_entropy_free(&entropy);
    }
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context random;
    mbedtls_x509_crt own_chain;
    mbedtls_pk_context own_key;
    mbedtls_x509_crt trusted;
    mbedtls_ssl_config config;
    /// The ALPN names and the null-terminated array mbedTLS keeps pointers
    /// into.
    std::vector<std::string> alpn;
    std::vector<const char*> alpn_list;
    /// A verifying client's ServerAddress::InCertificate.
    bool check_server_address = false;
    /// TlsContextOptions' allowed_cn and allowed_hostname.
    std::string allowed_cn;
    std::string allowed_hostname;
};

TlsContext::TlsContext() : m_state(std::make_unique<State>()) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsContextOptions& options) {
    std::shared_ptr<TlsContext> context(new TlsContext());
    State& s = *context->m_state;
    static constexpr std::string_view personalisation = "keel kv tls";
    if (int ret = mbedtls_ctr_drbg_seed(
            &s.random, mbedtls_entropy_func, &s.entropy,
            reinterpret_cast<const unsigned char*>(personalisation.data()), personalisation.size());
        ret != 0)
        return error(cat("TLS: seed the random generator: ", mbedtls_words(ret)));

    bool server = options.role == TlsRole::Server;
    if (server && (options.cert_file.empty() || options.key_file.empty()))
        return error("TLS: a server needs a certificate file and a key file");
    if (options.cert_file.empty() != options.key_file.empty())
        return error("TLS: a certificate file needs its key file, and a key file its certificate");
    if (!options.cert_file.empty()) {
        if (int ret = mbedtls_x509_crt_parse_file(&s.own_chain, options.cert_file.c_str());
            ret != 0)
            return error(cat("TLS: read certificate file ", keel::quoted(options.cert_file), ": ",
                             ret < 0 ? mbedtls_words(ret) : "a certificate is malformed"));
#if MBEDTLS_VERSION_MAJOR >= 3
        int ret = mbedtls_pk_parse_keyfile(&s.own_key, options.key_file.c_str(), nullptr,
                                           mbedtls_ctr_drbg_random, &s.random);
#else
        int ret = mbedtls_pk_parse_keyfile(&s.own_key, options.key_file.c_str(), nullptr);
#endif
        if (ret != 0)
            return error(cat("TLS: read key file ", keel::quoted(options.key_file), ": ",
                             mbedtls_words(ret)));
    }
    if (!options.trusted_ca_file.empty()) {
        if (int ret = mbedtls_x509_crt_parse_file(&s.trusted, options.trusted_ca_file.c_str());
            ret != 0)
            return error(cat("TLS: read trusted CA file ", keel::quoted(options.trusted_ca_file),
                             ": ", ret < 0 ? mbedtls_words(ret) : "a certificate is malformed"));
    } else if (options.verify == PeerVerification::Required) {
        return error("TLS: verifying the other end's certificate needs a trusted CA file");
    }

    if (int ret = mbedtls_ssl_config_defaults(
            &s.config, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
            MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        ret != 0)
        return error(cat("TLS: configure: ", mbedtls_words(ret)));
    mbedtls_ssl_conf_rng(&s.config, mbedtls_ctr_drbg_random, &s.random);
    // A client verifies the server whenever it has a CA to verify against.
    bool verify = options.verify == PeerVerification::Required ||
                  (!server && !options.trusted_ca_file.empty());
    mbedtls_ssl_conf_authmode(&s.config,
                              verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    s.check_server_address =
        !server && verify && options.server_address == ServerAddress::InCertificate;
    if (!options.allowed_cn.empty() && !options.allowed_hostname.empty())
        return error(cat("TLS: AllowedCN and AllowedHostname are mutually exclusive (cn=",
                         keel::quoted(options.allowed_cn),
                         ", hostname=", keel::quoted(options.allowed_hostname), ")"));
    if ((!options.allowed_cn.empty() || !options.allowed_hostname.empty()) && !verify)
        return error("TLS: an allowed CommonName or host name needs the other end's certificate "
                     "verified (a trusted CA file, and for a server client certificate auth)");
    s.allowed_cn = options.allowed_cn;
    s.allowed_hostname = options.allowed_hostname;
    if (!options.trusted_ca_file.empty())
        mbedtls_ssl_conf_ca_chain(&s.config, &s.trusted, nullptr);
    if (!options.cert_file.empty())
        if (int ret = mbedtls_ssl_conf_own_cert(&s.config, &s.own_chain, &s.own_key); ret != 0)
            return error(cat("TLS: certificate ", keel::quoted(options.cert_file), " and key ",
                             keel::quoted(options.key_file), ": ", mbedtls_words(ret)));
    if (!options.alpn.empty()) {
        s.alpn = options.alpn;
        for (const std::string& name : s.alpn)
            s.alpn_list.push_back(name.c_str());
        s.alpn_list.push_back(nullptr);
        if (int ret = mbedtls_ssl_conf_alpn_protocols(&s.config, s.alpn_list.data()); ret != 0)
            return error(cat("TLS: ALPN: ", mbedtls_words(ret)));
    }
    return context;
}

namespace {

class TlsStream final : public ByteStream {
public:
    TlsStream(std::shared_ptr<TlsContext> context, int fd)
        : m_context(std::move(context)), m_fd(fd) {
        mbedtls_ssl_init(&m_ssl);
    }
    ~TlsStream() override { mbedtls_ssl_free(&m_ssl); }
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    Result<void> start() {
        if (int ret = mbedtls_ssl_setup(&m_ssl, &m_context->state().config); ret != 0)
            return error(cat("TLS: set up a session: ", mbedtls_words(ret)));
        mbedtls_ssl_set_bio(&m_ssl, this, send_callback, receive_callback, nullptr);
        return {};
    }

    Result<std::optional<size_t>> read(char* buffer, size_t size) override;
    Result<size_t> write(std::string_view bytes) override;
    bool has_pending_output() const override { return !m_records.empty(); }
    bool wants_writable() const override { return m_blocked; }
    bool has_buffered_input() const override {
        return m_established && mbedtls_ssl_get_bytes_avail(&m_ssl) > 0;
    }

private:
    static int send_callback(void* self, const unsigned char* data, size_t size);
    static int receive_callback(void* self, unsigned char* buffer, size_t size);
    /// Drives the handshake: true once established.
    Result<bool> handshake();
    /// After the handshake: the server's certificate names the address
    /// the socket is connected to (ServerAddress::InCertificate).
    Result<void> check_server_address() const;
    /// Whether the other end's certificate has the context's allowed
    /// CommonName or is for its allowed host name (when one is set).
    Result<void> check_allowed_identity() const;
    /// Writes the queued records; records whether the socket is full.
    Result<void> flush_records();
    /// The error for mbedTLS's `code`: the socket's own when it came from
    /// there.
    Error failure(int code, std::string_view what);

    std::shared_ptr<TlsContext> m_context;
    int m_fd;
    mbedtls_ssl_context m_ssl;
    ByteQueue m_records;
    std::optional<Error> m_socket_error;
    bool m_established = false;
    bool m_blocked = false;
    bool m_peer_closed = false;
};

int TlsStream::send_callback(void* self, const unsigned char* data, size_t size) {
    auto* stream = static_cast<TlsStream*>(self);
    stream->m_records.append(std::string_view(reinterpret_cast<const char*>(data), size));
    return int(size);
}

int TlsStream::receive_callback(void* self, unsigned char* buffer, size_t size) {
    auto* stream = static_cast<TlsStream*>(self);
    for (;;) {
        ssize_t n = ::recv(stream->m_fd, buffer, size, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return MBEDTLS_ERR_SSL_WANT_READ;
        if (n < 0) {
            stream->m_socket_error = Error::from_errno(errno, "recv");
            return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
        }
        if (n == 0)
            stream->m_peer_closed = true;
        return int(n);
    }
}

Error TlsStream::failure(int code, std::string_view what) {
    if (m_socket_error) {
        Error error = std::move(*m_socket_error);
        m_socket_error.reset();
        return std::move(error).wrap(std::string(what));
    }
    if (code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
        return Error::message(
            cat(what, ": ", verify_failure(mbedtls_ssl_get_verify_result(&m_ssl))));
#ifdef MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE
    if (code == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
        return Error::message(cat(what, ": no client certificate presented"));
#endif
    if (m_peer_closed)
        return Error::message(cat(what, ": the other end closed the connection"));
    return Error::message(cat(what, ": ", mbedtls_words(code)));
}

Result<void> TlsStream::flush_records() {
    SendProgress progress = TRY(send_queued(m_fd, m_records));
    m_blocked = progress == SendProgress::Blocked;
    return {};
}

Result<bool> TlsStream::handshake() {
    if (m_established)
        return true;
    int ret = mbedtls_ssl_handshake(&m_ssl);
    // Whatever the handshake produced goes out, also an alert on failure.
    Result<void> flushed = flush_records();
    if (ret == 0) {
        TRY(flushed);
        if (m_context->state().check_server_address)
            TRY(check_server_address());
        TRY(check_allowed_identity());
        m_established = true;
        return true;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        TRY(flushed);
        return false;
    }
    return std::unexpected(failure(ret, "TLS handshake"));
}

Result<void> TlsStream::check_server_address() const {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(m_fd, reinterpret_cast<sockaddr*>(&peer), &length) < 0)
        return errno_error("TLS: the server's address");
    std::string dialed;
    if (peer.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
        dialed.assign(reinterpret_cast<const char*>(&v4.sin_addr), 4);
    } else if (peer.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
        dialed.assign(reinterpret_cast<const char*>(&v6.sin6_addr), 16);
        if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr))
            dialed = dialed.substr(12);
    } else {
        return {}; // a unix socket: no address to name
    }
    const mbedtls_x509_crt* certificate = mbedtls_ssl_get_peer_cert(&m_ssl);
    if (!certificate)
        return error("TLS handshake: the server showed no certificate");
#if MBEDTLS_VERSION_MAJOR >= 3
    const mbedtls_x509_buf& extensions = certificate->MBEDTLS_PRIVATE(v3_ext);
#else
    const mbedtls_x509_buf& extensions = certificate->v3_ext;
#endif
    auto addresses = certificate_ip_addresses(
        std::string_view(reinterpret_cast<const char*>(extensions.p), extensions.len));
    if (!addresses)
        return error("TLS handshake: the server's certificate has malformed extensions");
    std::string named;
    for (const std::string& address : *addresses) {
        if (address == dialed)
            return {};
        named += cat(named.empty() ? "" : ", ", ip_address_text(address));
    }
    return error(cat("TLS handshake: the server's certificate is not for ", ip_address_text(dialed),
                     named.empty() ? std::string(" (it names no IP address)")
                                   : cat(" (it is for ", named, ")")));
}

Result<void> TlsStream::check_allowed_identity() const {
    const TlsContext::State& s = m_context->state();
    if (s.allowed_cn.empty() && s.allowed_hostname.empty())
        return {};
    const mbedtls_x509_crt* certificate = mbedtls_ssl_get_peer_cert(&m_ssl);
    if (!certificate)
        return error("TLS handshake: certificate authentication failed: the other end showed no "
                     "certificate");
    if (!s.allowed_cn.empty()) {
        std::string cn;
        for (const mbedtls_x509_name* name = &certificate->subject; name; name = name->next)
            if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0)
                cn.assign(reinterpret_cast<const char*>(name->val.p), name->val.len);
        if (cn != s.allowed_cn)
            return error(cat("TLS handshake: certificate authentication failed: its CommonName ",
                             keel::quoted(cn), " is not the allowed ", keel::quoted(s.allowed_cn)));
        return {};
    }
#if MBEDTLS_VERSION_MAJOR >= 3
    const mbedtls_x509_buf& extensions = certificate->MBEDTLS_PRIVATE(v3_ext);
#else
    const mbedtls_x509_buf& extensions = certificate->v3_ext;
#endif
    std::optional<std::vector<std::string>> addresses = certificate_ip_addresses(
        std::string_view(reinterpret_cast<const char*>(extensions.p), extensions.len));
    if (!addresses)
        return error("TLS handshake: the other end's certificate has malformed extensions");
    std::vector<std::string> dns_names;
    for (const mbedtls_x509_sequence* entry = &certificate->subject_alt_names;
         entry && entry->buf.p; entry = entry->next)
        if ((entry->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == MBEDTLS_X509_SAN_DNS_NAME)
            dns_names.emplace_back(reinterpret_cast<const char*>(entry->buf.p), entry->buf.len);
    if (certificate_is_for_host(s.allowed_hostname, dns_names, *addresses))
        return {};
    return error(cat("TLS handshake: certificate authentication failed: it is not for the "
                     "allowed host ",
                     keel::quoted(s.allowed_hostname)));
}

Result<std::optional<size_t>> TlsStream::read(char* buffer, size_t size) {
    if (!TRY(handshake()))
        return std::optional<size_t>();
    for (;;) {
        int ret = mbedtls_ssl_read(&m_ssl, reinterpret_cast<unsigned char*>(buffer), size);
        if (ret > 0)
            return std::optional<size_t>(size_t(ret));
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF)
            return std::optional<size_t>(0);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            TRY(flush_records()); // a record mbedTLS answered with, if any
            return std::optional<size_t>();
        }
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue;
#endif
        return std::unexpected(failure(ret, "TLS read"));
    }
}

Result<size_t> TlsStream::write(std::string_view bytes) {
    if (!TRY(handshake()))
        return 0; // the handshake waits for the other end
    size_t total = 0;
    for (;;) {
        TRY(flush_records());
        if (m_blocked || total == bytes.size())
            return total;
        int ret =
            mbedtls_ssl_write(&m_ssl, reinterpret_cast<const unsigned char*>(bytes.data() + total),
                              bytes.size() - total);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            TRY(flush_records());
            return total;
        }
        if (ret < 0)
            return std::unexpected(failure(ret, "TLS write"));
        total += size_t(ret);
    }
}

} // namespace

Result<std::unique_ptr<ByteStream>> tls_stream(std::shared_ptr<TlsContext> context, int fd) {
    auto stream = std::make_unique<TlsStream>(std::move(context), fd);
    TRY(stream->start());
    return std::unique_ptr<ByteStream>(std::move(stream));
}

} // namespace keel::kv
