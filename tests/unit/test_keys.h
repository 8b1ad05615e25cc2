// Key pairs for signature tests (live patches, update payloads): made with
// mbedTLS (RSA, EC) or base/ed25519.h (Ed25519) at test time, as PEM text.
#pragma once

#include "base/ed25519.h"

#include <doctest/doctest.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include <random>
#include <string>
#include <string_view>

namespace keel::testing {

/// A key pair as PEM text.
struct KeyPair {
    std::string private_pem;
    std::string public_pem;
};

/// A new EC P-256 (MBEDTLS_PK_ECKEY) or RSA key of `rsa_bits` bits.
inline KeyPair make_key(mbedtls_pk_type_t type, unsigned rsa_bits = 2048) {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context random;
    mbedtls_pk_context key;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&random);
    mbedtls_pk_init(&key);
    REQUIRE(mbedtls_ctr_drbg_seed(&random, mbedtls_entropy_func, &entropy, nullptr, 0) == 0);
    REQUIRE(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(type)) == 0);
    if (type == MBEDTLS_PK_ECKEY)
        REQUIRE(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                    mbedtls_ctr_drbg_random, &random) == 0);
    else
        REQUIRE(mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, &random, rsa_bits,
                                    65537) == 0);
    KeyPair pair;
    std::string buffer(16000, '\0');
    auto* data = reinterpret_cast<unsigned char*>(buffer.data());
    REQUIRE(mbedtls_pk_write_key_pem(&key, data, buffer.size()) == 0);
    pair.private_pem = buffer.c_str();
    REQUIRE(mbedtls_pk_write_pubkey_pem(&key, data, buffer.size()) == 0);
    pair.public_pem = buffer.c_str();
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&random);
    mbedtls_entropy_free(&entropy);
    return pair;
}

/// `der` as PEM text under `label` ("PUBLIC KEY"), in lines of 64
/// characters, as OpenSSL writes it.
inline std::string pem_text(std::string_view der, std::string_view label) {
    std::string base64(4 * (der.size() + 2) / 3 + 1, '\0');
    size_t length = 0;
    REQUIRE(mbedtls_base64_encode(reinterpret_cast<unsigned char*>(base64.data()), base64.size(),
                                  &length, reinterpret_cast<const unsigned char*>(der.data()),
                                  der.size()) == 0);
    base64.resize(length);
    std::string text = "-----BEGIN " + std::string(label) + "-----\n";
    for (size_t i = 0; i < base64.size(); i += 64)
        text += base64.substr(i, 64) + "\n";
    return text + "-----END " + std::string(label) + "-----\n";
}

/// RFC 8410's DER before an Ed25519 key's 32 bytes: PKCS#8 version 0 (the
/// seed) and SubjectPublicKeyInfo (the public key), as `openssl genpkey
/// -algorithm ed25519` and `openssl pkey -pubout` write them.
inline const std::string kEd25519PrivateDerPrefix("\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70"
                                                  "\x04\x22\x04\x20",
                                                  16);
inline const std::string kEd25519PublicDerPrefix("\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00",
                                                 12);

/// A new Ed25519 key pair, from a random seed.
inline KeyPair make_ed25519_key() {
    std::random_device random;
    Ed25519Seed seed;
    for (uint8_t& byte : seed)
        byte = uint8_t(random());
    Ed25519PublicKey public_key = ed25519_public_key(seed);
    KeyPair pair;
    pair.private_pem =
        pem_text(kEd25519PrivateDerPrefix + std::string(seed.begin(), seed.end()), "PRIVATE KEY");
    pair.public_pem = pem_text(
        kEd25519PublicDerPrefix + std::string(public_key.begin(), public_key.end()), "PUBLIC KEY");
    return pair;
}

} // namespace keel::testing
