// Key pairs for signature tests (live patches, update payloads): made with
// mbedTLS at test time, as PEM text.
#pragma once

#include <doctest/doctest.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include <string>

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

} // namespace keel::testing
