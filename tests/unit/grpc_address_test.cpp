// Tests for kv/grpc_address.h: the endpoint addresses the gRPC server
// listens on and the client connects to.
#include "kv/grpc_address.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

using namespace keel::kv;

TEST_CASE("an IPv4 endpoint is address and port") {
    auto address = parse_grpc_address("127.0.0.1:2379");
    REQUIRE(address);
    const auto& in = reinterpret_cast<const sockaddr_in&>(address->storage);
    CHECK(in.sin_family == AF_INET);
    CHECK(ntohs(in.sin_port) == 2379);
    CHECK(ntohl(in.sin_addr.s_addr) == 0x7f000001);
    CHECK(address->text == "127.0.0.1:2379");
}

TEST_CASE("an IPv6 endpoint is in brackets, and http:// in front is accepted") {
    auto address = parse_grpc_address("http://[::1]:0");
    REQUIRE(address);
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address->storage);
    CHECK(in6.sin6_family == AF_INET6);
    CHECK(ntohs(in6.sin6_port) == 0);
    CHECK(address->text == "[::1]:0");
}

TEST_CASE("localhost is the one host name known") {
    auto address = parse_grpc_address("localhost:1");
    REQUIRE(address);
    CHECK(address->storage.ss_family == AF_INET);
    auto other = parse_grpc_address("example.com:1");
    REQUIRE(!other);
    CHECK(other.error().to_string().find("not a numeric IP address") != std::string::npos);
}

TEST_CASE("a unix socket endpoint takes unix:PATH and unix:///PATH") {
    for (const char* text : {"unix:/run/keel.sock", "unix:///run/keel.sock"}) {
        auto address = parse_grpc_address(text);
        REQUIRE(address);
        const auto& un = reinterpret_cast<const sockaddr_un&>(address->storage);
        CHECK(un.sun_family == AF_UNIX);
        CHECK(std::string(un.sun_path) == "/run/keel.sock");
    }
    CHECK(!parse_grpc_address("unix:"));
    CHECK(!parse_grpc_address("unix:/" + std::string(200, 'x')));
}

TEST_CASE("malformed endpoints are refused with what is wrong") {
    for (const char* bad :
         {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", ":2379", "::1:2379",
          "[::1]2379", "[::1", "[nonsense]:1", "1.2.3.4.5:1", "127.0.0.1:12ab"})
        CHECK_MESSAGE(!parse_grpc_address(bad), bad);
}
