// FUZZ_CHECK: an invariant a fuzz target asserts about a parser's output.
// A violation aborts, which libFuzzer reports as a crash with the input that
// caused it (asserts are compiled out of release builds, so no assert()).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

/// A mkstemp/mkdtemp pattern for a target's scratch files under $TMPDIR
/// (/tmp when unset): "$TMPDIR/keel-NAME-fuzz-XXXXXX".
inline std::string fuzz_scratch_pattern(std::string_view name) {
    const char* base = std::getenv("TMPDIR");
    return std::string(base && *base ? base : "/tmp") + "/keel-" + std::string(name) +
           "-fuzz-XXXXXX";
}
