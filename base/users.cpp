// passwd(5) and group(5) parsing and lookups.
//
// Like glibc's files backend, blank lines and `#` comments are skipped.
// NIS compat entries (`+name`, `-name`) point at a directory service a static
// PID 1 cannot reach, so they are skipped too rather than read as users.
// Anything else that is malformed fails the whole file with its line number:
// a half-read passwd could map a user to the wrong id.
#include "base/users.h"

#include "base/strings.h"
#include "base/sys.h"

#include <limits>

namespace keel {

namespace {

// One line of a colon-separated database, with its 1-based number.
struct Record {
    std::vector<std::string_view> fields;
    int line;
};

template <typename Visit>
Result<void> for_each_record(std::string_view text, std::string_view filename, size_t field_count,
                             Visit visit) {
    int number = 0;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++number;
        auto fail = [&](std::string_view what) {
            return error(cat(filename, ":", number, ": ", what));
        };
        if (line.find('\0') != std::string_view::npos)
            return fail("contains a NUL byte");
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        std::string_view stripped = trim(line);
        if (stripped.empty() || stripped.front() == '#')
            continue;
        if (line.front() == '+' || line.front() == '-')
            continue;
        Record record{split(line, ':'), number};
        if (record.fields.size() != field_count)
            return fail(cat("expected ", uint64_t(field_count), " colon-separated fields, found ",
                            uint64_t(record.fields.size())));
        if (record.fields[0].empty())
            return fail("empty name");
        TRY(visit(record, fail));
    }
    return {};
}

// A uid or gid: decimal, and not (id_t)-1, which means "no id" to the kernel.
std::optional<uint32_t> parse_id(std::string_view text) {
    std::optional<uint64_t> value = parse_u64(text);
    if (!value || *value >= std::numeric_limits<uint32_t>::max())
        return std::nullopt;
    return uint32_t(*value);
}

std::string shorten(std::string_view text) {
    constexpr size_t kMax = 40;
    if (text.size() <= kMax)
        return quoted(text);
    return quoted(cat(text.substr(0, kMax), "..."));
}

} // namespace

Result<std::vector<PasswdEntry>> parse_passwd(std::string_view text, std::string_view filename) {
    std::vector<PasswdEntry> entries;
    TRY(for_each_record(text, filename, 7, [&](const Record& record, auto fail) -> Result<void> {
        // name:password:UID:GID:GECOS:home:shell
        std::optional<uint32_t> uid = parse_id(record.fields[2]);
        if (!uid)
            return fail(cat("invalid UID ", shorten(record.fields[2])));
        std::optional<uint32_t> gid = parse_id(record.fields[3]);
        if (!gid)
            return fail(cat("invalid GID ", shorten(record.fields[3])));
        entries.push_back(PasswdEntry{std::string(record.fields[0]), uid_t(*uid), gid_t(*gid),
                                      std::string(record.fields[5]),
                                      std::string(record.fields[6])});
        return {};
    }));
    return entries;
}

Result<std::vector<GroupEntry>> parse_group(std::string_view text, std::string_view filename) {
    std::vector<GroupEntry> entries;
    TRY(for_each_record(text, filename, 4, [&](const Record& record, auto fail) -> Result<void> {
        // name:password:GID:member,member
        std::optional<uint32_t> gid = parse_id(record.fields[2]);
        if (!gid)
            return fail(cat("invalid GID ", shorten(record.fields[2])));
        GroupEntry entry{std::string(record.fields[0]), gid_t(*gid), {}};
        if (!record.fields[3].empty()) {
            for (std::string_view member : split(record.fields[3], ',')) {
                if (!member.empty()) // tolerate "a,,b" and a trailing comma
                    entry.members.emplace_back(member);
            }
        }
        entries.push_back(std::move(entry));
        return {};
    }));
    return entries;
}

// Both lookups treat an all-digit argument as an id, as systemd does: names
// that are numbers are not valid user names.
Result<PasswdEntry> find_user(std::string_view name_or_uid, const std::string& path) {
    if (name_or_uid.empty())
        return error("empty user name");
    std::string text = TRY(read_file(path));
    std::vector<PasswdEntry> entries = TRY(parse_passwd(text, path));
    std::optional<uint32_t> uid = parse_id(name_or_uid);
    for (PasswdEntry& entry : entries) {
        if (uid ? entry.uid == *uid : entry.name == name_or_uid)
            return std::move(entry);
    }
    if (uid)
        return error(cat("no user with UID ", *uid, " in ", quoted(path)));
    return error(cat("no user ", shorten(name_or_uid), " in ", quoted(path)));
}

Result<GroupEntry> find_group(std::string_view name_or_gid, const std::string& path) {
    if (name_or_gid.empty())
        return error("empty group name");
    std::string text = TRY(read_file(path));
    std::vector<GroupEntry> entries = TRY(parse_group(text, path));
    std::optional<uint32_t> gid = parse_id(name_or_gid);
    for (GroupEntry& entry : entries) {
        if (gid ? entry.gid == *gid : entry.name == name_or_gid)
            return std::move(entry);
    }
    if (gid)
        return error(cat("no group with GID ", *gid, " in ", quoted(path)));
    return error(cat("no group ", shorten(name_or_gid), " in ", quoted(path)));
}

} // namespace keel
