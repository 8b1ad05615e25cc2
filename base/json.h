// JSON both ways. Writing: string escaping as RFC 8259 asks, and a writer
// that builds objects and arrays (commas, colons and brackets included) so
// that no caller concatenates braces by hand; output is compact, with no
// whitespace between tokens. Reading: a strict RFC 8259 parser into a
// JsonValue tree, and cursors that read that tree into typed values with
// errors naming the JSON path ("process.rlimits[2].type: missing").
#pragma once

#include "base/result.h"

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel {

class JsonValue;

/// `text` as a JSON string literal, quotes included: `"` and `\` are
/// escaped, a newline is `\n`, every other control character (below 0x20)
/// is `\u00XX`; every other byte, 0x80 and above too, is copied as it is
/// (keel's text is UTF-8, or raw bytes a tool passed on).
std::string json_string(std::string_view text);

/// Builds one JSON value. Every call appends a token and returns the
/// writer, so a document reads in the order it is written:
///
///     JsonWriter json;
///     json.begin_object().field("name", "web").field("pid", 42);
///     json.key("dropins").begin_array().value("a.conf").end_array();
///     json.end_object();
///     json.text() == R"({"name":"web","pid":42,"dropins":["a.conf"]})"
class JsonWriter {
public:
    /// `{`: members follow as key() + a value, or field().
    JsonWriter& begin_object();
    /// `}`.
    JsonWriter& end_object();
    /// `[`: elements follow as values.
    JsonWriter& begin_array();
    /// `]`.
    JsonWriter& end_array();
    /// The key of the next member of the enclosing object.
    JsonWriter& key(std::string_view name);

    /// A string.
    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    /// `true` or `false`.
    JsonWriter& value(bool flag);
    /// A number, in decimal.
    template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>) JsonWriter& value(T number) {
        return raw(std::to_string(number));
    }
    /// The value, or `null` when there is none.
    template <typename T> JsonWriter& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }
    /// A parsed (or built) value, whole: numbers as their literal text,
    /// object members in their order, duplicates included.
    JsonWriter& value(const JsonValue& v);
    /// `null`.
    JsonWriter& null();

    /// key(name) followed by value(v).
    template <typename T> JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }

    /// The document so far.
    const std::string& text() const { return m_text; }

private:
    // Puts the comma between elements (none after a key or at the start).
    void separate();
    JsonWriter& raw(std::string_view token);

    std::string m_text;
    // One entry per open object or array: whether it has an element yet.
    std::vector<bool> m_has_elements;
    bool m_after_key = false;
};

/// One JSON value, as parse_json() read it: a tree that owns its children.
class JsonValue {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };
    using Member = std::pair<std::string, JsonValue>;

    /// null.
    JsonValue() = default;
    static JsonValue make_bool(bool flag);
    /// A number written as `literal`, which must be a JSON number as RFC
    /// 8259 spells it ("-12", "1.5e3"); the writer copies it as it is.
    static JsonValue make_number(std::string literal);
    /// An integer, in decimal.
    template <std::integral T>
    requires(!std::same_as<T, bool>) static JsonValue make_integer(T number) {
        return make_number(std::to_string(number));
    }
    /// A string (its bytes, decoded: no JSON escapes).
    static JsonValue make_string(std::string text);
    static JsonValue make_array(std::vector<JsonValue> elements);
    static JsonValue make_object(std::vector<Member> members);

    Kind kind() const { return m_kind; }
    /// Precondition: kind() == Bool.
    bool boolean() const { return m_bool; }
    /// The literal as written, e.g. "-12", "1.5e3". Precondition: Number.
    const std::string& number_text() const { return m_text; }
    /// Decoded: escapes resolved, \uXXXX (surrogate pairs joined) as UTF-8.
    /// Precondition: String.
    const std::string& string() const { return m_text; }
    /// Precondition: Array.
    const std::vector<JsonValue>& array() const { return m_array; }
    /// Every member in document order, duplicates included. Precondition:
    /// Object.
    const std::vector<Member>& object() const { return m_object; }
    /// The member named `key`, or nullptr (also when this is no object).
    /// Of duplicate keys the last wins, as in Go's encoding/json, which runc
    /// reads config.json with.
    const JsonValue* find(std::string_view key) const;

    /// Same kind and contents; numbers compare by their text ("1.0" != "1"),
    /// objects member by member in order.
    friend bool operator==(const JsonValue& a, const JsonValue& b);

private:
    Kind m_kind = Kind::Null;
    bool m_bool = false;
    std::string m_text; // the number's literal or the decoded string
    std::vector<JsonValue> m_array;
    std::vector<Member> m_object;
};

/// Parses `text` as one JSON value, RFC 8259 strictly: no comments, no
/// trailing commas, no NaN or Infinity, no leading zeros, no unescaped
/// control characters in strings, no invalid UTF-8, no lone surrogates, and
/// nothing but whitespace after the value. Nesting deeper than 256 arrays
/// and objects is refused. Errors say where, lines and columns (characters)
/// counted from 1: "line 3, column 17: expected `,` or `}` after an object
/// member".
Result<JsonValue> parse_json(std::string_view text);

class JsonObjectCursor;

/// A value being read, with its JSON path for error messages
/// ("process.rlimits[2].type"). Reading a missing member is not an error
/// until a value is required from it. A cursor points into a JsonValue tree
/// it does not own: the tree must outlive it.
class JsonCursor {
public:
    /// The value at `path` ("" for the document's root: errors then have no
    /// "PATH: " prefix).
    explicit JsonCursor(const JsonValue& value, std::string path = "");
    /// A member that may be absent: nullptr when it is.
    JsonCursor(const JsonValue* value_or_null_when_missing, std::string path);

    const std::string& path() const { return m_path; }
    /// The member was absent.
    bool missing() const { return m_value == nullptr; }
    /// Present and null.
    bool null() const { return m_value && m_value->kind() == JsonValue::Kind::Null; }
    /// The value, or nullptr when missing.
    const JsonValue* get() const { return m_value; }
    /// There and not null: optional members are read only then.
    bool present() const { return m_value && !null(); }
    /// An error about this value: "PATH: what" ("what" alone at the root).
    std::unexpected<Error> fail(std::string_view what) const;

    // Each of these requires a value of its kind: "PATH: expected a string,
    // got a number"; a missing member is "PATH: missing".
    Result<std::string> string() const;
    Result<bool> boolean() const;
    /// The nearest double; a number too large for one (1e400) is an error.
    Result<double> number() const;
    /// An integer, exactly, from the literal's text (so all of uint64_t):
    /// "12" is, "1.5" and "1e3" are not ("PATH: expected an integer, got
    /// 1.5"); outside [min, max] is "PATH: 300 is out of range (0 to 255)".
    template <std::integral T>
    Result<T> integer(T min = std::numeric_limits<T>::min(),
                      T max = std::numeric_limits<T>::max()) const {
        if constexpr (std::is_signed_v<T>) {
            Result<std::int64_t> n = signed_integer(min, max);
            if (!n)
                return std::unexpected(std::move(n).error());
            return static_cast<T>(*n);
        } else {
            Result<std::uint64_t> n = unsigned_integer(min, max);
            if (!n)
                return std::unexpected(std::move(n).error());
            return static_cast<T>(*n);
        }
    }
    /// The value as a T (std::string, bool, double or an integer type), or
    /// `fallback` when missing or null.
    template <typename T> Result<T> value_or(T fallback) const {
        if (missing() || null())
            return fallback;
        return as<T>();
    }
    Result<std::string> value_or(const char* fallback) const {
        return value_or<std::string>(fallback);
    }
    /// An object's members: an error if this is anything else (missing
    /// included).
    Result<JsonObjectCursor> object() const;
    /// An array's elements, with paths "a.b[0]", "a.b[1]", ...; missing or
    /// null is an empty array, anything else an error.
    Result<std::vector<JsonCursor>> array() const;
    /// An object whose every value is a T (std::string, bool, double or an
    /// integer type); missing or null is an empty map, anything else an error.
    template <typename T> Result<std::map<std::string, T>> map() const;

private:
    template <typename T> static constexpr bool kUnsupported = false;

    template <typename T> Result<T> as() const {
        if constexpr (std::same_as<T, std::string>)
            return string();
        else if constexpr (std::same_as<T, bool>)
            return boolean();
        else if constexpr (std::same_as<T, double>)
            return number();
        else if constexpr (std::integral<T>)
            return integer<T>();
        else
            static_assert(kUnsupported<T>, "JsonCursor reads strings, booleans and numbers");
    }
    // Nothing when the value is there and of `kind`; else "PATH: missing"
    // or "PATH: expected WHAT, got a number".
    Result<void> require(JsonValue::Kind kind, std::string_view what) const;
    Result<std::int64_t> signed_integer(std::int64_t min, std::int64_t max) const;
    Result<std::uint64_t> unsigned_integer(std::uint64_t min, std::uint64_t max) const;

    const JsonValue* m_value;
    std::string m_path;
};

/// An object being read (from JsonCursor::object()): its members by name.
class JsonObjectCursor {
public:
    /// Precondition: `object` is an object.
    JsonObjectCursor(const JsonValue& object, std::string path);

    const std::string& path() const { return m_path; }
    /// The member `key` (missing if absent), with path "parent.key" (just
    /// "key" at the root). Of duplicate keys the last wins.
    JsonCursor operator[](std::string_view key) const;
    bool has(std::string_view key) const;
    /// Every member in document order, each key once: of duplicate keys only
    /// the last is kept, where it stands.
    std::vector<std::pair<std::string, JsonCursor>> members() const;

private:
    const JsonValue* m_object;
    std::string m_path;
};

template <typename T> Result<std::map<std::string, T>> JsonCursor::map() const {
    std::map<std::string, T> out;
    if (missing() || null())
        return out;
    Result<JsonObjectCursor> members = object();
    if (!members)
        return std::unexpected(std::move(members).error());
    for (const auto& [key, member] : members->members()) {
        Result<T> value = member.template as<T>();
        if (!value)
            return std::unexpected(std::move(value).error());
        out.emplace(key, std::move(*value));
    }
    return out;
}

} // namespace keel
