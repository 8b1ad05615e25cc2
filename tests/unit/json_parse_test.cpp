// base/json_parse.cpp: parse_json() takes RFC 8259 JSON and nothing else,
// decodes strings to UTF-8, keeps numbers as written, and says where the
// text went wrong.
#include "base/json.h"

#include <doctest/doctest.h>
#include <string>
#include <string_view>

using keel::JsonValue;
using keel::parse_json;
using Kind = keel::JsonValue::Kind;

namespace {

// The parse error's text, or "(parsed)" when the text parsed.
std::string json_error(std::string_view text) {
    auto parsed = parse_json(text);
    return parsed ? std::string("(parsed)") : parsed.error().to_string();
}

// The decoded string of a document that is one string.
std::string parsed_string(std::string_view text) {
    auto parsed = parse_json(text);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    REQUIRE(parsed->kind() == Kind::String);
    return parsed->string();
}

// The literal of a document that is one number.
std::string parsed_number(std::string_view text) {
    auto parsed = parse_json(text);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    REQUIRE(parsed->kind() == Kind::Number);
    return parsed->number_text();
}

} // namespace

TEST_CASE("null, booleans, numbers and strings parse, with whitespace around them") {
    auto null = parse_json(" null ");
    REQUIRE(null);
    CHECK(null->kind() == Kind::Null);
    auto yes = parse_json("\ttrue\r\n");
    REQUIRE(yes);
    CHECK(yes->kind() == Kind::Bool);
    CHECK(yes->boolean());
    auto no = parse_json("false");
    REQUIRE(no);
    CHECK_FALSE(no->boolean());
    CHECK(parsed_number("\n42\n") == "42");
    CHECK(parsed_string(R"( "web" )") == "web");
}

TEST_CASE("arrays and objects nest, and members keep their document order") {
    auto parsed = parse_json(R"({"z": [1, [], {}], "a": {"k": "v"}, "m": null})");
    REQUIRE(parsed);
    REQUIRE(parsed->kind() == Kind::Object);
    const auto& members = parsed->object();
    REQUIRE(members.size() == 3);
    CHECK(members[0].first == "z");
    CHECK(members[1].first == "a");
    CHECK(members[2].first == "m");
    const auto& z = members[0].second.array();
    REQUIRE(z.size() == 3);
    CHECK(z[0].number_text() == "1");
    CHECK(z[1].kind() == Kind::Array);
    CHECK(z[1].array().empty());
    CHECK(z[2].kind() == Kind::Object);
    CHECK(z[2].object().empty());
    REQUIRE(parsed->find("a"));
    REQUIRE(parsed->find("a")->find("k"));
    CHECK(parsed->find("a")->find("k")->string() == "v");
    CHECK(parsed->find("m")->kind() == Kind::Null);
    CHECK(parsed->find("nope") == nullptr);
    CHECK(z[0].find("z") == nullptr); // not an object
}

TEST_CASE("of duplicate keys the last wins, and both stay in the object") {
    auto parsed = parse_json(R"({"a": 1, "b": 2, "a": 3})");
    REQUIRE(parsed);
    REQUIRE(parsed->find("a"));
    CHECK(parsed->find("a")->number_text() == "3");
    REQUIRE(parsed->object().size() == 3);
    CHECK(parsed->object()[0].second.number_text() == "1");
}

TEST_CASE("string escapes are decoded") {
    CHECK(parsed_string(R"("\"\\\/\b\f\n\r\t")") == "\"\\/\b\f\n\r\t");
    CHECK(parsed_string(R"("caf\u00e9 \u00E9")") == "caf\xc3\xa9 \xc3\xa9");
    CHECK(parsed_string(R"("\u20ac")") == "\xe2\x82\xac");
    CHECK(parsed_string(R"("a\u0000b")") == std::string("a\0b", 3));
    CHECK(parsed_string(R"("\u007f\u0080\u07ff\u0800\uffff")") ==
          "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf");
}

TEST_CASE("a surrogate pair is one character, a lone surrogate is refused") {
    CHECK(parsed_string(R"("\ud83d\ude00")") == "\xf0\x9f\x98\x80");
    CHECK(parsed_string(R"("\uD800\uDC00")") == "\xf0\x90\x80\x80");
    CHECK(parsed_string(R"("\udbff\udfff")") == "\xf4\x8f\xbf\xbf");
    CHECK(json_error(R"("\ud800")") ==
          "line 1, column 2: lone surrogate in a string (a `\\u` escape of U+D800 to U+DBFF "
          "must be followed by one of U+DC00 to U+DFFF)");
    CHECK(json_error(R"("ab\ud800x")").starts_with("line 1, column 4: lone surrogate"));
    CHECK(json_error(R"("\ud800\u0041")").starts_with("line 1, column 8: lone surrogate"));
    CHECK(json_error(R"("\ud800\ud800")").starts_with("line 1, column 8: lone surrogate"));
    CHECK(json_error(R"("\udc00")") ==
          "line 1, column 2: lone surrogate in a string (a `\\u` escape of U+DC00 to U+DFFF "
          "must follow one of U+D800 to U+DBFF)");
}

TEST_CASE("a bad escape is refused") {
    CHECK(json_error(R"("\x")") == "line 1, column 2: invalid escape `\\x` in a string");
    CHECK(json_error(R"("\')") == "line 1, column 2: invalid escape `\\'` in a string");
    CHECK(json_error(R"("\u12")") == "line 1, column 6: expected four hex digits after `\\u`");
    CHECK(json_error(R"("\u12g4")") == "line 1, column 6: expected four hex digits after `\\u`");
    CHECK(json_error(R"("\)") ==
          "line 1, column 3: expected an escape after `\\`, got the end of the text");
}

TEST_CASE("UTF-8 in strings is kept as it is, invalid UTF-8 is refused") {
    CHECK(parsed_string("\"\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9\"") ==
          "\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9");
    CHECK(parsed_string("\"\xf4\x8f\xbf\xbf\"") == "\xf4\x8f\xbf\xbf"); // U+10FFFF
    const char* invalid[] = {
        "\"\xff\"",             // never in UTF-8
        "\"\x80\"",             // a continuation byte alone
        "\"\xc0\xaf\"",         // overlong `/`
        "\"\xe0\x80\xaf\"",     // overlong, three bytes
        "\"\xf0\x80\x80\xaf\"", // overlong, four bytes
        "\"\xed\xa0\x80\"",     // a surrogate, encoded
        "\"\xf4\x90\x80\x80\"", // above U+10FFFF
        "\"\xe2\x82\"",         // cut short
        "\"\xe2\x82",           // cut short by the end of the text
    };
    for (const char* text : invalid) {
        CAPTURE(std::string_view(text));
        CHECK(json_error(text) == "line 1, column 2: invalid UTF-8 in a string");
    }
}

TEST_CASE("control characters in strings must be escaped") {
    CHECK(json_error("\"a\tb\"") ==
          "line 1, column 3: control character U+0009 in a string (it must be escaped)");
    CHECK(json_error("\"a\nb\"") ==
          "line 1, column 3: control character U+000A in a string (it must be escaped)");
    CHECK(json_error(std::string_view("\"\0\"", 3)) ==
          "line 1, column 2: control character U+0000 in a string (it must be escaped)");
    CHECK(json_error("\"\x1f\"").starts_with("line 1, column 2: control character U+001F"));
    CHECK(parsed_string("\"\x7f\"") == "\x7f"); // DEL is no control character to JSON
}

TEST_CASE("numbers are kept as written, however large") {
    CHECK(parsed_number("0") == "0");
    CHECK(parsed_number("-0") == "-0");
    CHECK(parsed_number("-12") == "-12");
    CHECK(parsed_number("1.5e3") == "1.5e3");
    CHECK(parsed_number("1E+2") == "1E+2");
    CHECK(parsed_number("0.001e-3") == "0.001e-3");
    CHECK(parsed_number("1e400") == "1e400");
    CHECK(parsed_number("18446744073709551616") == "18446744073709551616");
    CHECK(parsed_number("-9223372036854775808") == "-9223372036854775808");
}

TEST_CASE("numbers JSON does not have are refused") {
    CHECK(json_error("01") == "line 1, column 1: leading zero in a number");
    CHECK(json_error("[-012]") == "line 1, column 2: leading zero in a number");
    CHECK(json_error("1.") ==
          "line 1, column 3: expected a digit after `.`, got the end of the text");
    CHECK(json_error("1.e5") == "line 1, column 3: expected a digit after `.`");
    CHECK(json_error(".5") == "line 1, column 1: expected a value");
    CHECK(json_error("-") ==
          "line 1, column 2: expected a digit after `-`, got the end of the text");
    CHECK(json_error("-x") == "line 1, column 2: expected a digit after `-`");
    CHECK(json_error("+1") == "line 1, column 1: expected a value");
    CHECK(json_error("1e") ==
          "line 1, column 3: expected a digit in the exponent, got the end of the text");
    CHECK(json_error("1e+") ==
          "line 1, column 4: expected a digit in the exponent, got the end of the text");
    CHECK(json_error("NaN") == "line 1, column 1: expected a value");
    CHECK(json_error("Infinity") == "line 1, column 1: expected a value");
    CHECK(json_error("-Infinity") == "line 1, column 2: expected a digit after `-`");
    CHECK(json_error("0x10") ==
          "line 1, column 2: expected nothing but whitespace after the value");
}

TEST_CASE("what JSON does not allow around values is refused, saying where") {
    CHECK(json_error("") == "line 1, column 1: expected a value, got the end of the text");
    CHECK(json_error(" \n ") == "line 2, column 2: expected a value, got the end of the text");
    CHECK(json_error("[1,]") == "line 1, column 4: expected a value");
    CHECK(json_error(R"({"a":1,})") == "line 1, column 8: expected a string as an object key");
    CHECK(json_error("{a:1}") == "line 1, column 2: expected a string as an object key");
    CHECK(json_error("{'a':1}") == "line 1, column 2: expected a string as an object key");
    CHECK(json_error(R"({"a" 1})") == "line 1, column 6: expected `:` after an object key");
    CHECK(json_error(R"({"a":1 "b":2})") ==
          "line 1, column 8: expected `,` or `}` after an object member");
    CHECK(json_error("[1 2]") == "line 1, column 4: expected `,` or `]` after an array element");
    CHECK(json_error("[1") ==
          "line 1, column 3: expected `,` or `]` after an array element, got the end of the text");
    CHECK(json_error(R"({"a":)") == "line 1, column 6: expected a value, got the end of the text");
    CHECK(json_error(R"(  "open)") == "line 1, column 3: string not closed by a `\"`");
    CHECK(json_error("1 2") == "line 1, column 3: expected nothing but whitespace after the value");
    CHECK(json_error("{} x") ==
          "line 1, column 4: expected nothing but whitespace after the value");
    CHECK(json_error("[1] // note") ==
          "line 1, column 5: expected nothing but whitespace after the value");
    CHECK(json_error("/* note */ 1") == "line 1, column 1: expected a value");
    CHECK(json_error("tru") == "line 1, column 1: expected a value");
    CHECK(json_error("True") == "line 1, column 1: expected a value");
    CHECK(json_error("nul") == "line 1, column 1: expected a value");
    CHECK(json_error("\xef\xbb\xbf{}") == "line 1, column 1: expected a value"); // a BOM
    CHECK(json_error("[1]\f") ==
          "line 1, column 4: expected nothing but whitespace after the value");
}

TEST_CASE("an error's line and column count lines and characters, not bytes") {
    CHECK(json_error("{\n  \"process\": {\n    \"args\": [\"sh\"] \"cwd\": \"/\"\n  }\n}") ==
          "line 3, column 20: expected `,` or `}` after an object member");
    CHECK(json_error("[\"\xc3\xa9\xe2\x82\xac\", x]") == "line 1, column 8: expected a value");
    CHECK(json_error("[\r\n1,\r\n x]") == "line 3, column 2: expected a value");
}

TEST_CASE("arrays and objects nest 256 deep and no deeper") {
    auto nested = [](int depth, std::string_view open, std::string_view close) {
        std::string text;
        for (int i = 0; i < depth; ++i)
            text += open;
        text += "1";
        for (int i = 0; i < depth; ++i)
            text += close;
        return text;
    };
    auto deepest = parse_json(nested(256, "[", "]"));
    REQUIRE(deepest);
    const JsonValue* inner = &*deepest;
    for (int i = 0; i < 256; ++i) {
        REQUIRE(inner->kind() == Kind::Array);
        inner = &inner->array().front();
    }
    CHECK(inner->number_text() == "1");
    CHECK(json_error(nested(257, "[", "]")) == "line 1, column 257: nested deeper than 256");
    CHECK(parse_json(nested(256, R"({"a":)", "}")));
    CHECK(json_error(nested(257, R"({"a":)", "}")) ==
          "line 1, column 1281: nested deeper than 256");
    // Far deeper input fails the same way instead of exhausting the stack.
    CHECK(json_error(std::string(100000, '[')) == "line 1, column 257: nested deeper than 256");
}
