// base/json.cpp: string escaping as RFC 8259 asks, documents built by the
// writer (commas, keys, nesting, numbers, booleans, null), and values built
// or parsed, written back.
#include "base/json.h"

#include <cstdint>
#include <doctest/doctest.h>
#include <limits>
#include <optional>
#include <string>

using keel::json_string;
using keel::JsonValue;
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

TEST_CASE("a parsed value is written back compact, members in order, numbers as written") {
    auto parsed = keel::parse_json(R"( {
        "ociVersion": "1.2.0",
        "process": {"args": ["sh", "-c", "echo \"hi\""], "terminal": false, "umask": 18},
        "big": 18446744073709551616, "float": -1.50e+3, "zero": -0,
        "dup": 1, "dup": 2, "empty": {}, "none": [], "n": null
    } )");
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    JsonWriter json;
    json.value(*parsed);
    CHECK(json.text() ==
          R"({"ociVersion":"1.2.0","process":{"args":["sh","-c","echo \"hi\""],)"
          R"("terminal":false,"umask":18},"big":18446744073709551616,"float":-1.50e+3,)"
          R"("zero":-0,"dup":1,"dup":2,"empty":{},"none":[],"n":null})");
}

TEST_CASE("decoded strings are escaped again when written, and parse back equal") {
    auto parsed = keel::parse_json(R"(["tab\there", "nul\u0000", "\u00e9\ud83d\ude00", "a\/b",
                                       {"k\ney": "\u001f"}])");
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    JsonWriter json;
    json.value(*parsed);
    CHECK(json.text() == "[\"tab\\u0009here\",\"nul\\u0000\",\"\xc3\xa9\xf0\x9f\x98\x80\","
                         "\"a/b\",{\"k\\ney\":\"\\u001f\"}]");
    auto again = keel::parse_json(json.text());
    REQUIRE(again);
    CHECK(*again == *parsed);
}

TEST_CASE("built values are written like parsed ones") {
    JsonValue config = JsonValue::make_object({
        {"name", JsonValue::make_string("web")},
        {"pids", JsonValue::make_array({JsonValue::make_integer(1), JsonValue::make_integer(-2)})},
        {"ok", JsonValue::make_bool(true)},
        {"ratio", JsonValue::make_number("0.5")},
        {"none", JsonValue()},
    });
    JsonWriter json;
    json.begin_object().field("config", config).field("after", 1).end_object();
    CHECK(json.text() ==
          R"({"config":{"name":"web","pids":[1,-2],"ok":true,"ratio":0.5,"none":null},"after":1})");
    CHECK(*keel::parse_json(json.text())->find("config") == config);
}

TEST_CASE("values are equal when kind and contents are, numbers by their text") {
    CHECK(JsonValue() == JsonValue());
    CHECK(JsonValue::make_number("1") == JsonValue::make_integer(1));
    CHECK_FALSE(JsonValue::make_number("1.0") == JsonValue::make_number("1"));
    CHECK_FALSE(JsonValue::make_string("1") == JsonValue::make_number("1"));
    CHECK_FALSE(JsonValue::make_bool(false) == JsonValue());
    CHECK_FALSE(*keel::parse_json(R"({"a":1,"b":2})") == *keel::parse_json(R"({"b":2,"a":1})"));
    CHECK_FALSE(*keel::parse_json("[1,[2]]") == *keel::parse_json("[1,[3]]"));
}
