// Tests for base/storage.h: the system's Storage on files in a scratch
// directory, the whole-buffer loops under short writes and EINTR (made by
// tests/unit/fake_storage.h), and the fake itself: failures, cut writes
// and crash points.
#include "base/storage.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <type_traits>
#include <unistd.h>

using namespace keel;
using keel::testing::CutWrite;
using keel::testing::FakeStorage;
using keel::testing::StorageCall;
using keel::testing::TempDir;

namespace {

File open_for_writing(Storage& storage, const std::string& path) {
    auto file = storage.open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE_MESSAGE(file, (file ? std::string() : file.error().to_string()));
    return std::move(*file);
}

std::string file_contents(const std::string& path) {
    auto text = system_storage().read_file(path);
    REQUIRE_MESSAGE(text, (text ? std::string() : text.error().to_string()));
    return *text;
}

} // namespace

TEST_CASE("data written through the system storage reads back whole, from the start or an offset") {
    TempDir dir;
    Storage& storage = system_storage();
    std::string path = dir / "segment";
    File file = open_for_writing(storage, path);
    CHECK(file.path() == path);
    REQUIRE(storage.write_all(file, "hello, world"));
    REQUIRE(storage.pwrite_all(file, "W", 7));
    CHECK(*storage.file_size(file) == 12);
    CHECK(file_contents(path) == "hello, World");
    CHECK(*storage.pread_all(file, 5, 7) == "World");
    CHECK(*storage.pread_all(file, 100, 7) == "World"); // fewer only at the end
    CHECK(storage.pread_all(file, 10, 12)->empty());

    // Bigger than one read, with a NUL in it.
    std::string big(100000, 'x');
    big[5000] = '\0';
    big.back() = 'y';
    File other = open_for_writing(storage, dir / "big");
    REQUIRE(storage.write_all(other, big));
    CHECK(file_contents(dir / "big") == big);
}

TEST_CASE("fsync, fdatasync, fallocate and ftruncate reach the file") {
    TempDir dir;
    Storage& storage = system_storage();
    File file = open_for_writing(storage, dir / "slot");
    REQUIRE(storage.write_all(file, "0123456789"));
    REQUIRE(storage.fsync(file));
    REQUIRE(storage.fdatasync(file));
    auto allocated = storage.fallocate(file, 0, 1 << 16);
    if (!allocated && allocated.error().code() == EOPNOTSUPP) {
        MESSAGE("this filesystem has no fallocate: ", allocated.error().to_string());
    } else {
        REQUIRE_MESSAGE(allocated, (allocated ? std::string() : allocated.error().to_string()));
        CHECK(*storage.file_size(file) == 1 << 16);
        CHECK(*storage.pread_all(file, 10, 0) == "0123456789"); // kept
    }
    REQUIRE(storage.ftruncate(file, 4));
    CHECK(*storage.file_size(file) == 4);
    CHECK(file_contents(dir / "slot") == "0123");
}

TEST_CASE("rename replaces its target, unlink removes, mkdir makes one directory") {
    TempDir dir;
    Storage& storage = system_storage();
    REQUIRE(write_new_file(dir / "new", "new"));
    REQUIRE(write_new_file(dir / "old", "old"));
    REQUIRE(storage.rename(dir / "new", dir / "old"));
    CHECK(file_contents(dir / "old") == "new");
    CHECK_FALSE(path_exists(dir / "new"));
    REQUIRE(storage.unlink(dir / "old"));
    CHECK_FALSE(path_exists(dir / "old"));
    REQUIRE(storage.mkdir(dir / "log", 0750));
    struct stat st {};
    REQUIRE(::stat((dir / "log").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    auto again = storage.mkdir(dir / "log", 0750);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == EEXIST);
}

TEST_CASE("make_directories creates missing parents, accepts existing ones, names what is in "
          "the way") {
    TempDir dir;
    Storage& storage = system_storage();
    REQUIRE(storage.make_directories(dir / "var/log/keel", 0755));
    CHECK(is_directory(dir / "var/log/keel"));
    REQUIRE(storage.make_directories(dir / "var/log/keel", 0755));
    REQUIRE(storage.make_directories(dir / "var//log/kv/", 0755));
    CHECK(is_directory(dir / "var/log/kv"));

    REQUIRE(write_new_file(dir / "file", "x"));
    auto blocked = storage.make_directories(dir / "file/journal", 0755);
    REQUIRE_FALSE(blocked);
    CHECK(blocked.error().code() == ENOTDIR);
    CHECK(blocked.error().to_string() == cat("create directory ",
                                             keel::quoted(dir / "file/journal"), ": ",
                                             std::strerror(ENOTDIR)));
}

TEST_CASE("errors carry the errno and name the path") {
    TempDir dir;
    Storage& storage = system_storage();
    auto missing = storage.open(dir / "missing", O_RDONLY, 0);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
    CHECK(missing.error().to_string() ==
          cat("open ", keel::quoted(dir / "missing"), ": ", std::strerror(ENOENT)));
    auto read = storage.read_file(dir / "missing");
    REQUIRE_FALSE(read);
    CHECK(read.error().code() == ENOENT);

    auto renamed = storage.rename(dir / "a", dir / "b");
    REQUIRE_FALSE(renamed);
    CHECK(renamed.error().to_string() == cat("rename ", keel::quoted(dir / "a"), " to ",
                                             keel::quoted(dir / "b"), ": ", std::strerror(ENOENT)));
    auto removed = storage.unlink(dir / "a");
    REQUIRE_FALSE(removed);
    CHECK(removed.error().to_string() ==
          cat("remove ", keel::quoted(dir / "a"), ": ", std::strerror(ENOENT)));

    REQUIRE(write_new_file(dir / "read-only", "x"));
    auto file = storage.open(dir / "read-only", O_RDONLY, 0);
    REQUIRE(file);
    auto written = storage.write_all(*file, "more");
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == EBADF);
    CHECK(written.error().to_string() ==
          cat("write ", keel::quoted(dir / "read-only"), ": ", std::strerror(EBADF)));
}

TEST_CASE("a File is move-only, keeps its path when moved and closes itself") {
    TempDir dir;
    static_assert(!std::is_copy_constructible_v<File>);
    static_assert(std::is_nothrow_move_constructible_v<File>);
    File file = open_for_writing(system_storage(), dir / "f");
    int fd = file.fd();
    File moved = std::move(file);
    CHECK_FALSE(file);
    CHECK(moved);
    CHECK(moved.fd() == fd);
    CHECK(moved.path() == dir / "f");
    moved.close();
    CHECK_FALSE(moved);
    CHECK(::fcntl(fd, F_GETFD) < 0); // really closed
    {
        File scoped = open_for_writing(system_storage(), dir / "g");
        fd = scoped.fd();
    }
    CHECK(::fcntl(fd, F_GETFD) < 0);
}

TEST_CASE("write_all and pwrite_all go on after short writes and EINTR until all is written") {
    TempDir dir;
    FakeStorage storage;
    File file = open_for_writing(storage, dir / "log");
    storage.cut_write(StorageCall::Write, 1, 3, CutWrite::ReturnShort);
    storage.fail(StorageCall::Write, 2, EINTR);
    storage.cut_write(StorageCall::Write, 3, 4, CutWrite::ReturnShort);
    REQUIRE(storage.write_all(file, "entry one\n"));
    CHECK(storage.calls(StorageCall::Write) == 4);
    CHECK(file_contents(dir / "log") == "entry one\n");

    storage.cut_write(StorageCall::Pwrite, 1, 2, CutWrite::ReturnShort);
    storage.fail(StorageCall::Pwrite, 2, EINTR);
    REQUIRE(storage.pwrite_all(file, "ENTRY", 0));
    CHECK(storage.calls(StorageCall::Pwrite) == 3);
    CHECK(file_contents(dir / "log") == "ENTRY one\n");

    storage.fail(StorageCall::Pread, 1, EINTR);
    CHECK(*storage.pread_all(file, 5, 0) == "ENTRY");
}

TEST_CASE("a write that fails after a short one reports the errno; what was taken stays written") {
    TempDir dir;
    FakeStorage storage;
    File file = open_for_writing(storage, dir / "journal.log");
    storage.cut_write(StorageCall::Write, 1, 4, CutWrite::ReturnShort);
    storage.fail(StorageCall::Write, 2, ENOSPC);
    auto written = storage.write_all(file, "a whole line\n");
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == ENOSPC);
    CHECK(written.error().to_string() ==
          cat("write ", keel::quoted(dir / "journal.log"), ": ", std::strerror(ENOSPC)));
    CHECK(file_contents(dir / "journal.log") == "a wh");

    // Cut and failed in one call (EIO from a disk that gave up midway).
    storage.cut_write(StorageCall::Pwrite, 1, 2, CutWrite::Fail, EIO);
    auto rewritten = storage.pwrite_all(file, "AWHOLE", 0);
    REQUIRE_FALSE(rewritten);
    CHECK(rewritten.error().code() == EIO);
    CHECK(file_contents(dir / "journal.log") == "AWwh");
    CHECK(storage.calls(StorageCall::Pwrite) == 1);
}

TEST_CASE("a write that takes nothing is an error rather than a loop without end") {
    TempDir dir;
    FakeStorage storage;
    File file = open_for_writing(storage, dir / "f");
    storage.cut_write(StorageCall::Write, 1, 0, CutWrite::ReturnShort);
    auto written = storage.write_all(file, "x");
    REQUIRE_FALSE(written);
    CHECK(written.error().to_string() ==
          cat("write ", keel::quoted(dir / "f"), ": no bytes were taken"));
}

TEST_CASE("the fake fails the chosen call of an operation with the chosen errno, and counts") {
    TempDir dir;
    FakeStorage storage;
    REQUIRE(write_new_file(dir / "a", "a"));
    storage.fail(StorageCall::Rename, 2, EXDEV);
    storage.fail_next(StorageCall::Fsync, EIO);
    REQUIRE(storage.rename(dir / "a", dir / "b"));
    auto second = storage.rename(dir / "b", dir / "c");
    REQUIRE_FALSE(second);
    CHECK(second.error().code() == EXDEV);
    CHECK(path_exists(dir / "b")); // nothing was done
    REQUIRE(storage.rename(dir / "b", dir / "c"));
    CHECK(storage.calls(StorageCall::Rename) == 3);

    File file = open_for_writing(storage, dir / "d");
    auto synced = storage.fsync(file);
    REQUIRE_FALSE(synced);
    CHECK(synced.error().to_string() ==
          cat("fsync ", keel::quoted(dir / "d"), ": ", std::strerror(EIO)));
    CHECK(storage.fsync(file));
    CHECK(storage.calls(StorageCall::Fsync) == 2);
    CHECK(storage.calls(StorageCall::Open) == 1);
    CHECK(storage.total_calls() == 6);
}

TEST_CASE("after a crash point every call fails and the disk keeps what was written before it") {
    TempDir dir;
    SUBCASE("counted over all operations") {
        FakeStorage storage;
        storage.crash_at_call(3); // open, write, then the crash
        File file = open_for_writing(storage, dir / "wal");
        REQUIRE(storage.write_all(file, "first\n"));
        CHECK_FALSE(storage.crashed());
        auto written = storage.write_all(file, "second\n");
        REQUIRE_FALSE(written);
        CHECK(written.error().code() == EIO);
        CHECK(storage.crashed());
        CHECK_FALSE(storage.fdatasync(file));
        CHECK_FALSE(storage.open(dir / "other", O_RDWR | O_CREAT, 0600));
        CHECK_FALSE(storage.mkdir(dir / "dir", 0755));
        CHECK(file_contents(dir / "wal") == "first\n");
        CHECK_FALSE(path_exists(dir / "other"));
        CHECK_FALSE(path_exists(dir / "dir"));
        CHECK(storage.total_calls() == 6);
    }
    SUBCASE("counted for one operation") {
        FakeStorage storage;
        storage.crash_at(StorageCall::Rename, 1);
        File file = open_for_writing(storage, dir / "snapshot.tmp");
        REQUIRE(storage.write_all(file, "state"));
        REQUIRE(storage.fsync(file));
        CHECK_FALSE(storage.rename(dir / "snapshot.tmp", dir / "snapshot"));
        CHECK_FALSE(storage.unlink(dir / "snapshot.tmp"));
        CHECK(file_contents(dir / "snapshot.tmp") == "state");
        CHECK_FALSE(path_exists(dir / "snapshot"));
    }
}

TEST_CASE("the fake's errors read like the system's") {
    TempDir dir;
    Storage& real = system_storage();
    FakeStorage fake;
    File closed(Fd(), dir / "closed"); // every call on it fails with EBADF
    auto same = [](const auto& system_result, const auto& fake_result) {
        REQUIRE_FALSE(system_result);
        REQUIRE_FALSE(fake_result);
        CHECK(system_result.error().root() == fake_result.error().root());
    };
    char byte;
    fake.fail_next(StorageCall::Pread, EBADF);
    same(real.pread(closed, {&byte, 1}, 0), fake.pread(closed, {&byte, 1}, 0));
    fake.fail_next(StorageCall::Write, EBADF);
    same(real.write(closed, "x"), fake.write(closed, "x"));
    fake.fail_next(StorageCall::Pwrite, EBADF);
    same(real.pwrite(closed, "x", 1), fake.pwrite(closed, "x", 1));
    fake.fail_next(StorageCall::Fsync, EBADF);
    same(real.fsync(closed), fake.fsync(closed));
    fake.fail_next(StorageCall::Fdatasync, EBADF);
    same(real.fdatasync(closed), fake.fdatasync(closed));
    fake.fail_next(StorageCall::Fallocate, EBADF);
    same(real.fallocate(closed, 4096, 8192), fake.fallocate(closed, 4096, 8192));
    fake.fail_next(StorageCall::Ftruncate, EBADF);
    same(real.ftruncate(closed, 7), fake.ftruncate(closed, 7));
    fake.fail_next(StorageCall::FileSize, EBADF);
    same(real.file_size(closed), fake.file_size(closed));
    fake.fail_next(StorageCall::Open, ENOENT);
    same(real.open(dir / "missing", O_RDONLY, 0), fake.open(dir / "missing", O_RDONLY, 0));
    fake.fail_next(StorageCall::Rename, ENOENT);
    same(real.rename(dir / "a", dir / "b"), fake.rename(dir / "a", dir / "b"));
    fake.fail_next(StorageCall::Unlink, ENOENT);
    same(real.unlink(dir / "a"), fake.unlink(dir / "a"));
    fake.fail_next(StorageCall::Mkdir, EEXIST);
    same(real.mkdir(dir.path(), 0755), fake.mkdir(dir.path(), 0755));
}
