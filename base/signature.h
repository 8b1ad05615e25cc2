// Detached signatures over a byte string, shared by live patches and A/B
// update payloads. With an RSA or EC key the signature is over the SHA-256
// of the bytes, RSA PKCS#1 v1.5 (2048 bits or more) or ECDSA (DER), the
// format `openssl dgst -sha256 -sign KEY` writes; with an Ed25519 key it is
// RFC 8032's 64 bytes over the bytes themselves, what `openssl pkeyutl
// -sign -rawin -inkey KEY` writes. Trusted public keys are the PEM files
// (*.pem) of a directory, /etc/keel/trusted.d on a keel machine. mbedTLS
// does RSA and ECDSA; Ed25519, which Debian's mbedTLS 2.28 lacks, is
// base/ed25519.h's, and its key files (RFC 8410) are read here. Keys are
// read through base/ so that errors name the files.
#pragma once

#include "base/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace keel {

/// Where a keel machine keeps the public keys it trusts.
inline constexpr std::string_view kTrustedKeysDirectory = "/etc/keel/trusted.d";
/// The suffix of a detached signature file: FILE.sig signs FILE.
inline constexpr std::string_view kSignatureSuffix = ".sig";

/// The largest signature accepted (RSA-8192 is 1024 bytes; ECDSA and
/// Ed25519 far less).
inline constexpr size_t kMaxSignatureSize = 1024;

/// The trusted key a signature verified against.
struct SignatureKey {
    std::string path;   ///< the trusted key file
    std::string key_id; ///< first 16 hex digits of SHA-256 of the key's DER
};

/// The .pem files of `directory`, sorted; a missing directory has none.
Result<std::vector<std::string>> trusted_key_files(const std::string& directory);

/// Checks `signature` over `data` against every key in `key_files` (from
/// trusted_key_files(); `directory` names them in errors). `what` names the
/// signature in errors ("`manifest.json.sig`"). Errors: "bad signature: WHAT
/// verifies against none of the N trusted key(s) in DIR" (with the keys that
/// could not be used), or a signature of an impossible size.
Result<SignatureKey> verify_detached_signature(std::string_view data, std::string_view signature,
                                               const std::vector<std::string>& key_files,
                                               const std::string& directory, std::string_view what);

/// Signs `data` with the PEM private key (Ed25519, RSA or EC, unencrypted)
/// at `private_key_path`: the bytes of the detached signature.
Result<std::string> sign_detached(std::string_view data, const std::string& private_key_path);

/// The key id (16 hex digits) of a PEM public or private key file: the
/// start of the SHA-256 of its public key's SubjectPublicKeyInfo DER (what
/// `openssl pkey -pubout -outform DER` writes).
Result<std::string> signing_key_id(const std::string& key_path);

} // namespace keel
