// Tests for base/signature.h with Ed25519 keys, the RFC 8410 PEM files
// OpenSSL writes: a key pair and a signature made by OpenSSL, Ed25519 keys
// among EC and RSA ones, key ids, and broken key files refused with the
// file and the problem named (every truncation, a wrong OID, bad lengths,
// random damage), never a crash. RSA and EC signatures are tested with the
// live patches and update payloads that use them.
#include "base/signature.h"

#include "base/ed25519.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_keys.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>

using namespace keel;
using namespace std::string_view_literals;
using keel::testing::KeyPair;
using keel::testing::make_ed25519_key;
using keel::testing::make_key;
using keel::testing::pem_text;
using keel::testing::TempDir;

namespace {

// Made on Debian 12 with OpenSSL 3.0: `openssl genpkey -algorithm ed25519`,
// `openssl pkey -pubout`, and `openssl pkeyutl -sign -rawin` over
// kOpensslMessage. The key id is the start of `openssl pkey -pubin -outform
// DER | sha256sum`.
constexpr std::string_view kOpensslPrivateKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIBoOFCiGjw1SNJov2VhCQzN6oRFVncGn5M9cOtSK1IJh\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kOpensslPublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEArMqz6g6Rg7b1VSM1E8JAtj8JxwB3002BMnJ1fRBDDYo=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kOpensslMessage = "a manifest signed by openssl\n";
constexpr std::string_view kOpensslSignature =
    "4694cda66119ac9209f826c8d8761d05821075573a7ab75c51201f8f72b171de"
    "8d143699a959fac738e5be0aaa58e26d5a0d394f2ac32f77bbb309bbc204ad01";
constexpr std::string_view kOpensslKeyId = "d63fcd88a0c60d28";

std::string from_hex(std::string_view hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes.push_back(char(hex_digit_value(hex[i]) << 4 | hex_digit_value(hex[i + 1])));
    return bytes;
}

void write(const std::string& path, std::string_view text) {
    REQUIRE_MESSAGE(write_new_file(path, text), path);
}

template <typename T> std::string error_text(const Result<T>& result) {
    return result ? std::string("(no error)") : result.error().to_string();
}

// DER built by hand for broken keys: a short-form element, and the pieces
// of RFC 8410's two structures.
std::string element(uint8_t tag, std::string_view contents) {
    REQUIRE(contents.size() < 128);
    return cat(char(tag), char(contents.size()), contents);
}
std::string algorithm(std::string_view oid) {
    return element(0x30, element(0x06, oid));
}
std::string ed25519_algorithm() {
    return algorithm("\x2b\x65\x70");
}
std::string public_key_der(std::string_view algorithm_der, std::string_view key) {
    return element(0x30, cat(algorithm_der, element(0x03, cat('\0', key))));
}
std::string private_key_der(char version, std::string_view algorithm_der, std::string_view seed,
                            std::string_view after = {}) {
    return element(0x30, cat(element(0x02, std::string(1, version)), algorithm_der,
                             element(0x04, element(0x04, seed)), after));
}

const std::string kSeed(32, '\x07');
std::string public_key_of(std::string_view seed) {
    Ed25519Seed bytes;
    std::copy(seed.begin(), seed.end(), bytes.begin());
    Ed25519PublicKey key = ed25519_public_key(bytes);
    return std::string(key.begin(), key.end());
}

// Writes `der` as a PEM file of `label` and returns what signing_key_id
// says of it, having checked that a refusal names the file.
std::string key_id_or_error(const TempDir& dir, std::string_view der, std::string_view label) {
    std::string path = dir / "key.pem";
    write(path, pem_text(der, label));
    auto id = signing_key_id(path);
    if (id)
        return *id;
    std::string message = id.error().to_string();
    CHECK_MESSAGE(message.find(quoted(path)) != std::string::npos, message);
    return message;
}

} // namespace

TEST_CASE("OpenSSL's Ed25519 signature verifies, and keel signs the same bytes with its key") {
    TempDir dir;
    REQUIRE(make_directories(dir / "trusted"));
    write(dir / "trusted/openssl.pem", kOpensslPublicKey);
    write(dir / "openssl.key", kOpensslPrivateKey);

    auto verified = verify_detached_signature(kOpensslMessage, from_hex(kOpensslSignature),
                                              {dir / "trusted/openssl.pem"}, dir / "trusted",
                                              "`manifest.json.sig`");
    REQUIRE_MESSAGE(verified, error_text(verified));
    CHECK(verified->path == dir / "trusted/openssl.pem");
    CHECK(verified->key_id == kOpensslKeyId);

    // Ed25519 is deterministic: the same key and data give OpenSSL's bytes.
    auto signature = sign_detached(kOpensslMessage, dir / "openssl.key");
    REQUIRE_MESSAGE(signature, error_text(signature));
    CHECK(to_hex(*signature) == kOpensslSignature);

    CHECK(signing_key_id(dir / "openssl.key") == kOpensslKeyId);
    CHECK(signing_key_id(dir / "trusted/openssl.pem") == kOpensslKeyId);
}

TEST_CASE("an Ed25519 key among EC and RSA keys verifies its signatures, and only its own") {
    TempDir dir;
    REQUIRE(make_directories(dir / "trusted"));
    KeyPair ec = make_key(MBEDTLS_PK_ECKEY);
    KeyPair rsa = make_key(MBEDTLS_PK_RSA, 2048);
    KeyPair ed25519 = make_ed25519_key();
    KeyPair stranger = make_ed25519_key();
    write(dir / "trusted/a-ec.pem", ec.public_pem);
    write(dir / "trusted/b-ed25519.pem", ed25519.public_pem);
    write(dir / "trusted/c-rsa.pem", rsa.public_pem);
    write(dir / "ec.key", ec.private_pem);
    write(dir / "ed25519.key", ed25519.private_pem);
    write(dir / "stranger.key", stranger.private_pem);
    auto keys = trusted_key_files(dir / "trusted");
    REQUIRE(keys);
    REQUIRE(keys->size() == 3);
    std::string data = "{\"format\":1,\"version\":\"2.0.1\"}";
    auto verify = [&](std::string_view bytes, std::string_view signature) {
        return verify_detached_signature(bytes, signature, *keys, dir / "trusted", "`sig`");
    };

    auto signature = sign_detached(data, dir / "ed25519.key");
    REQUIRE_MESSAGE(signature, error_text(signature));
    CHECK(signature->size() == 64);
    auto verified = verify(data, *signature);
    REQUIRE_MESSAGE(verified, error_text(verified));
    CHECK(verified->path == dir / "trusted/b-ed25519.pem");
    CHECK(verified->key_id == signing_key_id(dir / "ed25519.key"));
    CHECK(verified->key_id == signing_key_id(dir / "trusted/b-ed25519.pem"));
    CHECK(verified->key_id.size() == 16);

    // The EC key still verifies its own signatures beside it.
    auto ec_signature = sign_detached(data, dir / "ec.key");
    REQUIRE(ec_signature);
    auto ec_verified = verify(data, *ec_signature);
    REQUIRE_MESSAGE(ec_verified, error_text(ec_verified));
    CHECK(ec_verified->path == dir / "trusted/a-ec.pem");

    // Changed data, another key, a cut or lengthened signature: refused.
    std::string changed = data;
    changed[5] ^= 1;
    CHECK(error_text(verify(changed, *signature)).find("bad signature") != std::string::npos);
    auto foreign = sign_detached(data, dir / "stranger.key");
    REQUIRE(foreign);
    auto refused = verify(data, *foreign);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("verifies against none of the 3 trusted key(s)") !=
          std::string::npos);
    CHECK_FALSE(verify(data, signature->substr(0, 63)));
    CHECK_FALSE(verify(data, *signature + '\0'));
}

TEST_CASE("a truncated Ed25519 key file is refused with the file named, at every length") {
    TempDir dir;
    std::string public_der = public_key_der(ed25519_algorithm(), public_key_of(kSeed));
    std::string private_der = private_key_der('\0', ed25519_algorithm(), kSeed);
    REQUIRE(key_id_or_error(dir, public_der, "PUBLIC KEY").size() == 16);
    REQUIRE(key_id_or_error(dir, private_der, "PRIVATE KEY") ==
            key_id_or_error(dir, public_der, "PUBLIC KEY"));
    for (size_t length = 0; length < public_der.size(); ++length) {
        CAPTURE(length);
        std::string message = key_id_or_error(dir, public_der.substr(0, length), "PUBLIC KEY");
        // Once the OID is in, the refusal is keel's: Ed25519 and truncated.
        if (length >= 9)
            CHECK_MESSAGE(message.find("Ed25519 public key: truncated") != std::string::npos,
                          message);
        else
            CHECK(message.size() > 16);
    }
    for (size_t length = 0; length < private_der.size(); ++length) {
        CAPTURE(length);
        std::string message = key_id_or_error(dir, private_der.substr(0, length), "PRIVATE KEY");
        if (length >= 12)
            CHECK_MESSAGE(message.find("Ed25519 private key: truncated") != std::string::npos,
                          message);
        else
            CHECK(message.size() > 16);
    }
}

TEST_CASE("Ed25519 key files with a wrong OID, bad lengths or stray bytes say what is wrong") {
    TempDir dir;
    std::string key = public_key_of(kSeed);
    auto refusal = [&](std::string_view der, std::string_view label) {
        return key_id_or_error(dir, der, label);
    };
    CHECK(refusal(public_key_der(algorithm("\x2b\x65\x6e"), key), "PUBLIC KEY")
              .find("an X25519 (OID 1.3.101.110) key") != std::string::npos);
    CHECK(refusal(private_key_der('\0', algorithm("\x2b\x65\x71"), std::string(57, 'x')),
                  "PRIVATE KEY")
              .find("an Ed448 (OID 1.3.101.113) key") != std::string::npos);
    CHECK(refusal(public_key_der(ed25519_algorithm(), key.substr(0, 31)), "PUBLIC KEY")
              .find("the public key has 31 bytes, not 32") != std::string::npos);
    CHECK(refusal(public_key_der(ed25519_algorithm(), key + 'x'), "PUBLIC KEY")
              .find("the public key has 33 bytes, not 32") != std::string::npos);
    CHECK(refusal(element(0x30, cat(ed25519_algorithm(), element(0x03, cat('\x01', key)))),
                  "PUBLIC KEY")
              .find("0 unused bits") != std::string::npos);
    CHECK(refusal(
              public_key_der(element(0x30, cat(element(0x06, "\x2b\x65\x70"), "\x05\x00"sv)), key),
              "PUBLIC KEY")
              .find("the algorithm has parameters; Ed25519's has none") != std::string::npos);
    CHECK(refusal(public_key_der(ed25519_algorithm(), key) + '\0', "PUBLIC KEY")
              .find("the SubjectPublicKeyInfo is followed by 1 more byte(s)") != std::string::npos);
    CHECK(refusal(private_key_der('\0', ed25519_algorithm(), kSeed + 'x'), "PRIVATE KEY")
              .find("the private key has 33 bytes, not 32") != std::string::npos);
    CHECK(refusal(private_key_der('\x02', ed25519_algorithm(), kSeed), "PRIVATE KEY")
              .find("version 0x02, not 0 or 1") != std::string::npos);

    // Version 1 may carry the public key ([1]); it must be the seed's.
    std::string stated = element(0x81, cat('\0', key));
    CHECK(refusal(private_key_der('\x01', ed25519_algorithm(), kSeed, stated), "PRIVATE KEY") ==
          refusal(public_key_der(ed25519_algorithm(), key), "PUBLIC KEY"));
    std::string other = element(0x81, cat('\0', public_key_of(std::string(32, 'o'))));
    CHECK(refusal(private_key_der('\x01', ed25519_algorithm(), kSeed, other), "PRIVATE KEY")
              .find("the public key in the file is not the private key's") != std::string::npos);

    // A broken trusted key is named among the unusable ones.
    REQUIRE(make_directories(dir / "trusted"));
    write(dir / "trusted/cut.pem",
          pem_text(public_key_der(ed25519_algorithm(), key).substr(0, 20), "PUBLIC KEY"));
    auto verified = verify_detached_signature("data", std::string(64, 's'),
                                              {dir / "trusted/cut.pem"}, dir / "trusted", "`sig`");
    CHECK(error_text(verified).find(cat("unusable key: ", quoted(dir / "trusted/cut.pem"),
                                        ": Ed25519 public key: truncated")) != std::string::npos);
}

TEST_CASE("randomly damaged Ed25519 key files are read or refused, never a crash") {
    TempDir dir;
    std::string public_der = public_key_der(ed25519_algorithm(), public_key_of(kSeed));
    std::string private_der = private_key_der('\0', ed25519_algorithm(), kSeed);
    uint32_t state = 0x2545f491;
    auto next = [&] {
        state = state * 1664525 + 1013904223;
        return state >> 8;
    };
    for (int round = 0; round < 600; ++round) {
        bool is_private = round % 2 == 1;
        std::string der = is_private ? private_der : public_der;
        for (uint32_t changes = 1 + next() % 3; changes > 0; --changes)
            der[next() % der.size()] = char(next());
        if (next() % 4 == 0)
            der.resize(next() % der.size());
        std::string path = dir / "key.pem";
        write(path, pem_text(der, is_private ? "PRIVATE KEY" : "PUBLIC KEY"));
        auto id = signing_key_id(path);
        if (!id)
            CHECK_MESSAGE(id.error().to_string().find(quoted(path)) != std::string::npos,
                          id.error().to_string());
        if (is_private)
            (void)sign_detached("data", path);
    }
}
