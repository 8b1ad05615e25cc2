// The mount table as /proc/<pid>/mountinfo describes it (proc(5)): one line
// per mount, fields separated by spaces, optional fields ended by "-", and
// spaces, tabs, newlines and backslashes inside names escaped as octal
// (\040). Kernel text, but parsed with the care of outside input: a bad line
// is an error naming it, never a crash.
#include "base/mountinfo.h"

#include "base/strings.h"
#include "base/sys.h"

namespace keel {

namespace {

// Decodes the kernel's \ooo escapes; a backslash not followed by three
// octal digits is kept as it is.
std::string unescape(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 3 < raw.size() && octal(raw[i + 1]) && octal(raw[i + 2]) &&
            octal(raw[i + 3])) {
            out += char((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0'));
            i += 3;
        } else {
            out += raw[i];
        }
    }
    return out;
}

std::optional<uint32_t> parse_u32(std::string_view text) {
    auto value = parse_u64(text);
    if (!value || *value > UINT32_MAX)
        return std::nullopt;
    return uint32_t(*value);
}

Result<MountEntry> parse_line(std::string_view line) {
    // One space between fields, always: an empty source stays a field.
    std::vector<std::string_view> fields = split(line, ' ');
    // id parent major:minor root point options [optional...] - type source super
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-")
        ++dash;
    if (dash + 3 >= fields.size())
        return error("expected `ID PARENT MAJOR:MINOR ROOT POINT OPTIONS ... - TYPE SOURCE "
                     "SUPER-OPTIONS`");
    MountEntry entry;
    auto id = parse_u32(fields[0]), parent = parse_u32(fields[1]);
    if (!id || !parent)
        return error(cat("bad mount id ", quoted(fields[0]), " or parent ", quoted(fields[1])));
    entry.id = *id;
    entry.parent_id = *parent;
    std::vector<std::string_view> device = split(fields[2], ':');
    auto major = device.size() == 2 ? parse_u32(device[0]) : std::nullopt;
    auto minor = device.size() == 2 ? parse_u32(device[1]) : std::nullopt;
    if (!major || !minor)
        return error(cat("bad device ", quoted(fields[2]), ": expected MAJOR:MINOR"));
    entry.major = *major;
    entry.minor = *minor;
    entry.root = unescape(fields[3]);
    entry.point = unescape(fields[4]);
    entry.options = std::string(fields[5]);
    entry.type = unescape(fields[dash + 1]);
    entry.source = unescape(fields[dash + 2]);
    entry.super_options = std::string(fields[dash + 3]);
    return entry;
}

bool has_option(std::string_view options, std::string_view option) {
    for (std::string_view each : split(options, ','))
        if (each == option)
            return true;
    return false;
}

} // namespace

bool MountEntry::read_only() const {
    return has_option(options, "ro");
}

bool MountEntry::superblock_read_only() const {
    return has_option(super_options, "ro");
}

Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> entries;
    size_t number = 0;
    for (std::string_view line : split(text, '\n')) {
        ++number;
        if (line.empty())
            continue;
        entries.push_back(TRY_CTX(parse_line(line), cat("mountinfo line ", number)));
    }
    return entries;
}

Result<std::vector<MountEntry>> read_mountinfo(const std::string& path) {
    std::string text = TRY(read_file(path));
    return TRY_CTX(parse_mountinfo(text), quoted(path));
}

} // namespace keel
