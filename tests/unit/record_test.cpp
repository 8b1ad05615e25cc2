// Tests for containers/record.h: a container's record written and read
// back, refused when it is not one, and the /proc reading that tells a live
// container process from a pid reused by another.
#include "containers/record.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

Record sample_record() {
    Record record;
    record.id = "web";
    record.bundle = "/srv/bundle";
    record.rootfs = "/srv/bundle/rootfs";
    record.pid = 4242;
    record.pid_start = 123456789;
    record.created = "2026-12-02T21:18:40.123456789Z";
    record.cgroup = "keel.oci/web";
    record.own_pid_namespace = true;
    record.annotations = {{"org.example.key", "value \"quoted\""}};
    return record;
}

} // namespace

TEST_CASE("a container's record reads back as it was written") {
    TempDir dir;
    RuntimeOptions runtime{.root = dir.path()};
    RecordPaths paths = record_paths(runtime, "web");
    REQUIRE(::mkdir(paths.directory.c_str(), 0700) == 0);
    REQUIRE(write_record(paths, sample_record()));

    auto record = read_record(runtime, "web");
    REQUIRE_MESSAGE(record, (record ? std::string() : record.error().to_string()));
    CHECK(record->bundle == "/srv/bundle");
    CHECK(record->rootfs == "/srv/bundle/rootfs");
    CHECK(record->pid == 4242);
    CHECK(record->pid_start == 123456789);
    CHECK(record->created == "2026-12-02T21:18:40.123456789Z");
    CHECK(record->cgroup == "keel.oci/web");
    CHECK(record->own_pid_namespace);
    CHECK(record->annotations.at("org.example.key") == "value \"quoted\"");
    CHECK_FALSE(path_exists(paths.state + ".new"));
}

TEST_CASE("a container without a record does not exist, and a bad id is refused") {
    TempDir dir;
    RuntimeOptions runtime{.root = dir.path()};
    auto missing = read_record(runtime, "nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().to_string() == "container `nope` does not exist");

    auto escape = read_record(runtime, "../etc");
    REQUIRE_FALSE(escape);
    CHECK(escape.error().to_string().find("only letters, digits") != std::string::npos);
}

TEST_CASE("a damaged record is refused with the file named") {
    TempDir dir;
    RuntimeOptions runtime{.root = dir.path()};
    RecordPaths paths = record_paths(runtime, "web");
    REQUIRE(::mkdir(paths.directory.c_str(), 0700) == 0);

    REQUIRE(write_new_file(paths.state, R"({"id":"web","bundle":"/b","pid":"12"})"));
    auto wrong_type = read_record(runtime, "web");
    REQUIRE_FALSE(wrong_type);
    CHECK(wrong_type.error().to_string().starts_with(paths.state + ": pid: expected"));

    REQUIRE(write_new_file(paths.state, R"({"id":"other","bundle":"/b","pid":1,"pidStart":1})"));
    auto other = read_record(runtime, "web");
    REQUIRE_FALSE(other);
    CHECK(other.error().to_string().find("records container `other`") != std::string::npos);

    REQUIRE(write_new_file(paths.state, "{\"id\":"));
    CHECK_FALSE(read_record(runtime, "web"));
}

TEST_CASE("a live process is the record's only while its start time matches") {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    auto stat = read_process_stat(child);
    REQUIRE(stat);
    REQUIRE(stat->has_value());
    CHECK((*stat)->parent == ::getpid());

    Record record;
    record.pid = child;
    record.pid_start = (*stat)->start_time;
    CHECK(*record_process_alive(record));
    auto pidfd = open_record_process(record);
    REQUIRE(pidfd);
    CHECK(pidfd->has_value());

    // The same pid with another start time is another process.
    Record reused = record;
    reused.pid_start += 1;
    CHECK_FALSE(*record_process_alive(reused));
    CHECK_FALSE(open_record_process(reused)->has_value());

    // A zombie has exited.
    ::kill(child, SIGKILL);
    for (int i = 0; i < 200 && (*read_process_stat(child))->state != 'Z'; ++i)
        ::usleep(5000);
    CHECK_FALSE(*record_process_alive(record));
    int status;
    ::waitpid(child, &status, 0);
    CHECK_FALSE(read_process_stat(child)->has_value());
}

TEST_CASE("/proc/PID/stat is read past a command name with spaces and parentheses") {
    auto self = read_process_stat(::getpid());
    REQUIRE(self);
    REQUIRE(self->has_value());
    CHECK((*self)->state == 'R');
    CHECK((*self)->start_time > 0);
}

TEST_CASE("created times are RFC 3339 in UTC with nanoseconds") {
    std::string now = rfc3339_now();
    REQUIRE(now.size() == 30);
    CHECK(now[4] == '-');
    CHECK(now[10] == 'T');
    CHECK(now[19] == '.');
    CHECK(now.back() == 'Z');
}
