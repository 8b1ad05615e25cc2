// Detached signatures (see signature.h): verification against the PEM
// public keys of a trusted directory, and signing for publishers, with
// mbedTLS for RSA and ECDSA and base/ed25519.h for Ed25519. Live patches
// (livepatch/) and update payloads (update/) both use them, with their own
// rules for when a signature is required.
//
// mbedTLS 2.28's key parser refuses Ed25519 keys, so their two PEM forms
// (RFC 8410: SubjectPublicKeyInfo and PKCS#8, what `openssl genpkey
// -algorithm ed25519` and `openssl pkey -pubout` write) are read here, by a
// small DER reader that checks every length against the bytes there are.
#include "base/signature.h"

#include "base/digest.h"
#include "base/ed25519.h"
#include "base/strings.h"
#include "base/sys.h"

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include <algorithm>
#include <array>
#include <optional>

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

// Reads the key in `text` (read_key_file()'s, from `path`) with mbedTLS.
Result<void> parse_public_key(const std::string& path, const std::string& text, PublicKey& key) {
    int status = mbedtls_pk_parse_public_key(
        key.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
    if (status != 0)
        return error(cat(quoted(path), ": not a PEM public key (", mbedtls_message(status), ")"));
    TRY_CTX(check_strength(key.get()), quoted(path));
    return {};
}

Result<void> parse_private_key(const std::string& path, const std::string& text, PublicKey& key) {
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
#if MBEDTLS_VERSION_MAJOR >= 3
    int status = mbedtls_pk_parse_key(key.get(), data, text.size(), nullptr, 0,
                                      mbedtls_ctr_drbg_random, nullptr);
#else
    int status = mbedtls_pk_parse_key(key.get(), data, text.size(), nullptr, 0);
#endif
    if (status != 0)
        return error(cat(quoted(path), ": not an unencrypted PEM private key (",
                         mbedtls_message(status), ")"));
    TRY_CTX(check_strength(key.get()), quoted(path));
    return {};
}

// Wipes an object that held key material (a key file's text, its DER, a
// seed) when it goes out of scope.
template <typename Bytes> class WipeOnExit {
public:
    explicit WipeOnExit(Bytes& bytes) : m_bytes(bytes) {}
    ~WipeOnExit() { mbedtls_platform_zeroize(m_bytes.data(), m_bytes.size()); }
    WipeOnExit(const WipeOnExit&) = delete;
    WipeOnExit& operator=(const WipeOnExit&) = delete;

private:
    Bytes& m_bytes;
};

// The DER tags an Ed25519 key file (RFC 8410) uses.
enum class DerTag : uint8_t {
    Integer = 0x02,
    BitString = 0x03,
    OctetString = 0x04,
    ObjectIdentifier = 0x06,
    Sequence = 0x30,
    Attributes = 0xa0, // PKCS#8's [0] attributes
    PublicKey = 0x81,  // RFC 5958's [1] publicKey (an implicit BIT STRING)
};

// Reads DER elements (tag, length, contents) one after another. Each read
// checks the element's length against the bytes left, so no input makes it
// read past them; `what` names the element in errors.
class DerReader {
public:
    explicit DerReader(std::string_view bytes) : m_rest(bytes) {}

    bool at_end() const { return m_rest.empty(); }
    /// Whether the next element is a `tag`.
    bool next_is(DerTag tag) const { return !m_rest.empty() && uint8_t(m_rest[0]) == uint8_t(tag); }

    /// The contents of the next element, which must be a `tag`.
    Result<std::string_view> read(DerTag tag, std::string_view what) {
        Header header = TRY(read_header(tag, what));
        size_t left = m_rest.size() - header.size;
        if (header.length > left)
            return error(cat("truncated: ", what, " should have ", header.length, " bytes, ", left,
                             " are left"));
        std::string_view contents = m_rest.substr(header.size, header.length);
        m_rest.remove_prefix(header.size + header.length);
        return contents;
    }

    /// Reads past the next element when it is a `tag` (an optional one).
    Result<void> skip_optional(DerTag tag, std::string_view what) {
        if (!next_is(tag))
            return {};
        if (auto skipped = read(tag, what); !skipped)
            return std::unexpected(std::move(skipped).error());
        return {};
    }

    /// Steps into the next element, a `tag`, past its header only: what
    /// follows is read as its contents, however long it says it is.
    Result<void> enter(DerTag tag, std::string_view what) {
        Header header = TRY(read_header(tag, what));
        m_rest.remove_prefix(header.size);
        return {};
    }

    /// Fails unless everything has been read; `what` names the last element.
    Result<void> expect_end(std::string_view what) const {
        if (!m_rest.empty())
            return error(cat(what, " is followed by ", m_rest.size(), " more byte(s)"));
        return {};
    }

private:
    struct Header {
        size_t length; // of the contents
        size_t size;   // of the tag and length bytes
    };

    // Short lengths and long ones of one or two bytes: a key's elements are
    // far below 64 KiB.
    Result<Header> read_header(DerTag tag, std::string_view what) const {
        if (m_rest.empty())
            return error(cat("truncated: ", what, " is missing"));
        if (uint8_t(m_rest[0]) != uint8_t(tag))
            return error(cat(what, " has DER tag 0x", to_hex(m_rest.substr(0, 1)), ", not 0x",
                             to_hex(std::string(1, char(tag)))));
        if (m_rest.size() < 2)
            return error(cat("truncated: ", what, " has no length"));
        uint8_t first = uint8_t(m_rest[1]);
        if (first < 0x80)
            return Header{first, 2};
        size_t count = first & 0x7f;
        if (count == 0 || count > 2)
            return error(cat(what, " has a length of ", count, " bytes (at most 2 here)"));
        if (m_rest.size() < 2 + count)
            return error(cat("truncated: ", what, "'s length is cut off"));
        size_t length = 0;
        for (size_t i = 0; i < count; ++i)
            length = length << 8 | uint8_t(m_rest[2 + i]);
        return Header{length, 2 + count};
    }

    std::string_view m_rest;
};

// The OIDs of RFC 8410's algorithms (1.3.101.110 to 113), DER-encoded. Only
// Ed25519 signs here; the others are recognised to be refused by name.
constexpr std::string_view kEd25519Oid = "\x2b\x65\x70";
struct Rfc8410Algorithm {
    std::string_view oid;
    std::string_view name;
};
constexpr Rfc8410Algorithm kOtherRfc8410Algorithms[] = {
    {"\x2b\x65\x6e", "X25519 (OID 1.3.101.110)"},
    {"\x2b\x65\x6f", "X448 (OID 1.3.101.111)"},
    {"\x2b\x65\x71", "Ed448 (OID 1.3.101.113)"},
};

// An Ed25519 SubjectPublicKeyInfo without its 32 key bytes: SEQUENCE {
// SEQUENCE { OID 1.3.101.112 }, BIT STRING (no unused bits) }. The key id
// is a hash of this DER, as mbedTLS writes it for the other keys.
constexpr std::string_view kEd25519PublicKeyDerPrefix{
    "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00", 12};

// Which of a key file's two PEM forms: a SubjectPublicKeyInfo ("PUBLIC
// KEY") or a PKCS#8 PrivateKeyInfo ("PRIVATE KEY").
enum class KeyForm { Public, Private };

// Whether a key file holds an Ed25519 key, which keel reads itself, or
// another (RSA, EC), which mbedTLS reads.
enum class KeyAlgorithm { Ed25519, Other };

std::string_view pem_label(KeyForm form) {
    return form == KeyForm::Public ? "PUBLIC KEY" : "PRIVATE KEY";
}

// Decodes the first PEM block of `form` in `text` into `der`, which the
// caller wipes. False when there is none or its base64 is bad: mbedTLS then
// reads the file and says what is wrong with it.
bool decode_pem_block(std::string_view text, KeyForm form, std::string& der) {
    std::string begin = cat("-----BEGIN ", pem_label(form), "-----");
    std::string end = cat("-----END ", pem_label(form), "-----");
    size_t start = text.find(begin);
    if (start == std::string_view::npos)
        return false;
    start += begin.size();
    size_t stop = text.find(end, start);
    if (stop == std::string_view::npos)
        return false;
    std::string base64;
    base64.reserve(stop - start); // no reallocation leaves a copy unwiped
    WipeOnExit wipe_base64(base64);
    for (char c : text.substr(start, stop - start))
        if (!is_ascii_space(c))
            base64.push_back(c);
    const auto* source = reinterpret_cast<const unsigned char*>(base64.data());
    size_t size = 0;
    int status = mbedtls_base64_decode(nullptr, 0, &size, source, base64.size());
    if (status != 0 && status != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return false;
    der.assign(size, '\0');
    return mbedtls_base64_decode(reinterpret_cast<unsigned char*>(der.data()), der.size(), &size,
                                 source, base64.size()) == 0 &&
           size == der.size();
}

// The algorithm OID at the start of a key's DER, reading element headers
// only, so that a truncated key still says what it is; nothing when even
// the OID is not there.
std::optional<std::string_view> algorithm_oid(std::string_view der, KeyForm form) {
    DerReader reader(der);
    if (!reader.enter(DerTag::Sequence, "the key"))
        return std::nullopt;
    if (form == KeyForm::Private && !reader.read(DerTag::Integer, "the version"))
        return std::nullopt;
    if (!reader.enter(DerTag::Sequence, "the algorithm"))
        return std::nullopt;
    auto oid = reader.read(DerTag::ObjectIdentifier, "the algorithm's OID");
    if (!oid)
        return std::nullopt;
    return *oid;
}

// Ed25519 when the DER names Ed25519's OID, Other when it names another
// algorithm (or none: mbedTLS then says what is wrong), an error for RFC
// 8410's other algorithms, which neither keel nor mbedTLS signs with.
Result<KeyAlgorithm> key_algorithm(const std::string& path, std::string_view der, KeyForm form) {
    std::optional<std::string_view> oid = algorithm_oid(der, form);
    if (!oid)
        return KeyAlgorithm::Other;
    if (*oid == kEd25519Oid)
        return KeyAlgorithm::Ed25519;
    for (const Rfc8410Algorithm& algorithm : kOtherRfc8410Algorithms)
        if (*oid == algorithm.oid)
            return error(cat(quoted(path), ": an ", algorithm.name,
                             " key; keel takes Ed25519, ECDSA P-256 and RSA keys"));
    return KeyAlgorithm::Other;
}

// SEQUENCE { OID 1.3.101.112 }, with no parameters (RFC 8410 section 3).
Result<void> read_ed25519_algorithm(DerReader& fields) {
    DerReader algorithm(TRY(fields.read(DerTag::Sequence, "the algorithm")));
    std::string_view oid = TRY(algorithm.read(DerTag::ObjectIdentifier, "the algorithm's OID"));
    if (oid != kEd25519Oid)
        return error(
            cat("the algorithm's OID is 0x", to_hex(oid), ", not Ed25519's (1.3.101.112)"));
    if (!algorithm.at_end())
        return error("the algorithm has parameters; Ed25519's has none");
    return {};
}

// The 32 key bytes of a BIT STRING's contents: no unused bits, then the key.
Result<Ed25519PublicKey> public_key_bits(std::string_view bits) {
    if (bits.empty() || bits[0] != '\0')
        return error("the public key's BIT STRING does not start with 0 unused bits");
    bits.remove_prefix(1);
    Ed25519PublicKey key;
    if (bits.size() != key.size())
        return error(cat("the public key has ", bits.size(), " bytes, not ", key.size()));
    std::copy(bits.begin(), bits.end(), key.begin());
    return key;
}

// SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING key }
Result<Ed25519PublicKey> parse_ed25519_public_key_der(std::string_view der) {
    DerReader file(der);
    DerReader info(TRY(file.read(DerTag::Sequence, "the SubjectPublicKeyInfo")));
    TRY(file.expect_end("the SubjectPublicKeyInfo"));
    TRY(read_ed25519_algorithm(info));
    Ed25519PublicKey key =
        TRY(public_key_bits(TRY(info.read(DerTag::BitString, "the public key"))));
    TRY(info.expect_end("the public key"));
    return key;
}

// PrivateKeyInfo ::= SEQUENCE { version 0 or 1, algorithm, OCTET STRING {
// OCTET STRING seed }, [0] attributes OPTIONAL, [1] publicKey OPTIONAL }
// (RFC 5958; version 1 may carry the public key, which must be the seed's).
Result<void> parse_ed25519_private_key_der(std::string_view der, Ed25519Seed& seed) {
    DerReader file(der);
    DerReader info(TRY(file.read(DerTag::Sequence, "the PrivateKeyInfo")));
    TRY(file.expect_end("the PrivateKeyInfo"));
    std::string_view version = TRY(info.read(DerTag::Integer, "the version"));
    if (version.size() != 1 || uint8_t(version[0]) > 1)
        return error(cat("version 0x", to_hex(version), ", not 0 or 1"));
    TRY(read_ed25519_algorithm(info));
    DerReader wrapped(TRY(info.read(DerTag::OctetString, "the private key")));
    std::string_view bytes = TRY(wrapped.read(DerTag::OctetString, "the private key's seed"));
    TRY(wrapped.expect_end("the private key's seed"));
    if (bytes.size() != seed.size())
        return error(cat("the private key has ", bytes.size(), " bytes, not ", seed.size()));
    std::copy(bytes.begin(), bytes.end(), seed.begin());
    TRY(info.skip_optional(DerTag::Attributes, "the attributes"));
    if (info.next_is(DerTag::PublicKey)) {
        Ed25519PublicKey stated =
            TRY(public_key_bits(TRY(info.read(DerTag::PublicKey, "the public key"))));
        if (stated != ed25519_public_key(seed))
            return error("the public key in the file is not the private key's");
    }
    TRY(info.expect_end("the private key"));
    return {};
}

// Reads the Ed25519 public key in `text` (read from `path`) into `key`.
// Other keys are KeyAlgorithm::Other, for mbedTLS; an error names the file
// and what is wrong with an Ed25519 key.
Result<KeyAlgorithm> read_ed25519_public_key(const std::string& path, std::string_view text,
                                             Ed25519PublicKey& key) {
    std::string der;
    if (!decode_pem_block(text, KeyForm::Public, der))
        return KeyAlgorithm::Other;
    if (TRY(key_algorithm(path, der, KeyForm::Public)) == KeyAlgorithm::Other)
        return KeyAlgorithm::Other;
    key = TRY_CTX(parse_ed25519_public_key_der(der), cat(quoted(path), ": Ed25519 public key"));
    return KeyAlgorithm::Ed25519;
}

// The same for a private key, whose seed goes to `seed` (the caller wipes it).
Result<KeyAlgorithm> read_ed25519_private_key(const std::string& path, std::string_view text,
                                              Ed25519Seed& seed) {
    std::string der;
    WipeOnExit wipe_der(der);
    if (!decode_pem_block(text, KeyForm::Private, der))
        return KeyAlgorithm::Other;
    if (TRY(key_algorithm(path, der, KeyForm::Private)) == KeyAlgorithm::Other)
        return KeyAlgorithm::Other;
    TRY_CTX(parse_ed25519_private_key_der(der, seed), cat(quoted(path), ": Ed25519 private key"));
    return KeyAlgorithm::Ed25519;
}

// First 16 hex digits of SHA-256 of the key's SubjectPublicKeyInfo DER.
std::string ed25519_key_id(const Ed25519PublicKey& key) {
    std::string der(kEd25519PublicKeyDerPrefix);
    der.append(reinterpret_cast<const char*>(key.data()), key.size());
    auto digest = sha256_bytes(der);
    return to_hex(digest.data(), 8);
}

// An Ed25519 signature is the 64 bytes RFC 8032 defines, over the data
// itself (no digest first), as `openssl pkeyutl -sign -rawin` writes it.
bool ed25519_signature_verifies(const Ed25519PublicKey& key, std::string_view data,
                                std::string_view signature) {
    Ed25519Signature bytes;
    if (signature.size() != bytes.size())
        return false;
    std::copy(signature.begin(), signature.end(), bytes.begin());
    return ed25519_verify(key, data, bytes);
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
        auto text = read_key_file(path);
        if (!text) {
            unusable.push_back(text.error().to_string());
            continue;
        }
        Ed25519PublicKey ed25519_key{};
        auto algorithm = read_ed25519_public_key(path, *text, ed25519_key);
        if (!algorithm) {
            unusable.push_back(algorithm.error().to_string());
            continue;
        }
        if (*algorithm == KeyAlgorithm::Ed25519) {
            if (ed25519_signature_verifies(ed25519_key, data, signature))
                return SignatureKey{path, ed25519_key_id(ed25519_key)};
            continue;
        }
        PublicKey key;
        if (auto parsed = parse_public_key(path, *text, key); !parsed) {
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
    std::string text = TRY(read_key_file(private_key_path));
    WipeOnExit wipe_text(text);
    Ed25519Seed seed{};
    WipeOnExit wipe_seed(seed);
    if (TRY(read_ed25519_private_key(private_key_path, text, seed)) == KeyAlgorithm::Ed25519) {
        Ed25519Signature signature = ed25519_sign(seed, data);
        return std::string(reinterpret_cast<const char*>(signature.data()), signature.size());
    }
    PublicKey key;
    TRY(parse_private_key(private_key_path, text, key));

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
    std::string text = TRY(read_key_file(key_path));
    WipeOnExit wipe_text(text); // perhaps a private key
    Ed25519PublicKey ed25519_key{};
    if (TRY(read_ed25519_public_key(key_path, text, ed25519_key)) == KeyAlgorithm::Ed25519)
        return ed25519_key_id(ed25519_key);
    PublicKey key;
    if (auto parsed = parse_public_key(key_path, text, key); parsed)
        return key_id(key.get());
    Ed25519Seed seed{};
    WipeOnExit wipe_seed(seed);
    if (TRY(read_ed25519_private_key(key_path, text, seed)) == KeyAlgorithm::Ed25519)
        return ed25519_key_id(ed25519_public_key(seed));
    PublicKey private_key;
    TRY_CTX(parse_private_key(key_path, text, private_key), "neither a public nor a private key");
    return key_id(private_key.get());
}

} // namespace keel
