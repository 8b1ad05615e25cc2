// Fuzz target for base/users.h: passwd(5) and group(5) parsing of arbitrary
// bytes. Accepted entries must be well formed, and errors must name the file.
#include "base/strings.h"
#include "base/users.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    Result<std::vector<PasswdEntry>> users = parse_passwd(input, "passwd");
    if (users) {
        for (const PasswdEntry& user : *users) {
            FUZZ_CHECK(!user.name.empty());
            FUZZ_CHECK(user.name.find(':') == std::string::npos);
            FUZZ_CHECK(user.name.find('\n') == std::string::npos);
            FUZZ_CHECK(user.uid != uid_t(-1));
            FUZZ_CHECK(user.gid != gid_t(-1));
            FUZZ_CHECK(user.home.find(':') == std::string::npos);
            FUZZ_CHECK(user.shell.find(':') == std::string::npos);
        }
    } else {
        FUZZ_CHECK(starts_with(users.error().to_string(), "passwd:"));
    }

    Result<std::vector<GroupEntry>> groups = parse_group(input, "group");
    if (groups) {
        for (const GroupEntry& group : *groups) {
            FUZZ_CHECK(!group.name.empty());
            FUZZ_CHECK(group.gid != gid_t(-1));
            for (const std::string& member : group.members) {
                FUZZ_CHECK(!member.empty());
                FUZZ_CHECK(member.find_first_of(",:\n") == std::string::npos);
            }
        }
    } else {
        FUZZ_CHECK(starts_with(groups.error().to_string(), "group:"));
    }
    return 0;
}
