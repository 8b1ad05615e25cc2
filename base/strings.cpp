// String helpers.
#include "base/strings.h"

namespace keel {

std::string_view trim(std::string_view text) {
    constexpr std::string_view space = " \t\r\n";
    size_t begin = text.find_first_not_of(space);
    if (begin == std::string_view::npos)
        return {};
    size_t end = text.find_last_not_of(space);
    return text.substr(begin, end - begin + 1);
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
    return out;
}

std::string hex_number(uint64_t value) {
    char text[16];
    auto [end, ec] = std::to_chars(text, text + sizeof text, value, 16);
    return std::string(text, end);
}

std::string to_hex(std::string_view bytes) {
    constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        auto byte = static_cast<unsigned char>(c);
        out += kDigits[byte >> 4];
        out += kDigits[byte & 15];
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        size_t at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        text.remove_prefix(at + 1);
    }
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool path_is_under(std::string_view path, std::string_view directory) {
    if (directory == "/")
        return starts_with(path, "/");
    return starts_with(path, directory) &&
           (path.size() == directory.size() || path[directory.size()] == '/');
}

std::optional<uint64_t> parse_u64(std::string_view text) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

std::string format_seconds(uint64_t microseconds) {
    uint64_t hundredths = (microseconds + 5000) / 10000;
    std::string fraction = cat(hundredths % 100);
    if (fraction.size() < 2)
        fraction.insert(0, "0");
    return cat(hundredths / 100, ".", fraction);
}

} // namespace keel
