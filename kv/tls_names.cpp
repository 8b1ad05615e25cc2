// Walks X.509 extensions (RFC 5280, 4.1 and 4.2.1.6) with mbedTLS's ASN.1
// readers, which check every length against the end of the buffer.
#include "kv/tls_names.h"

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

} // namespace keel::kv
