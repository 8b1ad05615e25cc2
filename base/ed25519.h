// Ed25519 signatures (RFC 8032, pure Ed25519: no prehash, no context),
// written here from the RFC because the mbedTLS keel links (2.28, Debian
// 12) has none. base/signature.h uses it for Ed25519 keys; SHA-512 comes
// from mbedTLS. Signing is constant-time in the secret (no branch or table
// index depends on it) and wipes what it derived from the seed;
// verification works on public values only and is not.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel {

/// The 32-byte secret an Ed25519 private key is (RFC 8032's "private key";
/// PKCS#8 files hold it as an OCTET STRING).
using Ed25519Seed = std::array<uint8_t, 32>;
/// An encoded public key: the point A, 32 bytes.
using Ed25519PublicKey = std::array<uint8_t, 32>;
/// A signature: the point R, then the scalar S, 64 bytes.
using Ed25519Signature = std::array<uint8_t, 64>;

/// The public key of `seed` (RFC 8032 5.1.5).
Ed25519PublicKey ed25519_public_key(const Ed25519Seed& seed);

/// The signature of `message` by `seed` (RFC 8032 5.1.6). Deterministic:
/// the same seed and message always give the same signature.
Ed25519Signature ed25519_sign(const Ed25519Seed& seed, std::string_view message);

/// Whether `signature` is a valid signature of `message` by `public_key`
/// (RFC 8032 5.1.7): false for a public key or R that is not a canonical
/// encoding of a curve point, an S not below the group order, and for any
/// signature made over other bytes or with another key. The check is
/// [S]B = R + [k]A, without the cofactor (as OpenSSL checks it).
bool ed25519_verify(const Ed25519PublicKey& public_key, std::string_view message,
                    const Ed25519Signature& signature);

} // namespace keel
