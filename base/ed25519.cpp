// Ed25519 (see ed25519.h), from RFC 8032's description: arithmetic modulo
// p = 2^255 - 19 in five 51-bit limbs, points of the twisted Edwards curve
// -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates, scalars modulo the
// group order L, and the key expansion, signing and verification of
// sections 5.1.5 to 5.1.7.
//
// Constant time: everything that touches the seed or what is derived from
// it (the scalar s, the prefix, the nonce r) runs the same instructions and
// reads the same memory whatever its value: no branch and no table index
// depends on a secret. Branches are only on public constants (the
// exponents of power()) and, in verification, on public inputs. The test
// ed25519_secret_check runs signing under valgrind with the seed marked
// undefined, which reports any branch or address that depends on it.
#include "base/ed25519.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha512.h>
#include <mbedtls/version.h>

#include <algorithm>
#include <initializer_list>
#include <optional>

namespace keel {

namespace {
// A named namespace inside the anonymous one: the unity build compiles other
// files into the same unit, and names such as `Point` must not meet theirs.
namespace edwards25519 {

using u128 = unsigned __int128;

// Overwrites a plain object (an array of key bytes, a scalar, a point) with
// zeros in a way the compiler may not drop.
template <typename T> void wipe(T& object) {
    mbedtls_platform_zeroize(&object, sizeof object);
}

uint64_t load_le64(const uint8_t* bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i)
        value = value << 8 | bytes[i];
    return value;
}

void store_le64(uint8_t* bytes, uint64_t value) {
    for (int i = 0; i < 8; ++i)
        bytes[i] = uint8_t(value >> (8 * i));
}

template <size_t N> std::string_view as_text(const std::array<uint8_t, N>& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), N};
}

// SHA-512 of the parts one after another. mbedTLS 2.x spells the calls with
// a _ret suffix, 3.x without; in software they cannot fail.
std::array<uint8_t, 64> sha512(std::initializer_list<std::string_view> parts) {
    std::array<uint8_t, 64> digest;
    mbedtls_sha512_context context;
    mbedtls_sha512_init(&context);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha512_starts(&context, 0);
    for (std::string_view part : parts)
        mbedtls_sha512_update(&context, reinterpret_cast<const uint8_t*>(part.data()), part.size());
    mbedtls_sha512_finish(&context, digest.data());
#else
    mbedtls_sha512_starts_ret(&context, 0);
    for (std::string_view part : parts)
        mbedtls_sha512_update_ret(&context, reinterpret_cast<const uint8_t*>(part.data()),
                                  part.size());
    mbedtls_sha512_finish_ret(&context, digest.data());
#endif
    mbedtls_sha512_free(&context); // zeroizes the context: it saw the prefix
    return digest;
}

constexpr uint64_t kLow51Bits = (uint64_t(1) << 51) - 1;

// An element of the field GF(p), p = 2^255 - 19:
// value = limb[0] + limb[1] 2^51 + limb[2] 2^102 + limb[3] 2^153 + limb[4] 2^204.
// Every operation carries its result, so limbs stay a little above 51 bits
// at most (below 2^52) and products of two fit in 128 bits with room to
// spare; field_to_bytes() gives the one canonical form.
struct FieldElement {
    std::array<uint64_t, 5> limb;
};

constexpr FieldElement kZero{{0, 0, 0, 0, 0}};
constexpr FieldElement kOne{{1, 0, 0, 0, 0}};

FieldElement small_field_element(uint64_t value) {
    return {{value, 0, 0, 0, 0}};
}

// Moves each limb's bits above 51 into the next limb. What leaves the top
// limb is a multiple of 2^255, and 2^255 = 19 (mod p).
void carry(FieldElement& h) {
    for (int i = 0; i < 4; ++i) {
        h.limb[i + 1] += h.limb[i] >> 51;
        h.limb[i] &= kLow51Bits;
    }
    uint64_t overflow = h.limb[4] >> 51;
    h.limb[4] &= kLow51Bits;
    h.limb[0] += 19 * overflow;
}

FieldElement add(const FieldElement& a, const FieldElement& b) {
    FieldElement sum;
    for (int i = 0; i < 5; ++i)
        sum.limb[i] = a.limb[i] + b.limb[i];
    carry(sum);
    return sum;
}

// a - b, computed as a + 4p - b so that no limb goes below zero (b's limbs
// are below 2^52, 4p's are about 2^53).
FieldElement subtract(const FieldElement& a, const FieldElement& b) {
    constexpr uint64_t kFourPLow = 4 * ((uint64_t(1) << 51) - 19);
    constexpr uint64_t kFourPOther = 4 * kLow51Bits;
    FieldElement difference;
    difference.limb[0] = a.limb[0] + kFourPLow - b.limb[0];
    for (int i = 1; i < 5; ++i)
        difference.limb[i] = a.limb[i] + kFourPOther - b.limb[i];
    carry(difference);
    return difference;
}

FieldElement negate(const FieldElement& a) {
    return subtract(kZero, a);
}

FieldElement multiply(const FieldElement& a, const FieldElement& b) {
    const auto& x = a.limb;
    const auto& y = b.limb;
    // The partial products that land at 2^255 or above come round to the
    // bottom multiplied by 19 (2^255 = 19 mod p).
    uint64_t y1_19 = 19 * y[1], y2_19 = 19 * y[2], y3_19 = 19 * y[3], y4_19 = 19 * y[4];
    u128 r0 = u128(x[0]) * y[0] + u128(x[1]) * y4_19 + u128(x[2]) * y3_19 + u128(x[3]) * y2_19 +
              u128(x[4]) * y1_19;
    u128 r1 = u128(x[0]) * y[1] + u128(x[1]) * y[0] + u128(x[2]) * y4_19 + u128(x[3]) * y3_19 +
              u128(x[4]) * y2_19;
    u128 r2 = u128(x[0]) * y[2] + u128(x[1]) * y[1] + u128(x[2]) * y[0] + u128(x[3]) * y4_19 +
              u128(x[4]) * y3_19;
    u128 r3 = u128(x[0]) * y[3] + u128(x[1]) * y[2] + u128(x[2]) * y[1] + u128(x[3]) * y[0] +
              u128(x[4]) * y4_19;
    u128 r4 = u128(x[0]) * y[4] + u128(x[1]) * y[3] + u128(x[2]) * y[2] + u128(x[3]) * y[1] +
              u128(x[4]) * y[0];
    r1 += r0 >> 51;
    r2 += r1 >> 51;
    r3 += r2 >> 51;
    r4 += r3 >> 51;
    FieldElement product{{uint64_t(r0) & kLow51Bits, uint64_t(r1) & kLow51Bits,
                          uint64_t(r2) & kLow51Bits, uint64_t(r3) & kLow51Bits,
                          uint64_t(r4) & kLow51Bits}};
    product.limb[0] += 19 * uint64_t(r4 >> 51);
    product.limb[1] += product.limb[0] >> 51;
    product.limb[0] &= kLow51Bits;
    return product;
}

FieldElement square(const FieldElement& a) {
    return multiply(a, a);
}

// An exponent, little-endian: `low`, then 30 bytes of `middle`, then `top`
// (each exponent used here has that shape).
using Exponent = std::array<uint8_t, 32>;
constexpr Exponent exponent(uint8_t low, uint8_t middle, uint8_t top) {
    Exponent bytes{};
    bytes[0] = low;
    for (int i = 1; i < 31; ++i)
        bytes[i] = middle;
    bytes[31] = top;
    return bytes;
}
constexpr Exponent kPMinus2 = exponent(0xeb, 0xff, 0x7f);      // 2^255 - 21: inversion
constexpr Exponent kPMinus5Over8 = exponent(0xfd, 0xff, 0x0f); // 2^252 - 3: square roots
constexpr Exponent kPMinus1Over4 = exponent(0xfb, 0xff, 0x1f); // 2^253 - 5: sqrt(-1)

// a^e, square-and-multiply from e's top bit. e is one of the constants
// above, never a secret, so branching on its bits leaks nothing about a.
FieldElement power(const FieldElement& a, const Exponent& e) {
    FieldElement result = kOne;
    for (int bit = 255; bit >= 0; --bit) {
        result = square(result);
        if ((e[bit / 8] >> (bit % 8)) & 1)
            result = multiply(result, a);
    }
    return result;
}

// 1/a by Fermat: a^(p-2).
FieldElement invert(const FieldElement& a) {
    return power(a, kPMinus2);
}

// 32 little-endian bytes; bit 255 is not part of the number (in a point's
// encoding it is the sign of x). The value may be p or more; is_canonical()
// is the check for that.
FieldElement field_from_bytes(const uint8_t* bytes) {
    uint64_t w0 = load_le64(bytes), w1 = load_le64(bytes + 8), w2 = load_le64(bytes + 16),
             w3 = load_le64(bytes + 24);
    return {{w0 & kLow51Bits, (w0 >> 51 | w1 << 13) & kLow51Bits,
             (w1 >> 38 | w2 << 26) & kLow51Bits, (w2 >> 25 | w3 << 39) & kLow51Bits,
             (w3 >> 12) & kLow51Bits}};
}

// The canonical encoding: the value reduced below p, 32 bytes little-endian.
std::array<uint8_t, 32> field_to_bytes(FieldElement h) {
    // Three carries leave every limb below 2^51, so h < 2^255 < 2p. h >= p
    // exactly when h + 19 reaches 2^255; q says whether it does, found by
    // carrying 19 through the limbs, without a branch.
    carry(h);
    carry(h);
    carry(h);
    uint64_t q = (h.limb[0] + 19) >> 51;
    for (int i = 1; i < 5; ++i)
        q = (h.limb[i] + q) >> 51;
    // h - p = h + 19 - 2^255: add 19 q, carry, and drop bit 255.
    h.limb[0] += 19 * q;
    for (int i = 0; i < 4; ++i) {
        h.limb[i + 1] += h.limb[i] >> 51;
        h.limb[i] &= kLow51Bits;
    }
    h.limb[4] &= kLow51Bits;
    std::array<uint8_t, 32> bytes;
    store_le64(bytes.data(), h.limb[0] | h.limb[1] << 51);
    store_le64(bytes.data() + 8, h.limb[1] >> 13 | h.limb[2] << 38);
    store_le64(bytes.data() + 16, h.limb[2] >> 26 | h.limb[3] << 25);
    store_le64(bytes.data() + 24, h.limb[3] >> 39 | h.limb[4] << 12);
    return bytes;
}

// "Negative" in RFC 8032's sense: the canonical value is odd.
uint8_t is_negative(const FieldElement& a) {
    return field_to_bytes(a)[0] & 1;
}

bool is_zero(const FieldElement& a) {
    std::array<uint8_t, 32> bytes = field_to_bytes(a);
    uint8_t any = 0;
    for (uint8_t byte : bytes)
        any |= byte;
    return any == 0;
}

bool equal(const FieldElement& a, const FieldElement& b) {
    return is_zero(subtract(a, b));
}

// Whether the 255-bit number in `bytes` (bit 255 aside) is below p, as RFC
// 8032 5.1.3 demands of a point's y: p's encoding is ed ff ... ff 7f.
bool is_canonical(const uint8_t* bytes) {
    if ((bytes[31] & 0x7f) != 0x7f)
        return true;
    for (int i = 30; i > 0; --i)
        if (bytes[i] != 0xff)
            return true;
    return bytes[0] < 0xed;
}

// The curve's constants, computed from their definitions at first use
// rather than copied in as digits.
struct FieldConstants {
    FieldElement d;       // -121665/121666
    FieldElement two_d;   // 2d, as the addition law uses it
    FieldElement sqrt_m1; // a square root of -1: 2^((p-1)/4)
};

const FieldConstants& field_constants() {
    static const FieldConstants constants = [] {
        FieldConstants c;
        c.d = negate(multiply(small_field_element(121665), invert(small_field_element(121666))));
        c.two_d = add(c.d, c.d);
        c.sqrt_m1 = power(small_field_element(2), kPMinus1Over4);
        return c;
    }();
    return constants;
}

// (x, y) as (X : Y : Z : T) with x = X/Z, y = Y/Z and x y = T/Z (RFC 8032
// 5.1.4's extended homogeneous coordinates).
struct Point {
    FieldElement x, y, z, t;
};

Point identity() {
    return {kZero, kOne, kOne, kZero};
}

// RFC 8032 5.1.4's addition. The law is complete on this curve: it is also
// right for doubling and for the identity, which lets scalar_multiply() add
// a table entry whatever it is.
Point point_add(const Point& p, const Point& q) {
    FieldElement a = multiply(subtract(p.y, p.x), subtract(q.y, q.x));
    FieldElement b = multiply(add(p.y, p.x), add(q.y, q.x));
    FieldElement c = multiply(multiply(p.t, field_constants().two_d), q.t);
    FieldElement d = multiply(add(p.z, p.z), q.z);
    FieldElement e = subtract(b, a), f = subtract(d, c), g = add(d, c), h = add(b, a);
    return {multiply(e, f), multiply(g, h), multiply(f, g), multiply(e, h)};
}

// RFC 8032 5.1.4's doubling: fewer multiplications than point_add(p, p).
Point point_double(const Point& p) {
    FieldElement a = square(p.x);
    FieldElement b = square(p.y);
    FieldElement z2 = square(p.z);
    FieldElement c = add(z2, z2);
    FieldElement h = add(a, b);
    FieldElement e = subtract(h, square(add(p.x, p.y)));
    FieldElement g = subtract(a, b);
    FieldElement f = add(c, g);
    return {multiply(e, f), multiply(g, h), multiply(f, g), multiply(e, h)};
}

bool same_point(const Point& p, const Point& q) {
    // x1/z1 = x2/z2 and y1/z1 = y2/z2, without dividing.
    return equal(multiply(p.x, q.z), multiply(q.x, p.z)) &&
           equal(multiply(p.y, q.z), multiply(q.y, p.z));
}

// The point's 32-byte encoding: y, with the sign of x in bit 255.
std::array<uint8_t, 32> encode(const Point& p) {
    FieldElement z_inverse = invert(p.z);
    std::array<uint8_t, 32> bytes = field_to_bytes(multiply(p.y, z_inverse));
    bytes[31] |= uint8_t(is_negative(multiply(p.x, z_inverse)) << 7);
    return bytes;
}

// The x with -x^2 + y^2 = 1 + d x^2 y^2 whose sign is `sign` (RFC 8032
// 5.1.3, steps 2 to 4), or nothing when there is none. Public values only.
std::optional<FieldElement> recover_x(const FieldElement& y, uint8_t sign) {
    const FieldConstants& constants = field_constants();
    FieldElement y2 = square(y);
    FieldElement u = subtract(y2, kOne);
    FieldElement v = add(multiply(constants.d, y2), kOne);
    // A candidate square root of u/v: x = u v^3 (u v^7)^((p-5)/8).
    FieldElement v3 = multiply(square(v), v);
    FieldElement v7 = multiply(square(v3), v);
    FieldElement x = multiply(multiply(u, v3), power(multiply(u, v7), kPMinus5Over8));
    FieldElement v_x2 = multiply(v, square(x));
    if (!equal(v_x2, u)) {
        if (!equal(v_x2, negate(u)))
            return std::nullopt; // u/v is not a square: no point has this y
        x = multiply(x, constants.sqrt_m1);
    }
    if (is_zero(x) && sign)
        return std::nullopt; // x = 0 has no negative form
    if (is_negative(x) != sign)
        x = negate(x);
    return x;
}

// The point an encoding names (RFC 8032 5.1.3), or nothing for y >= p or a
// y with no point.
std::optional<Point> decode(const uint8_t* bytes) {
    if (!is_canonical(bytes))
        return std::nullopt;
    FieldElement y = field_from_bytes(bytes);
    std::optional<FieldElement> x = recover_x(y, bytes[31] >> 7);
    if (!x)
        return std::nullopt;
    return Point{*x, y, kOne, multiply(*x, y)};
}

// B: y = 4/5 and x positive (even).
const Point& base_point() {
    static const Point base = [] {
        FieldElement y = multiply(small_field_element(4), invert(small_field_element(5)));
        FieldElement x = *recover_x(y, 0);
        return Point{x, y, kOne, multiply(x, y)};
    }();
    return base;
}

// All ones when a == b, else zero, without a branch.
uint64_t equal_mask(uint64_t a, uint64_t b) {
    uint64_t difference = a ^ b;
    // Bit 63 of difference | -difference is set exactly when difference != 0.
    return ((difference | (0 - difference)) >> 63) - 1;
}

void copy_if(FieldElement& to, const FieldElement& from, uint64_t mask) {
    for (int i = 0; i < 5; ++i)
        to.limb[i] |= from.limb[i] & mask;
}

// table[index], reading every entry and keeping one by masking: neither the
// memory read nor any branch depends on the (secret) index.
Point select(const std::array<Point, 16>& table, uint64_t index) {
    Point chosen{kZero, kZero, kZero, kZero};
    for (uint64_t i = 0; i < table.size(); ++i) {
        uint64_t mask = equal_mask(i, index);
        copy_if(chosen.x, table[i].x, mask);
        copy_if(chosen.y, table[i].y, mask);
        copy_if(chosen.z, table[i].z, mask);
        copy_if(chosen.t, table[i].t, mask);
    }
    return chosen;
}

// [scalar]P, scalar 32 bytes little-endian, in 4-bit windows from the top:
// four doublings, then the addition of table[window] = [window]P picked by
// select(). Every scalar takes the same steps (window 0 adds the identity),
// which is what makes signing constant-time.
Point scalar_multiply(const std::array<uint8_t, 32>& scalar, const Point& p) {
    std::array<Point, 16> table;
    table[0] = identity();
    for (size_t i = 1; i < table.size(); ++i)
        table[i] = point_add(table[i - 1], p);
    Point result = identity();
    for (int window = 63; window >= 0; --window) {
        for (int i = 0; i < 4; ++i)
            result = point_double(result);
        uint64_t digit = (scalar[window / 2] >> (4 * (window % 2))) & 15;
        Point term = select(table, digit);
        result = point_add(result, term);
        wipe(term);
    }
    wipe(table);
    return result;
}

// Scalars modulo the group order L = 2^252 +
// 27742317777372353535851937790883648493, in little-endian 64-bit words.
using Scalar = std::array<uint64_t, 4>;
using WideScalar = std::array<uint64_t, 8>;

constexpr Scalar kOrder{0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000};

Scalar scalar_from_bytes(const uint8_t* bytes) {
    Scalar words;
    for (size_t i = 0; i < words.size(); ++i)
        words[i] = load_le64(bytes + 8 * i);
    return words;
}

std::array<uint8_t, 32> scalar_to_bytes(const Scalar& words) {
    std::array<uint8_t, 32> bytes;
    for (size_t i = 0; i < words.size(); ++i)
        store_le64(bytes.data() + 8 * i, words[i]);
    return bytes;
}

// Whether the 256-bit number in `bytes` is below L (RFC 8032 5.1.7 refuses
// a signature's S otherwise: S + L would verify as well). Public input.
bool is_reduced(const uint8_t* bytes) {
    Scalar s = scalar_from_bytes(bytes);
    for (int i = 3; i >= 0; --i)
        if (s[size_t(i)] != kOrder[size_t(i)])
            return s[size_t(i)] < kOrder[size_t(i)];
    return false; // S = L
}

// r - L when r >= L, else r; both computed, one kept by a mask.
void subtract_order_if_reached(Scalar& r) {
    Scalar difference;
    uint64_t borrow = 0;
    for (size_t i = 0; i < r.size(); ++i) {
        u128 step = u128(r[i]) - kOrder[i] - borrow;
        difference[i] = uint64_t(step);
        borrow = uint64_t(step >> 64) & 1;
    }
    uint64_t take_difference = borrow - 1; // all ones when nothing was borrowed: r >= L
    for (size_t i = 0; i < r.size(); ++i)
        r[i] = (difference[i] & take_difference) | (r[i] & ~take_difference);
}

// x mod L, one bit at a time from the top: r = 2r + bit, less L when that
// reaches L. 512 steps of the same work whatever x is, so constant-time (x
// may be the nonce's hash); slow only next to the scalar multiplications.
Scalar reduce(const WideScalar& x) {
    Scalar r{};
    for (int bit = 511; bit >= 0; --bit) {
        // r < L < 2^253, so 2r + 1 still fits in 256 bits.
        r[3] = r[3] << 1 | r[2] >> 63;
        r[2] = r[2] << 1 | r[1] >> 63;
        r[1] = r[1] << 1 | r[0] >> 63;
        r[0] = r[0] << 1 | ((x[size_t(bit / 64)] >> (bit % 64)) & 1);
        subtract_order_if_reached(r);
    }
    return r;
}

// A 64-byte hash, little-endian, as a number modulo L.
Scalar reduce_hash(const std::array<uint8_t, 64>& hash) {
    WideScalar x;
    for (size_t i = 0; i < x.size(); ++i)
        x[i] = load_le64(hash.data() + 8 * i);
    Scalar r = reduce(x);
    wipe(x);
    return r;
}

// (a b + c) mod L: schoolbook product into 512 bits, c added, then reduced.
// a, c < L < 2^253 and b < 2^256 (the clamped, unreduced secret scalar), so
// a b + c < 2^510: nothing overflows.
Scalar multiply_add(const Scalar& a, const Scalar& b, const Scalar& c) {
    WideScalar wide{};
    for (size_t i = 0; i < a.size(); ++i) {
        u128 carried = 0;
        for (size_t j = 0; j < b.size(); ++j) {
            carried += u128(a[i]) * b[j] + wide[i + j];
            wide[i + j] = uint64_t(carried);
            carried >>= 64;
        }
        wide[i + b.size()] = uint64_t(carried);
    }
    u128 carried = 0;
    for (size_t i = 0; i < wide.size(); ++i) {
        carried += u128(wide[i]) + (i < c.size() ? c[i] : 0);
        wide[i] = uint64_t(carried);
        carried >>= 64;
    }
    Scalar result = reduce(wide);
    wipe(wide);
    return result;
}

// What a seed expands to (RFC 8032 5.1.5): SHA-512(seed) split in two, the
// first half "clamped" into the secret scalar s (a multiple of 8, bit 254
// set), the second the prefix that makes each signature's nonce. Wiped when
// it goes out of scope.
struct ExpandedKey {
    std::array<uint8_t, 32> scalar;
    std::array<uint8_t, 32> prefix;

    explicit ExpandedKey(const Ed25519Seed& seed) {
        std::array<uint8_t, 64> hash = sha512({as_text(seed)});
        std::copy(hash.begin(), hash.begin() + 32, scalar.begin());
        std::copy(hash.begin() + 32, hash.end(), prefix.begin());
        wipe(hash);
        scalar[0] &= 248;
        scalar[31] &= 127;
        scalar[31] |= 64;
    }
    ~ExpandedKey() {
        wipe(scalar);
        wipe(prefix);
    }
    ExpandedKey(const ExpandedKey&) = delete;
    ExpandedKey& operator=(const ExpandedKey&) = delete;
};

Ed25519PublicKey public_key_of(const ExpandedKey& key) {
    Point a = scalar_multiply(key.scalar, base_point());
    Ed25519PublicKey encoded = encode(a);
    wipe(a);
    return encoded;
}

} // namespace edwards25519
} // namespace

Ed25519PublicKey ed25519_public_key(const Ed25519Seed& seed) {
    using namespace edwards25519;
    ExpandedKey key(seed);
    return public_key_of(key);
}

Ed25519Signature ed25519_sign(const Ed25519Seed& seed, std::string_view message) {
    using namespace edwards25519;
    ExpandedKey key(seed);
    Ed25519PublicKey public_key = public_key_of(key);

    // The nonce r = SHA-512(prefix || M) mod L: secret, and different for
    // every message, so s cannot be solved for from two signatures.
    std::array<uint8_t, 64> nonce_hash = sha512({as_text(key.prefix), message});
    Scalar nonce = reduce_hash(nonce_hash);
    std::array<uint8_t, 32> nonce_bytes = scalar_to_bytes(nonce);
    Point r = scalar_multiply(nonce_bytes, base_point());
    std::array<uint8_t, 32> r_encoded = encode(r);

    // S = (r + k s) mod L, k = SHA-512(R || A || M) mod L.
    Scalar k = reduce_hash(sha512({as_text(r_encoded), as_text(public_key), message}));
    Scalar s = scalar_from_bytes(key.scalar.data());
    std::array<uint8_t, 32> s_encoded = scalar_to_bytes(multiply_add(k, s, nonce));

    Ed25519Signature signature;
    std::copy(r_encoded.begin(), r_encoded.end(), signature.begin());
    std::copy(s_encoded.begin(), s_encoded.end(), signature.begin() + 32);
    wipe(nonce_hash);
    wipe(nonce);
    wipe(nonce_bytes);
    wipe(r);
    wipe(s);
    return signature;
}

bool ed25519_verify(const Ed25519PublicKey& public_key, std::string_view message,
                    const Ed25519Signature& signature) {
    using namespace edwards25519;
    const uint8_t* r_encoded = signature.data();
    const uint8_t* s_encoded = signature.data() + 32;
    if (!is_reduced(s_encoded))
        return false;
    std::optional<Point> a = decode(public_key.data());
    std::optional<Point> r = decode(r_encoded);
    if (!a || !r)
        return false;
    std::string_view r_text(reinterpret_cast<const char*>(r_encoded), 32);
    Scalar k = reduce_hash(sha512({r_text, as_text(public_key), message}));
    std::array<uint8_t, 32> s_bytes;
    std::copy(s_encoded, s_encoded + 32, s_bytes.begin());
    // [S]B = R + [k]A
    return same_point(scalar_multiply(s_bytes, base_point()),
                      point_add(*r, scalar_multiply(scalar_to_bytes(k), *a)));
}

} // namespace keel
