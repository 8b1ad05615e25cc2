// A check that Ed25519 signing does not branch on, or index memory by, the
// secret: valgrind's memcheck is told that the seed's bytes are undefined,
// and then reports every conditional jump and every address that depends
// on them (the "ctgrind" technique). The public key and the signature are
// computed from the seed, so they are declared defined again before they
// are used. Run under `valgrind --error-exitcode=1` by ctest
// (ed25519_secret_check); it exits 0 either way when run alone.
#include "base/ed25519.h"

#include <valgrind/memcheck.h>

#include <cstdio>

int main() {
    keel::Ed25519Seed seed;
    for (size_t i = 0; i < seed.size(); ++i)
        seed[i] = uint8_t(7 * i + 1);
    // The curve's constants are computed at first use: from defined data.
    (void)keel::ed25519_public_key(seed);

    VALGRIND_MAKE_MEM_UNDEFINED(seed.data(), seed.size());
    keel::Ed25519PublicKey public_key = keel::ed25519_public_key(seed);
    keel::Ed25519Signature signature = keel::ed25519_sign(seed, "a manifest");
    VALGRIND_MAKE_MEM_DEFINED(public_key.data(), public_key.size());
    VALGRIND_MAKE_MEM_DEFINED(signature.data(), signature.size());

    bool verified = keel::ed25519_verify(public_key, "a manifest", signature);
    std::printf("signature %s\n", verified ? "verifies" : "DOES NOT VERIFY");
    return verified ? 0 : 1;
}
