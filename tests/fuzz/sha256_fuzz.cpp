// Fuzz target for base/sha256.cpp: the input hashed whole with the
// portable engine, and again, with each engine this CPU has, fed in pieces
// whose sizes come from the input's own bytes. Every way must give the
// same digest: the SHA extensions' code and the buffering across pieces
// are checked against the plainest path.
#include "base/digest.h"
#include "tests/fuzz/fuzz_check.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    FUZZ_CHECK(keel::use_sha256_engine(keel::Sha256Engine::Portable));
    const keel::Sha256Digest whole = keel::sha256_bytes(input);
    for (const auto& entry : keel::kSha256EngineNames.entries()) {
        if (!keel::use_sha256_engine(entry.value))
            continue;
        FUZZ_CHECK(keel::sha256_bytes(input) == whole);
        keel::Sha256 pieces;
        for (size_t at = 0, step = 0; at < size; at += step) {
            step = std::min<size_t>(size - at, 1 + uint8_t(input[at]) % 131);
            pieces.update(input.substr(at, step));
        }
        FUZZ_CHECK(pieces.finish() == whole);
        size_t cut = size == 0 ? 0 : uint8_t(input[0]) * size / 256;
        FUZZ_CHECK(keel::sha256_bytes(input.substr(0, cut), input.substr(cut)) == whole);
    }
    return 0;
}
