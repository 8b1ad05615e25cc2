// Detached signatures (see signature.h): verification against the PEM
// public keys of a trusted directory, and signing for publishers, with
// mbedTLS. Live patches (livepatch/) and update payloads (update/) both use
// them, with their own rules for when a signature is required.
#include "base/signature.h"

#include "base/digest.h"
#include "base/strings.h"
#include "base/sys.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include <algorithm>
#include <array>

namespace keel {

namespace {

constexpr size_t kMaxKeyFileSize = 64 * 1024;
constexpr size_t kMinimumRsaBits = 2048;

std::string mbedtls_message(int code) {
    // The library's error strings need MBEDTLS_ERROR_C; the code is enough
    // to look up, and the caller says what was being done.
    return cat("mbedTLS error -0x", [&] {
        static constexpr char digits[] = "0123456789abcdef";
        std::string hex;
        unsigned value = unsigned(-code);
        do {
            hex.insert(hex.begin(), digits[value & 15]);
            value >>= 4;
        } while (value);
        return hex;
    }());
}

// mbedtls_pk_context that frees itself.
class PublicKey {
public:
    PublicKey() { mbedtls_pk_init(&m_context); }
    ~PublicKey() { mbedtls_pk_free(&m_context); }
    PublicKey(const PublicKey&) = delete;
    PublicKey& operator=(const PublicKey&) = delete;
    mbedtls_pk_context* get() { return &m_context; }

private:
    mbedtls_pk_context m_context;
};

// A key file's text, NUL-terminated as mbedTLS's PEM parser wants it.
Result<std::string> read_key_file(const std::string& path) {
    std::string text = TRY(read_file(path));
    if (text.size() > kMaxKeyFileSize)
        return error(cat(quoted(path), ": ", text.size(), " bytes is too large for a key"));
    text.push_back('\0');
    return text;
}

Result<std::string> key_id(mbedtls_pk_context* key) {
    std::array<unsigned char, 4096> der{};
    int length = mbedtls_pk_write_pubkey_der(key, der.data(), der.size());
    if (length < 0)
        return error(cat("encode the public key: ", mbedtls_message(length)));
    // The DER is written at the end of the buffer.
    auto digest = sha256_bytes(std::string_view(
        reinterpret_cast<const char*>(der.data() + der.size() - size_t(length)), size_t(length)));
    return to_hex(digest.data(), 8);
}

Result<void> check_strength(mbedtls_pk_context* key) {
    if (mbedtls_pk_can_do(key, MBEDTLS_PK_RSA) && mbedtls_pk_get_bitlen(key) < kMinimumRsaBits)
        return error(cat("an RSA key of ", mbedtls_pk_get_bitlen(key),
                         " bits is too weak (at least ", kMinimumRsaBits, ")"));
    return {};
}

Result<void> parse_public_key(const std::string& path, PublicKey& key) {
    std::string text = TRY(read_key_file(path));
    int status = mbedtls_pk_parse_public_key(
        key.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
    if (status != 0)
        return error(cat(quoted(path), ": not a PEM public key (", mbedtls_message(status), ")"));
    TRY_CTX(check_strength(key.get()), quoted(path));
    return {};
}

Result<void> parse_private_key(const std::string& path, PublicKey& key) {
    std::string text = TRY(read_key_file(path));
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
#if MBEDTLS_VERSION_MAJOR >= 3
    int status = mbedtls_pk_parse_key(key.get(), data, text.size(), nullptr, 0,
                                      mbedtls_ctr_drbg_random, nullptr);
#else
    int status = mbedtls_pk_parse_key(key.get(), data, text.size(), nullptr, 0);
#endif
    mbedtls_platform_zeroize(text.data(), text.size());
    if (status != 0)
        return error(cat(quoted(path), ": not an unencrypted PEM private key (",
                         mbedtls_message(status), ")"));
    TRY_CTX(check_strength(key.get()), quoted(path));
    return {};
}

} // namespace

Result<std::vector<std::string>> trusted_key_files(const std::string& directory) {
    std::vector<std::string> files;
    if (!path_exists(directory))
        return files;
    for (const std::string& name : TRY(list_directory(directory)))
        if (name.size() > 4 && name.ends_with(".pem"))
            files.push_back(cat(directory, "/", name));
    std::sort(files.begin(), files.end());
    return files;
}

Result<SignatureKey> verify_detached_signature(std::string_view data, std::string_view signature,
                                               const std::vector<std::string>& key_files,
                                               const std::string& directory,
                                               std::string_view what) {
    if (signature.empty() || signature.size() > kMaxSignatureSize)
        return error(
            cat("bad signature: ", what, " has ", signature.size(), " bytes, not a signature"));
    auto digest = sha256_bytes(data);
    std::vector<std::string> unusable;
    for (const std::string& path : key_files) {
        PublicKey key;
        if (auto parsed = parse_public_key(path, key); !parsed) {
            unusable.push_back(parsed.error().to_string());
            continue;
        }
        int status = mbedtls_pk_verify(key.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                                       reinterpret_cast<const unsigned char*>(signature.data()),
                                       signature.size());
        if (status == 0)
            return SignatureKey{path, TRY(key_id(key.get()))};
    }
    std::string message = cat("bad signature: ", what, " verifies against none of the ",
                              key_files.size(), " trusted key(s) in ", quoted(directory));
    for (const std::string& problem : unusable)
        message += cat("; unusable key: ", problem);
    return error(std::move(message));
}

Result<std::string> sign_detached(std::string_view data, const std::string& private_key_path) {
    PublicKey key;
    TRY(parse_private_key(private_key_path, key));

    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context random;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&random);
    struct Cleanup {
        mbedtls_entropy_context* entropy;
        mbedtls_ctr_drbg_context* random;
        ~Cleanup() {
            mbedtls_ctr_drbg_free(random);
            mbedtls_entropy_free(entropy);
        }
    } cleanup{&entropy, &random};
    static constexpr std::string_view kPersonalization = "keel sign";
    int status = mbedtls_ctr_drbg_seed(
        &random, mbedtls_entropy_func, &entropy,
        reinterpret_cast<const unsigned char*>(kPersonalization.data()), kPersonalization.size());
    if (status != 0)
        return error(cat("seed the random generator: ", mbedtls_message(status)));

    auto digest = sha256_bytes(data);
    std::string signature(MBEDTLS_PK_SIGNATURE_MAX_SIZE, '\0');
    size_t length = 0;
#if MBEDTLS_VERSION_MAJOR >= 3
    status = mbedtls_pk_sign(key.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                             reinterpret_cast<unsigned char*>(signature.data()), signature.size(),
                             &length, mbedtls_ctr_drbg_random, &random);
#else
    status = mbedtls_pk_sign(key.get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                             reinterpret_cast<unsigned char*>(signature.data()), &length,
                             mbedtls_ctr_drbg_random, &random);
#endif
    if (status != 0)
        return error(cat("sign with ", quoted(private_key_path), ": ", mbedtls_message(status)));
    signature.resize(length);
    return signature;
}

Result<std::string> signing_key_id(const std::string& key_path) {
    PublicKey key;
    if (auto parsed = parse_public_key(key_path, key); parsed)
        return key_id(key.get());
    PublicKey private_key;
    TRY_CTX(parse_private_key(key_path, private_key), "neither a public nor a private key");
    return key_id(private_key.get());
}

} // namespace keel
