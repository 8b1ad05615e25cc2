// The Hasher over both hash functions, and SHA-512 through mbedTLS
// (SHA-256 is keel's own: base/sha256.cpp).
#include "base/digest.h"

#include "base/strings.h"

#include <mbedtls/sha512.h>
#include <mbedtls/version.h>

namespace keel {

namespace {

// mbedTLS 2.x spells the non-deprecated calls with a _ret suffix; 3.x drops it.
#if MBEDTLS_VERSION_MAJOR >= 3
#define KEEL_SHA512(step) mbedtls_sha512_##step
#else
#define KEEL_SHA512(step) mbedtls_sha512_##step##_ret
#endif

} // namespace

// Both states, only one of them in use: small, and no allocation per
// function.
struct Hasher::State {
    HashFunction function;
    Sha256 sha256;
    mbedtls_sha512_context sha512;

    explicit State(HashFunction f) : function(f) {
        mbedtls_sha512_init(&sha512);
        KEEL_SHA512(starts)(&sha512, 0);
    }
    ~State() { mbedtls_sha512_free(&sha512); }
};

Hasher::Hasher(HashFunction function) : m_state(std::make_unique<State>(function)) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view data) {
    if (m_state->function == HashFunction::Sha256) {
        m_state->sha256.update(data);
        return;
    }
    auto bytes = reinterpret_cast<const unsigned char*>(data.data());
    KEEL_SHA512(update)(&m_state->sha512, bytes, data.size());
}

std::string Hasher::finish_hex() {
    if (m_state->function == HashFunction::Sha256) {
        Sha256Digest digest = m_state->sha256.finish();
        return to_hex(digest.data(), digest.size());
    }
    unsigned char digest[64];
    KEEL_SHA512(finish)(&m_state->sha512, digest);
    KEEL_SHA512(starts)(&m_state->sha512, 0);
    return to_hex(digest, sizeof digest);
}

std::string sha512_hex(std::string_view data) {
    Hasher hasher(HashFunction::Sha512);
    hasher.update(data);
    return hasher.finish_hex();
}

// Not past this file: a unity build compiles others after it.
#undef KEEL_SHA512

} // namespace keel
