// sd_notify: the strict datagram parser, socket addresses, and sending as
// `keel notify` does, to a plain datagram socket standing in for the receiver.
#include "base/notify.h"

#include "base/fd.h"
#include "tests/unit/temp_dir.h"

#include <cstring>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

std::string notify_error(std::string_view text) {
    auto message = keel::parse_notify_message(text);
    REQUIRE_FALSE(message);
    return message.error().to_string();
}

// A datagram socket bound at `name` that receives with the sender's
// credentials, as init's notify socket does.
keel::Fd receiver(const std::string& name) {
    keel::Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    int on = 1;
    REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    auto address = keel::notify_socket_address(name);
    REQUIRE(address);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address->address), address->length) == 0);
    return fd;
}

// The next datagram on `fd` and the pid the kernel says sent it.
std::pair<std::string, pid_t> receive(const keel::Fd& fd) {
    char buffer[keel::kMaxNotifyMessage];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
    iovec vector{buffer, sizeof buffer};
    msghdr header{};
    header.msg_iov = &vector;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd.get(), &header, 0);
    REQUIRE(n >= 0);
    cmsghdr* c = CMSG_FIRSTHDR(&header);
    REQUIRE(c);
    REQUIRE(c->cmsg_type == SCM_CREDENTIALS);
    struct ucred sender;
    std::memcpy(&sender, CMSG_DATA(c), sizeof sender);
    return {std::string(buffer, size_t(n)), sender.pid};
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
    CHECK(notify_error("") == "empty message");
    CHECK(notify_error("\n\n") == "empty message");
    CHECK(notify_error("READY") == "line 1: expected KEY=value, got `READY`");
    CHECK(notify_error("READY=1\n=1") == "line 2: missing key before `=` in `=1`");
    CHECK(notify_error("ready=1") ==
          "line 1: invalid key `ready` (keys are upper-case letters, digits and `_`)");
    CHECK(notify_error("READY=yes") == "line 1: READY: `yes` is not `1`");
    CHECK(notify_error("MAINPID=abc") == "line 1: MAINPID: `abc` is not a pid");
    CHECK(notify_error("MAINPID=0") == "line 1: MAINPID: `0` is not a pid");
    CHECK(notify_error("MAINPID=99999999999") == "line 1: MAINPID: `99999999999` is not a pid");
    CHECK(notify_error("MAINPID=-5") == "line 1: MAINPID: `-5` is not a pid");
    CHECK(notify_error("WATCHDOG=2") == "line 1: WATCHDOG: `2` is not `1` or `trigger`");
    CHECK(notify_error("WATCHDOG_USEC=0") ==
          "line 1: WATCHDOG_USEC: `0` is not a positive number of microseconds");
    CHECK(notify_error("ERRNO=5000") == "line 1: ERRNO: `5000` is not an errno number");
    CHECK(notify_error("STATUS=bell\x07") == "line 1: STATUS: `bell\\x07` is not printable text");
    CHECK(notify_error(std::string("READY=1\0", 8)) == "message contains a NUL byte");
    CHECK(notify_error(std::string(4097, 'A')) ==
          "message of 4097 bytes exceeds the maximum of 4096");
}

TEST_CASE("a notification is sent as one datagram to a path or an abstract name") {
    keel::testing::TempDir dir;
    keel::Fd at_path = receiver(dir / "notify");
    REQUIRE(keel::send_notify(dir / "notify", "READY=1\nSTATUS=up"));
    CHECK(receive(at_path) == std::pair<std::string, pid_t>{"READY=1\nSTATUS=up", getpid()});

    std::string name = "@keel-test-send-" + std::to_string(getpid());
    keel::Fd abstract = receiver(name);
    REQUIRE(keel::send_notify(name, "WATCHDOG=1"));
    CHECK(receive(abstract) == std::pair<std::string, pid_t>{"WATCHDOG=1", getpid()});
}

TEST_CASE("a notification speaks for another pid only where the sender may, else for itself") {
    keel::testing::TempDir dir;
    keel::Fd socket = receiver(dir / "notify");
    // As root, a message can speak for another pid (our parent), as
    // systemd-notify does for the shell script that runs it.
    REQUIRE(keel::send_notify(dir / "notify", "STATUS=x", getppid()));
    CHECK(receive(socket).second == (getuid() == 0 ? getppid() : getpid()));
}

TEST_CASE("sending where no socket is, or to a name that cannot be one, says which") {
    CHECK(keel::send_notify("/nonexistent/notify", "READY=1").error().to_string() ==
          "send to `/nonexistent/notify`: No such file or directory");
    CHECK(keel::send_notify("", "READY=1").error().to_string() ==
          "notify socket path `` is empty or too long");
    CHECK_FALSE(keel::notify_socket_address(std::string(200, 'x')));
}
