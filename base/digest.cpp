// SHA-256 and SHA-512 through mbedTLS.
#include "base/digest.h"

#include "base/strings.h"
#include "base/sys.h"

#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/version.h>
#include <unistd.h>

namespace keel {

namespace {

// mbedTLS 2.x spells the non-deprecated calls with a _ret suffix; 3.x drops it.
#if MBEDTLS_VERSION_MAJOR >= 3
#define KEEL_SHA256(step) mbedtls_sha256_##step
#define KEEL_SHA512(step) mbedtls_sha512_##step
#else
#define KEEL_SHA256(step) mbedtls_sha256_##step##_ret
#define KEEL_SHA512(step) mbedtls_sha512_##step##_ret
#endif

} // namespace

// Both contexts, only one of them in use: small, and no allocation per
// function.
struct Hasher::State {
    HashFunction function;
    mbedtls_sha256_context sha256;
    mbedtls_sha512_context sha512;

    explicit State(HashFunction f) : function(f) {
        mbedtls_sha256_init(&sha256);
        mbedtls_sha512_init(&sha512);
        start();
    }
    ~State() {
        mbedtls_sha256_free(&sha256);
        mbedtls_sha512_free(&sha512);
    }
    void start() {
        if (function == HashFunction::Sha256)
            KEEL_SHA256(starts)(&sha256, 0);
        else
            KEEL_SHA512(starts)(&sha512, 0);
    }
};

Hasher::Hasher(HashFunction function) : m_state(std::make_unique<State>(function)) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view data) {
    auto bytes = reinterpret_cast<const unsigned char*>(data.data());
    if (m_state->function == HashFunction::Sha256)
        KEEL_SHA256(update)(&m_state->sha256, bytes, data.size());
    else
        KEEL_SHA512(update)(&m_state->sha512, bytes, data.size());
}

std::string Hasher::finish_hex() {
    unsigned char digest[64];
    size_t size = 0;
    if (m_state->function == HashFunction::Sha256) {
        KEEL_SHA256(finish)(&m_state->sha256, digest);
        size = 32;
    } else {
        KEEL_SHA512(finish)(&m_state->sha512, digest);
        size = 64;
    }
    m_state->start();
    return to_hex(digest, size);
}

std::string sha256_hex(std::string_view data) {
    Hasher hasher(HashFunction::Sha256);
    hasher.update(data);
    return hasher.finish_hex();
}

std::string sha512_hex(std::string_view data) {
    Hasher hasher(HashFunction::Sha512);
    hasher.update(data);
    return hasher.finish_hex();
}

Result<std::string> sha256_file(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    Hasher hasher;
    std::string buffer(1 << 16, '\0');
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path)));
        if (n == 0)
            return hasher.finish_hex();
        hasher.update(std::string_view(buffer.data(), size_t(n)));
    }
}

// Not past this file: a unity build compiles others after it.
#undef KEEL_SHA256
#undef KEEL_SHA512

} // namespace keel
