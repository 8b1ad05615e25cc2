// JSON values as data, JSON strings and the writer (see json.h). The parser
// is json_parse.cpp, the cursors json_cursor.cpp.
#include "base/json.h"

#include "base/strings.h"

namespace keel {

JsonValue JsonValue::make_bool(bool flag) {
    JsonValue v;
    v.m_kind = Kind::Bool;
    v.m_bool = flag;
    return v;
}

JsonValue JsonValue::make_number(std::string literal) {
    JsonValue v;
    v.m_kind = Kind::Number;
    v.m_text = std::move(literal);
    return v;
}

JsonValue JsonValue::make_string(std::string text) {
    JsonValue v;
    v.m_kind = Kind::String;
    v.m_text = std::move(text);
    return v;
}

JsonValue JsonValue::make_array(std::vector<JsonValue> elements) {
    JsonValue v;
    v.m_kind = Kind::Array;
    v.m_array = std::move(elements);
    return v;
}

JsonValue JsonValue::make_object(std::vector<Member> members) {
    JsonValue v;
    v.m_kind = Kind::Object;
    v.m_object = std::move(members);
    return v;
}

const JsonValue* JsonValue::find(std::string_view key) const {
    // Backwards, so that of duplicate keys the last is found.
    for (auto member = m_object.rbegin(); member != m_object.rend(); ++member)
        if (member->first == key)
            return &member->second;
    return nullptr;
}

bool operator==(const JsonValue& a, const JsonValue& b) {
    if (a.m_kind != b.m_kind)
        return false;
    switch (a.m_kind) {
    case JsonValue::Kind::Null:
        return true;
    case JsonValue::Kind::Bool:
        return a.m_bool == b.m_bool;
    case JsonValue::Kind::Number:
    case JsonValue::Kind::String:
        return a.m_text == b.m_text;
    case JsonValue::Kind::Array:
        return a.m_array == b.m_array;
    case JsonValue::Kind::Object:
        return a.m_object == b.m_object;
    }
    return false;
}

std::string json_string(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (byte < kFirstPrintableAscii) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

JsonWriter& JsonWriter::begin_object() {
    raw("{");
    m_has_elements.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    m_has_elements.pop_back();
    m_text += '}';
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    raw("[");
    m_has_elements.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    m_has_elements.pop_back();
    m_text += ']';
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    separate();
    m_text += json_string(name);
    m_text += ':';
    m_after_key = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
    return raw(json_string(text));
}

JsonWriter& JsonWriter::value(bool flag) {
    return raw(flag ? "true" : "false");
}

JsonWriter& JsonWriter::value(const JsonValue& v) {
    switch (v.kind()) {
    case JsonValue::Kind::Null:
        return null();
    case JsonValue::Kind::Bool:
        return value(v.boolean());
    case JsonValue::Kind::Number:
        return raw(v.number_text());
    case JsonValue::Kind::String:
        return value(std::string_view(v.string()));
    case JsonValue::Kind::Array:
        begin_array();
        for (const JsonValue& element : v.array())
            value(element);
        return end_array();
    case JsonValue::Kind::Object:
        begin_object();
        for (const auto& [name, member] : v.object()) {
            key(name);
            value(member);
        }
        return end_object();
    }
    return null(); // not reached: every kind is handled above
}

JsonWriter& JsonWriter::null() {
    return raw("null");
}

void JsonWriter::separate() {
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (m_has_elements.empty())
        return;
    if (m_has_elements.back())
        m_text += ',';
    m_has_elements.back() = true;
}

JsonWriter& JsonWriter::raw(std::string_view token) {
    separate();
    m_text += token;
    return *this;
}

} // namespace keel
