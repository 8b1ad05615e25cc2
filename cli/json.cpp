// JSON strings and the writer (see json.h).
#include "cli/json.h"

namespace keel::cli {

namespace {

// Below this, a byte is a control character that JSON strings must escape.
constexpr unsigned char kFirstPrintable = 0x20;

} // namespace

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
        } else if (byte < kFirstPrintable) {
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

} // namespace keel::cli
