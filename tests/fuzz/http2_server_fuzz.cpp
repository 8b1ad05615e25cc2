// Fuzz target for kv/grpc_server.h: bytes from a client fed to a gRPC
// server connection through a socketpair, on the server's own reactor.
//
// The first input byte picks whether the HTTP/2 client preface and an empty
// SETTINGS frame are put in front (so that most inputs reach the frame
// layer) and how the rest is cut into writes; the rest is what the client
// sends. The server must never crash, and must have closed the connection
// once the client side is gone. Routes: a unary echo, a stream answering
// each message twice, and one that fails with a status needing
// percent-encoding.
#include "base/log.h"
#include "kv/grpc_server.h"
#include "tests/fuzz/fuzz_check.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;

namespace {

class TwiceHandler final : public GrpcHandler {
public:
    explicit TwiceHandler(std::shared_ptr<GrpcCall> call) : m_call(std::move(call)) {}
    void on_message(std::string_view message) override {
        m_call->send(std::string(message));
        m_call->send(std::string(message));
    }
    void on_half_close() override { m_call->finish({}); }

private:
    std::shared_ptr<GrpcCall> m_call;
};

struct World {
    std::unique_ptr<Reactor> reactor;
    std::unique_ptr<GrpcServer> server;
};

World make_world() {
    set_log_level(LogLevel::Error); // a warning per broken connection is noise here
    World world;
    auto reactor = Reactor::create();
    FUZZ_CHECK(reactor);
    world.reactor = std::move(*reactor);
    GrpcServerOptions options;
    options.max_receive_message = 4096;
    auto server = GrpcServer::listen(*world.reactor, "127.0.0.1:0", options);
    FUZZ_CHECK(server);
    world.server = std::move(*server);
    world.server->route("/f.S/Unary",
                        unary_route([](std::string_view request, std::shared_ptr<GrpcCall> call) {
                            call->send(std::string(request));
                            call->finish({});
                        }));
    world.server->route("/f.S/Twice", [](std::shared_ptr<GrpcCall> call) {
        return std::make_unique<TwiceHandler>(std::move(call));
    });
    world.server->route("/f.S/Fail",
                        unary_route([](std::string_view, std::shared_ptr<GrpcCall> call) {
                            call->finish({GrpcCode::NotFound, "no such thing: 100%\n"});
                        }));
    return world;
}

void drain(int fd) {
    char buffer[65536];
    while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world = make_world();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    std::string input;
    if (mode & 1) {
        input = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        input += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    }
    input.append(reinterpret_cast<const char*>(data + 1), size - 1);
    size_t chunk = (mode >> 1) == 0 ? input.size() : size_t(mode >> 1) * 7;

    int fds[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    Fd client(fds[1]);
    FUZZ_CHECK(world.server->serve(Fd(fds[0]), "fuzz"));

    std::string_view rest = input;
    for (int round = 0; round < 10000 && !rest.empty(); ++round) {
        ssize_t n = ::send(client.get(), rest.data(), std::min(chunk, rest.size()),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            rest.remove_prefix(size_t(n));
        else if (n < 0 && errno != EAGAIN)
            break; // the server closed the connection
        (void)world.reactor->run_once(std::chrono::milliseconds(0));
        drain(client.get());
    }
    ::shutdown(client.get(), SHUT_WR);
    for (int round = 0; round < 100 && world.server->connection_count() > 0; ++round) {
        (void)world.reactor->run_once(std::chrono::milliseconds(0));
        drain(client.get());
    }
    client.reset();
    for (int round = 0; round < 100 && world.server->connection_count() > 0; ++round)
        (void)world.reactor->run_once(std::chrono::milliseconds(0));
    FUZZ_CHECK(world.server->connection_count() == 0);
    return 0;
}
