// TLS through mbedTLS (2.28 and 3.x): one configuration and context per
// connection, its I/O routed through the socket's timeouts.
#include "net/tls.h"

#include "base/strings.h"

#include <memory>
#include <optional>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace keel::net {

namespace {

std::string mbedtls_message(int code) {
    char buffer[256] = {};
    mbedtls_strerror(code, buffer, sizeof buffer);
    return buffer;
}

// Why verification failed, in words, most telling reason first.
std::string verify_failure(uint32_t flags, std::string_view server_name) {
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return "certificate not trusted";
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        return "certificate expired";
    if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        return "certificate not valid yet";
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
        return cat("certificate is not for ", server_name);
    if (flags & MBEDTLS_X509_BADCERT_REVOKED)
        return "certificate revoked";
    char buffer[512] = {};
    mbedtls_x509_crt_verify_info(buffer, sizeof buffer, "", flags);
    return cat("certificate verification failed: ", trim(buffer));
}

class TlsConnection final : public Connection {
public:
    explicit TlsConnection(std::unique_ptr<SocketConnection> socket) : m_socket(std::move(socket)) {
        mbedtls_entropy_init(&m_entropy);
        mbedtls_ctr_drbg_init(&m_random);
        mbedtls_x509_crt_init(&m_trusted);
        mbedtls_ssl_config_init(&m_config);
        mbedtls_ssl_init(&m_ssl);
    }
    ~TlsConnection() override {
        if (m_established)
            mbedtls_ssl_close_notify(&m_ssl);
        mbedtls_ssl_free(&m_ssl);
        mbedtls_ssl_config_free(&m_config);
        mbedtls_x509_crt_free(&m_trusted);
        mbedtls_ctr_drbg_free(&m_random);
        mbedtls_entropy_free(&m_entropy);
    }
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    Result<void> handshake(const std::string& server_name, const TlsOptions& options);
    Result<size_t> read_some(char* buffer, size_t size) override;
    Result<void> write_all(std::string_view data) override;

private:
    static int send_callback(void* self, const unsigned char* data, size_t size);
    static int receive_callback(void* self, unsigned char* buffer, size_t size);
    Result<void> load_trusted(const TlsOptions& options);
    // The socket's own error when the last failure came from it, else
    // mbedTLS's words for `code`.
    Error failure(int code, std::string what);

    std::unique_ptr<SocketConnection> m_socket;
    mbedtls_entropy_context m_entropy;
    mbedtls_ctr_drbg_context m_random;
    mbedtls_x509_crt m_trusted;
    mbedtls_ssl_config m_config;
    mbedtls_ssl_context m_ssl;
    std::optional<Error> m_socket_error;
    bool m_established = false;
};

int TlsConnection::send_callback(void* self, const unsigned char* data, size_t size) {
    auto* connection = static_cast<TlsConnection*>(self);
    Result<void> written =
        connection->m_socket->write_all({reinterpret_cast<const char*>(data), size});
    if (!written) {
        connection->m_socket_error = std::move(written.error());
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return int(size);
}

int TlsConnection::receive_callback(void* self, unsigned char* buffer, size_t size) {
    auto* connection = static_cast<TlsConnection*>(self);
    Result<size_t> n = connection->m_socket->read_some(reinterpret_cast<char*>(buffer), size);
    if (!n) {
        connection->m_socket_error = std::move(n.error());
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return int(*n);
}

Error TlsConnection::failure(int code, std::string what) {
    if (m_socket_error) {
        Error error = std::move(*m_socket_error);
        m_socket_error.reset();
        return std::move(error).wrap(std::move(what));
    }
    return Error::message(cat(what, ": ", mbedtls_message(code)));
}

Result<void> TlsConnection::load_trusted(const TlsOptions& options) {
    int loaded = 0;
    if (!options.system_ca_file.empty()) {
        // A bundle with a certificate mbedTLS cannot read still counts
        // (the return value is then the number of failures).
        if (mbedtls_x509_crt_parse_file(&m_trusted, options.system_ca_file.c_str()) >= 0)
            ++loaded;
    }
    if (!options.ca_file.empty()) {
        int ret = mbedtls_x509_crt_parse_file(&m_trusted, options.ca_file.c_str());
        if (ret != 0)
            return error(cat("read CA file ", quoted(options.ca_file), ": ",
                             ret < 0 ? mbedtls_message(ret) : "a certificate is malformed"));
        ++loaded;
    }
    if (!options.ca_directory.empty()) {
        int ret = mbedtls_x509_crt_parse_path(&m_trusted, options.ca_directory.c_str());
        if (ret < 0)
            return error(cat("read CA directory ", quoted(options.ca_directory), ": ",
                             mbedtls_message(ret)));
        ++loaded;
    }
    if (loaded == 0)
        return error(cat("no trusted CA certificates (", options.system_ca_file,
                         " is missing; name a CA file)"));
    return {};
}

Result<void> TlsConnection::handshake(const std::string& server_name, const TlsOptions& options) {
    std::string context = cat("TLS handshake with ", server_name);
    static constexpr std::string_view personalisation = "keel tls";
    if (int ret = mbedtls_ctr_drbg_seed(
            &m_random, mbedtls_entropy_func, &m_entropy,
            reinterpret_cast<const unsigned char*>(personalisation.data()), personalisation.size());
        ret != 0)
        return std::unexpected(failure(ret, cat(context, ": seed random generator")));
    TRY_CTX(load_trusted(options), context);
    if (int ret =
            mbedtls_ssl_config_defaults(&m_config, MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        ret != 0)
        return std::unexpected(failure(ret, context));
    mbedtls_ssl_conf_authmode(&m_config, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&m_config, &m_trusted, nullptr);
    mbedtls_ssl_conf_rng(&m_config, mbedtls_ctr_drbg_random, &m_random);
    if (int ret = mbedtls_ssl_setup(&m_ssl, &m_config); ret != 0)
        return std::unexpected(failure(ret, context));
    if (int ret = mbedtls_ssl_set_hostname(&m_ssl, server_name.c_str()); ret != 0)
        return std::unexpected(failure(ret, context));
    mbedtls_ssl_set_bio(&m_ssl, this, send_callback, receive_callback, nullptr);

    for (;;) {
        int ret = mbedtls_ssl_handshake(&m_ssl);
        if (ret == 0)
            break;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
            return error(cat(context, ": ",
                             verify_failure(mbedtls_ssl_get_verify_result(&m_ssl), server_name)));
        return std::unexpected(failure(ret, context));
    }
    m_established = true;
    return {};
}

Result<size_t> TlsConnection::read_some(char* buffer, size_t size) {
    for (;;) {
        int ret = mbedtls_ssl_read(&m_ssl, reinterpret_cast<unsigned char*>(buffer), size);
        if (ret >= 0)
            return size_t(ret);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
            m_established = false;
            return 0;
        }
        m_established = false;
        return std::unexpected(failure(ret, "TLS read"));
    }
}

Result<void> TlsConnection::write_all(std::string_view data) {
    while (!data.empty()) {
        int ret = mbedtls_ssl_write(&m_ssl, reinterpret_cast<const unsigned char*>(data.data()),
                                    data.size());
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (ret < 0) {
            m_established = false;
            return std::unexpected(failure(ret, "TLS write"));
        }
        data.remove_prefix(size_t(ret));
    }
    return {};
}

} // namespace

Result<std::unique_ptr<Connection>> tls_connect(std::unique_ptr<SocketConnection> socket,
                                                const std::string& server_name,
                                                const TlsOptions& options) {
    auto connection = std::make_unique<TlsConnection>(std::move(socket));
    TRY(connection->handshake(server_name, options));
    return std::unique_ptr<Connection>(std::move(connection));
}

} // namespace keel::net
