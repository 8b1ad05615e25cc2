// The JSON that --json prints: string escaping as RFC 8259 asks, and a
// writer that builds objects and arrays (commas, colons and brackets
// included) so that no command concatenates braces by hand. Output is
// compact: no whitespace between tokens.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::cli {

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

} // namespace keel::cli
