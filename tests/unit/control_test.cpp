// The control socket client: the socket path, the unit-name rule, requests
// in flight side by side, one-shot calls and streams, against a stand-in for
// init that the test answers by hand.
#include "control/control.h"

#include "base/framing.h"
#include "base/sys.h"
#include "tests/unit/control_reply.h"
#include "tests/unit/temp_dir.h"

#include <cstdlib>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <thread>
#include <vector>

using keel::testing::text_response;

namespace {

// Listens where init would; each connection is accepted and answered by the
// test itself, so nothing runs concurrently unless a test says so.
struct FakeInitSocket {
    keel::testing::TempDir dir;
    std::string path;
    keel::Fd listener;

    FakeInitSocket() {
        path = dir / "init.sock";
        auto listening = keel::unix_listen(path, SOCK_SEQPACKET);
        REQUIRE(listening);
        listener = std::move(*listening);
    }

    // The next client's connection and the request it sent. Checks, never
    // REQUIREs: it also runs on a thread of its own.
    std::pair<keel::Fd, keel::control::Request> accept() {
        keel::Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        CHECK(fd);
        auto request =
            keel::read_message<keel::control::Request>(fd.get(), keel::Transport::Seqpacket);
        CHECK(request);
        return {std::move(fd), request ? *request : keel::control::Request()};
    }
};

keel::control::Request status_request() {
    keel::control::Request request;
    request.mutable_status();
    return request;
}

keel::control::Request start_unit_request(const std::string& unit) {
    keel::control::Request request;
    request.mutable_unit()->set_job(keel::control::JOB_TYPE_START);
    request.mutable_unit()->set_unit(unit);
    return request;
}

void answer_with_text(const keel::Fd& fd, const std::string& text) {
    CHECK(keel::write_message(fd.get(), text_response(text), keel::Transport::Seqpacket));
}

} // namespace

TEST_CASE("the socket path is $KEEL_CONTROL_SOCKET when set, else /run/keel/init.sock") {
    ::unsetenv("KEEL_CONTROL_SOCKET");
    CHECK(keel::control_socket_path() == "/run/keel/init.sock");
    ::setenv("KEEL_CONTROL_SOCKET", "", 1);
    CHECK(keel::control_socket_path() == "/run/keel/init.sock");
    ::setenv("KEEL_CONTROL_SOCKET", "/tmp/other.sock", 1);
    CHECK(keel::control_socket_path() == "/tmp/other.sock");
    ::unsetenv("KEEL_CONTROL_SOCKET");
}

TEST_CASE("a unit name without a dot means the service of that name, as with systemctl") {
    CHECK(keel::unit_name_argument("web") == "web.service");
    CHECK(keel::unit_name_argument("web.service") == "web.service");
    CHECK(keel::unit_name_argument("multi-user.target") == "multi-user.target");
    CHECK(keel::unit_name_argument("web@1.service") == "web@1.service");
}

TEST_CASE("the journal's own names and an empty name are kept as they are") {
    CHECK(keel::unit_name_argument("kernel") == "kernel");
    CHECK(keel::unit_name_argument("keel") == "keel");
    CHECK(keel::unit_name_argument("").empty());
    CHECK(keel::unit_name_argument("keel-agent") == "keel-agent.service");
}

TEST_CASE("requests sent side by side are all in flight before any answer, and each gets its "
          "own") {
    FakeInitSocket init;
    std::vector<keel::ControlConnection> connections;
    for (const char* unit : {"a.service", "b.service", "c.service"}) {
        auto sent = keel::ControlConnection::send(start_unit_request(unit), init.path);
        REQUIRE(sent);
        connections.push_back(std::move(*sent));
    }
    // Init sees all three requests before it answers any, and answers them
    // in reverse order.
    std::vector<std::pair<keel::Fd, keel::control::Request>> received;
    for (int i = 0; i < 3; ++i)
        received.push_back(init.accept());
    for (auto it = received.rbegin(); it != received.rend(); ++it)
        answer_with_text(it->first, "done " + it->second.unit().unit());
    std::vector<std::string> answers;
    for (keel::ControlConnection& connection : connections) {
        auto response = connection.receive();
        REQUIRE(response);
        answers.push_back(response->error());
    }
    CHECK(answers ==
          std::vector<std::string>{"done a.service", "done b.service", "done c.service"});
}

TEST_CASE("a stream of responses ends when init closes the connection") {
    FakeInitSocket init;
    std::thread server([&] {
        auto [fd, request] = init.accept();
        CHECK(request.has_status());
        for (int i = 0; i < 3; ++i)
            answer_with_text(fd, "line " + std::to_string(i));
    }); // closes the connection
    std::vector<std::string> seen;
    auto streamed = keel::call_init_stream(
        status_request(),
        [&](const keel::control::Response& response) {
            seen.push_back(response.error());
            return true;
        },
        init.path);
    server.join();
    REQUIRE(streamed);
    CHECK(seen == std::vector<std::string>{"line 0", "line 1", "line 2"});
}

TEST_CASE("a stream with a malformed response fails instead of ending quietly") {
    FakeInitSocket init;
    std::thread server([&] {
        auto [fd, request] = init.accept();
        answer_with_text(fd, "line 0");
        CHECK(keel::write_frame(fd.get(), "\xff\xff\xff not protobuf", keel::Transport::Seqpacket));
    });
    int seen = 0;
    auto streamed = keel::call_init_stream(
        status_request(),
        [&](const keel::control::Response&) {
            ++seen;
            return true;
        },
        init.path);
    server.join();
    CHECK(seen == 1);
    REQUIRE_FALSE(streamed);
    CHECK_FALSE(keel::is_connection_closed(streamed.error()));
    CHECK(streamed.error().to_string() ==
          "read init's response: malformed keel.control.Response message");
}

TEST_CASE("init closing the connection without an answer fails the call, as a closed "
          "connection") {
    FakeInitSocket init;
    std::thread server([&] { init.accept(); }); // hangs up at once
    auto response = keel::call_init(status_request(), init.path);
    server.join();
    REQUIRE_FALSE(response);
    CHECK(keel::is_connection_closed(response.error()));
    CHECK(response.error().to_string() == "read init's response: connection closed");
}

TEST_CASE("calling init where nothing listens says so") {
    keel::control::Request request;
    request.mutable_status();
    auto response = keel::call_init(request, "/nonexistent/init.sock");
    REQUIRE_FALSE(response);
    CHECK(
        response.error().to_string() ==
        "reach init (is keel running as init?): connect to `/nonexistent/init.sock`: No such file "
        "or directory");
}
