// init's notify socket: each datagram handed over, parsed, with the
// sender's pid, at a path or an abstract name.
#include "init/notify_socket.h"

#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>
#include <unistd.h>

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
}
