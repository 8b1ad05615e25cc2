// Walks X.509 extensions (RFC 5280, 4.1 and 4.2.1.6) with mbedTLS's ASN.1
// readers, which check every length against the end of the buffer.
#include "kv/tls_names.h"

#include "base/strings.h"

#include <arpa/inet.h>
#include <cstring>
#include <sys/socket.h>

#include <mbedtls/asn1.h>

namespace keel::kv {

namespace {

// id-ce-subjectAltName, 2.5.29.17.
constexpr std::string_view kSubjectAltNameOid = "\x55\x1d\x11";
// GeneralName's iPAddress: [7] IMPLICIT OCTET STRING.
constexpr unsigned char kIpAddressTag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;
constexpr int kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;

bool ip_addresses_in_names(unsigned char* p, const unsigned char* end,
                           std::vector<std::string>& out) {
    size_t length = 0;
    if (mbedtls_asn1_get_tag(&p, end, &length, kSequence) != 0 || p + length != end)
        return false;
    while (p < end) {
        unsigned char tag = *p++;
        if (mbedtls_asn1_get_len(&p, end, &length) != 0)
            return false;
        if (tag == kIpAddressTag)
            out.emplace_back(reinterpret_cast<const char*>(p), length);
        p += length;
    }
    return true;
}

} // namespace

std::optional<std::vector<std::string>> certificate_ip_addresses(std::string_view extensions) {
    std::vector<std::string> out;
    if (extensions.empty())
        return out;
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(extensions.data()));
    const unsigned char* end = p + extensions.size();
    size_t length = 0;
    // The [3] EXPLICIT wrapper, if the bytes still have it.
    if (mbedtls_asn1_get_tag(&p, end, &length,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) == 0) {
        if (p + length != end)
            return std::nullopt;
    }
    if (mbedtls_asn1_get_tag(&p, end, &length, kSequence) != 0 || p + length != end)
        return std::nullopt;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &length, kSequence) != 0)
            return std::nullopt;
        const unsigned char* extension_end = p + length;
        size_t oid_length = 0;
        if (mbedtls_asn1_get_tag(&p, extension_end, &oid_length, MBEDTLS_ASN1_OID) != 0)
            return std::nullopt;
        bool names =
            std::string_view(reinterpret_cast<const char*>(p), oid_length) == kSubjectAltNameOid;
        p += oid_length;
        int critical = 0;
        (void)mbedtls_asn1_get_bool(&p, extension_end, &critical); // optional field
        size_t value_length = 0;
        if (mbedtls_asn1_get_tag(&p, extension_end, &value_length, MBEDTLS_ASN1_OCTET_STRING) !=
                0 ||
            p + value_length != extension_end)
            return std::nullopt;
        if (names && !ip_addresses_in_names(p, extension_end, out))
            return std::nullopt;
        p += value_length;
    }
    return out;
}

std::string ip_address_text(std::string_view address) {
    char text[INET6_ADDRSTRLEN] = "?";
    int family = address.size() == 4 ? AF_INET : address.size() == 16 ? AF_INET6 : 0;
    if (family == 0 || !::inet_ntop(family, address.data(), text, sizeof text))
        return "?";
    return text;
}

bool certificate_is_for_host(std::string_view host, const std::vector<std::string>& dns_names,
                             const std::vector<std::string>& addresses) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    std::string text(host);
    unsigned char binary[16];
    size_t binary_size = 0;
    if (::inet_pton(AF_INET, text.c_str(), binary) == 1)
        binary_size = 4;
    else if (::inet_pton(AF_INET6, text.c_str(), binary) == 1)
        binary_size = 16;
    if (binary_size) {
        std::string_view wanted(reinterpret_cast<const char*>(binary), binary_size);
        static constexpr std::string_view kV4Mapped("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
        for (std::string_view address : addresses) {
            if (address.size() == 16 && binary_size == 4 && address.starts_with(kV4Mapped))
                address.remove_prefix(12);
            if (address == wanted)
                return true;
        }
        return false;
    }
    std::string name = ascii_lower(host);
    if (name.ends_with('.'))
        name.pop_back();
    if (name.empty())
        return false;
    for (const std::string& dns_name : dns_names) {
        std::string pattern = ascii_lower(dns_name);
        if (pattern.ends_with('.'))
            pattern.pop_back();
        if (pattern == name)
            return true;
        // "*.rest" stands for one label followed by ".rest".
        if (pattern.size() > 2 && pattern.starts_with("*.")) {
            size_t dot = name.find('.');
            if (dot != std::string::npos && dot > 0 &&
                std::string_view(name).substr(dot) == std::string_view(pattern).substr(1))
                return true;
        }
    }
    return false;
}

} // namespace keel::kv
