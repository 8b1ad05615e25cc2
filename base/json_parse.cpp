// parse_json(): RFC 8259, strictly, in one pass over the text (see json.h).
// config.json is parsed at every container start, so strings are copied in
// runs between escapes rather than byte by byte, and where an error stands
// (line, column) is only worked out once there is one.
#include "base/json.h"
#include "base/strings.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel {

namespace {

// Arrays and objects nested deeper than this are refused: the parser
// recurses once per level, and no real document comes near.
constexpr int kMaxDepth = 256;

constexpr unsigned char kFirstNonAscii = 0x80;

constexpr char32_t kFirstHighSurrogate = 0xd800;
constexpr char32_t kFirstLowSurrogate = 0xdc00;
constexpr char32_t kLastLowSurrogate = 0xdfff;

// The length of the well-formed UTF-8 sequence at the start of `text`
// (Unicode's table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    auto continuation = [&](std::size_t i, unsigned char low = 0x80, unsigned char high = 0xbf) {
        return i < text.size() && byte(i) >= low && byte(i) <= high;
    };
    unsigned char lead = byte(0);
    if (lead >= 0xc2 && lead <= 0xdf)
        return continuation(1) ? 2 : 0;
    if (lead >= 0xe0 && lead <= 0xef) {
        unsigned char low = lead == 0xe0 ? 0xa0 : 0x80;
        unsigned char high = lead == 0xed ? 0x9f : 0xbf;
        return continuation(1, low, high) && continuation(2) ? 3 : 0;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        unsigned char low = lead == 0xf0 ? 0x90 : 0x80;
        unsigned char high = lead == 0xf4 ? 0x8f : 0xbf;
        return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
    }
    return 0;
}

void append_utf8(std::string& out, char32_t code_point) {
    auto put = [&](char32_t bits) { out += static_cast<char>(bits); };
    if (code_point < 0x80) {
        put(code_point);
    } else if (code_point < 0x800) {
        put(0xc0 | (code_point >> 6));
        put(0x80 | (code_point & 0x3f));
    } else if (code_point < 0x10000) {
        put(0xe0 | (code_point >> 12));
        put(0x80 | ((code_point >> 6) & 0x3f));
        put(0x80 | (code_point & 0x3f));
    } else {
        put(0xf0 | (code_point >> 18));
        put(0x80 | ((code_point >> 12) & 0x3f));
        put(0x80 | ((code_point >> 6) & 0x3f));
        put(0x80 | (code_point & 0x3f));
    }
}

class JsonParser {
public:
    explicit JsonParser(std::string_view text) : m_text(text) {}

    Result<JsonValue> document() {
        skip_whitespace();
        JsonValue root = TRY(value(0));
        skip_whitespace();
        if (m_pos != m_text.size())
            return expected("nothing but whitespace after the value");
        return root;
    }

private:
    // `depth`: how many arrays and objects enclose the value.
    Result<JsonValue> value(int depth) {
        if (at_end())
            return expected("a value");
        switch (m_text[m_pos]) {
        case '{':
            return object(depth + 1);
        case '[':
            return array(depth + 1);
        case '"':
            return JsonValue::make_string(TRY(string()));
        case 't':
            return literal("true", JsonValue::make_bool(true));
        case 'f':
            return literal("false", JsonValue::make_bool(false));
        case 'n':
            return literal("null", JsonValue());
        default:
            if (m_text[m_pos] == '-' || is_ascii_digit(m_text[m_pos]))
                return number();
            return expected("a value");
        }
    }

    Result<JsonValue> object(int depth) {
        if (depth > kMaxDepth)
            return fail(cat("nested deeper than ", kMaxDepth));
        ++m_pos; // {
        std::vector<JsonValue::Member> members;
        skip_whitespace();
        if (consume('}'))
            return JsonValue::make_object(std::move(members));
        while (true) {
            if (at_end() || m_text[m_pos] != '"')
                return expected("a string as an object key");
            std::string key = TRY(string());
            skip_whitespace();
            if (!consume(':'))
                return expected("`:` after an object key");
            skip_whitespace();
            JsonValue member = TRY(value(depth));
            members.emplace_back(std::move(key), std::move(member));
            skip_whitespace();
            if (consume('}'))
                return JsonValue::make_object(std::move(members));
            if (!consume(','))
                return expected("`,` or `}` after an object member");
            skip_whitespace();
        }
    }

    Result<JsonValue> array(int depth) {
        if (depth > kMaxDepth)
            return fail(cat("nested deeper than ", kMaxDepth));
        ++m_pos; // [
        std::vector<JsonValue> elements;
        skip_whitespace();
        if (consume(']'))
            return JsonValue::make_array(std::move(elements));
        while (true) {
            elements.push_back(TRY(value(depth)));
            skip_whitespace();
            if (consume(']'))
                return JsonValue::make_array(std::move(elements));
            if (!consume(','))
                return expected("`,` or `]` after an array element");
            skip_whitespace();
        }
    }

    // At the opening quote; returns the decoded text.
    Result<std::string> string() {
        std::size_t start = m_pos;
        ++m_pos; // "
        std::string out;
        while (true) {
            // The run of bytes that need no attention is copied at once.
            std::size_t run = m_pos;
            while (run < m_text.size()) {
                auto byte = static_cast<unsigned char>(m_text[run]);
                if (byte == '"' || byte == '\\' || byte < kFirstPrintableAscii ||
                    byte >= kFirstNonAscii)
                    break;
                ++run;
            }
            out.append(m_text, m_pos, run - m_pos);
            m_pos = run;
            if (at_end()) {
                m_pos = start;
                return fail("string not closed by a `\"`");
            }
            auto byte = static_cast<unsigned char>(m_text[m_pos]);
            if (byte == '"') {
                ++m_pos;
                return out;
            }
            if (byte == '\\') {
                TRY(escape(out));
            } else if (byte < kFirstPrintableAscii) {
                static constexpr char kHex[] = "0123456789ABCDEF";
                return fail(cat("control character U+00", kHex[byte >> 4], kHex[byte & 0xf],
                                " in a string (it must be escaped)"));
            } else {
                std::size_t length = utf8_sequence_length(m_text.substr(m_pos));
                if (length == 0)
                    return fail("invalid UTF-8 in a string");
                out.append(m_text, m_pos, length);
                m_pos += length;
            }
        }
    }

    // At a backslash in a string: appends what the escape stands for.
    Result<void> escape(std::string& out) {
        std::size_t start = m_pos;
        ++m_pos; // backslash
        if (at_end())
            return expected("an escape after `\\`");
        char c = m_text[m_pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            out += c;
            return {};
        case 'b':
            out += '\b';
            return {};
        case 'f':
            out += '\f';
            return {};
        case 'n':
            out += '\n';
            return {};
        case 'r':
            out += '\r';
            return {};
        case 't':
            out += '\t';
            return {};
        case 'u':
            break;
        default:
            m_pos = start;
            if (static_cast<unsigned char>(c) < kFirstPrintableAscii ||
                static_cast<unsigned char>(c) >= kFirstNonAscii)
                return fail("invalid escape in a string");
            return fail(cat("invalid escape `\\", c, "` in a string"));
        }
        char32_t code_point = TRY(hex4());
        if (code_point >= kFirstHighSurrogate && code_point < kFirstLowSurrogate) {
            // A high surrogate must be followed by its low half: "\ud83d\ude00".
            if (m_text.substr(m_pos, 2) != "\\u") {
                m_pos = start;
                return fail("lone surrogate in a string (a `\\u` escape of U+D800 to U+DBFF "
                            "must be followed by one of U+DC00 to U+DFFF)");
            }
            std::size_t low_start = m_pos;
            m_pos += 2;
            char32_t low = TRY(hex4());
            if (low < kFirstLowSurrogate || low > kLastLowSurrogate) {
                m_pos = low_start;
                return fail("lone surrogate in a string (a `\\u` escape of U+D800 to U+DBFF "
                            "must be followed by one of U+DC00 to U+DFFF)");
            }
            code_point =
                0x10000 + ((code_point - kFirstHighSurrogate) << 10) + (low - kFirstLowSurrogate);
        } else if (code_point >= kFirstLowSurrogate && code_point <= kLastLowSurrogate) {
            m_pos = start;
            return fail("lone surrogate in a string (a `\\u` escape of U+DC00 to U+DFFF must "
                        "follow one of U+D800 to U+DBFF)");
        }
        append_utf8(out, code_point);
        return {};
    }

    // After `\u`: four hex digits.
    Result<char32_t> hex4() {
        char32_t code_point = 0;
        for (int i = 0; i < 4; ++i) {
            int digit = at_end() ? -1 : hex_digit_value(m_text[m_pos]);
            if (digit < 0)
                return expected("four hex digits after `\\u`");
            code_point = code_point << 4 | static_cast<char32_t>(digit);
            ++m_pos;
        }
        return code_point;
    }

    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as written.
    Result<JsonValue> number() {
        std::size_t start = m_pos;
        consume('-');
        if (at_end() || !is_ascii_digit(m_text[m_pos]))
            return expected("a digit after `-`");
        if (consume('0')) {
            if (!at_end() && is_ascii_digit(m_text[m_pos])) {
                m_pos = start;
                return fail("leading zero in a number");
            }
        } else {
            skip_digits();
        }
        if (consume('.')) {
            if (at_end() || !is_ascii_digit(m_text[m_pos]))
                return expected("a digit after `.`");
            skip_digits();
        }
        if (consume('e') || consume('E')) {
            if (!consume('+'))
                consume('-');
            if (at_end() || !is_ascii_digit(m_text[m_pos]))
                return expected("a digit in the exponent");
            skip_digits();
        }
        return JsonValue::make_number(std::string(m_text.substr(start, m_pos - start)));
    }

    Result<JsonValue> literal(std::string_view word, JsonValue v) {
        if (m_text.substr(m_pos, word.size()) != word)
            return expected("a value");
        m_pos += word.size();
        return v;
    }

    void skip_whitespace() {
        while (!at_end() && is_ascii_space(m_text[m_pos]))
            ++m_pos;
    }

    void skip_digits() {
        while (!at_end() && is_ascii_digit(m_text[m_pos]))
            ++m_pos;
    }

    bool consume(char c) {
        if (at_end() || m_text[m_pos] != c)
            return false;
        ++m_pos;
        return true;
    }

    bool at_end() const { return m_pos >= m_text.size(); }

    // "line L, column C: what", for the current position. Columns count
    // characters (UTF-8 sequences), as an editor shows them.
    std::unexpected<Error> fail(std::string_view what) const {
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i < m_pos && i < m_text.size(); ++i) {
            auto byte = static_cast<unsigned char>(m_text[i]);
            if (byte == '\n') {
                ++line;
                column = 1;
            } else if ((byte & 0xc0) != 0x80) {
                ++column;
            }
        }
        return error(cat("line ", line, ", column ", column, ": ", what));
    }

    // "expected WHAT", saying so when the text ended first.
    std::unexpected<Error> expected(std::string_view what) const {
        if (at_end())
            return fail(cat("expected ", what, ", got the end of the text"));
        return fail(cat("expected ", what));
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

} // namespace

Result<JsonValue> parse_json(std::string_view text) {
    return JsonParser(text).document();
}

} // namespace keel
