// File names of the KV's storage (see file_names.h).
#include "kv/file_names.h"

#include "base/strings.h"

namespace keel::kv {

namespace {

constexpr size_t kHexDigits = 16;

std::string hex16(uint64_t value) {
    std::string out(kHexDigits, '0');
    for (size_t i = kHexDigits; i-- > 0; value >>= 4)
        out[i] = "0123456789abcdef"[value & 0xf];
    return out;
}

std::optional<uint64_t> parse_hex16(std::string_view text) {
    if (text.size() != kHexDigits)
        return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        int digit = hex_digit_value(c);
        if (digit < 0 || (c >= 'A' && c <= 'F'))
            return std::nullopt;
        value = value << 4 | uint64_t(digit);
    }
    return value;
}

} // namespace

std::string numbered_file_name(NumberPair numbers, std::string_view suffix) {
    return cat(hex16(numbers.first), "-", hex16(numbers.second), suffix);
}

std::optional<NumberPair> parse_numbered_file_name(std::string_view name, std::string_view suffix) {
    if (name.size() != 2 * kHexDigits + 1 + suffix.size() || !name.ends_with(suffix) ||
        name[kHexDigits] != '-')
        return std::nullopt;
    auto first = parse_hex16(name.substr(0, kHexDigits));
    auto second = parse_hex16(name.substr(kHexDigits + 1, kHexDigits));
    if (!first || !second)
        return std::nullopt;
    return NumberPair{*first, *second};
}

std::string parent_directory(std::string_view path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string_view::npos)
        return ".";
    if (slash == 0)
        return "/";
    return std::string(path.substr(0, slash));
}

} // namespace keel::kv
