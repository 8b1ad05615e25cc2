// kv/tls_names.h: the IP addresses of a certificate's subjectAltName, read
// from hand-made DER (RFC 5280's Extensions), and malformed DER refused.
#include "kv/tls_names.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

std::string der(unsigned char tag, const std::string& content) {
    REQUIRE(content.size() < 128); // short-form lengths are enough here
    return std::string(1, char(tag)) + char(content.size()) + content;
}

// Extensions holding a basicConstraints (critical) and a subjectAltName
// with `names` (GeneralName DER, concatenated).
std::string extensions_with(const std::string& names) {
    std::string basic =
        der(0x30, der(0x06, "\x55\x1d\x13") + der(0x01, "\xff") + der(0x04, der(0x30, "")));
    std::string san = der(0x30, der(0x06, "\x55\x1d\x11") + der(0x04, der(0x30, names)));
    return der(0x30, basic + san);
}

} // namespace

TEST_CASE("a certificate's IP addresses are its subjectAltName's iPAddress entries") {
    std::string names = der(0x82, "localhost") + der(0x87, std::string("\x7f\x00\x00\x01", 4)) +
                        der(0x87, std::string(15, '\0') + "\x01");
    auto addresses = certificate_ip_addresses(extensions_with(names));
    REQUIRE(addresses);
    REQUIRE(addresses->size() == 2);
    CHECK(ip_address_text((*addresses)[0]) == "127.0.0.1");
    CHECK(ip_address_text((*addresses)[1]) == "::1");
    // With the [3] wrapper the certificate has around its extensions.
    auto wrapped = certificate_ip_addresses(der(0xa3, extensions_with(names)));
    REQUIRE(wrapped);
    CHECK(*wrapped == *addresses);
    // DNS names only, or no extensions: no address.
    CHECK(certificate_ip_addresses(extensions_with(der(0x82, "localhost")))->empty());
    CHECK(certificate_ip_addresses("")->empty());
    CHECK(ip_address_text("abc") == "?");
}

TEST_CASE("a certificate is for a host as Go's VerifyHostname decides") {
    std::vector<std::string> dns = {"member1.keel.test", "*.peers.keel.test", "Localhost."};
    std::vector<std::string> ips = {
        std::string("\x7f\x00\x00\x01", 4), std::string(15, '\0') + '\x01',
        std::string(10, '\0') + std::string("\xff\xff\x0a\x00\x00\x09", 6)};
    CHECK(certificate_is_for_host("member1.keel.test", dns, ips));
    CHECK(certificate_is_for_host("MEMBER1.keel.test.", dns, ips));
    CHECK(certificate_is_for_host("localhost", dns, ips));
    CHECK(certificate_is_for_host("m7.peers.keel.test", dns, ips));
    CHECK_FALSE(certificate_is_for_host("a.m7.peers.keel.test", dns, ips)); // one label only
    CHECK_FALSE(certificate_is_for_host("peers.keel.test", dns, ips));
    CHECK_FALSE(certificate_is_for_host(".peers.keel.test", dns, ips));
    CHECK_FALSE(certificate_is_for_host("member2.keel.test", dns, ips));
    CHECK(certificate_is_for_host("127.0.0.1", dns, ips));
    CHECK(certificate_is_for_host("::1", dns, ips));
    CHECK(certificate_is_for_host("[::1]", dns, ips));
    CHECK(certificate_is_for_host("10.0.0.9", dns, ips)); // a v4-mapped entry
    CHECK_FALSE(certificate_is_for_host("127.0.0.2", dns, ips));
    CHECK_FALSE(certificate_is_for_host("", dns, ips));
    // An address is never matched against DNS names, nor a name against addresses.
    CHECK_FALSE(certificate_is_for_host("127.0.0.1", {"127.0.0.1"}, {}));
}

TEST_CASE("extensions that are not well-formed DER are refused, not read past their end") {
    std::string good = extensions_with(der(0x87, std::string("\x0a\x00\x00\x01", 4)));
    for (size_t cut = 1; cut < good.size(); ++cut)
        CHECK_FALSE(certificate_ip_addresses(good.substr(0, cut)).has_value());
    std::string long_name = good;
    long_name[long_name.size() - 5] = '\x7f'; // the iPAddress claims 127 bytes
    CHECK_FALSE(certificate_ip_addresses(long_name).has_value());
    CHECK_FALSE(certificate_ip_addresses(std::string("\x30\x03\x02\x01\x00", 5)).has_value());
}
