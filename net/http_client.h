// net/http_client: an HTTP/1.1 client for keel's few requests (registry
// API calls, token fetches, blob downloads). One request per connection
// ("Connection: close"; no keep-alive); http or https (net/tls.h) by the
// URL's scheme; connect and idle timeouts. A response's body is read
// through Response::read() in pieces as it arrives, so a large blob never
// sits in memory; its framing (Content-Length, chunked, until close) is
// checked, and a body cut short is an error, not a short success.
// fetch() follows redirects and drops credentials when one leads to
// another origin.
#pragma once

#include "base/result.h"
#include "net/connection.h"
#include "net/http_message.h"
#include "net/resolver.h"
#include "net/tls.h"
#include "net/url.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace keel::net {

/// A request without a body (GET or HEAD).
struct Request {
    std::string method = "GET";
    Url url;
    /// Sent as given, after Host, User-Agent and Connection (which the
    /// client writes itself). Values with CR, LF or NUL are refused.
    Headers headers;
};

/// How the client connects.
struct ClientOptions {
    ConnectTimeouts timeouts;
    ResolverOptions resolver;
    /// The most redirects fetch() follows.
    int max_redirects = 10;
    /// (Last: see base/result.h.)
    TlsOptions tls;
};

/// A response whose head has been read; its body is read with read().
/// Owns the connection; move-only.
class Response {
public:
    Response(std::unique_ptr<Connection> connection, ResponseHead head, BodyLength body,
             std::string buffered, Url url);
    Response(Response&&) noexcept = default;
    Response& operator=(Response&&) noexcept = default;
    ~Response();

    int status() const { return m_head.status; }
    const std::string& reason() const { return m_head.reason; }
    const Headers& headers() const { return m_head.headers; }
    /// The URL this response came from (the last one, after redirects).
    const Url& url() const { return m_url; }
    /// The body's length when the server said it (Content-Length).
    std::optional<uint64_t> content_length() const;

    /// Reads up to `size` bytes of the body; 0 once it has all been read.
    /// A connection closed before the body's end is an error.
    Result<size_t> read(char* buffer, size_t size);
    /// Reads the whole body; an error if it is longer than `limit`.
    Result<std::string> read_body(size_t limit);

private:
    // Reads more raw bytes from the connection into m_buffered; false at EOF.
    Result<bool> fill();

    std::unique_ptr<Connection> m_connection;
    ResponseHead m_head;
    BodyLength m_body;
    uint64_t m_remaining = 0;
    ChunkedDecoder m_decoder;
    std::string m_buffered; // raw bytes read but not yet consumed
    size_t m_buffered_offset = 0;
    std::string m_decoded; // chunked data decoded but not yet returned
    size_t m_decoded_offset = 0;
    bool m_finished = false;
    Url m_url;
};

/// Sends one request and reads the response's head. Interim (1xx)
/// responses are skipped.
Result<Response> send_request(const Request& request, const ClientOptions& options);

/// Sends `request`, following 301, 302, 303, 307 and 308 redirects (303
/// becomes GET) up to options.max_redirects. A redirect to another origin
/// drops the Authorization header; one from https to http is refused.
Result<Response> fetch(Request request, const ClientOptions& options);

/// Whether `status` is one of the redirects fetch() follows.
bool is_redirect(int status);

} // namespace keel::net
