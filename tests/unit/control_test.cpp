// The control socket: requests and responses between the CLI and init.
#include "init/control.h"

#include "base/framing.h"
#include "base/sys.h"

#include <doctest/doctest.h>
#include <future>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

struct Server {
    std::string path;
    std::unique_ptr<keel::Reactor> reactor;
    std::unique_ptr<keel::ControlServer> server;
    std::vector<uid_t> peers;

    Server() {
        char dir[] = "/tmp/keel-control-XXXXXX";
        REQUIRE(mkdtemp(dir));
        path = std::string(dir) + "/sub/init.sock"; // the directory is created
        reactor = *keel::Reactor::create();
        auto started = keel::ControlServer::start(
            *reactor, path,
            [this](const keel::control::Request& request, const struct ucred& peer) {
                peers.push_back(peer.uid);
                keel::control::Response response;
                response.set_ok(request.has_status());
                if (request.has_status())
                    response.mutable_status()->set_mode("test");
                else
                    response.set_error("only status here");
                return response;
            });
        REQUIRE(started);
        server = std::move(*started);
    }
    ~Server() {
        server.reset();
        std::string dir = path.substr(0, path.rfind("/sub/"));
        CHECK(system(("rm -rf " + dir).c_str()) == 0);
    }

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
    CHECK(response->status().mode() == "test");
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
