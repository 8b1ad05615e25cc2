// Tests for kv/grpc_server.h and kv/grpc_client.h: a server on a Reactor
// in a thread of its own, the blocking client in the test's thread, over
// loopback TCP (and a unix socket): unary and streaming calls, statuses,
// flow control, resets, deadlines, garbage on the socket, stop, and (when
// Debian's etcdctl is installed) a real grpc-go client.
#include "kv/grpc_client.h"
#include "kv/grpc_frame.h"
#include "kv/grpc_server.h"

#include "base/strings.h"
#include "temp_dir.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;
using namespace std::chrono_literals;

namespace {

// What a failed result says; doctest may evaluate a message on success too.
template <typename T> std::string why(const Result<T>& result) {
    return result ? std::string() : result.error().to_string();
}
template <typename T> std::string why(const GrpcResult<T>& result) {
    return result ? std::string() : result.error().message;
}

// A server whose reactor runs in its own thread from start() on. Routes are
// added before start(); afterwards handlers run on the server's thread and
// tell the test what they saw through atomics.
class TestServer {
public:
    explicit TestServer(std::string address = "127.0.0.1:0", GrpcServerOptions options = {}) {
        auto reactor = Reactor::create();
        REQUIRE(reactor);
        m_reactor = std::move(*reactor);
        auto server = GrpcServer::listen(*m_reactor, address, options);
        REQUIRE_MESSAGE(server, why(server));
        m_server = std::move(*server);
    }
    ~TestServer() {
        m_stopping = true;
        if (m_thread.joinable())
            m_thread.join();
        m_server.reset();
    }
    GrpcServer& server() { return *m_server; }
    void start() {
        m_thread = std::thread([this] {
            while (!m_stopping)
                if (!m_reactor->run_once(10ms))
                    return;
        });
    }
    std::string address() const { return cat("127.0.0.1:", m_server->port()); }

private:
    std::unique_ptr<Reactor> m_reactor;
    std::unique_ptr<GrpcServer> m_server;
    std::thread m_thread;
    std::atomic<bool> m_stopping{false};
};

std::unique_ptr<GrpcClient> connect_client(const std::string& address) {
    auto client = GrpcClient::connect(address);
    REQUIRE_MESSAGE(client, why(client));
    return std::move(*client);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

void add_echo(GrpcServer& server) {
    server.route("/test.Echo/Unary",
                 unary_route([](std::string_view request, std::shared_ptr<GrpcCall> call) {
                     call->send(std::string(request));
                     call->finish({});
                 }));
}

// Sends `count` messages of `size` bytes, at most `window` bytes queued at
// a time, continuing from on_drained: how a watch keeps its memory bounded.
class CountHandler final : public GrpcHandler {
public:
    CountHandler(std::shared_ptr<GrpcCall> call, std::atomic<size_t>* max_queued)
        : m_call(std::move(call)), m_max_queued(max_queued) {}
    void on_message(std::string_view message) override {
        auto count = parse_u64(message);
        if (!count) {
            m_call->finish({GrpcCode::InvalidArgument, "not a count"});
            return;
        }
        m_remaining = *count;
        m_call->on_drained([this] { produce(); });
        produce();
    }

private:
    void produce() {
        while (m_remaining > 0 && m_call->queued_bytes() < 64 * 1024) {
            std::string message = cat(m_next++, ":") + std::string(1000, 'x');
            m_call->send(std::move(message));
            --m_remaining;
            *m_max_queued = std::max<size_t>(*m_max_queued, m_call->queued_bytes());
        }
        if (m_remaining == 0)
            m_call->finish({});
    }
    std::shared_ptr<GrpcCall> m_call;
    std::atomic<size_t>* m_max_queued;
    uint64_t m_remaining = 0;
    uint64_t m_next = 0;
};

// Holds its call open and records what happens to it.
struct Observed {
    std::atomic<int> messages{0};
    std::atomic<int> half_closes{0};
    std::atomic<int> cancels{0};
    std::atomic<bool> open_at_cancel{true};
    std::mutex mutex;
    std::string timeout_header;
};

class HoldingHandler final : public GrpcHandler {
public:
    HoldingHandler(std::shared_ptr<GrpcCall> call, Observed* observed)
        : m_call(std::move(call)), m_observed(observed) {
        std::lock_guard lock(observed->mutex);
        observed->timeout_header = m_call->header("grpc-timeout").value_or("");
    }
    void on_message(std::string_view) override { ++m_observed->messages; }
    void on_half_close() override { ++m_observed->half_closes; }
    void on_cancel() override {
        m_observed->open_at_cancel = m_call->is_open();
        m_call->send("ignored"); // must be harmless
        ++m_observed->cancels;
    }

private:
    std::shared_ptr<GrpcCall> m_call;
    Observed* m_observed;
};

GrpcRoute holding_route(Observed* observed) {
    return [observed](std::shared_ptr<GrpcCall> call) {
        return std::make_unique<HoldingHandler>(std::move(call), observed);
    };
}

// Reads from a raw socket until the peer closes it; false on timeout.
bool read_until_closed(int fd, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    char buffer[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return false;
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, int(left.count())) <= 0)
            continue;
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            return true;
    }
}

Fd raw_connection(uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
}

} // namespace

TEST_CASE("a unary call is answered with the handler's message") {
    TestServer server;
    add_echo(server.server());
    server.server().route("/test.Echo/Headers",
                          unary_route([](std::string_view, std::shared_ptr<GrpcCall> call) {
                              call->send(cat(call->path(), " ", call->authority(), " ",
                                             call->header("token").value_or("-")));
                              call->finish({});
                          }));
    server.start();
    auto client = connect_client(server.address());
    auto reply = client->unary("/test.Echo/Unary", "hello", 5s);
    REQUIRE_MESSAGE(reply, why(reply));
    CHECK(*reply == "hello");
    auto empty = client->unary("/test.Echo/Unary", "", 5s);
    REQUIRE(empty);
    CHECK(empty->empty());
    auto headers = client->unary("/test.Echo/Headers", "", 5s, {{"token", "secret"}});
    REQUIRE(headers);
    CHECK(*headers == cat("/test.Echo/Headers ", server.address(), " secret"));
}

TEST_CASE("a streaming call delivers many messages in order within the flow-control windows") {
    std::atomic<size_t> max_queued{0};
    TestServer server;
    server.server().route("/test.Echo/Count", [&max_queued](std::shared_ptr<GrpcCall> call) {
        return std::make_unique<CountHandler>(std::move(call), &max_queued);
    });
    server.start();
    auto client = connect_client(server.address());
    auto stream = client->open_stream("/test.Echo/Count");
    REQUIRE(stream);
    REQUIRE((*stream)->send("3000"));
    REQUIRE((*stream)->close_send());
    int received = 0;
    for (;;) {
        auto message = (*stream)->receive(10s);
        REQUIRE_MESSAGE(message, why(message));
        if (!*message)
            break;
        REQUIRE((*message)->starts_with(cat(received, ":")));
        ++received;
    }
    CHECK(received == 3000); // ~3 MB: more than the 1 MiB stream window
    CHECK((*stream)->status() == GrpcStatus{});
    CHECK(max_queued.load() < 70 * 1024); // the handler waited for on_drained
}

TEST_CASE("an error status reaches the client with its message intact") {
    const std::string text = "ключ not found: 100%\n\"quoted\"";
    Observed observed;
    TestServer server;
    server.server().route("/test.Echo/Fail",
                          unary_route([&text](std::string_view, std::shared_ptr<GrpcCall> call) {
                              call->finish({GrpcCode::NotFound, text});
                          }));
    server.server().route("/test.Echo/FailLate", [&](std::shared_ptr<GrpcCall> call) {
        call->send("one");
        call->finish({GrpcCode::Aborted, text});
        return std::make_unique<HoldingHandler>(call, &observed);
    });
    server.start();
    auto client = connect_client(server.address());
    auto reply = client->unary("/test.Echo/Fail", "x", 5s);
    REQUIRE(!reply);
    CHECK(reply.error().code == GrpcCode::NotFound);
    CHECK(reply.error().message == text);

    // After messages: the status comes in trailers, behind the message.
    auto stream = client->open_stream("/test.Echo/FailLate");
    REQUIRE(stream);
    auto first = (*stream)->receive(5s);
    REQUIRE(first);
    REQUIRE(*first);
    CHECK(**first == "one");
    auto end = (*stream)->receive(5s);
    REQUIRE(!end);
    CHECK(end.error() == GrpcStatus{GrpcCode::Aborted, text});
}

TEST_CASE("an unknown path is answered Unimplemented, naming the service or method") {
    TestServer server;
    add_echo(server.server());
    server.start();
    auto client = connect_client(server.address());
    auto service = client->unary("/etcdserverpb.Foo/Range", "", 5s);
    REQUIRE(!service);
    CHECK(service.error() ==
          GrpcStatus{GrpcCode::Unimplemented, "unknown service etcdserverpb.Foo"});
    auto method = client->unary("/test.Echo/Missing", "", 5s);
    REQUIRE(!method);
    CHECK(method.error() ==
          GrpcStatus{GrpcCode::Unimplemented, "unknown method Missing for service test.Echo"});
    auto malformed = client->unary("/nomethod", "", 5s);
    REQUIRE(!malformed);
    CHECK(malformed.error().code == GrpcCode::Unimplemented);
    // The connection still serves.
    CHECK(client->unary("/test.Echo/Unary", "still here", 5s) == "still here");
}

TEST_CASE("a message larger than the flow-control windows goes through both ways") {
    TestServer server;
    add_echo(server.server());
    server.start();
    auto client = connect_client(server.address());
    std::string big(1536 * 1024, '\0');
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = char(i * 7 + i / 251);
    auto reply = client->unary("/test.Echo/Unary", big, 10s);
    REQUIRE_MESSAGE(reply, why(reply));
    CHECK(*reply == big);
}

TEST_CASE("a request larger than the server's maximum ends with ResourceExhausted") {
    TestServer server;
    add_echo(server.server());
    server.start();
    auto client = connect_client(server.address());
    auto reply = client->unary("/test.Echo/Unary", std::string(3u << 20, 'a'), 10s);
    REQUIRE(!reply);
    CHECK(reply.error().code == GrpcCode::ResourceExhausted);
    CHECK(reply.error().message == "grpc: received message larger than max (3145728 vs. 2097152)");
    CHECK(client->unary("/test.Echo/Unary", "after", 5s) == "after");
}

TEST_CASE("a client that resets its stream cancels the call on the server") {
    Observed observed;
    TestServer server;
    server.server().route("/test.Hold/Stream", holding_route(&observed));
    server.start();
    auto client = connect_client(server.address());
    auto stream = client->open_stream("/test.Hold/Stream");
    REQUIRE(stream);
    REQUIRE((*stream)->send("one"));
    REQUIRE((*stream)->send("two"));
    REQUIRE(eventually([&] { return observed.messages == 2; }));
    (*stream)->cancel();
    CHECK((*stream)->status()->code == GrpcCode::Cancelled);
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
    CHECK(!observed.open_at_cancel);
    CHECK(observed.half_closes == 0);
}

TEST_CASE("a client's half-close reaches the handler, and dropping the stream cancels the call") {
    Observed observed;
    TestServer server;
    server.server().route("/test.Hold/Stream", holding_route(&observed));
    server.start();
    {
        auto client = connect_client(server.address());
        auto stream = client->open_stream("/test.Hold/Stream");
        REQUIRE(stream);
        REQUIRE((*stream)->send("one"));
        REQUIRE((*stream)->close_send());
        REQUIRE(eventually([&] { return observed.half_closes == 1; }));
        CHECK(observed.messages == 1);
        CHECK(observed.cancels == 0);
        auto nothing = (*stream)->receive(50ms);
        REQUIRE(!nothing);
        CHECK(nothing.error().code == GrpcCode::DeadlineExceeded);
        CHECK(!(*stream)->ended());
    }
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
    REQUIRE(eventually([&] { return server.server().connection_count() == 0; }));
}

TEST_CASE("a unary call past its deadline fails with DeadlineExceeded and cancels the call") {
    Observed observed;
    TestServer server;
    server.server().route("/test.Hold/Unary", holding_route(&observed));
    server.start();
    auto client = connect_client(server.address());
    auto started = std::chrono::steady_clock::now();
    auto reply = client->unary("/test.Hold/Unary", "x", 200ms);
    REQUIRE(!reply);
    CHECK(reply.error().code == GrpcCode::DeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - started >= 200ms);
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
    std::lock_guard lock(observed.mutex);
    auto timeout = parse_grpc_timeout(observed.timeout_header);
    REQUIRE_MESSAGE(timeout, observed.timeout_header);
    CHECK(*timeout >= 200ms);
}

TEST_CASE("the server ends a call whose grpc-timeout passed with DeadlineExceeded") {
    Observed observed;
    TestServer server;
    server.server().route("/test.Hold/Stream", holding_route(&observed));
    server.start();
    auto client = connect_client(server.address());
    auto started = std::chrono::steady_clock::now();
    auto stream = client->open_stream("/test.Hold/Stream", {{"grpc-timeout", "150m"}});
    REQUIRE(stream);
    auto ended = (*stream)->receive(5s);
    REQUIRE(!ended);
    CHECK(ended.error().code == GrpcCode::DeadlineExceeded);
    CHECK(ended.error().message == "context deadline exceeded");
    CHECK(std::chrono::steady_clock::now() - started >= 150ms);
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
}

TEST_CASE("calls on one connection each end at their own grpc-timeout, a later call's earlier "
          "deadline first, and a call that ended leaves the others' deadlines alone") {
    Observed observed;
    TestServer server;
    server.server().route("/test.Hold/Stream", holding_route(&observed));
    server.start();
    auto client = connect_client(server.address());
    auto started = std::chrono::steady_clock::now();
    auto slow = client->open_stream("/test.Hold/Stream", {{"grpc-timeout", "600m"}});
    auto gone = client->open_stream("/test.Hold/Stream", {{"grpc-timeout", "100m"}});
    auto fast = client->open_stream("/test.Hold/Stream", {{"grpc-timeout", "200m"}});
    REQUIRE(slow);
    REQUIRE(gone);
    REQUIRE(fast);
    // The earliest deadline's call goes away first (the client resets it,
    // once the server has it).
    REQUIRE((*gone)->send("x"));
    REQUIRE(eventually([&] { return observed.messages == 1; }));
    (*gone)->cancel();
    auto fast_ended = (*fast)->receive(5s);
    REQUIRE(!fast_ended);
    CHECK(fast_ended.error().code == GrpcCode::DeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - started >= 200ms);
    CHECK(!(*slow)->ended());
    auto slow_ended = (*slow)->receive(5s);
    REQUIRE(!slow_ended);
    CHECK(slow_ended.error().code == GrpcCode::DeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - started >= 600ms);
    REQUIRE(eventually([&] { return observed.cancels == 3; }));
}

TEST_CASE("a unary request still arriving when its deadline passes is never handled") {
    std::atomic<int> handled{0};
    TestServer server;
    server.server().route("/test.Count/Unary",
                          unary_route([&handled](std::string_view, std::shared_ptr<GrpcCall> call) {
                              ++handled;
                              call->send("ok");
                              call->finish({});
                          }));
    server.start();
    auto client = connect_client(server.address());
    auto slow = client->open_stream("/test.Count/Unary", {{"grpc-timeout", "100m"}});
    REQUIRE(slow);
    auto ended = (*slow)->receive(5s);
    REQUIRE(!ended);
    CHECK(ended.error().code == GrpcCode::DeadlineExceeded);
    // The request's message and end come after the deadline: dropped.
    (void)(*slow)->send("late");
    (void)(*slow)->close_send();
    auto expired = client->open_stream("/test.Count/Unary", {{"grpc-timeout", "0n"}});
    REQUIRE(expired);
    (void)(*expired)->send("x");
    (void)(*expired)->close_send();
    auto refused = (*expired)->receive(5s);
    REQUIRE(!refused);
    CHECK(refused.error().code == GrpcCode::DeadlineExceeded);
    // A call in time is still served.
    CHECK(client->unary("/test.Count/Unary", "x", 5s));
    CHECK(handled == 1);
}

TEST_CASE("garbage on a connection closes that connection only") {
    TestServer server;
    add_echo(server.server());
    server.start();
    auto client = connect_client(server.address());

    Fd http1 = raw_connection(server.server().port());
    std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::send(http1.get(), request.data(), request.size(), MSG_NOSIGNAL) > 0);
    CHECK(read_until_closed(http1.get(), 5s));

    // The client preface, then a frame whose header announces a type and
    // length that make no sense for its stream.
    Fd broken = raw_connection(server.server().port());
    std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9); // empty SETTINGS
    bytes +=
        std::string("\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00", 13); // WINDOW_UPDATE +0
    bytes += std::string(64, '\xff');
    REQUIRE(::send(broken.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) > 0);
    CHECK(read_until_closed(broken.get(), 5s));

    CHECK(client->unary("/test.Echo/Unary", "unharmed", 5s) == "unharmed");
    auto another = connect_client(server.address());
    CHECK(another->unary("/test.Echo/Unary", "new", 5s) == "new");
}

TEST_CASE("stopping the server from a handler sends GOAWAY and cancels open calls") {
    Observed observed;
    TestServer server;
    GrpcServer* raw = &server.server();
    server.server().route("/test.Hold/Stream", holding_route(&observed));
    server.server().route("/test.Admin/Stop",
                          unary_route([raw](std::string_view, std::shared_ptr<GrpcCall> call) {
                              call->send("stopping");
                              call->finish({});
                              raw->stop();
                          }));
    add_echo(server.server());
    server.start();
    auto client = connect_client(server.address());
    auto held = client->open_stream("/test.Hold/Stream");
    REQUIRE(held);
    REQUIRE((*held)->send("x"));
    REQUIRE(eventually([&] { return observed.messages == 1; }));
    auto other = connect_client(server.address());
    auto stopped = other->unary("/test.Admin/Stop", "", 5s);
    // The answer may or may not get out before the connection closes.
    CHECK_MESSAGE((stopped || stopped.error().code == GrpcCode::Unavailable),
                  (stopped ? std::string() : stopped.error().message));
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
    auto after = client->unary("/test.Echo/Unary", "x", 2s);
    REQUIRE(!after);
    CHECK(after.error().code == GrpcCode::Unavailable);
    auto refused = GrpcClient::connect(server.address());
    CHECK(!refused);
}

TEST_CASE("many calls share one connection") {
    TestServer server;
    add_echo(server.server());
    std::atomic<size_t> max_queued{0};
    server.server().route("/test.Echo/Count", [&max_queued](std::shared_ptr<GrpcCall> call) {
        return std::make_unique<CountHandler>(std::move(call), &max_queued);
    });
    server.start();
    auto client = connect_client(server.address());
    std::vector<std::unique_ptr<GrpcStream>> streams;
    for (int i = 0; i < 20; ++i) {
        auto stream = client->open_stream("/test.Echo/Count");
        REQUIRE(stream);
        REQUIRE((*stream)->send("50"));
        streams.push_back(std::move(*stream));
    }
    for (int i = 0; i < 20; ++i)
        CHECK(client->unary("/test.Echo/Unary", cat(i), 5s) == cat(i));
    for (auto& stream : streams) {
        int received = 0;
        for (;;) {
            auto message = stream->receive(5s);
            REQUIRE_MESSAGE(message, why(message));
            if (!*message)
                break;
            ++received;
        }
        CHECK(received == 50);
    }
}

TEST_CASE("the server also listens on a unix socket") {
    keel::testing::TempDir dir;
    std::string address = "unix:" + dir / "grpc.sock";
    TestServer server(address);
    add_echo(server.server());
    server.start();
    CHECK(server.server().port() == 0);
    auto client = connect_client(address);
    CHECK(client->unary("/test.Echo/Unary", "over unix", 5s) == "over unix");
}

TEST_CASE("connecting to a port nobody listens on names the address and the error") {
    TestServer server; // only to find a port that was free a moment ago
    std::string address = server.address();
    server.server().stop();
    auto client = GrpcClient::connect(address);
    REQUIRE(!client);
    CHECK(client.error().code() == ECONNREFUSED);
    CHECK(client.error().to_string().find(address) != std::string::npos);
}

TEST_CASE("Debian's etcdctl (grpc-go) gets a Range answer and an error status from the server") {
    if (::access("/usr/bin/etcdctl", X_OK) != 0) {
        MESSAGE("skipped: /usr/bin/etcdctl is not installed");
        return;
    }
    TestServer server;
    std::atomic<int> calls{0};
    // A RangeResponse with one KeyValue {key "foo", value "bar"} and count 1,
    // encoded by hand (field 2: kvs, field 6: count).
    std::string key_value = std::string("\x0a\x03", 2) + "foo" + std::string("\x2a\x03", 2) + "bar";
    std::string range_response =
        std::string("\x12", 1) + char(key_value.size()) + key_value + std::string("\x30\x01", 2);
    server.server().route(
        "/etcdserverpb.KV/Range",
        unary_route([&](std::string_view request, std::shared_ptr<GrpcCall> call) {
            ++calls;
            // RangeRequest field 1 is the key.
            if (request.find("missing") != std::string_view::npos) {
                call->finish({GrpcCode::FailedPrecondition, "keel test: 100% ü"});
                return;
            }
            call->send(range_response);
            call->finish({});
        }));
    server.start();
    auto run = [&](const std::string& key) {
        std::string command = cat("ETCDCTL_API=3 /usr/bin/etcdctl --dial-timeout=5s "
                                  "--command-timeout=5s --endpoints=",
                                  server.address(), " get ", key, " 2>&1");
        std::string output;
        FILE* pipe = ::popen(command.c_str(), "r");
        REQUIRE(pipe);
        char buffer[512];
        size_t n;
        while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
            output.append(buffer, n);
        int status = ::pclose(pipe);
        return std::make_pair(status, output);
    };
    auto [ok_status, ok_output] = run("foo");
    CHECK_MESSAGE(ok_status == 0, ok_output);
    CHECK(ok_output == "foo\nbar\n");
    auto [error_status, error_output] = run("missing");
    CHECK(error_status != 0);
    CHECK_MESSAGE(error_output.find("keel test: 100% ü") != std::string::npos, error_output);
    CHECK(calls >= 2);
}

TEST_CASE("Debian's etcdctl (grpc-go) watches through a bidirectional stream") {
    if (::access("/usr/bin/etcdctl", X_OK) != 0 || ::access("/usr/bin/timeout", X_OK) != 0) {
        MESSAGE("skipped: /usr/bin/etcdctl or /usr/bin/timeout is not installed");
        return;
    }
    Observed observed;
    TestServer server;
    // WatchResponses: created (field 3), then one with events (field 11)
    // holding a PUT of foo=bar (Event field 2: the KeyValue).
    std::string key_value = std::string("\x0a\x03", 2) + "foo" + std::string("\x2a\x03", 2) + "bar";
    std::string event = std::string("\x12", 1) + char(key_value.size()) + key_value;
    // clientv3 needs the (empty) header, field 1, in each.
    std::string header("\x0a\x00", 2);
    std::string created = header + std::string("\x18\x01", 2);
    std::string events = header + std::string("\x5a", 1) + char(event.size()) + event;
    server.server().route("/etcdserverpb.Watch/Watch", [&](std::shared_ptr<GrpcCall> call) {
        call->send(created);
        call->send(events);
        return std::make_unique<HoldingHandler>(std::move(call), &observed);
    });
    server.start();
    std::string command =
        cat("ETCDCTL_API=3 /usr/bin/timeout 3 /usr/bin/etcdctl --endpoints=", server.address(),
            " watch foo 2>&1");
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    char buffer[512];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
        output.append(buffer, n);
    ::pclose(pipe);
    CHECK_MESSAGE(output.starts_with("PUT\nfoo\nbar\n"), output);
    CHECK(observed.messages >= 1); // the WatchCreateRequest
    REQUIRE(eventually([&] { return observed.cancels == 1; }));
}

TEST_CASE("the server listens on IPv6 loopback") {
    auto reactor = Reactor::create();
    REQUIRE(reactor);
    auto probe = GrpcServer::listen(**reactor, "[::1]:0");
    if (!probe) {
        MESSAGE("skipped: no IPv6 loopback here: ", probe.error().to_string());
        return;
    }
    probe->reset();
    TestServer server("[::1]:0");
    add_echo(server.server());
    server.start();
    auto client = connect_client(cat("[::1]:", server.server().port()));
    CHECK(client->unary("/test.Echo/Unary", "over IPv6", 5s) == "over IPv6");
}
