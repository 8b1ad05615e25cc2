// Tests for base/crc32c.h: the Castagnoli check value, continued in pieces,
// and the instruction path agreeing with the table on every length and
// alignment around its eight-byte steps.
#include "base/crc32c.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace keel;

TEST_CASE("crc32c gives the Castagnoli check value, whole or continued in pieces") {
    for (auto checksum : {crc32c, crc32c_portable}) {
        CHECK(checksum("123456789", 0) == 0xe3069283u);
        CHECK(checksum("56789", checksum("1234", 0)) == 0xe3069283u);
        CHECK(checksum("", 0) == 0);
    }
}

TEST_CASE("crc32c and the table give the same checksum at every length and offset") {
    std::string data(300, '\0');
    uint32_t state = 0x9e3779b9;
    for (char& c : data) {
        state = state * 1664525 + 1013904223;
        c = char(state >> 24);
    }
    for (size_t offset = 0; offset < 9; ++offset)
        for (size_t length = 0; offset + length <= data.size(); ++length) {
            std::string_view piece = std::string_view(data).substr(offset, length);
            REQUIRE_MESSAGE(crc32c(piece, 0x1234) == crc32c_portable(piece, 0x1234), "offset ",
                            offset, " length ", length);
        }
}
