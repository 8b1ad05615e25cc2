// SHA-256 through mbedTLS, of buffers, files and streams.
#include "base/digest.h"

#include "base/strings.h"
#include "base/sys.h"

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <unistd.h>

namespace keel {

namespace {

// mbedTLS 2.x spells the non-deprecated calls with a _ret suffix; 3.x drops it.
#if MBEDTLS_VERSION_MAJOR >= 3
#define KEEL_SHA256(step) mbedtls_sha256_##step
#else
#define KEEL_SHA256(step) mbedtls_sha256_##step##_ret
#endif

std::string to_hex(const unsigned char* bytes, size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

// RAII for the mbedTLS context.
struct Sha256 {
    mbedtls_sha256_context context;
    Sha256() {
        mbedtls_sha256_init(&context);
        KEEL_SHA256(starts)(&context, 0);
    }
    ~Sha256() { mbedtls_sha256_free(&context); }
    void update(const void* data, size_t size) {
        KEEL_SHA256(update)(&context, static_cast<const unsigned char*>(data), size);
    }
    std::string finish() {
        unsigned char digest[32];
        KEEL_SHA256(finish)(&context, digest);
        return to_hex(digest, sizeof digest);
    }
};

} // namespace

struct Sha256Hasher::State {
    Sha256 sha;
};

Sha256Hasher::Sha256Hasher() : m_state(std::make_unique<State>()) {}
Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::update(std::string_view data) {
    m_state->sha.update(data.data(), data.size());
}

std::string Sha256Hasher::finish_hex() {
    return m_state->sha.finish();
}

std::string sha256_hex(std::string_view data) {
    Sha256 sha;
    sha.update(data.data(), data.size());
    return sha.finish();
}

Result<std::string> sha256_file(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    Sha256 sha;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path)));
        if (n == 0)
            return sha.finish();
        sha.update(buffer, size_t(n));
    }
}

} // namespace keel
