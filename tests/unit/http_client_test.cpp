// Tests for net/http_client.h against servers the test runs on 127.0.0.1:
// bodies framed by Content-Length and chunked, read in pieces; responses
// cut short; oversized heads; redirects with and without credentials;
// timeouts.
#include "net/http_client.h"

#include "base/fd.h"
#include "base/strings.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using namespace keel::net;

namespace {

// Serves one canned response per connection, in order, recording each
// request's head; `linger_ms` keeps the connection open after writing.
class LoopbackServer {
public:
    explicit LoopbackServer(std::vector<std::string> responses, int linger_ms = 0)
        : m_responses(std::move(responses)), m_linger_ms(linger_ms) {
        m_listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) ==
                0);
        REQUIRE(::listen(m_listener.get(), 8) == 0);
        socklen_t size = sizeof address;
        ::getsockname(m_listener.get(), reinterpret_cast<sockaddr*>(&address), &size);
        m_port = ntohs(address.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~LoopbackServer() { m_thread.join(); }

    uint16_t port() const { return m_port; }
    std::string url(std::string_view target = "/") const {
        return cat("http://127.0.0.1:", m_port, target);
    }
    std::vector<std::string> requests() {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

private:
    void serve() {
        for (const std::string& response : m_responses) {
            pollfd entry{m_listener.get(), POLLIN, 0};
            if (::poll(&entry, 1, 5000) <= 0)
                return; // the client did not come back (a test that failed early)
            Fd client(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
                if (n <= 0)
                    break;
                request.append(buffer, size_t(n));
            }
            {
                std::lock_guard lock(m_mutex);
                m_requests.push_back(request);
            }
            for (size_t sent = 0; sent < response.size();) {
                ssize_t n = ::send(client.get(), response.data() + sent, response.size() - sent,
                                   MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                sent += size_t(n);
            }
            if (m_linger_ms > 0)
                ::usleep(useconds_t(m_linger_ms) * 1000);
        }
    }

    Fd m_listener;
    uint16_t m_port = 0;
    std::vector<std::string> m_responses;
    int m_linger_ms;
    std::mutex m_mutex;
    std::vector<std::string> m_requests;
    std::thread m_thread;
};

Request get_request(std::string_view url) {
    Request request;
    request.url = parse_url(url).value();
    return request;
}

ClientOptions quick_client_options() {
    ClientOptions options;
    options.timeouts.connect = std::chrono::milliseconds(2000);
    options.timeouts.idle = std::chrono::milliseconds(2000);
    return options;
}

// Reads the body 7 bytes at a time (pieces that straddle the framing).
Result<std::string> read_in_pieces(Response& response) {
    std::string body;
    char buffer[7];
    for (;;) {
        size_t n = TRY(response.read(buffer, sizeof buffer));
        if (n == 0)
            return body;
        body.append(buffer, n);
    }
}

std::string big_body() {
    std::string body;
    for (int i = 0; i < 200000; ++i)
        body += char('a' + i % 26);
    return body;
}

} // namespace

TEST_CASE("a Content-Length body is read in pieces, and the request says what it asked") {
    std::string body = big_body();
    LoopbackServer server({cat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                               "\r\nDocker-Content-Digest: sha256:x\r\n\r\n", body)});
    Request request = get_request(server.url("/v2/tools/busybox/manifests/1"));
    request.headers.add("Accept", "application/vnd.oci.image.index.v1+json");
    Response response = send_request(request, quick_client_options()).value();
    CHECK(response.status() == 200);
    CHECK(response.content_length() == body.size());
    CHECK(response.headers().get("docker-content-digest") == "sha256:x");
    CHECK(read_in_pieces(response).value() == body);
    std::string sent = server.requests().at(0);
    CHECK(starts_with(sent, "GET /v2/tools/busybox/manifests/1 HTTP/1.1\r\n"));
    CHECK(sent.find(cat("\r\nHost: 127.0.0.1:", server.port(), "\r\n")) != std::string::npos);
    CHECK(sent.find("\r\nAccept: application/vnd.oci.image.index.v1+json\r\n") !=
          std::string::npos);
}

TEST_CASE("a chunked body is decoded, and a body until close is read to the end") {
    LoopbackServer server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n",
                           "HTTP/1.0 200 OK\r\n\r\nuntil the end"});
    Response chunked = send_request(get_request(server.url()), quick_client_options()).value();
    CHECK(read_in_pieces(chunked).value() == "hello world!");
    Response until_close = send_request(get_request(server.url()), quick_client_options()).value();
    CHECK(until_close.read_body(1024).value() == "until the end");
}

TEST_CASE("a response cut short is an error, not a short body") {
    LoopbackServer server({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                           "HTTP/1.1 200 OK\r\nContent-Le", ""});
    Response short_length = send_request(get_request(server.url()), quick_client_options()).value();
    Result<std::string> body = short_length.read_body(1024);
    REQUIRE(!body);
    CHECK(body.error().to_string().find("ended after 9 of 100 bytes") != std::string::npos);
    Response short_chunked =
        send_request(get_request(server.url()), quick_client_options()).value();
    CHECK(!short_chunked.read_body(1024));
    CHECK(!send_request(get_request(server.url()), quick_client_options()));
    CHECK(!send_request(get_request(server.url()), quick_client_options()));
}

TEST_CASE("an oversized or malformed response head is refused") {
    std::string huge = "HTTP/1.1 200 OK\r\n";
    while (huge.size() <= kMaxHeadBytes + 100)
        huge += "X-Filler: " + std::string(100, 'x') + "\r\n";
    LoopbackServer server({huge + "\r\n", "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"});
    for (int i = 0; i < 3; ++i)
        CHECK(!send_request(get_request(server.url()), quick_client_options()));
    LoopbackServer body_limit({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"});
    CHECK(!send_request(get_request(body_limit.url()), quick_client_options())->read_body(9));
}

TEST_CASE("interim 1xx responses are skipped") {
    LoopbackServer server({"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"});
    Response response = send_request(get_request(server.url()), quick_client_options()).value();
    CHECK(response.status() == 204);
    CHECK(response.read_body(10).value().empty());
}

TEST_CASE("a redirect to another origin does not carry Authorization, one to the same does") {
    LoopbackServer storage({"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nblob"});
    LoopbackServer registry(
        {"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/moved\r\nContent-Length: 0\r\n\r\n",
         cat("HTTP/1.1 302 Found\r\nLocation: ", storage.url("/blob?sig=1"),
             "\r\nContent-Length: 0\r\n\r\n")});
    Request request = get_request(registry.url("/v2/blobs/sha256:x"));
    request.headers.add("Authorization", "Bearer secret-token");
    Response response = fetch(request, quick_client_options()).value();
    CHECK(response.status() == 200);
    CHECK(response.url().port == storage.port());
    CHECK(response.read_body(10).value() == "blob");
    std::vector<std::string> asked = registry.requests();
    REQUIRE(asked.size() == 2);
    CHECK(asked[0].find("Authorization: Bearer secret-token") != std::string::npos);
    CHECK(starts_with(asked[1], "GET /v2/moved HTTP/1.1"));
    CHECK(asked[1].find("Authorization: Bearer secret-token") != std::string::npos);
    std::string at_storage = storage.requests().at(0);
    CHECK(starts_with(at_storage, "GET /blob?sig=1 HTTP/1.1"));
    CHECK(at_storage.find("Authorization") == std::string::npos);
}

TEST_CASE("redirect loops end after the limit") {
    std::vector<std::string> responses(4, "HTTP/1.1 302 Found\r\nLocation: /again\r\n\r\n");
    LoopbackServer server(responses);
    ClientOptions options = quick_client_options();
    options.max_redirects = 3;
    Result<Response> response = fetch(get_request(server.url()), options);
    REQUIRE(!response);
    CHECK(response.error().to_string().find("more than 3 redirects") != std::string::npos);
}

TEST_CASE("a server that stops sending times out, and a closed port is refused") {
    LoopbackServer server({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"}, 1500);
    ClientOptions options = quick_client_options();
    options.timeouts.idle = std::chrono::milliseconds(200);
    Response response = send_request(get_request(server.url()), options).value();
    Result<std::string> body = response.read_body(100);
    REQUIRE(!body);
    CHECK(body.error().code() == ETIMEDOUT);

    uint16_t closed_port = 0;
    {
        LoopbackServer gone({});
        closed_port = gone.port();
    }
    Result<Response> refused =
        send_request(get_request(cat("http://127.0.0.1:", closed_port, "/")), options);
    REQUIRE(!refused);
    CHECK(refused.error().code() == ECONNREFUSED);
}

TEST_CASE("request headers with line breaks are refused before anything is sent") {
    Request request = get_request("http://127.0.0.1:9/");
    request.headers.add("X-Injected", "a\r\nHost: evil");
    CHECK(!send_request(request, quick_client_options()));
}
