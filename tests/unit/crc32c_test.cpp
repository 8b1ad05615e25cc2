// Tests for base/crc32c.h: the Castagnoli check value, continued in pieces.
#include "base/crc32c.h"

#include <doctest/doctest.h>

using namespace keel;

TEST_CASE("crc32c gives the Castagnoli check value, whole or continued in pieces") {
    CHECK(crc32c("123456789") == 0xe3069283u);
    CHECK(crc32c("56789", crc32c("1234")) == 0xe3069283u);
    CHECK(crc32c("") == 0);
}
