// URL parsing and reference resolution (RFC 3986), for http and https only.
#include "net/url.h"

#include "base/strings.h"

#include <cctype>
#include <optional>
#include <vector>

namespace keel::net {

namespace {

bool is_unreserved(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

// Characters RFC 3986 allows in a path or query (pchar, "/", "?"), plus
// '%' (its escapes are checked separately).
bool is_target_char(char c) {
    if (is_unreserved(c))
        return true;
    switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
    case '?':
    case '%':
        return true;
    default:
        return false;
    }
}

Result<void> check_target(std::string_view target) {
    for (size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (!is_target_char(c))
            return error(cat("character ", int(static_cast<unsigned char>(c)),
                             " not allowed in a URL's path or query"));
        if (c == '%' && (i + 2 >= target.size() || hex_digit_value(target[i + 1]) < 0 ||
                         hex_digit_value(target[i + 2]) < 0))
            return error("malformed percent escape in a URL");
    }
    return {};
}

// A registered name (letters, digits, '-', '.'), a dotted IPv4 address, or
// an IPv6 literal in brackets (hex digits, ':' and '.').
Result<std::string> parse_host(std::string_view text) {
    if (text.empty())
        return error("URL has no host");
    if (text.front() == '[') {
        if (text.back() != ']' || text.size() < 4)
            return error("malformed IPv6 host in a URL");
        std::string_view inside = text.substr(1, text.size() - 2);
        for (char c : inside)
            if (hex_digit_value(c) < 0 && c != ':' && c != '.')
                return error("malformed IPv6 host in a URL");
        std::string host(inside);
        for (char& c : host)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        return host;
    }
    if (text.size() > 253)
        return error("URL host longer than 253 characters");
    std::string host;
    for (char c : text) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
            return error(cat("character ", int(static_cast<unsigned char>(c)),
                             " not allowed in a URL's host"));
        host += char(std::tolower(static_cast<unsigned char>(c)));
    }
    return host;
}

// RFC 3986 5.2.4: removes "." and ".." segments from an absolute path.
std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> out;
    std::vector<std::string_view> segments = split(path.substr(1), '/');
    for (size_t i = 0; i < segments.size(); ++i) {
        std::string_view segment = segments[i];
        bool last = i + 1 == segments.size();
        if (segment == ".") {
            if (last)
                out.push_back("");
        } else if (segment == "..") {
            if (!out.empty())
                out.pop_back();
            if (last)
                out.push_back("");
        } else {
            out.push_back(segment);
        }
    }
    std::string result;
    for (std::string_view segment : out) {
        result += '/';
        result += segment;
    }
    return result.empty() ? "/" : result;
}

// Splits "path?query" and normalises the path's dot segments.
std::string normalise_target(std::string_view target) {
    size_t query = target.find('?');
    std::string_view path = target.substr(0, query);
    std::string out = remove_dot_segments(path.empty() ? "/" : path);
    if (query != std::string_view::npos)
        out += target.substr(query);
    return out;
}

} // namespace

uint16_t default_port(Scheme scheme) {
    return scheme == Scheme::Https ? 443 : 80;
}

std::string Url::authority() const {
    std::string out = host.find(':') != std::string::npos ? cat("[", host, "]") : host;
    if (port != default_port(scheme))
        out += cat(":", port);
    return out;
}

std::string Url::str() const {
    return cat(kSchemeNames.name(scheme), "://", authority(), target);
}

bool Url::same_origin(const Url& other) const {
    return scheme == other.scheme && host == other.host && port == other.port;
}

Result<Url> parse_url(std::string_view text) {
    size_t colon = text.find("://");
    if (colon == std::string_view::npos)
        return error(cat("URL ", quoted(text), " has no scheme"));
    std::string scheme_text(text.substr(0, colon));
    for (char& c : scheme_text)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    std::optional<Scheme> scheme = kSchemeNames.parse(scheme_text);
    if (!scheme)
        return error(cat("URL ", quoted(text), ": scheme is not http or https"));
    Url url;
    url.scheme = *scheme;
    url.port = default_port(*scheme);

    std::string_view rest = text.substr(colon + 3);
    if (size_t fragment = rest.find('#'); fragment != std::string_view::npos)
        rest = rest.substr(0, fragment);
    size_t target_start = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, target_start);
    std::string_view target =
        target_start == std::string_view::npos ? std::string_view() : rest.substr(target_start);
    if (authority.find('@') != std::string_view::npos)
        return error(cat("URL ", quoted(text), ": user information is not allowed"));

    std::string_view host_text = authority;
    size_t port_colon = authority.rfind(':');
    if (port_colon != std::string_view::npos &&
        (authority.front() != '[' || port_colon > authority.rfind(']'))) {
        std::string_view port_text = authority.substr(port_colon + 1);
        host_text = authority.substr(0, port_colon);
        if (!port_text.empty()) {
            std::optional<uint64_t> port = parse_u64(port_text);
            if (!port || *port == 0 || *port > 65535)
                return error(cat("URL ", quoted(text), ": bad port ", quoted(port_text)));
            url.port = uint16_t(*port);
        }
    }
    url.host = TRY_CTX(parse_host(host_text), cat("URL ", quoted(text)));
    if (target.empty())
        target = "/";
    TRY_CTX(check_target(target), cat("URL ", quoted(text)));
    url.target = target.front() == '?' ? cat("/", target) : std::string(target);
    return url;
}

Result<Url> resolve_reference(const Url& base, std::string_view reference) {
    if (size_t fragment = reference.find('#'); fragment != std::string_view::npos)
        reference = reference.substr(0, fragment);
    // An absolute URL has a scheme: letters, digits, '+', '-', '.' before ':'.
    size_t colon = reference.find(':');
    size_t slash = reference.find_first_of("/?");
    if (colon != std::string_view::npos && colon > 0 &&
        (slash == std::string_view::npos || colon < slash))
        return parse_url(reference);
    if (starts_with(reference, "//"))
        return parse_url(cat(kSchemeNames.name(base.scheme), ":", reference));
    TRY_CTX(check_target(reference), cat("reference ", quoted(reference)));
    Url url = base;
    if (reference.empty())
        return url;
    if (reference.front() == '/') {
        url.target = normalise_target(reference);
    } else if (reference.front() == '?') {
        url.target = cat(base.target.substr(0, base.target.find('?')), reference);
    } else {
        std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
        std::string merged(base_path.substr(0, base_path.rfind('/') + 1));
        merged += reference;
        url.target = normalise_target(merged);
    }
    return url;
}

std::string percent_encode(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        if (is_unreserved(c)) {
            out += c;
        } else {
            auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += digits[byte >> 4];
            out += digits[byte & 15];
        }
    }
    return out;
}

} // namespace keel::net
