// Unit names: splitting "web@1.service" into prefix, instance and type,
// the characters systemd allows, and the template an instance comes from.
#include "init/unit_model.h"

#include "base/strings.h"

#include <algorithm>
#include <iterator>

namespace keel {

namespace {

// Unit types systemd knows; keel runs services and targets and reports the
// others as unsupported instead of calling their names invalid.
constexpr std::string_view kUnitSuffixes[] = {"service", "target",    "socket", "device",
                                              "mount",   "automount", "swap",   "path",
                                              "timer",   "slice",     "scope"};

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '-' || c == '_' || c == '.' || c == '\\';
}

} // namespace

Result<UnitName> parse_unit_name(std::string_view name) {
    auto invalid = [&](std::string_view why) {
        return error(cat("invalid unit name ", quoted(name), ": ", why));
    };
    if (name.empty())
        return invalid("empty");
    if (name.size() > 255)
        return invalid("longer than 255 characters");
    size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0)
        return invalid("no type suffix such as .service");
    UnitName parts;
    parts.suffix = std::string(name.substr(dot + 1));
    if (std::find(std::begin(kUnitSuffixes), std::end(kUnitSuffixes), parts.suffix) ==
        std::end(kUnitSuffixes))
        return invalid(cat("unknown type `.", parts.suffix, "`"));
    std::string_view stem = name.substr(0, dot);
    size_t at_sign = stem.find('@');
    std::string_view prefix = stem.substr(0, at_sign);
    if (prefix.empty())
        return invalid("empty name before the type");
    for (char c : prefix)
        if (!is_name_char(c))
            return invalid(cat("character ", quoted(std::string(1, c)), " is not allowed"));
    parts.prefix = std::string(prefix);
    if (at_sign != std::string_view::npos) {
        std::string_view instance = stem.substr(at_sign + 1);
        for (char c : instance)
            if (!is_name_char(c) && c != '@')
                return invalid(
                    cat("character ", quoted(std::string(1, c)), " is not allowed in an instance"));
        parts.instance = std::string(instance);
    }
    return parts;
}

std::optional<UnitType> unit_type_of(std::string_view name) {
    if (name.ends_with(".service"))
        return UnitType::Service;
    if (name.ends_with(".target"))
        return UnitType::Target;
    return std::nullopt;
}

std::string template_of(std::string_view name) {
    auto parts = parse_unit_name(name);
    if (!parts || !parts->instance || parts->instance->empty())
        return {};
    return cat(parts->prefix, "@.", parts->suffix);
}

} // namespace keel
