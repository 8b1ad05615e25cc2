// Tests for base/ed25519.h: RFC 8032's test vectors (section 7.1), and the
// refusals verification owes: any changed bit, an S not below the group
// order, encodings of y that are not canonical, and encodings of no point.
#include "base/ed25519.h"

#include "base/strings.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

using namespace keel;

namespace {

std::string from_hex(std::string_view hex) {
    REQUIRE(hex.size() % 2 == 0);
    std::string bytes;
    for (size_t i = 0; i < hex.size(); i += 2) {
        int high = hex_digit_value(hex[i]), low = hex_digit_value(hex[i + 1]);
        REQUIRE((high >= 0 && low >= 0));
        bytes.push_back(char(high << 4 | low));
    }
    return bytes;
}

template <size_t N> std::array<uint8_t, N> array_from_hex(std::string_view hex) {
    std::string bytes = from_hex(hex);
    REQUIRE(bytes.size() == N);
    std::array<uint8_t, N> array;
    std::copy(bytes.begin(), bytes.end(), array.begin());
    return array;
}

template <size_t N> std::string hex_of(const std::array<uint8_t, N>& bytes) {
    return to_hex(bytes.data(), N);
}

struct Vector {
    std::string_view name;
    std::string_view seed;
    std::string_view public_key;
    std::string_view message;
    std::string_view signature;
};

// The 1023-byte message of TEST 1024.
constexpr std::string_view kTest1024Message =
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
    "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
    "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
    "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
    "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
    "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
    "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
    "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
    "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
    "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
    "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
    "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
    "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
    "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
    "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
    "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
    "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
    "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
    "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
    "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
    "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
    "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0";

const std::vector<Vector>& rfc8032_vectors() {
    static const std::vector<Vector> vectors = {
        {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
         "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
        {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
         "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", kTest1024Message,
         "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
         "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
        {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
         "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
         "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
         "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
    };
    return vectors;
}

// A valid signature to tamper with: TEST 3's.
struct Signed {
    Ed25519PublicKey public_key = array_from_hex<32>(rfc8032_vectors()[2].public_key);
    std::string message = from_hex(rfc8032_vectors()[2].message);
    Ed25519Signature signature = array_from_hex<64>(rfc8032_vectors()[2].signature);
};

// The encoding of the neutral element (x = 0, y = 1), and of B (y = 4/5).
constexpr std::string_view kIdentity =
    "0100000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view kBasePoint =
    "5866666666666666666666666666666666666666666666666666666666666666";
// y = p + 1, which is 1 again: the identity, encoded without reducing y.
constexpr std::string_view kIdentityNotCanonical =
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
// The group order L, little-endian.
constexpr std::string_view kOrder =
    "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

Ed25519Signature signature_of(std::string_view r_hex, std::string_view s_hex) {
    return array_from_hex<64>(cat(r_hex, s_hex));
}

} // namespace

TEST_CASE("RFC 8032's test vectors: the public key, the signature, and verification") {
    for (const Vector& vector : rfc8032_vectors()) {
        CAPTURE(vector.name);
        Ed25519Seed seed = array_from_hex<32>(vector.seed);
        std::string message = from_hex(vector.message);
        CHECK(hex_of(ed25519_public_key(seed)) == vector.public_key);
        CHECK(hex_of(ed25519_sign(seed, message)) == vector.signature);
        CHECK(ed25519_verify(array_from_hex<32>(vector.public_key), message,
                             array_from_hex<64>(vector.signature)));
    }
    CHECK(rfc8032_vectors()[3].message.size() == 2 * 1023);
}

TEST_CASE("a signature does not verify once a bit of the message, signature or key is flipped") {
    Signed good;
    REQUIRE(ed25519_verify(good.public_key, good.message, good.signature));
    for (size_t bit = 0; bit < 8 * good.message.size(); ++bit) {
        std::string message = good.message;
        message[bit / 8] = char(message[bit / 8] ^ (1 << (bit % 8)));
        CHECK_FALSE(ed25519_verify(good.public_key, message, good.signature));
    }
    CHECK_FALSE(ed25519_verify(good.public_key, good.message + '\0', good.signature));
    CHECK_FALSE(ed25519_verify(good.public_key, "", good.signature));
    for (size_t bit = 0; bit < 8 * good.signature.size(); bit += 7) {
        Ed25519Signature signature = good.signature;
        signature[bit / 8] ^= uint8_t(1 << (bit % 8));
        CAPTURE(bit);
        CHECK_FALSE(ed25519_verify(good.public_key, good.message, signature));
    }
    for (size_t bit = 0; bit < 8 * good.public_key.size(); bit += 3) {
        Ed25519PublicKey key = good.public_key;
        key[bit / 8] ^= uint8_t(1 << (bit % 8));
        CAPTURE(bit);
        CHECK_FALSE(ed25519_verify(key, good.message, good.signature));
    }
}

TEST_CASE("a signature whose S is not below the group order is refused, though S mod L verifies") {
    Signed good;
    // S + L: the same value modulo L, so the group equation still holds.
    Ed25519Signature malleated = good.signature;
    std::string order = from_hex(kOrder);
    unsigned carry = 0;
    for (size_t i = 0; i < 32; ++i) {
        carry += unsigned(malleated[32 + i]) + uint8_t(order[i]);
        malleated[32 + i] = uint8_t(carry);
        carry >>= 8;
    }
    REQUIRE(carry == 0);
    CHECK_FALSE(ed25519_verify(good.public_key, good.message, malleated));

    // S = L, and S all ones.
    CHECK_FALSE(ed25519_verify(good.public_key, good.message,
                               signature_of(hex_of(good.signature).substr(0, 64), kOrder)));
    Ed25519Signature ones = good.signature;
    std::fill(ones.begin() + 32, ones.end(), 0xff);
    CHECK_FALSE(ed25519_verify(good.public_key, good.message, ones));
}

TEST_CASE("a point whose y is encoded without reducing it below p is refused") {
    // With A the identity, [S]B = R + [k]A holds for R = [S]B whatever the
    // message: R = B, S = 1. Encoded canonically the key verifies (RFC 8032
    // does not refuse small-order keys); y = p + 1 names the same point but
    // is not canonical, and is refused.
    std::string one = cat("01", std::string(62, '0'));
    Ed25519Signature r_is_b = signature_of(kBasePoint, one);
    CHECK(ed25519_verify(array_from_hex<32>(kIdentity), "any message", r_is_b));
    CHECK_FALSE(ed25519_verify(array_from_hex<32>(kIdentityNotCanonical), "any message", r_is_b));

    // The same for R: with A and R the identity and S = 0 the equation holds.
    std::string zero(64, '0');
    CHECK(ed25519_verify(array_from_hex<32>(kIdentity), "any message",
                         signature_of(kIdentity, zero)));
    CHECK_FALSE(ed25519_verify(array_from_hex<32>(kIdentity), "any message",
                               signature_of(kIdentityNotCanonical, zero)));
}

TEST_CASE("encodings of no point are refused: a y without an x, and x = 0 marked negative") {
    Signed good;
    // y = 2: (y^2 - 1) / (d y^2 + 1) is not a square.
    CHECK_FALSE(ed25519_verify(array_from_hex<32>(cat("02", std::string(62, '0'))), good.message,
                               good.signature));
    // The identity with the sign bit of x set: x = 0 has no negative.
    std::string negative_zero = cat("01", std::string(60, '0'), "80");
    CHECK_FALSE(ed25519_verify(array_from_hex<32>(negative_zero), "any message",
                               signature_of(kBasePoint, cat("01", std::string(62, '0')))));
    CHECK_FALSE(ed25519_verify(good.public_key, good.message,
                               signature_of(negative_zero, hex_of(good.signature).substr(64))));
}

TEST_CASE("keys from many seeds sign and verify, and refuse each other's signatures") {
    std::string message(100000, 'k');
    Ed25519Seed seed{};
    Ed25519PublicKey previous_key{};
    Ed25519Signature previous_signature{};
    for (int round = 0; round < 8; ++round) {
        seed[size_t(round) % seed.size()] = uint8_t(0x5a + 37 * round);
        message[size_t(round) * 1000] = char(round);
        Ed25519PublicKey key = ed25519_public_key(seed);
        Ed25519Signature signature = ed25519_sign(seed, message);
        CHECK(signature == ed25519_sign(seed, message)); // deterministic
        CHECK(ed25519_verify(key, message, signature));
        if (round > 0)
            CHECK_FALSE(ed25519_verify(previous_key, message, signature));
        CHECK_FALSE(ed25519_verify(key, message, previous_signature));
        previous_key = key;
        previous_signature = signature;
    }
}
