// Tests for base/users.h: passwd and group files as a static PID 1 reads them.
#include "base/users.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>

using namespace keel;
using keel::testing::TempDir;

namespace {

constexpr std::string_view kPasswd = "root:x:0:0:root:/root:/bin/bash\n"
                                     "# a comment\n"
                                     "\n"
                                     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                     "web:x:1000:100:Web Server,,,:/srv/web:\n";

constexpr std::string_view kGroup = "root:x:0:\n"
                                    "users:x:100:web,alice\n"
                                    "keel:x:990:alice,,bob,\n";

std::string passwd_error(std::string_view text) {
    Result<std::vector<PasswdEntry>> parsed = parse_passwd(text, "/etc/passwd");
    REQUIRE_MESSAGE(!parsed, "expected a parse error");
    return parsed.error().to_string();
}

std::string group_error(std::string_view text) {
    Result<std::vector<GroupEntry>> parsed = parse_group(text, "/etc/group");
    REQUIRE_MESSAGE(!parsed, "expected a parse error");
    return parsed.error().to_string();
}

} // namespace

TEST_CASE("passwd entries carry name, ids, home and shell, skipping comments and blanks") {
    Result<std::vector<PasswdEntry>> parsed = parse_passwd(kPasswd, "/etc/passwd");
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 3);
    const PasswdEntry& web = (*parsed)[2];
    CHECK(web.name == "web");
    CHECK(web.uid == 1000);
    CHECK(web.gid == 100);
    CHECK(web.home == "/srv/web");
    CHECK(web.shell == "");
    CHECK((*parsed)[0].shell == "/bin/bash");
}

TEST_CASE("passwd accepts CRLF line endings and a missing final newline") {
    Result<std::vector<PasswdEntry>> parsed =
        parse_passwd("a:x:1:2::/h:/bin/sh\r\nb:x:3:4::/:/bin/false", "passwd");
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[0].shell == "/bin/sh");
    CHECK((*parsed)[1].uid == 3);
}

TEST_CASE("NIS compat entries in passwd are skipped") {
    Result<std::vector<PasswdEntry>> parsed =
        parse_passwd("root:x:0:0::/root:/bin/sh\n+::::::\n-baduser::::::\n+@netgroup\n", "p");
    REQUIRE(parsed);
    CHECK(parsed->size() == 1);
}

TEST_CASE("a passwd line with the wrong number of fields names file and line") {
    CHECK(passwd_error("root:x:0:0:root:/root:/bin/bash\nbroken:x:1:1\n") ==
          "/etc/passwd:2: expected 7 colon-separated fields, found 4");
    CHECK(passwd_error("a:x:1:1:g:/h:/s:extra\n") ==
          "/etc/passwd:1: expected 7 colon-separated fields, found 8");
}

TEST_CASE("a passwd line with an empty name is rejected") {
    CHECK(passwd_error(":x:1:1::/:/bin/sh\n") == "/etc/passwd:1: empty name");
}

TEST_CASE("invalid user and group ids in passwd are rejected with the bad text") {
    CHECK(passwd_error("a:x:abc:1::/:/bin/sh\n") == "/etc/passwd:1: invalid UID `abc`");
    CHECK(passwd_error("a:x::1::/:/bin/sh\n") == "/etc/passwd:1: invalid UID ``");
    CHECK(passwd_error("a:x:-1:1::/:/bin/sh\n") == "/etc/passwd:1: invalid UID `-1`");
    CHECK(passwd_error("a:x:4294967295:1::/:/bin/sh\n") ==
          "/etc/passwd:1: invalid UID `4294967295`");
    CHECK(passwd_error("a:x:99999999999:1::/:/bin/sh\n") ==
          "/etc/passwd:1: invalid UID `99999999999`");
    CHECK(passwd_error("a:x:1:1x::/:/bin/sh\n") == "/etc/passwd:1: invalid GID `1x`");
    Result<std::vector<PasswdEntry>> highest =
        parse_passwd("nobody:x:4294967294:4294967294::/:/bin/false\n", "p");
    REQUIRE(highest);
    CHECK((*highest)[0].uid == 4294967294u);
}

TEST_CASE("a NUL byte in passwd is rejected with its line") {
    using namespace std::string_literals;
    CHECK(passwd_error("root:x:0:0::/root:/bin/sh\nevil\0:x:1:1::/:/bin/sh\n"s) ==
          "/etc/passwd:2: contains a NUL byte");
}

TEST_CASE("group entries carry name, id and members, ignoring empty member slots") {
    Result<std::vector<GroupEntry>> parsed = parse_group(kGroup, "/etc/group");
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 3);
    CHECK((*parsed)[0].members.empty());
    CHECK((*parsed)[1].gid == 100);
    CHECK((*parsed)[1].members == std::vector<std::string>{"web", "alice"});
    CHECK((*parsed)[2].members == std::vector<std::string>{"alice", "bob"});
}

TEST_CASE("malformed group lines name file and line") {
    CHECK(group_error("root:x:0:\nusers:x:100\n") ==
          "/etc/group:2: expected 4 colon-separated fields, found 3");
    CHECK(group_error("wheel:x:ten:\n") == "/etc/group:1: invalid GID `ten`");
    CHECK(group_error(":x:10:\n") == "/etc/group:1: empty name");
}

TEST_CASE("a very long bad field is shortened in the message") {
    std::string uid(100, '9');
    uid[0] = 'x';
    CHECK(passwd_error("a:x:" + uid + ":1::/:/bin/sh\n") ==
          "/etc/passwd:1: invalid UID `" + uid.substr(0, 40) + "...`");
}

TEST_CASE("find_user looks users up by name or by numeric id") {
    TempDir dir;
    std::string path = dir / "passwd";
    REQUIRE(write_new_file(path, kPasswd));

    Result<PasswdEntry> by_name = find_user("web", path);
    REQUIRE(by_name);
    CHECK(by_name->uid == 1000);
    CHECK(by_name->home == "/srv/web");

    Result<PasswdEntry> by_id = find_user("1", path);
    REQUIRE(by_id);
    CHECK(by_id->name == "daemon");

    Result<PasswdEntry> root = find_user("0", path);
    REQUIRE(root);
    CHECK(root->name == "root");
}

TEST_CASE("find_user reports unknown names and ids with the file") {
    TempDir dir;
    std::string path = dir / "passwd";
    REQUIRE(write_new_file(path, kPasswd));
    Result<PasswdEntry> missing = find_user("alice", path);
    REQUIRE(!missing);
    CHECK(missing.error().to_string() == "no user `alice` in `" + path + "`");
    Result<PasswdEntry> missing_id = find_user("4242", path);
    REQUIRE(!missing_id);
    CHECK(missing_id.error().to_string() == "no user with UID 4242 in `" + path + "`");
    Result<PasswdEntry> empty = find_user("", path);
    REQUIRE(!empty);
    CHECK(empty.error().to_string() == "empty user name");
}

TEST_CASE("find_user fails on a missing or malformed passwd file") {
    TempDir dir;
    std::string path = dir / "passwd";
    Result<PasswdEntry> no_file = find_user("root", path);
    REQUIRE(!no_file);
    CHECK(no_file.error().code() == ENOENT);

    REQUIRE(write_new_file(path, "root:x:0:0::/root:/bin/sh\nbad line\n"));
    Result<PasswdEntry> malformed = find_user("root", path);
    REQUIRE(!malformed);
    CHECK(malformed.error().to_string() == path + ":2: expected 7 colon-separated fields, found 1");
}

TEST_CASE("find_group looks groups up by name or numeric id") {
    TempDir dir;
    std::string path = dir / "group";
    REQUIRE(write_new_file(path, kGroup));
    Result<GroupEntry> keel = find_group("keel", path);
    REQUIRE(keel);
    CHECK(keel->gid == 990);
    Result<GroupEntry> users = find_group("100", path);
    REQUIRE(users);
    CHECK(users->name == "users");
    Result<GroupEntry> missing = find_group("wheel", path);
    REQUIRE(!missing);
    CHECK(missing.error().to_string() == "no group `wheel` in `" + path + "`");
    Result<GroupEntry> missing_id = find_group("7", path);
    REQUIRE(!missing_id);
    CHECK(missing_id.error().to_string() == "no group with GID 7 in `" + path + "`");
}

TEST_CASE("the first of duplicate entries wins, as with getpwnam") {
    TempDir dir;
    std::string path = dir / "passwd";
    REQUIRE(write_new_file(path, "dup:x:10:10::/a:/bin/sh\ndup:x:11:11::/b:/bin/sh\n"));
    Result<PasswdEntry> user = find_user("dup", path);
    REQUIRE(user);
    CHECK(user->uid == 10);
}
