// Name tables: one table of (value, name) pairs beside an enum, from which
// both directions are derived, so that the text of a state, a verb or a
// setting is written once.
//
//     enum class Color { Red, Green };
//     inline constexpr auto kColorNames = name_table<Color>({
//         {Color::Red, "red"},
//         {Color::Green, "green"},
//     });
//     kColorNames.name(Color::Red)    == "red"
//     kColorNames.parse("green")      == Color::Green
//     kColorNames.parse("blue")       == std::nullopt
#pragma once

#include "base/result.h"
#include "base/strings.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

template <typename Enum> struct NameEntry {
    Enum value;
    std::string_view name;
};

template <typename Enum, std::size_t N> class NameTable {
public:
    constexpr explicit NameTable(const std::array<NameEntry<Enum>, N>& entries)
        : m_entries(entries) {}

    /// The name of `value`; "?" for a value the table does not list (a
    /// number from a newer peer, say).
    constexpr std::string_view name(Enum value) const {
        for (const NameEntry<Enum>& entry : m_entries)
            if (entry.value == value)
                return entry.name;
        return "?";
    }
    /// The value named `text` exactly, or nullopt.
    constexpr std::optional<Enum> parse(std::string_view text) const {
        for (const NameEntry<Enum>& entry : m_entries)
            if (entry.name == text)
                return entry.value;
        return std::nullopt;
    }
    /// The names in table order, joined by `separator` (`last` before the
    /// last one): for messages that list what would have been accepted,
    /// names(", ", " or ") == "simple, exec, notify or oneshot".
    std::string names(std::string_view separator = ", ", std::string_view last = ", ") const {
        std::string out;
        for (std::size_t i = 0; i < N; ++i) {
            if (i > 0)
                out += i + 1 == N ? last : separator;
            out += m_entries[i].name;
        }
        return out;
    }
    constexpr const std::array<NameEntry<Enum>, N>& entries() const { return m_entries; }

private:
    std::array<NameEntry<Enum>, N> m_entries;
};

/// Builds a NameTable from a braced list of {value, "name"} pairs.
template <typename Enum, std::size_t N>
constexpr NameTable<Enum, N> name_table(const NameEntry<Enum> (&entries)[N]) {
    std::array<NameEntry<Enum>, N> copy{};
    for (std::size_t i = 0; i < N; ++i)
        copy[i] = entries[i];
    return NameTable<Enum, N>(copy);
}

/// The value `table` names `text`, or an error that lists the names:
/// "unknown value `forever` (expected no, on-failure or always)".
template <typename Enum, std::size_t N>
Result<Enum> parse_choice(const NameTable<Enum, N>& table, std::string_view text) {
    if (std::optional<Enum> value = table.parse(text))
        return *value;
    return error(
        cat("unknown value ", quoted(text), " (expected ", table.names(", ", " or "), ")"));
}

} // namespace keel
