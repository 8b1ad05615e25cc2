// Tests for kv/crc32c.h: the Castagnoli check value, continued in pieces.
#include "kv/crc32c.h"

#include <doctest/doctest.h>

using namespace keel::kv;

TEST_CASE("crc32c gives the Castagnoli check value, whole or continued in pieces") {
    CHECK(crc32c(0, "123456789") == 0xe3069283u);
    CHECK(crc32c(crc32c(0, "1234"), "56789") == 0xe3069283u);
    CHECK(crc32c(0, "") == 0);
}
