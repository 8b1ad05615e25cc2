// JsonCursor and JsonObjectCursor: a parsed JsonValue read into typed values,
// every error naming the JSON path of the value it is about (see json.h).
#include "base/json.h"
#include "base/strings.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keel {

namespace {

// How an error names what it found: "expected a string, got a number".
std::string_view kind_name(JsonValue::Kind kind) {
    switch (kind) {
    case JsonValue::Kind::Null:
        return "null";
    case JsonValue::Kind::Bool:
        return "a boolean";
    case JsonValue::Kind::Number:
        return "a number";
    case JsonValue::Kind::String:
        return "a string";
    case JsonValue::Kind::Array:
        return "an array";
    case JsonValue::Kind::Object:
        return "an object";
    }
    return "?";
}

// A number literal's integer value, from its text, which is a JSON number
// (json_parse.cpp checked it). Its magnitude is kept apart from its sign so
// that both INT64_MIN and UINT64_MAX are exact.
struct IntegerLiteral {
    bool negative = false;
    std::uint64_t magnitude = 0;
    bool overflow = false; // more than UINT64_MAX
};

// nullopt when the literal has a fraction or an exponent.
std::optional<IntegerLiteral> integer_literal(std::string_view text) {
    if (text.find_first_of(".eE") != std::string_view::npos)
        return std::nullopt;
    IntegerLiteral literal;
    if (!text.empty() && text.front() == '-') {
        literal.negative = true;
        text.remove_prefix(1);
    }
    if (text.empty())
        return std::nullopt;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        auto digit = static_cast<std::uint64_t>(c - '0');
        if (literal.magnitude > (UINT64_MAX - digit) / 10)
            literal.overflow = true;
        else
            literal.magnitude = literal.magnitude * 10 + digit;
    }
    return literal;
}

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : cat(parent, ".", key);
}

} // namespace

JsonCursor::JsonCursor(const JsonValue& value, std::string path)
    : m_value(&value), m_path(std::move(path)) {}

JsonCursor::JsonCursor(const JsonValue* value_or_null_when_missing, std::string path)
    : m_value(value_or_null_when_missing), m_path(std::move(path)) {}

Result<std::string> JsonCursor::string() const {
    TRY(require(JsonValue::Kind::String, "a string"));
    return m_value->string();
}

Result<bool> JsonCursor::boolean() const {
    TRY(require(JsonValue::Kind::Bool, "a boolean"));
    return m_value->boolean();
}

Result<double> JsonCursor::number() const {
    TRY(require(JsonValue::Kind::Number, "a number"));
    // strtod rounds correctly (glibc and musl both), and keel runs in the C
    // locale, whose decimal point is JSON's.
    double number = std::strtod(m_value->number_text().c_str(), nullptr);
    if (std::isinf(number))
        return fail(cat(m_value->number_text(), " is out of range"));
    return number;
}

Result<std::int64_t> JsonCursor::signed_integer(std::int64_t min, std::int64_t max) const {
    TRY(require(JsonValue::Kind::Number, "an integer"));
    const std::string& text = m_value->number_text();
    std::optional<IntegerLiteral> literal = integer_literal(text);
    if (!literal)
        return fail(cat("expected an integer, got ", text));
    // INT64_MIN's magnitude is one more than INT64_MAX.
    constexpr auto kMaxMagnitude = static_cast<std::uint64_t>(INT64_MAX);
    std::int64_t value = 0;
    bool fits =
        !literal->overflow && literal->magnitude <= kMaxMagnitude + (literal->negative ? 1 : 0);
    if (fits) {
        if (!literal->negative)
            value = static_cast<std::int64_t>(literal->magnitude);
        else if (literal->magnitude == kMaxMagnitude + 1)
            value = INT64_MIN;
        else
            value = -static_cast<std::int64_t>(literal->magnitude);
    }
    if (!fits || value < min || value > max)
        return fail(cat(text, " is out of range (", min, " to ", max, ")"));
    return value;
}

Result<std::uint64_t> JsonCursor::unsigned_integer(std::uint64_t min, std::uint64_t max) const {
    TRY(require(JsonValue::Kind::Number, "an integer"));
    const std::string& text = m_value->number_text();
    std::optional<IntegerLiteral> literal = integer_literal(text);
    if (!literal)
        return fail(cat("expected an integer, got ", text));
    bool fits = !literal->overflow && (!literal->negative || literal->magnitude == 0);
    if (!fits || literal->magnitude < min || literal->magnitude > max)
        return fail(cat(text, " is out of range (", min, " to ", max, ")"));
    return literal->magnitude;
}

Result<JsonObjectCursor> JsonCursor::object() const {
    TRY(require(JsonValue::Kind::Object, "an object"));
    return JsonObjectCursor(*m_value, m_path);
}

Result<std::vector<JsonCursor>> JsonCursor::array() const {
    std::vector<JsonCursor> elements;
    if (missing() || null())
        return elements;
    TRY(require(JsonValue::Kind::Array, "an array"));
    const std::vector<JsonValue>& values = m_value->array();
    elements.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        elements.emplace_back(values[i], cat(m_path, "[", i, "]"));
    return elements;
}

Result<void> JsonCursor::require(JsonValue::Kind kind, std::string_view what) const {
    if (missing())
        return fail("missing");
    if (m_value->kind() != kind)
        return fail(cat("expected ", what, ", got ", kind_name(m_value->kind())));
    return {};
}

std::unexpected<Error> JsonCursor::fail(std::string_view what) const {
    return error(m_path.empty() ? std::string(what) : cat(m_path, ": ", what));
}

JsonObjectCursor::JsonObjectCursor(const JsonValue& object, std::string path)
    : m_object(&object), m_path(std::move(path)) {}

JsonCursor JsonObjectCursor::operator[](std::string_view key) const {
    return JsonCursor(m_object->find(key), child_path(m_path, key));
}

bool JsonObjectCursor::has(std::string_view key) const {
    return m_object->find(key) != nullptr;
}

std::vector<std::pair<std::string, JsonCursor>> JsonObjectCursor::members() const {
    const std::vector<JsonValue::Member>& all = m_object->object();
    // Where each key is last seen: that one stays, earlier ones go.
    std::unordered_map<std::string_view, std::size_t> last;
    last.reserve(all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        last[all[i].first] = i;
    std::vector<std::pair<std::string, JsonCursor>> members;
    members.reserve(last.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const auto& [key, value] = all[i];
        if (last[key] == i)
            members.emplace_back(key, JsonCursor(value, child_path(m_path, key)));
    }
    return members;
}

} // namespace keel
