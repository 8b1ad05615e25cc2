// Tests for net/resolver.h: literals, /etc/hosts, resolv.conf, the DNS
// message codec on good and malformed responses, and lookups against a
// DNS server the test runs on loopback (UDP, and TCP after truncation).
#include "net/resolver.h"

#include "base/fd.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
#include <poll.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using namespace keel::net;

namespace {

void put16(std::string& out, uint16_t value) {
    out += char(value >> 8);
    out += char(value & 0xff);
}

std::string encode_name(std::string_view name) {
    std::string out;
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos)
            dot = name.size();
        out += char(dot - start);
        out += name.substr(start, dot - start);
        start = dot + 1;
    }
    out += '\0';
    return out;
}

// A response to `query` (id and question copied) with the given answers
// (already encoded) and flags.
std::string response_to(std::string_view query, uint16_t flags, uint16_t answers,
                        std::string_view records) {
    std::string out;
    out += query.substr(0, 2);
    put16(out, flags);
    put16(out, 1);
    put16(out, answers);
    put16(out, 0);
    put16(out, 0);
    out += query.substr(12);
    out += records;
    return out;
}

// An A record owned by the name at offset 12 (the question's), by pointer.
std::string a_record(const char (&address)[5]) {
    std::string out;
    put16(out, 0xc00c);
    put16(out, kDnsTypeA);
    put16(out, 1);
    put16(out, 0);
    put16(out, 60);
    put16(out, 4);
    out.append(address, 4);
    return out;
}

// A UDP and TCP DNS server on one loopback port, answering A queries with
// 192.0.2.7 (over UDP truncated when `truncate_udp`), AAAA with nothing.
class FakeDnsServer {
public:
    explicit FakeDnsServer(bool truncate_udp) : m_truncate_udp(truncate_udp) {
        m_udp.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(m_udp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t size = sizeof address;
        ::getsockname(m_udp.get(), reinterpret_cast<sockaddr*>(&address), &size);
        m_port = ntohs(address.sin_port);
        m_tcp.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        int one = 1;
        ::setsockopt(m_tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        REQUIRE(::bind(m_tcp.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(m_tcp.get(), 4) == 0);
        m_thread = std::thread([this] { serve(); });
    }
    ~FakeDnsServer() {
        m_stop = true;
        m_thread.join();
    }
    uint16_t port() const { return m_port; }
    int tcp_queries() const { return m_tcp_queries; }

private:
    std::string answer(std::string_view query, bool over_udp) {
        uint16_t type = uint16_t(static_cast<unsigned char>(query[query.size() - 4]) << 8 |
                                 static_cast<unsigned char>(query[query.size() - 3]));
        if (type != kDnsTypeA)
            return response_to(query, 0x8180, 0, "");
        if (over_udp && m_truncate_udp)
            return response_to(query, 0x8380, 0, "");
        return response_to(query, 0x8180, 1, a_record("\xc0\x00\x02\x07"));
    }
    void serve() {
        while (!m_stop) {
            pollfd fds[2] = {{m_udp.get(), POLLIN, 0}, {m_tcp.get(), POLLIN, 0}};
            if (::poll(fds, 2, 50) <= 0)
                continue;
            if (fds[0].revents & POLLIN) {
                char buffer[512];
                sockaddr_storage peer;
                socklen_t size = sizeof peer;
                ssize_t n = ::recvfrom(m_udp.get(), buffer, sizeof buffer, 0,
                                       reinterpret_cast<sockaddr*>(&peer), &size);
                if (n > 12) {
                    std::string reply = answer({buffer, size_t(n)}, true);
                    ::sendto(m_udp.get(), reply.data(), reply.size(), 0,
                             reinterpret_cast<sockaddr*>(&peer), size);
                }
            }
            if (fds[1].revents & POLLIN) {
                Fd client(::accept4(m_tcp.get(), nullptr, nullptr, SOCK_CLOEXEC));
                unsigned char length[2] = {};
                char buffer[512];
                ssize_t n = -1;
                if (::recv(client.get(), length, 2, MSG_WAITALL) == 2)
                    n = ::recv(client.get(), buffer,
                               std::min<size_t>(sizeof buffer, size_t(length[0] << 8 | length[1])),
                               MSG_WAITALL);
                if (n > 12) {
                    ++m_tcp_queries;
                    std::string reply = answer({buffer, size_t(n)}, false);
                    std::string framed;
                    put16(framed, uint16_t(reply.size()));
                    framed += reply;
                    (void)::write(client.get(), framed.data(), framed.size());
                }
            }
        }
    }

    Fd m_udp;
    Fd m_tcp;
    uint16_t m_port = 0;
    bool m_truncate_udp;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_tcp_queries{0};
    std::thread m_thread;
};

} // namespace

TEST_CASE("literal IPv4 and IPv6 addresses parse and print back") {
    CHECK(parse_ip_address("192.0.2.1")->str() == "192.0.2.1");
    CHECK(parse_ip_address("2001:db8::1")->family == AF_INET6);
    CHECK(parse_ip_address("2001:db8::1")->str() == "2001:db8::1");
    CHECK(!parse_ip_address("registry.example"));
    CHECK(!parse_ip_address("[::1]"));
    CHECK(!parse_ip_address("1.2.3.256"));
}

TEST_CASE("/etc/hosts gives every address of a name, comments and junk skipped") {
    std::string hosts = "127.0.0.1 localhost\n"
                        "# 10.0.0.1 registry.test\n"
                        "not-an-address registry.test\n"
                        "10.0.0.2\tother Registry.Test # comment\n"
                        "fd00::2 registry.test\n";
    std::vector<IpAddress> found = lookup_hosts(hosts, "registry.test.");
    REQUIRE(found.size() == 2);
    CHECK(found[0].str() == "10.0.0.2");
    CHECK(found[1].str() == "fd00::2");
    CHECK(lookup_hosts(hosts, "missing").empty());
}

TEST_CASE("resolv.conf gives nameservers, search list and options") {
    ResolvConf conf = parse_resolv_conf("# comment\nnameserver 10.0.0.53\nnameserver bogus\n"
                                        "nameserver ::1\nsearch a.example b.example\n"
                                        "options ndots:2 timeout:1 attempts:9 rotate\n");
    REQUIRE(conf.nameservers.size() == 2);
    CHECK(conf.nameservers[1].str() == "::1");
    CHECK(conf.search == std::vector<std::string>{"a.example", "b.example"});
    CHECK(conf.ndots == 2);
    CHECK(conf.timeout_seconds == 1);
    CHECK(conf.attempts == 5);
}

TEST_CASE("a DNS answer with a CNAME chain gives the addresses at its end") {
    std::string query = build_dns_query(0x1234, "registry.test", kDnsTypeA).value();
    std::string records;
    // registry.test CNAME cdn.test (name written out), cdn.test A 192.0.2.9
    put16(records, 0xc00c);
    put16(records, kDnsTypeCname);
    put16(records, 1);
    put16(records, 0);
    put16(records, 60);
    std::string target = encode_name("cdn.test");
    put16(records, uint16_t(target.size()));
    size_t target_offset = query.size() + records.size();
    records += target;
    put16(records, uint16_t(0xc000 | target_offset));
    put16(records, kDnsTypeA);
    put16(records, 1);
    put16(records, 0);
    put16(records, 60);
    put16(records, 4);
    records += std::string("\xc0\x00\x02\x09", 4);
    // An unrelated A record is ignored.
    std::string unrelated = encode_name("evil.test");
    records += unrelated;
    put16(records, kDnsTypeA);
    put16(records, 1);
    put16(records, 0);
    put16(records, 60);
    put16(records, 4);
    records += std::string("\x0a\x00\x00\x01", 4);
    DnsAnswer answer = parse_dns_response(response_to(query, 0x8180, 3, records), 0x1234,
                                          "registry.test", kDnsTypeA)
                           .value();
    REQUIRE(answer.addresses.size() == 1);
    CHECK(answer.addresses[0].str() == "192.0.2.9");
}

TEST_CASE("malformed DNS responses are refused") {
    std::string query = build_dns_query(7, "registry.test", kDnsTypeA).value();
    std::string good = response_to(query, 0x8180, 1, a_record("\x01\x02\x03\x04"));
    REQUIRE(parse_dns_response(good, 7, "registry.test", kDnsTypeA));
    auto refused = [](std::string_view packet) {
        return !parse_dns_response(packet, 7, "registry.test", kDnsTypeA);
    };
    CHECK(refused(good.substr(0, 11)));                              // shorter than a header
    CHECK(refused(good.substr(0, good.size() - 2)));                 // record data cut
    CHECK(refused(good.substr(0, query.size() + 5)));                // record header cut
    CHECK(!parse_dns_response(good, 8, "registry.test", kDnsTypeA)); // other id
    CHECK(!parse_dns_response(good, 7, "other.test", kDnsTypeA));    // other question
    std::string not_response = good;
    not_response[2] = 0x01;
    CHECK(refused(not_response));

    // A compression pointer to itself, and one pointing forwards.
    std::string loop = response_to(query, 0x8180, 1, "");
    size_t at = loop.size();
    put16(loop, uint16_t(0xc000 | at));
    loop += std::string(10, '\0');
    CHECK(refused(loop));
    std::string forward = response_to(query, 0x8180, 1, "");
    put16(forward, uint16_t(0xc000 | (forward.size() + 4)));
    forward += std::string(12, '\0');
    CHECK(refused(forward));
    // Two pointers to each other.
    std::string pair = response_to(query, 0x8180, 1, "");
    size_t first = pair.size();
    put16(pair, uint16_t(0xc000 | (first + 2)));
    put16(pair, uint16_t(0xc000 | first));
    CHECK(refused(pair));
    // A reserved label type.
    std::string reserved = response_to(query, 0x8180, 1, "");
    reserved += '\x40';
    reserved += std::string(12, '\0');
    CHECK(refused(reserved));
    // An A record with 5 bytes of data.
    std::string wide = response_to(query, 0x8180, 1, "");
    put16(wide, 0xc00c);
    put16(wide, kDnsTypeA);
    put16(wide, 1);
    put16(wide, 0);
    put16(wide, 0);
    put16(wide, 5);
    wide += std::string(5, '\1');
    CHECK(refused(wide));
    // A name longer than 255 bytes through pointers.
    std::string long_name = response_to(query, 0x8180, 1, "");
    size_t previous = 12;
    for (int i = 0; i < 40; ++i) {
        size_t here = long_name.size();
        long_name += '\x08';
        long_name += "abcdefgh";
        put16(long_name, uint16_t(0xc000 | previous));
        previous = here;
    }
    put16(long_name, uint16_t(0xc000 | previous));
    long_name += std::string(10, '\0');
    CHECK(refused(long_name));
}

TEST_CASE("names that no DNS message can carry are refused before sending") {
    CHECK(!build_dns_query(1, "", kDnsTypeA));
    CHECK(!build_dns_query(1, "a..b", kDnsTypeA));
    CHECK(!build_dns_query(1, std::string(64, 'a') + ".test", kDnsTypeA));
}

TEST_CASE("a host is found through a DNS server over UDP, and over TCP when truncated") {
    keel::testing::TempDir dir;
    REQUIRE(write_new_file(dir / "hosts", "127.0.0.1 localhost\n"));
    REQUIRE(write_new_file(dir / "resolv.conf", "nameserver 127.0.0.1\noptions timeout:2\n"));
    ResolverOptions options;
    options.hosts_file = dir / "hosts";
    options.resolv_conf = dir / "resolv.conf";

    SUBCASE("over UDP") {
        FakeDnsServer server(false);
        options.dns_port = server.port();
        std::vector<IpAddress> found = resolve_host("registry.test", options).value();
        REQUIRE(found.size() == 1);
        CHECK(found[0].str() == "192.0.2.7");
        CHECK(server.tcp_queries() == 0);
    }
    SUBCASE("over TCP after a truncated answer") {
        FakeDnsServer server(true);
        options.dns_port = server.port();
        std::vector<IpAddress> found = resolve_host("registry.test", options).value();
        REQUIRE(found.size() == 1);
        CHECK(found[0].str() == "192.0.2.7");
        CHECK(server.tcp_queries() == 1);
    }
    SUBCASE("from the hosts file without asking DNS") {
        CHECK(resolve_host("localhost", options).value().at(0).str() == "127.0.0.1");
    }
}

TEST_CASE("a nameserver that does not answer fails within the timeout") {
    keel::testing::TempDir dir;
    REQUIRE(write_new_file(dir / "resolv.conf", "nameserver 127.0.0.1\noptions attempts:1\n"));
    // A bound UDP socket that never answers.
    Fd silent(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(silent.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    ::getsockname(silent.get(), reinterpret_cast<sockaddr*>(&address), &size);
    ResolverOptions options;
    options.hosts_file = dir / "none";
    options.resolv_conf = dir / "resolv.conf";
    options.dns_port = ntohs(address.sin_port);
    options.timeout = std::chrono::milliseconds(100);
    uint64_t start = monotonic_usec();
    Result<std::vector<IpAddress>> found = resolve_host("registry.test", options);
    REQUIRE(!found);
    CHECK(found.error().to_string().find("registry.test") != std::string::npos);
    CHECK(monotonic_usec() - start < 2'000'000);
}
