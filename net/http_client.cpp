// The HTTP/1.1 client: writing a request, reading the head, streaming the
// body by its framing, following redirects.
#include "net/http_client.h"

#include "base/strings.h"

#include <algorithm>
#include <cstring>

namespace keel::net {

namespace {

constexpr size_t kReadSize = 64 * 1024;

bool has_line_break(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

Result<std::string> request_text(const Request& request) {
    if (request.method.empty() || has_line_break(request.method) ||
        request.method.find(' ') != std::string::npos)
        return error(cat("bad request method ", quoted(request.method)));
    std::string text = cat(request.method, " ", request.url.target, " HTTP/1.1\r\n");
    text += cat("Host: ", request.url.authority(), "\r\n");
    text += cat("User-Agent: keel/", KEEL_VERSION, "\r\n");
    text += "Connection: close\r\n";
    for (const auto& [name, value] : request.headers.fields()) {
        if (name.empty() || has_line_break(name) || name.find(':') != std::string::npos ||
            has_line_break(value))
            return error(cat("bad request header ", quoted(name)));
        text += cat(name, ": ", value, "\r\n");
    }
    text += "\r\n";
    return text;
}

Result<std::unique_ptr<Connection>> open_connection(const Url& url, const ClientOptions& options) {
    std::unique_ptr<SocketConnection> socket =
        TRY(connect_tcp(url.host, url.port, options.timeouts, options.resolver));
    if (url.scheme == Scheme::Http)
        return std::unique_ptr<Connection>(std::move(socket));
    return tls_connect(std::move(socket), url.host, options.tls);
}

} // namespace

Response::Response(std::unique_ptr<Connection> connection, ResponseHead head, BodyLength body,
                   std::string buffered, Url url)
    : m_connection(std::move(connection)), m_head(std::move(head)), m_body(std::move(body)),
      m_remaining(m_body.length), m_buffered(std::move(buffered)), m_url(std::move(url)) {
    m_finished = m_body.framing == BodyFraming::None ||
                 (m_body.framing == BodyFraming::ContentLength && m_remaining == 0);
}

Response::~Response() = default;

std::optional<uint64_t> Response::content_length() const {
    if (m_body.framing == BodyFraming::ContentLength)
        return m_body.length;
    return std::nullopt;
}

Result<bool> Response::fill() {
    if (m_buffered_offset == m_buffered.size()) {
        m_buffered.clear();
        m_buffered_offset = 0;
    }
    size_t old_size = m_buffered.size();
    m_buffered.resize(old_size + kReadSize);
    Result<size_t> n = m_connection->read_some(m_buffered.data() + old_size, kReadSize);
    m_buffered.resize(old_size + (n ? *n : 0));
    if (!n)
        return std::unexpected(std::move(n.error()).wrap(cat("read response from ", m_url.host)));
    return *n > 0;
}

Result<size_t> Response::read(char* buffer, size_t size) {
    if (m_finished || size == 0)
        return 0;
    switch (m_body.framing) {
    case BodyFraming::None:
        return 0;
    case BodyFraming::ContentLength:
    case BodyFraming::UntilClose: {
        if (m_buffered_offset == m_buffered.size()) {
            bool more = TRY(fill());
            if (!more) {
                if (m_body.framing == BodyFraming::UntilClose) {
                    m_finished = true;
                    return 0;
                }
                return errno_error(EPIPE, cat("response from ", m_url.host, " ended after ",
                                              m_body.length - m_remaining, " of ", m_body.length,
                                              " bytes"));
            }
        }
        size_t take = std::min(size, m_buffered.size() - m_buffered_offset);
        if (m_body.framing == BodyFraming::ContentLength)
            take = size_t(std::min<uint64_t>(take, m_remaining));
        std::memcpy(buffer, m_buffered.data() + m_buffered_offset, take);
        m_buffered_offset += take;
        if (m_body.framing == BodyFraming::ContentLength) {
            m_remaining -= take;
            m_finished = m_remaining == 0;
        }
        return take;
    }
    case BodyFraming::Chunked: {
        while (m_decoded_offset == m_decoded.size()) {
            m_decoded.clear();
            m_decoded_offset = 0;
            if (m_decoder.done()) {
                m_finished = true;
                return 0;
            }
            if (m_buffered_offset == m_buffered.size()) {
                bool more = TRY(fill());
                if (!more)
                    return errno_error(EPIPE, cat("chunked response from ", m_url.host,
                                                  " ended before its last chunk"));
            }
            size_t used = TRY_CTX(
                m_decoder.decode(std::string_view(m_buffered).substr(m_buffered_offset), m_decoded),
                cat("response from ", m_url.host));
            m_buffered_offset += used;
        }
        size_t take = std::min(size, m_decoded.size() - m_decoded_offset);
        std::memcpy(buffer, m_decoded.data() + m_decoded_offset, take);
        m_decoded_offset += take;
        return take;
    }
    }
    return 0;
}

Result<std::string> Response::read_body(size_t limit) {
    std::string body;
    char buffer[16384];
    for (;;) {
        size_t n = TRY(read(buffer, sizeof buffer));
        if (n == 0)
            return body;
        if (body.size() + n > limit)
            return error(cat("response from ", m_url.host, " is larger than ", limit, " bytes"));
        body.append(buffer, n);
    }
}

Result<Response> send_request(const Request& request, const ClientOptions& options) {
    std::string text = TRY(request_text(request));
    std::unique_ptr<Connection> connection = TRY(open_connection(request.url, options));
    TRY_CTX(connection->write_all(text), cat("send request to ", request.url.host));

    std::string buffered;
    for (;;) {
        std::optional<size_t> end;
        while (!(end = find_head_end(buffered))) {
            if (buffered.size() > kMaxHeadBytes)
                return error(cat("response from ", request.url.host, ": header larger than ",
                                 kMaxHeadBytes, " bytes"));
            char chunk[16384];
            size_t n = TRY_CTX(connection->read_some(chunk, sizeof chunk),
                               cat("read response from ", request.url.host));
            if (n == 0)
                return errno_error(EPIPE, cat(request.url.host, " closed the connection ",
                                              buffered.empty() ? "without a response"
                                                               : "inside the response header"));
            buffered.append(chunk, n);
        }
        ResponseHead head = TRY_CTX(parse_response_head(std::string_view(buffered).substr(0, *end)),
                                    cat("response from ", request.url.host));
        buffered.erase(0, *end);
        if (head.status == 101)
            return error(cat(request.url.host, " switched protocols unasked"));
        if (head.status < 200)
            continue; // 100 Continue, 103 Early Hints: the real response follows
        RequestKind kind = request.method == "HEAD" ? RequestKind::Head : RequestKind::Other;
        BodyLength body = TRY_CTX(body_length(head, kind), cat("response from ", request.url.host));
        return Response(std::move(connection), std::move(head), std::move(body),
                        std::move(buffered), request.url);
    }
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Result<Response> fetch(Request request, const ClientOptions& options) {
    for (int redirects = 0;; ++redirects) {
        Response response = TRY(send_request(request, options));
        if (!is_redirect(response.status()))
            return response;
        std::optional<std::string_view> location = response.headers().get("Location");
        if (!location)
            return response; // a redirect without a target: the caller sees the status
        if (redirects >= options.max_redirects)
            return error(
                cat("more than ", options.max_redirects, " redirects from ", request.url.str()));
        Url next = TRY_CTX(resolve_reference(request.url, *location),
                           cat("redirect from ", request.url.str()));
        if (request.url.scheme == Scheme::Https && next.scheme == Scheme::Http)
            return error(cat("redirect from ", request.url.str(), " to plain http refused"));
        if (!next.same_origin(request.url)) {
            request.headers.remove("Authorization");
            request.headers.remove("Cookie");
        }
        if (response.status() == 303 && request.method != "HEAD")
            request.method = "GET";
        request.url = std::move(next);
    }
}

} // namespace keel::net
