// Tests for base/result.h: Error formatting and the TRY / TRY_CTX macros.
#include "base/result.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

using namespace keel;

namespace {

Result<int> parse_positive(int value) {
    if (value <= 0)
        return error("value must be positive");
    return value;
}

Result<int> doubled(int value) {
    int checked = TRY(parse_positive(value));
    return checked * 2;
}

Result<int> doubled_with_context(int value) {
    int checked = TRY_CTX(parse_positive(value), "read setting `x`");
    return checked * 2;
}

Result<void> open_missing() {
    return errno_error(ENOENT, "open `/etc/missing`");
}

Result<void> start_unit() {
    TRY_CTX(open_missing(), "start unit `web`");
    return {};
}

Result<std::unique_ptr<int>> make_owned(int value) {
    return std::make_unique<int>(value);
}

Result<int> unwrap_owned(int value) {
    std::unique_ptr<int> owned = TRY(make_owned(value));
    return *owned;
}

} // namespace

TEST_CASE("an error without errno prints just its message") {
    Error e = Error::message("bad input");
    CHECK(e.code() == 0);
    CHECK(e.root() == "bad input");
    CHECK(e.to_string() == "bad input");
}

TEST_CASE("an errno error ends with the system's description of the errno") {
    Error e = Error::from_errno(EPERM, "mount `/proc`");
    CHECK(e.code() == EPERM);
    CHECK(e.to_string() == std::string("mount `/proc`: ") + std::strerror(EPERM));
}

TEST_CASE("wrapped context reads outermost first and keeps the innermost as root") {
    Error e = Error::from_errno(EACCES, "open `/run/x`");
    e.wrap("load unit").wrap("start `web`");
    CHECK(e.root() == "open `/run/x`");
    CHECK(e.code() == EACCES);
    CHECK(e.to_string() ==
          std::string("start `web`: load unit: open `/run/x`: ") + std::strerror(EACCES));
}

TEST_CASE("one of keel's own error codes survives wrapping and prints no errno text") {
    Error e = Error::from_code(ErrorCode::ConnectionClosed, "connection closed");
    e.wrap("read the reply");
    CHECK(e.code() == int(ErrorCode::ConnectionClosed));
    CHECK(e.code() < 0); // never an errno value
    CHECK(e.to_string() == "read the reply: connection closed");
}

TEST_CASE("wrapping a temporary error yields the wrapped error") {
    Error e = Error::message("inner").wrap("outer");
    CHECK(e.to_string() == "outer: inner");
}

TEST_CASE("errno_error captures the current errno") {
    errno = ENOSPC;
    Result<void> r = errno_error("write journal");
    REQUIRE(!r);
    CHECK(r.error().code() == ENOSPC);
    CHECK(r.error().root() == "write journal");
}

TEST_CASE("TRY yields the value of a success and returns a failure unchanged") {
    Result<int> ok = doubled(21);
    REQUIRE(ok);
    CHECK(*ok == 42);

    Result<int> failed = doubled(-1);
    REQUIRE(!failed);
    CHECK(failed.error().to_string() == "value must be positive");
}

TEST_CASE("TRY_CTX adds one layer of context to a failure only") {
    Result<int> ok = doubled_with_context(5);
    REQUIRE(ok);
    CHECK(*ok == 10);

    Result<int> failed = doubled_with_context(0);
    REQUIRE(!failed);
    CHECK(failed.error().to_string() == "read setting `x`: value must be positive");
}

TEST_CASE("TRY_CTX works on Result<void> and keeps the errno") {
    Result<void> r = start_unit();
    REQUIRE(!r);
    CHECK(r.error().code() == ENOENT);
    CHECK(r.error().to_string() ==
          std::string("start unit `web`: open `/etc/missing`: ") + std::strerror(ENOENT));
}

TEST_CASE("TRY moves move-only values out of a result") {
    Result<int> r = unwrap_owned(7);
    REQUIRE(r);
    CHECK(*r == 7);
}
