// Parser for systemd-style unit files (INI with systemd's rules).
//
// Sections in brackets, `Key=Value` lines, repeated keys kept in order,
// comments (`#` or `;` at the start of a line), line continuation with a
// trailing backslash. Values are kept verbatim (trimmed); quoting is applied
// by split_words() where a key takes a command line or a list.
#pragma once

#include "base/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel {

/// One `Key=Value` assignment.
struct UnitEntry {
    std::string key;
    std::string value; // trimmed; continuation lines joined with a space
    int line = 0;      // 1-based line of the key
};

/// One `[Section]` with its assignments in file order.
struct UnitSection {
    std::string name;
    int line = 0;
    std::vector<UnitEntry> entries;
};

/// A parsed unit file. Sections with the same name are merged in file order,
/// as systemd does (so drop-ins can be parsed and appended with merge()).
class UnitFile {
public:
    UnitFile() = default;
    /// A file made by a program rather than read (a generator's output, such
    /// as the service a `.container` file stands for); `filename` names the
    /// source the entries' lines refer to.
    UnitFile(std::string filename, std::vector<UnitSection> sections)
        : m_filename(std::move(filename)), m_sections(std::move(sections)) {}

    /// Parses `text`; `filename` only names the source in error messages
    /// ("web.service:12: expected Key=Value").
    static Result<UnitFile> parse(std::string_view text, std::string filename);
    /// Reads and parses a file.
    static Result<UnitFile> load(const std::string& path);

    const std::string& filename() const { return m_filename; }
    const std::vector<UnitSection>& sections() const { return m_sections; }
    /// The section named `name`, or nullptr.
    const UnitSection* section(std::string_view name) const;
    /// The last value assigned to `key` in `section` (later assignments override).
    std::optional<std::string> get(std::string_view section, std::string_view key) const;
    /// Every value assigned to `key` in `section`, in order. An empty
    /// assignment (`Key=`) clears the values before it, as in systemd.
    std::vector<std::string> get_all(std::string_view section, std::string_view key) const;
    /// Appends the sections of `other` (a drop-in) after this file's.
    void merge(const UnitFile& other);

private:
    std::string m_filename;
    std::vector<UnitSection> m_sections;
};

/// Splits a value into words with systemd's quoting: whitespace separates,
/// "double" and 'single' quotes group, backslash escapes (\n \t \\ \" \' \xNN).
/// An unterminated quote or a trailing backslash is an error.
Result<std::vector<std::string>> split_words(std::string_view value);

/// Parses a boolean the way systemd does (1/yes/true/on, 0/no/false/off).
Result<bool> parse_boolean(std::string_view value);

/// Parses a time span in systemd syntax ("90", "100ms", "1min 30s", "infinity")
/// into microseconds; plain numbers are seconds. infinity = UINT64_MAX.
Result<uint64_t> parse_timespan_usec(std::string_view value);

} // namespace keel
