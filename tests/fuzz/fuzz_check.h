// FUZZ_CHECK: an invariant a fuzz target asserts about a parser's output.
// A violation aborts, which libFuzzer reports as a crash with the input that
// caused it (asserts are compiled out of release builds, so no assert()).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)
