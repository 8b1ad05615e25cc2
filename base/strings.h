// Small string helpers (GCC 12 has no <format>).
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace keel {

namespace detail {
inline void append(std::string& out, std::string_view s) {
    out += s;
}
inline void append(std::string& out, char c) {
    out += c;
}
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void append(std::string& out, T value) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
}
} // namespace detail

/// Concatenates strings, characters and integers: cat("pid ", 42) == "pid 42".
template <typename... Parts> std::string cat(const Parts&... parts) {
    std::string out;
    (detail::append(out, parts), ...);
    return out;
}

/// Wraps a name in backquotes for messages: quoted("web") == "`web`".
inline std::string quoted(std::string_view name) {
    return cat("`", name, "`");
}

/// Removes leading and trailing spaces, tabs and newlines.
std::string_view trim(std::string_view text);
/// Splits on `separator`, keeping empty fields.
std::vector<std::string_view> split(std::string_view text, char separator);
bool starts_with(std::string_view text, std::string_view prefix);
/// True when `path` is `directory` or inside it, by name ("/var/log" is
/// under "/var", "/variable" is not; everything absolute is under "/").
bool path_is_under(std::string_view path, std::string_view directory);
/// Parses a whole string as an unsigned decimal number.
std::optional<uint64_t> parse_u64(std::string_view text);
/// Milliseconds with two decimals as seconds: 1834 ms -> "1.83".
std::string format_seconds(uint64_t microseconds);

/// Bytes below this are ASCII control characters, which JSON escapes.
constexpr unsigned char kFirstPrintableAscii = 0x20;

/// A space as the kernel's command line, unit files and JSON know it:
/// space, tab, carriage return or newline (the set trim() removes).
constexpr bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// 0-9 only, whatever the locale.
constexpr bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

/// True when every character is 0-9 or a-f (the form digests are written in).
constexpr bool is_lower_hex(std::string_view text) {
    for (char c : text)
        if (!(is_ascii_digit(c) || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

/// `text` with A-Z turned into a-z, other bytes kept (names, schemes and
/// header fields compare case-insensitively in ASCII only).
std::string ascii_lower(std::string_view text);

/// The bytes as lowercase hex, two digits each: "\x01\xab" -> "01ab".
std::string to_hex(std::string_view bytes);
inline std::string to_hex(const unsigned char* bytes, size_t size) {
    return to_hex(std::string_view(reinterpret_cast<const char*>(bytes), size));
}

/// A number as lowercase hex without leading zeros (how etcd and etcdctl
/// print member ids): 0x2a -> "2a".
std::string hex_number(uint64_t value);

/// The value of the hex digit `c` (0-9, a-f, A-F), or -1 when it is none.
constexpr int hex_digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace keel
