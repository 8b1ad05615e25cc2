// sd_notify: the strict datagram parser, and the socket with the sender's
// credentials.
#include "init/notify.h"

#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

std::string parse_error(std::string_view text) {
    auto message = keel::parse_notify_message(text);
    REQUIRE_FALSE(message);
    return message.error().to_string();
}

} // namespace

TEST_CASE("a notify message carries readiness, status, main pid and watchdog keep-alives") {
    auto message = keel::parse_notify_message(
        "READY=1\nSTATUS=Serving 3 clients\tok\nMAINPID=4242\nWATCHDOG=1\nWATCHDOG_USEC=2000000\n"
        "EXTEND_TIMEOUT_USEC=5000000\nERRNO=2\nFDSTORE=1\nX_CUSTOM=yes\n");
    REQUIRE(message);
    CHECK(message->ready);
    CHECK(*message->status == "Serving 3 clients\tok");
    CHECK(*message->main_pid == 4242);
    CHECK(message->watchdog);
    CHECK_FALSE(message->watchdog_trigger);
    CHECK(*message->watchdog_usec == 2000000);
    CHECK(*message->extend_timeout_usec == 5000000);
    CHECK(*message->errno_value == 2);
    CHECK(message->ignored == std::vector<std::string>{"FDSTORE", "X_CUSTOM"});

    auto minimal = keel::parse_notify_message("WATCHDOG=trigger");
    REQUIRE(minimal);
    CHECK(minimal->watchdog_trigger);
    CHECK_FALSE(minimal->ready);
    auto blank_lines = keel::parse_notify_message("\n\nSTOPPING=1\n\nRELOADING=1\n");
    REQUIRE(blank_lines);
    CHECK(blank_lines->stopping);
    CHECK(blank_lines->reloading);
    auto later_wins = keel::parse_notify_message("STATUS=a\nSTATUS=b");
    REQUIRE(later_wins);
    CHECK(*later_wins->status == "b");
}

TEST_CASE("malformed notify messages are refused with the line and what was wrong") {
    CHECK(parse_error("") == "empty message");
    CHECK(parse_error("\n\n") == "empty message");
    CHECK(parse_error("READY") == "line 1: expected KEY=value, got `READY`");
    CHECK(parse_error("READY=1\n=1") == "line 2: missing key before `=` in `=1`");
    CHECK(parse_error("ready=1") ==
          "line 1: invalid key `ready` (keys are upper-case letters, digits and `_`)");
    CHECK(parse_error("READY=yes") == "line 1: READY: `yes` is not `1`");
    CHECK(parse_error("MAINPID=abc") == "line 1: MAINPID: `abc` is not a pid");
    CHECK(parse_error("MAINPID=0") == "line 1: MAINPID: `0` is not a pid");
    CHECK(parse_error("MAINPID=99999999999") == "line 1: MAINPID: `99999999999` is not a pid");
    CHECK(parse_error("MAINPID=-5") == "line 1: MAINPID: `-5` is not a pid");
    CHECK(parse_error("WATCHDOG=2") == "line 1: WATCHDOG: `2` is not `1` or `trigger`");
    CHECK(parse_error("WATCHDOG_USEC=0") ==
          "line 1: WATCHDOG_USEC: `0` is not a positive number of microseconds");
    CHECK(parse_error("ERRNO=5000") == "line 1: ERRNO: `5000` is not an errno number");
    CHECK(parse_error("STATUS=bell\x07") == "line 1: STATUS: `bell\\x07` is not printable text");
    CHECK(parse_error(std::string("READY=1\0", 8)) == "message contains a NUL byte");
    CHECK(parse_error(std::string(4097, 'A')) ==
          "message of 4097 bytes exceeds the maximum of 4096");
}

TEST_CASE("the notify socket hands each datagram over with the sender's pid") {
    keel::testing::TempDir dir;
    auto reactor = keel::Reactor::create();
    REQUIRE(reactor);
    std::vector<std::pair<pid_t, std::string>> received;
    auto socket = keel::NotifySocket::open(
        **reactor, dir / "run/notify",
        [&](const struct ucred& sender, keel::Result<keel::NotifyMessage> message) {
            received.emplace_back(sender.pid, message ? (message->ready ? "ready" : "other")
                                                      : message.error().to_string());
        });
    REQUIRE(socket);
    CHECK((*socket)->path() == dir / "run/notify");

    REQUIRE(keel::send_notify(dir / "run/notify", "READY=1\nSTATUS=up"));
    REQUIRE(keel::send_notify(dir / "run/notify", "READY=maybe"));
    // As root, a message can speak for another pid (our parent), as
    // systemd-notify does for the shell script that runs it.
    REQUIRE(keel::send_notify(dir / "run/notify", "STATUS=x", getppid()));
    for (int i = 0; i < 20 && received.size() < 3; ++i)
        REQUIRE((*reactor)->run_once(std::chrono::milliseconds(50)));
    REQUIRE(received.size() == 3);
    CHECK(received[0] == std::pair<pid_t, std::string>{getpid(), "ready"});
    CHECK(received[1] ==
          std::pair<pid_t, std::string>{getpid(), "line 1: READY: `maybe` is not `1`"});
    CHECK(received[2].first == (getuid() == 0 ? getppid() : getpid()));
}

TEST_CASE("an abstract notify socket name starts with @") {
    auto reactor = keel::Reactor::create();
    REQUIRE(reactor);
    std::string name = "@keel-test-notify-" + std::to_string(getpid());
    int count = 0;
    auto socket = keel::NotifySocket::open(
        **reactor, name, [&](const struct ucred&, keel::Result<keel::NotifyMessage> message) {
            count += message && message->watchdog;
        });
    REQUIRE(socket);
    REQUIRE(keel::send_notify(name, "WATCHDOG=1"));
    for (int i = 0; i < 20 && count == 0; ++i)
        REQUIRE((*reactor)->run_once(std::chrono::milliseconds(50)));
    CHECK(count == 1);
    CHECK(keel::send_notify("/nonexistent/notify", "READY=1").error().to_string() ==
          "send to `/nonexistent/notify`: No such file or directory");
}
