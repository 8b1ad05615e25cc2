// init's control socket server: answers (now, later or streamed), the
// peer's credentials, malformed requests, and clients that hang up or stop
// reading. The client side of each exchange is control/control.h.
#include "init/control_server.h"

#include "base/framing.h"
#include "base/sys.h"
#include "control/control.h"
#include "tests/unit/control_reply.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>
#include <future>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using keel::testing::text_response;

namespace {

struct Server {
    keel::testing::TempDir dir;
    std::string path;
    std::unique_ptr<keel::Reactor> reactor;
    std::unique_ptr<keel::ControlServer> server;
    std::vector<uid_t> peers;

    Server() {
        path = dir / "sub/init.sock"; // the server creates the directory
        reactor = *keel::Reactor::create();
        auto started = keel::ControlServer::start(
            *reactor, path,
            [this](const keel::control::Request& request, const struct ucred& peer) {
                peers.push_back(peer.uid);
                keel::control::Response response;
                response.set_ok(request.has_status());
                if (request.has_status())
                    response.mutable_status()->set_version("test");
                else
                    response.set_error("only status here");
                return response;
            });
        REQUIRE(started);
        server = std::move(*started);
    }
    ~Server() { server.reset(); }

    // Runs the reactor until `client` finishes on another thread.
    template <typename T> T serve_while(std::function<T()> client) {
        auto result = std::async(std::launch::async, client);
        while (result.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
            REQUIRE(reactor->run_once(std::chrono::milliseconds(10)));
        return result.get();
    }
};

} // namespace

TEST_CASE("a status request gets the handler's response and the peer's credentials") {
    Server s;
    keel::control::Request request;
    request.mutable_status();
    auto response = s.serve_while<keel::Result<keel::control::Response>>(
        [&] { return keel::call_init(request, s.path); });
    REQUIRE(response);
    CHECK(response->ok());
    CHECK(response->status().version() == "test");
    REQUIRE(s.peers.size() == 1);
    CHECK(s.peers[0] == getuid());
}

TEST_CASE("a malformed request gets an error response, and the server keeps serving") {
    Server s;
    auto garbage = s.serve_while<keel::Result<std::string>>([&]() -> keel::Result<std::string> {
        keel::Fd fd = TRY(keel::unix_connect(s.path, SOCK_SEQPACKET));
        TRY(keel::write_frame(fd.get(), "\xff\xff\xff not protobuf", keel::Transport::Seqpacket));
        return keel::read_frame(fd.get(), keel::Transport::Seqpacket);
    });
    REQUIRE(garbage);
    keel::control::Response response;
    REQUIRE(response.ParseFromString(*garbage));
    CHECK_FALSE(response.ok());
    CHECK(response.error() == "malformed request");

    auto unframed = s.serve_while<keel::Result<std::string>>([&]() -> keel::Result<std::string> {
        keel::Fd fd = TRY(keel::unix_connect(s.path, SOCK_SEQPACKET));
        REQUIRE(send(fd.get(), "\0\0\0\x09short", 9, 0) == 9); // says 9 bytes, carries 5
        return keel::read_frame(fd.get(), keel::Transport::Seqpacket);
    });
    REQUIRE(unframed);
    REQUIRE(response.ParseFromString(*unframed));
    CHECK_FALSE(response.ok());
    CHECK(response.error().find("frame") != std::string::npos);

    keel::control::Request request;
    request.mutable_status();
    auto good = s.serve_while<keel::Result<keel::control::Response>>(
        [&] { return keel::call_init(request, s.path); });
    REQUIRE(good);
    CHECK(good->ok());
}

TEST_CASE("a client that connects and sends nothing does not block other clients") {
    Server s;
    keel::Fd silent = *keel::unix_connect(s.path, SOCK_SEQPACKET);
    keel::control::Request request;
    request.mutable_power()->set_action(keel::control::POWER_ACTION_POWEROFF);
    auto response = s.serve_while<keel::Result<keel::control::Response>>(
        [&] { return keel::call_init(request, s.path); });
    REQUIRE(response);
    CHECK_FALSE(response->ok());
    CHECK(response->error() == "only status here");
}

namespace {

// A server whose handler keeps the replies, to answer them later.
struct AsyncServer {
    keel::testing::TempDir dir;
    std::string path;
    std::unique_ptr<keel::Reactor> reactor;
    std::unique_ptr<keel::ControlServer> server;
    std::vector<keel::ControlReplyPtr> replies;
    int closed = 0;

    AsyncServer() {
        path = dir / "init.sock";
        reactor = *keel::Reactor::create();
        auto started =
            keel::ControlServer::start(*reactor, path,
                                       [this](const keel::control::Request&, const struct ucred&,
                                              keel::ControlReplyPtr reply) {
                                           reply->on_close([this] { ++closed; });
                                           replies.push_back(std::move(reply));
                                       });
        REQUIRE(started);
        server = std::move(*started);
    }
    ~AsyncServer() { server.reset(); }
    void spin(int rounds = 5) {
        for (int i = 0; i < rounds; ++i)
            REQUIRE(reactor->run_once(std::chrono::milliseconds(10)));
    }
};

} // namespace

TEST_CASE("a handler may answer later, and the client waits for that answer") {
    AsyncServer s;
    keel::control::Request request;
    request.mutable_list_units();
    auto pending = std::async(std::launch::async, [&] { return keel::call_init(request, s.path); });
    while (s.replies.empty())
        s.spin(1);
    s.spin();
    CHECK(pending.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
    s.replies[0]->finish(text_response("later"));
    while (pending.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
        s.spin(1);
    auto response = pending.get();
    REQUIRE(response);
    CHECK(response->error() == "later");
    s.spin();
    CHECK(s.closed == 1);
    CHECK_FALSE(s.replies[0]->open());
}

TEST_CASE("a streaming reply sends responses until the server closes the stream") {
    AsyncServer s;
    keel::control::Request request;
    request.mutable_logs()->set_follow(true);
    std::vector<std::string> seen;
    auto client = std::async(std::launch::async, [&] {
        return keel::call_init_stream(
            request,
            [&](const keel::control::Response& response) {
                seen.push_back(response.error());
                return true;
            },
            s.path);
    });
    while (s.replies.empty())
        s.spin(1);
    for (int i = 0; i < 3; ++i)
        CHECK(s.replies[0]->send(text_response("line " + std::to_string(i))));
    s.replies[0]->close();
    while (client.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
        s.spin(1);
    REQUIRE(client.get());
    CHECK(seen == std::vector<std::string>{"line 0", "line 1", "line 2"});
}

TEST_CASE("a client that hangs up ends its stream, and one that stops reading is dropped") {
    AsyncServer s;
    keel::control::Request request;
    request.mutable_logs()->set_follow(true);
    {
        keel::Fd hangs_up = *keel::unix_connect(s.path, SOCK_SEQPACKET);
        REQUIRE(keel::write_message(hangs_up.get(), request, keel::Transport::Seqpacket));
        while (s.replies.empty())
            s.spin(1);
    }
    s.spin();
    CHECK(s.closed == 1);
    CHECK_FALSE(s.replies[0]->send(text_response("nobody listens")));

    keel::Fd silent = *keel::unix_connect(s.path, SOCK_SEQPACKET);
    REQUIRE(keel::write_message(silent.get(), request, keel::Transport::Seqpacket));
    while (s.replies.size() < 2)
        s.spin(1);
    std::string big(60000, 'x');
    bool dropped = false;
    // Never read: the queue grows past its bound and the server lets go,
    // without ever blocking.
    for (int i = 0; i < 200 && !dropped; ++i)
        dropped = !s.replies[1]->send(text_response(big));
    CHECK(dropped);
    CHECK(s.closed == 2);
}
