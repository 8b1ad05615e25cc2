// Tests: dotted quads and CIDR subnets read and written.
#include "containers/ipv4.h"

#include <doctest/doctest.h>

using namespace keel::containers;

TEST_CASE("an IPv4 address reads and writes back the same") {
    auto address = parse_ipv4("10.88.0.2");
    REQUIRE(address);
    CHECK(address->value == 0x0a580002u);
    CHECK(format_ipv4(*address) == "10.88.0.2");
}

TEST_CASE("malformed IPv4 addresses are refused, quoting the text") {
    for (const char* bad : {"", "10.88.0", "10.88.0.2.1", "256.0.0.1", "10.088.0.1", "a.b.c.d",
                            "10..0.1", "10.88.0.-1", " 10.88.0.1", "1234.1.1.1"}) {
        CAPTURE(bad);
        auto parsed = parse_ipv4(bad);
        REQUIRE(!parsed);
        CHECK(parsed.error().to_string().find("is not an IPv4 address") != std::string::npos);
    }
}

TEST_CASE("a subnet knows its gateway, broadcast address and members") {
    auto subnet = parse_subnet("10.88.0.0/16");
    REQUIRE(subnet);
    CHECK(format_ipv4(subnet->first_host()) == "10.88.0.1");
    CHECK(format_ipv4(subnet->broadcast()) == "10.88.255.255");
    CHECK(subnet->contains(*parse_ipv4("10.88.7.9")));
    CHECK(!subnet->contains(*parse_ipv4("10.89.0.1")));
    CHECK(format_subnet(*subnet) == "10.88.0.0/16");
}

TEST_CASE("a subnet with host bits set is refused, naming its network") {
    auto parsed = parse_subnet("10.88.0.1/16");
    REQUIRE(!parsed);
    CHECK(parsed.error().to_string().find("10.88.0.0/16") != std::string::npos);
}

TEST_CASE("subnets too small or too large for a bridge are refused") {
    for (const char* bad : {"10.0.0.0/31", "10.0.0.0/32", "0.0.0.0/0", "10.0.0.0/7", "10.0.0.0",
                            "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/016"}) {
        CAPTURE(bad);
        CHECK(!parse_subnet(bad));
    }
    CHECK(parse_subnet("192.168.5.0/30"));
}
