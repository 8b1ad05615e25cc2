// base/json.h: string escaping as RFC 8259 asks, and documents built by the
// writer (commas, keys, nesting, numbers, booleans, null).
#include "base/json.h"

#include <cstdint>
#include <doctest/doctest.h>
#include <limits>
#include <optional>
#include <string>

using keel::json_string;
using keel::JsonWriter;

TEST_CASE("quotes and backslashes are escaped, plain text is kept") {
    CHECK(json_string("") == R"("")");
    CHECK(json_string("web.service") == R"("web.service")");
    CHECK(json_string(R"(say "hi")") == R"("say \"hi\"")");
    CHECK(json_string(R"(C:\dir)") == R"("C:\\dir")");
    CHECK(json_string("/") == R"("/")");
}

TEST_CASE("every control character is escaped: a newline as \\n, the others as \\u00XX") {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int c = 0; c < 0x20; ++c) {
        std::string expected =
            c == '\n' ? "\"\\n\"" : std::string("\"\\u00") + kHex[c >> 4] + kHex[c & 15] + "\"";
        CHECK(json_string(std::string(1, char(c))) == expected);
    }
    CHECK(json_string("a\tb") == R"("a\u0009b")");
    CHECK(json_string("line\r\n") == R"("line\u000d\n")");
    CHECK(json_string(std::string("a\0b", 3)) == R"("a\u0000b")");
}

TEST_CASE("bytes from 0x7f up are passed through as they are") {
    CHECK(json_string("\x7f") == "\"\x7f\"");
    CHECK(json_string("caf\xc3\xa9 \xe2\x97\x8f") == "\"caf\xc3\xa9 \xe2\x97\x8f\"");
    CHECK(json_string("\xff\x80") == "\"\xff\x80\""); // not UTF-8: kept as it came
}

TEST_CASE("an object's members are separated by commas, keys escaped") {
    JsonWriter json;
    json.begin_object().field("name", "web").field("pid", 42).field("say \"x\"", true).end_object();
    CHECK(json.text() == R"({"name":"web","pid":42,"say \"x\"":true})");
}

TEST_CASE("empty objects and arrays have nothing between their brackets") {
    JsonWriter json;
    json.begin_object().key("a").begin_array().end_array().key("o").begin_object().end_object();
    json.end_object();
    CHECK(json.text() == R"({"a":[],"o":{}})");
}

TEST_CASE("objects and arrays nest, each with its own commas") {
    JsonWriter json;
    json.begin_array();
    for (int i = 0; i < 2; ++i) {
        json.begin_object().field("i", i).key("pairs").begin_array();
        json.begin_array().value("k").value("v").end_array();
        json.begin_array().value("k2").value("v2").end_array();
        json.end_array().field("last", false).end_object();
    }
    json.end_array();
    CHECK(json.text() == R"([{"i":0,"pairs":[["k","v"],["k2","v2"]],"last":false},)"
                         R"({"i":1,"pairs":[["k","v"],["k2","v2"]],"last":false}])");
}

TEST_CASE("numbers are written in full, signed and unsigned") {
    JsonWriter json;
    json.begin_array()
        .value(0)
        .value(-7)
        .value(std::numeric_limits<int32_t>::min())
        .value(std::numeric_limits<uint32_t>::max())
        .value(std::numeric_limits<uint64_t>::max())
        .value(std::numeric_limits<int64_t>::min())
        .end_array();
    CHECK(json.text() == "[0,-7,-2147483648,4294967295,18446744073709551615,"
                         "-9223372036854775808]");
}

TEST_CASE("an empty optional is null, a present one its value") {
    JsonWriter json;
    json.begin_object()
        .field("boot", std::optional<std::string>())
        .field("taint", std::optional<uint64_t>(32768))
        .key("transition")
        .null()
        .field("flags", "")
        .end_object();
    CHECK(json.text() == R"({"boot":null,"taint":32768,"transition":null,"flags":""})");
}

TEST_CASE("strings of every kind are written as strings, not as numbers or booleans") {
    std::string owned = "owned";
    std::string_view view = "view";
    JsonWriter json;
    json.begin_array().value("literal").value(owned).value(view).value(true).end_array();
    CHECK(json.text() == R"(["literal","owned","view",true])");
}
