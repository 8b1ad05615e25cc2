// base/json_cursor.cpp: reading a parsed document into typed values, every
// error naming the JSON path of what was wrong, and a missing member an
// error only once a value is required from it.
#include "base/json.h"
#include "tests/unit/test_util.h"

#include <cmath>
#include <cstdint>
#include <doctest/doctest.h>
#include <limits>
#include <map>
#include <string>
#include <string_view>

using keel::JsonCursor;
using keel::JsonObjectCursor;
using keel::JsonValue;
using keel::testing::error_text;

namespace {

JsonValue parsed_json(std::string_view text) {
    auto value = keel::parse_json(text);
    REQUIRE_MESSAGE(value, (value ? std::string() : value.error().to_string()));
    return *value;
}

} // namespace

TEST_CASE("strings, booleans and numbers are read as what they are") {
    JsonValue doc = parsed_json(R"({"s": "web", "b": true, "n": 1.5e3, "i": -12})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(*root["s"].string() == "web");
    CHECK(*root["b"].boolean() == true);
    CHECK(*root["n"].number() == 1500.0);
    CHECK(*root["i"].number() == -12.0);
    CHECK(*root["i"].integer<int>() == -12);
}

TEST_CASE("a value of another kind is an error naming its path and both kinds") {
    JsonValue doc = parsed_json(R"({"n": null, "b": false, "x": 1, "s": "", "a": [], "o": {}})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(error_text(root["n"].string()) == "n: expected a string, got null");
    CHECK(error_text(root["b"].string()) == "b: expected a string, got a boolean");
    CHECK(error_text(root["x"].string()) == "x: expected a string, got a number");
    CHECK(error_text(root["s"].boolean()) == "s: expected a boolean, got a string");
    CHECK(error_text(root["a"].number()) == "a: expected a number, got an array");
    CHECK(error_text(root["o"].integer<int>()) == "o: expected an integer, got an object");
    CHECK(error_text(root["x"].object()) == "x: expected an object, got a number");
    CHECK(error_text(root["n"].object()) == "n: expected an object, got null");
    CHECK(error_text(root["o"].array()) == "o: expected an array, got an object");
    CHECK(error_text(root["s"].map<std::string>()) == "s: expected an object, got a string");
}

TEST_CASE("at the document's root an error has no path in front") {
    JsonValue doc = parsed_json("7");
    CHECK(error_text(JsonCursor(doc).string()) == "expected a string, got a number");
    CHECK(error_text(JsonCursor(doc).object()) == "expected an object, got a number");
    CHECK(JsonCursor(doc).path().empty());
}

TEST_CASE("a missing member is an error only when a value is required from it") {
    JsonValue doc = parsed_json(R"({"root": {"readonly": true}})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    JsonCursor path = (*root["root"].object())["path"];
    CHECK(path.missing());
    CHECK_FALSE(path.null());
    CHECK(path.get() == nullptr);
    CHECK(path.path() == "root.path");
    CHECK(error_text(path.string()) == "root.path: missing");
    CHECK(error_text(path.boolean()) == "root.path: missing");
    CHECK(error_text(path.number()) == "root.path: missing");
    CHECK(error_text(path.integer<uint32_t>()) == "root.path: missing");
    CHECK(error_text(path.object()) == "root.path: missing");
    CHECK(error_text(root["hostname"].string()) == "hostname: missing");
    CHECK(error_text(root["process"].object()) == "process: missing");
}

TEST_CASE("null is present, not missing") {
    JsonValue doc = parsed_json(R"({"n": null})");
    JsonCursor n = (*JsonCursor(doc).object())["n"];
    CHECK_FALSE(n.missing());
    CHECK(n.null());
    REQUIRE(n.get());
    CHECK(n.get()->kind() == JsonValue::Kind::Null);
}

TEST_CASE("paths name members with dots and elements with their index") {
    JsonValue doc = parsed_json(R"({"process": {"rlimits": [
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
        {"type": 7, "hard": 0, "soft": 0}
    ]}})");
    JsonObjectCursor process = *(*JsonCursor(doc).object())["process"].object();
    CHECK(process.path() == "process");
    auto rlimits = process["rlimits"].array();
    REQUIRE(rlimits);
    REQUIRE(rlimits->size() == 3);
    CHECK((*rlimits)[0].path() == "process.rlimits[0]");
    CHECK(*(*(*rlimits)[0].object())["type"].string() == "RLIMIT_NOFILE");
    CHECK(error_text((*(*rlimits)[2].object())["type"].string()) ==
          "process.rlimits[2].type: expected a string, got a number");
    CHECK(error_text((*(*rlimits)[1].object())["kind"].string()) ==
          "process.rlimits[1].kind: missing");

    JsonValue list = parsed_json(R"([[1, "x"]])");
    auto outer = *JsonCursor(list).array();
    auto inner = *outer[0].array();
    CHECK(inner[1].path() == "[0][1]");
    CHECK(error_text(inner[1].integer<int>()) == "[0][1]: expected an integer, got a string");
}

TEST_CASE("an array that is missing or null is empty, anything else not an array an error") {
    JsonValue doc = parsed_json(R"({"n": null, "s": "x", "a": ["p", "q"]})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(root["absent"].array()->empty());
    CHECK(root["n"].array()->empty());
    CHECK(error_text(root["s"].array()) == "s: expected an array, got a string");
    auto a = root["a"].array();
    REQUIRE(a);
    REQUIRE(a->size() == 2);
    CHECK(*(*a)[1].string() == "q");
}

TEST_CASE("integers are read exactly from the literal, fractions and exponents refused") {
    JsonValue doc = parsed_json(R"([12, 1.5, 1e3, 12.0, -0, 0])");
    auto values = *JsonCursor(doc, "v").array();
    CHECK(*values[0].integer<int>() == 12);
    CHECK(error_text(values[1].integer<int>()) == "v[1]: expected an integer, got 1.5");
    CHECK(error_text(values[2].integer<int64_t>()) == "v[2]: expected an integer, got 1e3");
    CHECK(error_text(values[3].integer<int>()) == "v[3]: expected an integer, got 12.0");
    CHECK(*values[4].integer<int>() == 0);
    CHECK(*values[4].integer<uint32_t>() == 0u);
    CHECK(*values[5].integer<uint8_t>() == 0);
}

TEST_CASE("integers out of the type's or the caller's range are refused, naming the range") {
    JsonValue doc = parsed_json(R"({"mode": 300, "small": -1, "uid": 5})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(error_text(root["mode"].integer<uint8_t>()) == "mode: 300 is out of range (0 to 255)");
    CHECK(error_text(root["small"].integer<uint32_t>()) ==
          "small: -1 is out of range (0 to 4294967295)");
    CHECK(error_text(root["small"].integer<int8_t>(0, 10)) ==
          "small: -1 is out of range (0 to 10)");
    CHECK(error_text(root["uid"].integer<int>(10, 20)) == "uid: 5 is out of range (10 to 20)");
    CHECK(*root["uid"].integer<int>(5, 5) == 5);
    CHECK(*root["mode"].integer<int16_t>() == 300);
}

TEST_CASE("the limits of 64-bit integers are exact") {
    JsonValue doc = parsed_json(R"([18446744073709551615, 18446744073709551616,
        -9223372036854775808, -9223372036854775809, 9223372036854775807,
        9223372036854775808, 123456789012345678901234567890])");
    auto v = *JsonCursor(doc, "n").array();
    CHECK(*v[0].integer<uint64_t>() == std::numeric_limits<uint64_t>::max());
    CHECK(error_text(v[1].integer<uint64_t>()) ==
          "n[1]: 18446744073709551616 is out of range (0 to 18446744073709551615)");
    CHECK(*v[2].integer<int64_t>() == std::numeric_limits<int64_t>::min());
    CHECK(error_text(v[3].integer<int64_t>()) == "n[3]: -9223372036854775809 is out of range "
                                                 "(-9223372036854775808 to 9223372036854775807)");
    CHECK(*v[4].integer<int64_t>() == std::numeric_limits<int64_t>::max());
    CHECK(error_text(v[5].integer<int64_t>()).starts_with("n[5]: 9223372036854775808 is out of"));
    CHECK(*v[5].integer<uint64_t>() == 9223372036854775808u);
    CHECK(error_text(v[6].integer<uint64_t>())
              .starts_with("n[6]: 123456789012345678901234567890 is"));
    CHECK(error_text(v[2].integer<uint64_t>()).starts_with("n[2]: -9223372036854775808 is out of"));
}

TEST_CASE("numbers are read as the nearest double, one too large for a double is refused") {
    JsonValue doc = parsed_json(R"([0.1, -0, 1e400, -1e400, 1e-400, 2.5E-1])");
    auto v = *JsonCursor(doc, "d").array();
    CHECK(*v[0].number() == 0.1);
    CHECK(*v[1].number() == 0.0);
    CHECK(std::signbit(*v[1].number()));
    CHECK(error_text(v[2].number()) == "d[2]: 1e400 is out of range");
    CHECK(error_text(v[3].number()) == "d[3]: -1e400 is out of range");
    CHECK(*v[4].number() == 0.0);
    CHECK(*v[5].number() == 0.25);
}

TEST_CASE("value_or gives the fallback for a missing or null member, the value otherwise") {
    JsonValue doc = parsed_json(R"({"terminal": true, "cwd": "/srv", "uid": 7, "gid": null,
                               "umask": "022"})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(*root["terminal"].value_or(false) == true);
    CHECK(*root["absent"].value_or(true) == true);
    CHECK(*root["cwd"].value_or("/") == "/srv");
    CHECK(*root["absent"].value_or("/") == "/");
    CHECK(*root["absent"].value_or(std::string("x")) == "x");
    CHECK(*root["uid"].value_or<uint32_t>(0) == 7u);
    CHECK(*root["gid"].value_or<uint32_t>(99) == 99u);
    CHECK(*root["absent"].value_or(1.5) == 1.5);
    CHECK(error_text(root["umask"].value_or<uint32_t>(0)) ==
          "umask: expected an integer, got a string");
    CHECK(error_text(root["uid"].value_or<uint8_t>(0)) == "(no error)");
    CHECK(error_text(root["cwd"].value_or(false)) == "cwd: expected a boolean, got a string");
}

TEST_CASE("a map reads an object whose every value is of one type") {
    JsonValue doc = parsed_json(R"({"annotations": {"b": "2", "a": "1", "b": "3"},
                               "sysctl": {"net.ipv4.ip_forward": "1"},
                               "limits": {"x": 1, "y": "2"}, "none": null})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    auto annotations = root["annotations"].map<std::string>();
    REQUIRE(annotations);
    CHECK(*annotations == std::map<std::string, std::string>{{"a", "1"}, {"b", "3"}});
    CHECK(root["sysctl"].map<std::string>()->at("net.ipv4.ip_forward") == "1");
    CHECK(root["absent"].map<std::string>()->empty());
    CHECK(root["none"].map<bool>()->empty());
    CHECK(error_text(root["limits"].map<int>()) == "limits.y: expected an integer, got a string");
    CHECK(error_text(root["annotations"].map<int>()) ==
          "annotations.a: expected an integer, got a string");
}

TEST_CASE("an object cursor finds members by name, the last of duplicates winning") {
    JsonValue doc = parsed_json(R"({"a": 1, "b": 2, "a": 3, "c": null})");
    JsonObjectCursor root = *JsonCursor(doc).object();
    CHECK(*root["a"].integer<int>() == 3);
    CHECK(root["a"].path() == "a");
    CHECK(root.has("a"));
    CHECK(root.has("c"));
    CHECK_FALSE(root.has("d"));
    auto members = root.members();
    REQUIRE(members.size() == 3);
    CHECK(members[0].first == "b");
    CHECK(members[1].first == "a");
    CHECK(*members[1].second.integer<int>() == 3);
    CHECK(members[1].second.path() == "a");
    CHECK(members[2].first == "c");
    CHECK(members[2].second.null());

    JsonObjectCursor nested = *JsonCursor(doc, "linux.sysctl").object();
    CHECK(nested["a"].path() == "linux.sysctl.a");
    CHECK(nested.members()[0].second.path() == "linux.sysctl.b");
}
