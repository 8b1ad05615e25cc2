// Tests for base/fd.h: ownership and closing of descriptors.
#include "base/fd.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

using namespace keel;

namespace {

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) >= 0;
}

// A fresh pipe; the write end is returned owned, the read end raw.
int open_pipe(Fd& write_end) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    write_end.reset(fds[1]);
    return fds[0];
}

} // namespace

TEST_CASE("a default Fd holds nothing") {
    Fd fd;
    CHECK(!fd.valid());
    CHECK(!fd);
    CHECK(fd.get() == -1);
}

TEST_CASE("an Fd closes its descriptor when it goes out of scope") {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    {
        Fd fd(raw);
        CHECK(fd.valid());
        CHECK(is_open(raw));
    }
    CHECK(!is_open(raw));
}

TEST_CASE("moving an Fd transfers ownership and leaves the source empty") {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    Fd first(raw);
    Fd second(std::move(first));
    CHECK(!first.valid());
    CHECK(second.get() == raw);
    CHECK(is_open(raw));

    Fd third;
    third = std::move(second);
    CHECK(!second.valid());
    CHECK(third.get() == raw);
    CHECK(is_open(raw));
}

TEST_CASE("move-assigning over an Fd closes the descriptor it held") {
    Fd held;
    int read_end = open_pipe(held);
    int old = held.get();
    Fd other(read_end);
    held = std::move(other);
    CHECK(!is_open(old));
    CHECK(held.get() == read_end);
}

TEST_CASE("release gives the descriptor up without closing it") {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    {
        Fd fd(raw);
        CHECK(fd.release() == raw);
        CHECK(!fd.valid());
    }
    CHECK(is_open(raw));
    ::close(raw);
}

TEST_CASE("reset closes the old descriptor and takes the new one") {
    Fd fd;
    int read_end = open_pipe(fd);
    int write_end = fd.get();
    fd.reset(read_end);
    CHECK(!is_open(write_end));
    CHECK(fd.get() == read_end);
    fd.reset();
    CHECK(!is_open(read_end));
    CHECK(!fd.valid());
}
