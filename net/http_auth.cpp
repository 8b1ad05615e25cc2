// The WWW-Authenticate parser (RFC 7235 section 2.1, with RFC 7230's token
// and quoted-string) and base64.
#include "net/http_auth.h"

#include "base/strings.h"
#include "net/http_message.h"

#include <cctype>

namespace keel::net {

namespace {

bool is_token68_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/';
}

// A cursor over the header with the grammar's small pieces.
class Scanner {
public:
    explicit Scanner(std::string_view text) : m_text(text) {}

    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return at_end() ? '\0' : m_text[m_pos]; }
    size_t position() const { return m_pos; }
    void seek(size_t position) { m_pos = position; }
    void skip_whitespace() {
        while (!at_end() && (peek() == ' ' || peek() == '\t'))
            ++m_pos;
    }
    // Skips whitespace and empty list elements (",  ,").
    void skip_separators() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ','))
            ++m_pos;
    }
    std::string_view token() {
        size_t start = m_pos;
        while (!at_end() && is_token_char(peek()))
            ++m_pos;
        return m_text.substr(start, m_pos - start);
    }
    // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    std::string_view token68() {
        size_t start = m_pos;
        while (!at_end() && is_token68_char(peek()))
            ++m_pos;
        if (m_pos == start)
            return {};
        while (!at_end() && peek() == '=')
            ++m_pos;
        return m_text.substr(start, m_pos - start);
    }
    Result<std::string> quoted_string() {
        ++m_pos; // the opening quote
        std::string out;
        while (!at_end()) {
            char c = m_text[m_pos++];
            if (c == '"')
                return out;
            if (c == '\\') {
                if (at_end())
                    break;
                c = m_text[m_pos++];
            }
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                return error(cat("control character in a quoted string at offset ", m_pos - 1));
            out += c;
        }
        return error("quoted string not closed");
    }

private:
    std::string_view m_text;
    size_t m_pos = 0;
};

// Reads auth-params after a scheme until the next challenge's scheme (a
// token not followed by '=') or the end.
Result<void> parse_params(Scanner& scanner, Challenge& challenge) {
    for (;;) {
        scanner.skip_separators();
        if (scanner.at_end())
            return {};
        size_t start = scanner.position();
        std::string_view name = scanner.token();
        if (name.empty())
            return error(cat("unexpected character at offset ", scanner.position()));
        scanner.skip_whitespace();
        if (scanner.peek() != '=') {
            scanner.seek(start); // the next challenge's scheme
            return {};
        }
        scanner.seek(scanner.position() + 1);
        scanner.skip_whitespace();
        std::string value;
        if (scanner.peek() == '"') {
            value = TRY(scanner.quoted_string());
        } else {
            value = scanner.token();
            if (value.empty())
                return error(cat("parameter ", quoted(name), " has no value"));
        }
        if (!challenge.params.emplace(ascii_lower(name), std::move(value)).second)
            return error(cat("parameter ", quoted(name), " given twice"));
        scanner.skip_whitespace();
        if (!scanner.at_end() && scanner.peek() != ',')
            return error(cat("expected ',' at offset ", scanner.position()));
    }
}

} // namespace

Result<std::vector<Challenge>> parse_www_authenticate(std::string_view header) {
    std::vector<Challenge> challenges;
    Scanner scanner(header);
    for (;;) {
        scanner.skip_separators();
        if (scanner.at_end())
            break;
        std::string_view scheme = scanner.token();
        if (scheme.empty())
            return error(
                cat("WWW-Authenticate: expected an auth scheme at offset ", scanner.position()));
        Challenge challenge;
        challenge.scheme = ascii_lower(scheme);
        bool had_space = scanner.peek() == ' ' || scanner.peek() == '\t';
        scanner.skip_whitespace();
        if (!scanner.at_end() && scanner.peek() != ',') {
            if (!had_space)
                return error(
                    cat("WWW-Authenticate: unexpected character after scheme ", quoted(scheme)));
            // token68, when what follows is one and ends the challenge.
            size_t start = scanner.position();
            std::string_view token68 = scanner.token68();
            scanner.skip_whitespace();
            if (!token68.empty() && (scanner.at_end() || scanner.peek() == ',')) {
                challenge.token68 = std::string(token68);
            } else {
                scanner.seek(start);
                TRY_CTX(parse_params(scanner, challenge),
                        cat("WWW-Authenticate: challenge ", quoted(scheme)));
            }
        }
        challenges.push_back(std::move(challenge));
    }
    if (challenges.empty())
        return error("WWW-Authenticate: no challenge");
    return challenges;
}

const Challenge* find_challenge(const std::vector<Challenge>& challenges, std::string_view scheme) {
    for (const Challenge& challenge : challenges)
        if (challenge.scheme == scheme)
            return &challenge;
    return nullptr;
}

namespace {
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}
} // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t n = uint32_t(static_cast<unsigned char>(data[i])) << 16 |
                     uint32_t(static_cast<unsigned char>(data[i + 1])) << 8 |
                     uint32_t(static_cast<unsigned char>(data[i + 2]));
        out += kBase64Alphabet[n >> 18];
        out += kBase64Alphabet[(n >> 12) & 63];
        out += kBase64Alphabet[(n >> 6) & 63];
        out += kBase64Alphabet[n & 63];
    }
    size_t rest = data.size() - i;
    if (rest > 0) {
        uint32_t n = uint32_t(static_cast<unsigned char>(data[i])) << 16;
        if (rest == 2)
            n |= uint32_t(static_cast<unsigned char>(data[i + 1])) << 8;
        out += kBase64Alphabet[n >> 18];
        out += kBase64Alphabet[(n >> 12) & 63];
        out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=')
        text.remove_suffix(1);
    if (text.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        int value = base64_value(c);
        if (value < 0)
            return std::nullopt;
        bits = bits << 6 | uint32_t(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += char((bits >> count) & 0xff);
        }
    }
    return out;
}

std::string basic_authorization(std::string_view username, std::string_view password) {
    return cat("Basic ", base64_encode(cat(username, ":", password)));
}

} // namespace keel::net
