// Tests: `-p` specs, the container's resolv.conf, address allocation, lease
// files read back and refused when malformed, the rule set made from leases.
#include "containers/network.h"

#include <doctest/doctest.h>

#include <string>

using namespace keel::containers;

namespace {

std::string port_mapping_error(std::string_view spec) {
    auto parsed = parse_port_mapping(spec);
    REQUIRE(!parsed);
    return parsed.error().to_string();
}

NetworkAttachment sample_attachment() {
    NetworkAttachment attachment;
    attachment.container_id = "web";
    attachment.bridge = "keel0";
    attachment.subnet = "10.88.0.0/16";
    attachment.address = "10.88.0.2";
    attachment.gateway = "10.88.0.1";
    attachment.host_interface = "keel0a580002";
    attachment.ports = {*parse_port_mapping("8080:80"), *parse_port_mapping("127.0.0.1:53:53/udp")};
    return attachment;
}

} // namespace

TEST_CASE("-p takes Docker's forms: host:container, with an address, with a protocol") {
    auto plain = parse_port_mapping("8080:80");
    REQUIRE(plain);
    CHECK(plain->host_port == 8080);
    CHECK(plain->container_port == 80);
    CHECK(plain->protocol == Protocol::Tcp);
    CHECK(plain->host_ip.empty());

    auto full = parse_port_mapping("127.0.0.1:5353:53/udp");
    REQUIRE(full);
    CHECK(full->host_ip == "127.0.0.1");
    CHECK(full->host_port == 5353);
    CHECK(full->container_port == 53);
    CHECK(full->protocol == Protocol::Udp);
    CHECK(format_port_mapping(*full) == "127.0.0.1:5353:53/udp");

    auto any = parse_port_mapping("0.0.0.0:80:80/tcp");
    REQUIRE(any);
    CHECK(any->host_ip.empty());
}

TEST_CASE("a bad -p spec is refused, naming what is wrong") {
    CHECK(port_mapping_error("0").find("container port `0` is not a port") != std::string::npos);
    CHECK(port_mapping_error("::80").find("is not an IPv4 address") != std::string::npos);
    CHECK(port_mapping_error("1.2.3.4::").find("container port ``") != std::string::npos);
    CHECK(port_mapping_error("80:80/sctp").find("unknown protocol `sctp`") != std::string::npos);
    CHECK(port_mapping_error("0:80").find("host port `0` is not a port") != std::string::npos);
    CHECK(port_mapping_error("80:65536").find("container port `65536`") != std::string::npos);
    CHECK(port_mapping_error("1.2.3:80:80").find("`1.2.3` is not an IPv4 address") !=
          std::string::npos);
    CHECK(port_mapping_error("[::1]:80:80").find("IPv6") != std::string::npos);
    CHECK(port_mapping_error("a:b:c:d").find("expected") != std::string::npos);
    CHECK(port_mapping_error(":80").find("host port ``") != std::string::npos);
    CHECK(port_mapping_error("80:80/").find("unknown protocol ``") != std::string::npos);
    CHECK(port_mapping_error("8080-8081:80").find("host port") != std::string::npos);
}

TEST_CASE("-p CONTAINER_PORT and -p IP::CONTAINER_PORT publish on a host port chosen later") {
    auto alone = parse_port_mapping("80");
    REQUIRE(alone);
    CHECK(alone->host_port == 0);
    CHECK(alone->container_port == 80);
    CHECK(alone->host_ip.empty());
    CHECK(format_port_mapping(*alone) == "80/tcp");

    auto on_address = parse_port_mapping("127.0.0.1::53/udp");
    REQUIRE(on_address);
    CHECK(on_address->host_port == 0);
    CHECK(on_address->host_ip == "127.0.0.1");
    CHECK(on_address->protocol == Protocol::Udp);
    CHECK(format_port_mapping(*on_address) == "127.0.0.1::53/udp");
    auto again = parse_port_mapping(format_port_mapping(*on_address));
    REQUIRE(again);
    CHECK(again->host_ip == "127.0.0.1");
    CHECK(again->container_port == 53);
}

TEST_CASE("published ports read as docker ps and docker port show them") {
    PortMapping any = *parse_port_mapping("32768:80");
    PortMapping local = *parse_port_mapping("127.0.0.1:5353:53/udp");
    std::vector<PortMapping> ports = {any, local};
    CHECK(published_ports_text(ports) == "0.0.0.0:32768->80/tcp, 127.0.0.1:5353->53/udp");
    CHECK(published_ports_text({}) == "");
    CHECK(ports_for(ports, "").size() == 2);
    REQUIRE(ports_for(ports, "80").size() == 1);
    CHECK(ports_for(ports, "80")[0].host_port == 32768);
    CHECK(ports_for(ports, "80/udp").empty());
    REQUIRE(ports_for(ports, "53/udp").size() == 1);
    CHECK(ports_for(ports, "53/udp")[0].host_ip == "127.0.0.1");
    CHECK(ports_for(ports, "53/sctp").empty());
}

TEST_CASE("a container's resolv.conf drops loopback nameservers and keeps search and options") {
    std::string host = "# managed\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n"
                       "nameserver ::1\nsearch example.com\noptions edns0 trust-ad\n";
    CHECK(container_resolv_conf(host) ==
          "# managed\nnameserver 192.0.2.1\nsearch example.com\noptions edns0 trust-ad\n");
}

TEST_CASE("with only loopback nameservers the container gets Docker's public fallback") {
    std::string conf = container_resolv_conf("nameserver 127.0.0.53\noptions edns0\n");
    CHECK(conf == "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    CHECK(container_resolv_conf("") == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST_CASE("addresses are leased lowest first, after the gateway, and never twice") {
    Ipv4Subnet subnet = *parse_subnet("10.88.0.0/16");
    CHECK(format_ipv4(*allocate_address(subnet, {})) == "10.88.0.2");
    std::vector<Ipv4Address> taken = {*parse_ipv4("10.88.0.3"), *parse_ipv4("10.88.0.2")};
    CHECK(format_ipv4(*allocate_address(subnet, taken)) == "10.88.0.4");
    taken = {*parse_ipv4("10.88.0.3")};
    CHECK(format_ipv4(*allocate_address(subnet, taken)) == "10.88.0.2");
}

TEST_CASE("a full subnet says so") {
    Ipv4Subnet tiny = *parse_subnet("192.168.7.0/30"); // gateway .1, one container .2
    std::vector<Ipv4Address> taken = {*parse_ipv4("192.168.7.2")};
    auto full = allocate_address(tiny, taken);
    REQUIRE(!full);
    CHECK(full.error().code() == ENOSPC);
}

TEST_CASE("the host end of a veth pair is named after the container's address") {
    CHECK(host_interface_name(*parse_ipv4("10.88.0.2")) == "keel0a580002");
    CHECK(host_interface_name(*parse_ipv4("255.255.255.254")).size() <= 15);
}

TEST_CASE("a lease file reads back as it was written") {
    NetworkAttachment attachment = sample_attachment();
    auto parsed = parse_attachment_json(attachment_json(attachment));
    REQUIRE(parsed);
    CHECK(parsed->container_id == "web");
    CHECK(parsed->address == "10.88.0.2");
    CHECK(parsed->host_interface == "keel0a580002");
    REQUIRE(parsed->ports.size() == 2);
    CHECK(format_port_mapping(parsed->ports[1]) == "127.0.0.1:53:53/udp");
}

TEST_CASE("a malformed lease file is refused, naming the field") {
    auto refused = [](std::string text, std::string_view expected) {
        auto parsed = parse_attachment_json(text);
        REQUIRE(!parsed);
        CAPTURE(parsed.error().to_string());
        CHECK(parsed.error().to_string().find(expected) != std::string::npos);
    };
    std::string good = attachment_json(sample_attachment());
    auto replace = [&](std::string_view from, std::string_view to) {
        std::string text = good;
        text.replace(text.find(from), from.size(), to);
        return text;
    };
    refused("{", "line 1");
    refused("[]", "expected an object");
    refused(replace(R"("address":"10.88.0.2")", R"("address":"10.99.0.2")"), "address");
    refused(replace(R"("address":"10.88.0.2")", R"("address":"10.88.0.1")"), "address");
    refused(replace(R"("gateway":"10.88.0.1")", R"("gateway":"10.88.0.9")"), "gateway");
    refused(replace(R"("subnet":"10.88.0.0/16")", R"("subnet":"10.88.0.0/99")"), "subnet");
    refused(replace(R"("interface":"keel0a580002")", R"("interface":"a-very-long-interface")"),
            "interface");
    refused(replace(R"("bridge":"keel0")", R"("bridge":"../x")"), "bridge");
    refused(replace(R"("host_port":8080)", R"("host_port":0)"), "host_port");
    refused(replace(R"("protocol":"tcp")", R"("protocol":"icmp")"), "protocol");
    refused(replace(R"("id":"web")", R"("id":"")"), "id");
    refused(replace(R"("id":"web")", R"("id":7)"), "id");
}

TEST_CASE("the rule set names each bridge once and publishes every lease's ports") {
    NetworkAttachment first = sample_attachment();
    NetworkAttachment second = sample_attachment();
    second.container_id = "db";
    second.address = "10.88.0.3";
    second.ports = {*parse_port_mapping("5432:5432")};
    std::vector<NetworkAttachment> leases = {first, second};
    auto ruleset = ruleset_for(leases);
    REQUIRE(ruleset);
    REQUIRE(ruleset->bridges.size() == 1);
    CHECK(ruleset->bridges[0].name == "keel0");
    REQUIRE(ruleset->ports.size() == 3);
    CHECK(format_ipv4(ruleset->ports[2].container_address) == "10.88.0.3");
    CHECK(ruleset->ports[1].protocol == Protocol::Udp);
    CHECK(format_ipv4(ruleset->ports[1].host_address) == "127.0.0.1");
    CHECK(ruleset->ports[0].host_address.value == 0);
}
