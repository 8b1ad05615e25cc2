// Users and groups from /etc/passwd and /etc/group, parsed directly: a static
// PID 1 has no NSS.
#pragma once

#include "base/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel {

struct PasswdEntry {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
    std::string shell;
};

struct GroupEntry {
    std::string name;
    gid_t gid = 0;
    std::vector<std::string> members;
};

/// Parses passwd(5) text; malformed lines are errors naming the line.
Result<std::vector<PasswdEntry>> parse_passwd(std::string_view text, std::string_view filename);
/// Parses group(5) text.
Result<std::vector<GroupEntry>> parse_group(std::string_view text, std::string_view filename);

/// Looks up a user by name or numeric id in `path` (default /etc/passwd).
Result<PasswdEntry> find_user(std::string_view name_or_uid,
                              const std::string& path = "/etc/passwd");
/// Looks up a group by name or numeric id in `path` (default /etc/group).
Result<GroupEntry> find_group(std::string_view name_or_gid, const std::string& path = "/etc/group");

} // namespace keel
