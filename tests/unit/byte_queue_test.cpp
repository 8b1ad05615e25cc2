// ByteQueue and send_queued(): the gRPC layer's output buffering.
#include "kv/byte_queue.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;

TEST_CASE("a byte queue hands out its bytes in order however they were added and taken") {
    ByteQueue queue;
    std::string expected;
    std::string taken;
    for (int round = 0; round < 200; ++round) {
        std::string piece(size_t(round % 17 + 1), char('a' + round % 26));
        queue.append(piece);
        expected += piece;
        size_t count = std::min<size_t>(queue.size(), size_t(round % 11));
        taken += queue.front().substr(0, count);
        queue.consume(count);
        CHECK(queue.size() == expected.size() - taken.size());
    }
    taken += queue.front();
    queue.consume(queue.size() + 5); // more than there is: all of it
    CHECK(taken == expected);
    CHECK(queue.empty());
}

TEST_CASE("send_queued drains into a socket, stops when it is full, and names a closed peer") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == 0);
    ByteQueue queue;
    queue.append("hello");
    auto sent = send_queued(pair[0], queue);
    REQUIRE(sent);
    CHECK(*sent == SendProgress::Drained);
    CHECK(queue.empty());
    char buffer[16] = {};
    CHECK(::read(pair[1], buffer, sizeof buffer) == 5);
    CHECK(std::string(buffer, 5) == "hello");

    queue.append(std::string(8u << 20, 'x')); // more than the socket buffer
    sent = send_queued(pair[0], queue);
    REQUIRE(sent);
    CHECK(*sent == SendProgress::Blocked);
    CHECK_FALSE(queue.empty());

    ::close(pair[1]);
    sent = send_queued(pair[0], queue);
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code() == EPIPE);
    ::close(pair[0]);
}
