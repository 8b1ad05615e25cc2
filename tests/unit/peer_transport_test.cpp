// Tests for kv/peer_transport.h: transports on one reactor talking over
// loopback, and raw sockets playing a peer that misbehaves.
#include "kv/peer_transport.h"

#include "kv/corruption_check.h"
#include "kv/peer_query.h"

#include "base/framing.h"
#include "kv/raft_codec.h"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kCluster = 0xc1u;

/// One member's transport and what it was told.
struct TransportMember {
    std::unique_ptr<PeerTransport> transport;
    std::vector<kv::Message> received;
    std::vector<NodeId> unreachable;
    std::vector<std::pair<NodeId, SnapshotStatus>> snapshots;
};

std::unique_ptr<TransportMember> start_member(Reactor& reactor, NodeId id, uint16_t port = 0,
                                              uint64_t cluster = kCluster,
                                              size_t max_queued = 16 << 20,
                                              std::chrono::milliseconds hello_timeout = 5000ms) {
    auto member = std::make_unique<TransportMember>();
    PeerTransportOptions options;
    options.cluster_id = cluster;
    options.self = id;
    options.listen = "127.0.0.1:" + std::to_string(port);
    options.max_queued_bytes_per_peer = max_queued;
    options.reconnect_min = 10ms;
    options.reconnect_max = 50ms;
    options.hello_timeout = hello_timeout;
    TransportMember* raw = member.get();
    member->transport =
        PeerTransport::listen(
            reactor, options, [raw](kv::Message m) { raw->received.push_back(std::move(m)); },
            [raw](NodeId id) { raw->unreachable.push_back(id); },
            [raw](NodeId id, SnapshotStatus s) { raw->snapshots.emplace_back(id, s); })
            .value();
    return member;
}

std::string address_of(const TransportMember& member) {
    return "127.0.0.1:" + std::to_string(member.transport->port());
}

kv::Message append(NodeId from, NodeId to, kv::Index index) {
    kv::Message message;
    message.type = MessageType::Append;
    message.from = from;
    message.to = to;
    message.term = 1;
    message.index = index;
    message.entries.push_back(
        {1, index + 1, EntryType::Normal, "command " + std::to_string(index)});
    return message;
}

std::vector<kv::Message> appends(NodeId from, NodeId to, kv::Index first, kv::Index count) {
    std::vector<kv::Message> messages;
    for (kv::Index i = first; i < first + count; ++i)
        messages.push_back(append(from, to, i));
    return messages;
}

/// Runs the loop until `done` holds or five seconds pass; false if they passed.
bool reached_in_time(Reactor& reactor, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        REQUIRE(reactor.run_once(10ms).has_value());
    }
    return true;
}

void run_transport_for(Reactor& reactor, std::chrono::milliseconds time) {
    reached_in_time(
        reactor, [] { return false; }, time);
}

void check_in_order(const std::vector<kv::Message>& received, kv::Index first, kv::Index count) {
    REQUIRE(received.size() == count);
    for (kv::Index i = 0; i < count; ++i) {
        CHECK(received[i].index == first + i);
        CHECK(received[i].entries.at(0).data == "command " + std::to_string(first + i));
    }
}

/// A blocking client socket connected to `port` on loopback.
Fd raw_connect(uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
}

/// True once the other end has closed `fd` (reads 0 or fails with a reset).
bool closed_by_peer(int fd) {
    char byte;
    ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno != EAGAIN);
}

} // namespace

TEST_CASE("messages sent to a peer arrive in the order they were sent") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    a->transport->set_peer(2, address_of(*b));
    a->transport->send(appends(1, 2, 1, 500));
    a->transport->send(appends(1, 2, 501, 500));
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 1000; }));
    check_in_order(b->received, 1, 1000);
    CHECK(b->received[0].from == 1);
    CHECK(b->received[0].to == 2);

    // And the other way, on b's own connection.
    b->transport->set_peer(1, address_of(*a));
    b->transport->send(appends(2, 1, 1, 3));
    REQUIRE(reached_in_time(*reactor, [&] { return a->received.size() >= 3; }));
    check_in_order(a->received, 1, 3);
}

TEST_CASE("a snapshot message is reported sent once written, and big ones get through") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    a->transport->set_peer(2, address_of(*b));
    kv::Message snapshot;
    snapshot.type = MessageType::Snapshot;
    snapshot.from = 1;
    snapshot.to = 2;
    snapshot.snapshot.meta = {50, 3, {{1, 2}, {}}};
    snapshot.snapshot.data = std::string(8 << 20, 's');
    a->transport->send({snapshot});
    REQUIRE(
        reached_in_time(*reactor, [&] { return !b->received.empty() && !a->snapshots.empty(); }));
    CHECK(b->received[0].snapshot == snapshot.snapshot);
    CHECK(a->snapshots[0] == std::pair<NodeId, SnapshotStatus>(2, SnapshotStatus::Finish));
}

TEST_CASE("a peer that comes up late gets the messages queued for it") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    uint16_t port = 0;
    {
        auto placeholder = start_member(*reactor, 2);
        port = placeholder->transport->port();
    }
    a->transport->set_peer(2, "127.0.0.1:" + std::to_string(port));
    a->transport->send(appends(1, 2, 1, 20));
    run_transport_for(*reactor, 100ms);
    CHECK_FALSE(a->unreachable.empty()); // the driver heard it is down
    auto b = start_member(*reactor, 2, port);
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 20; }));
    check_in_order(b->received, 1, 20);
}

TEST_CASE("messages beyond a down peer's queue limit are dropped and reported") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1, 0, kCluster, 4096);
    uint16_t port = 0;
    {
        auto placeholder = start_member(*reactor, 2);
        port = placeholder->transport->port();
    }
    a->transport->set_peer(2, "127.0.0.1:" + std::to_string(port));
    a->transport->send(appends(1, 2, 1, 1000));
    run_transport_for(*reactor, 30ms);
    CHECK(a->unreachable.size() > 100);
    auto b = start_member(*reactor, 2, port);
    REQUIRE(reached_in_time(*reactor, [&] { return !b->received.empty(); }));
    run_transport_for(*reactor, 100ms);
    // The first ones, in order, up to what fit in 4 KiB.
    CHECK(b->received.size() < 1000);
    check_in_order(b->received, 1, b->received.size());
}

TEST_CASE("a connection from another cluster is refused and the transport keeps serving") {
    auto reactor = Reactor::create().value();
    auto b = start_member(*reactor, 2);
    auto stranger = start_member(*reactor, 1, 0, 0xbad);
    stranger->transport->set_peer(2, address_of(*b));
    stranger->transport->send(appends(1, 2, 1, 5));
    run_transport_for(*reactor, 200ms);
    CHECK(b->received.empty());

    auto a = start_member(*reactor, 1);
    a->transport->set_peer(2, address_of(*b));
    a->transport->send(appends(1, 2, 1, 5));
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 5; }));
    check_in_order(b->received, 1, 5);
}

TEST_CASE("a connection meant for another member is refused") {
    auto reactor = Reactor::create().value();
    auto b = start_member(*reactor, 2);
    auto a = start_member(*reactor, 1);
    a->transport->set_peer(3, address_of(*b)); // b is not member 3
    a->transport->send(appends(1, 3, 1, 5));
    run_transport_for(*reactor, 200ms);
    CHECK(b->received.empty());
}

TEST_CASE("garbage, a forged sender and an oversize frame close only their own connection") {
    auto reactor = Reactor::create().value();
    auto b = start_member(*reactor, 2);

    Fd garbage = raw_connect(b->transport->port());
    std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::write(garbage.get(), junk.data(), junk.size()) == ssize_t(junk.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(garbage.get()); }));

    Fd forged = raw_connect(b->transport->port());
    std::string bytes = encode_frame(encode_hello({kCluster, 1, 2, kPeerProtocolVersion}));
    bytes += encode_frame(encode_raft_message(append(1, 2, 1)));
    bytes += encode_frame(encode_raft_message(append(7, 2, 2))); // not from member 1
    REQUIRE(::write(forged.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(forged.get()); }));
    REQUIRE(b->received.size() == 1); // what came before the forgery is kept
    CHECK(b->received[0].index == 1);

    Fd oversize = raw_connect(b->transport->port());
    bytes = encode_frame(encode_hello({kCluster, 1, 2, kPeerProtocolVersion}));
    bytes += std::string("\x7f\xff\xff\xff", 4);
    REQUIRE(::write(oversize.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(oversize.get()); }));

    auto a = start_member(*reactor, 1);
    a->transport->set_peer(2, address_of(*b));
    a->transport->send(appends(1, 2, 10, 3));
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 4; }));
    check_in_order(std::vector<kv::Message>(b->received.begin() + 1, b->received.end()), 10, 3);
}

TEST_CASE("a connection that sends no Hello in time is closed; one that did stays open") {
    auto reactor = Reactor::create().value();
    auto b = start_member(*reactor, 2, 0, kCluster, 16 << 20, 300ms);
    Fd silent = raw_connect(b->transport->port());
    Fd greeted = raw_connect(b->transport->port());
    std::string bytes = encode_frame(encode_hello({kCluster, 1, 2, kPeerProtocolVersion}));
    bytes += encode_frame(encode_raft_message(append(1, 2, 1)));
    REQUIRE(::write(greeted.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(silent.get()); }));
    run_transport_for(*reactor, 400ms); // past the timeout for both
    CHECK_FALSE(closed_by_peer(greeted.get()));
    REQUIRE(b->received.size() == 1);
    // Still listening, and the connection that said Hello still carries messages.
    bytes = encode_frame(encode_raft_message(append(1, 2, 2)));
    REQUIRE(::write(greeted.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() == 2; }));
    CHECK(b->received[1].index == 2);
}

TEST_CASE("a peer socket gives up after the dead-peer timeout: keepalive and user timeout set") {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    auto option = [&](int level, int name) {
        int value = -1;
        socklen_t length = sizeof value;
        REQUIRE(::getsockopt(fd.get(), level, name, &value, &length) == 0);
        return value;
    };
    REQUIRE(set_dead_peer_timeout(fd.get(), 10000ms));
    CHECK(option(SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(option(IPPROTO_TCP, TCP_KEEPIDLE) == 5);
    CHECK(option(IPPROTO_TCP, TCP_KEEPINTVL) == 1);
    CHECK(option(IPPROTO_TCP, TCP_KEEPCNT) == 5);
    CHECK(option(IPPROTO_TCP, TCP_USER_TIMEOUT) == 10000);
    // Below two seconds, two: one idle second, one probe.
    REQUIRE(set_dead_peer_timeout(fd.get(), 500ms));
    CHECK(option(IPPROTO_TCP, TCP_KEEPIDLE) == 1);
    CHECK(option(IPPROTO_TCP, TCP_KEEPCNT) == 1);
    CHECK(option(IPPROTO_TCP, TCP_USER_TIMEOUT) == 500);
    // Not a TCP socket: said so.
    Fd unix_socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Result<void> refused = set_dead_peer_timeout(unix_socket.get(), 10000ms);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().starts_with("set the socket's keepalive and user timeout"));
}

TEST_CASE("a connection that drops is reopened and later messages arrive") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    uint16_t port = b->transport->port();
    a->transport->set_peer(2, address_of(*b));
    a->transport->send(appends(1, 2, 1, 3));
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 3; }));

    b.reset(); // the peer restarts: its end of the connection goes away
    run_transport_for(*reactor, 50ms);
    b = start_member(*reactor, 2, port);
    // Raft resends what is lost; what is sent from now on must arrive.
    REQUIRE(reached_in_time(*reactor, [&] {
        a->transport->send({append(1, 2, 100)});
        return !b->received.empty();
    }));
    CHECK(b->received[0].index == 100);
    CHECK_FALSE(a->unreachable.empty());
}

TEST_CASE("messages to a member that is no peer are dropped, and removed peers get nothing") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    a->transport->send(appends(1, 2, 1, 3)); // 2 not added yet
    a->transport->set_peer(2, address_of(*b));
    a->transport->send(appends(1, 2, 4, 1));
    REQUIRE(reached_in_time(*reactor, [&] { return !b->received.empty(); }));
    CHECK(b->received[0].index == 4);
    a->transport->remove_peer(2);
    a->transport->send(appends(1, 2, 5, 1));
    run_transport_for(*reactor, 100ms);
    CHECK(b->received.size() == 1);
}

TEST_CASE("listening on an address that is no numeric host:port fails with the reason") {
    auto reactor = Reactor::create().value();
    PeerTransportOptions options;
    options.cluster_id = 1;
    options.self = 1;
    options.listen = "localhost:2380";
    auto result = PeerTransport::listen(*reactor, options, {}, {}, {});
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().to_string().find("no numeric IP address") != std::string::npos);
}

TEST_CASE("the driver is told about dropped messages from the loop, not from inside send") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1, 0, kCluster, 64);
    a->transport->set_peer(2, "127.0.0.1:1"); // nothing listens on port 1
    a->transport->send(appends(1, 2, 1, 10));
    CHECK(a->unreachable.empty());
    REQUIRE(reactor->run_once(0ms).has_value());
    CHECK(a->unreachable.size() >= 5); // most of the ten did not fit
}

TEST_CASE("a peer moved to a new address is reached there") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto old_b = start_member(*reactor, 2);
    auto new_b = start_member(*reactor, 2);
    a->transport->set_peer(2, address_of(*old_b));
    a->transport->send(appends(1, 2, 1, 1));
    REQUIRE(reached_in_time(*reactor, [&] { return old_b->received.size() == 1; }));
    a->transport->set_peer(2, address_of(*new_b));
    a->transport->send(appends(1, 2, 2, 1));
    REQUIRE(reached_in_time(*reactor, [&] { return new_b->received.size() == 1; }));
    CHECK(new_b->received[0].index == 2);
    CHECK(old_b->received.size() == 1);
}

TEST_CASE("a members query is answered with the cluster's id and members, then closed") {
    auto reactor = Reactor::create().value();
    auto member = std::make_unique<TransportMember>();
    PeerTransportOptions options;
    options.cluster_id = kCluster;
    options.self = 2;
    options.listen = "127.0.0.1:0";
    options.members = [] {
        return ClusterMembers{kCluster, {{2, false, "m2", {"http://127.0.0.1:2380"}, {}}}};
    };
    member->transport =
        PeerTransport::listen(
            *reactor, options, [](kv::Message) {}, [](NodeId) {}, [](NodeId, SnapshotStatus) {})
            .value();

    Fd asker = raw_connect(member->transport->port());
    PeerHello query;
    query.purpose = HelloPurpose::Members;
    std::string bytes = encode_frame(encode_hello(query));
    REQUIRE(::write(asker.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    FrameDecoder decoder;
    std::optional<std::string> answer;
    REQUIRE(reached_in_time(*reactor, [&] {
        char buffer[4096];
        ssize_t got = ::recv(asker.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (got > 0)
            decoder.feed(std::string_view(buffer, size_t(got)));
        if (auto frame = decoder.next(); frame && *frame)
            answer = **frame;
        return answer.has_value();
    }));
    ClusterMembers members = decode_cluster_members(*answer).value();
    CHECK(members.cluster_id == kCluster);
    REQUIRE(members.members.size() == 1);
    CHECK(members.members[0].name == "m2");
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(asker.get()); }));
}

TEST_CASE("a member that tells no members closes a members query unanswered") {
    auto reactor = Reactor::create().value();
    auto b = start_member(*reactor, 2);
    Fd asker = raw_connect(b->transport->port());
    PeerHello query;
    query.purpose = HelloPurpose::Members;
    std::string bytes = encode_frame(encode_hello(query));
    REQUIRE(::write(asker.get(), bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    REQUIRE(reached_in_time(*reactor, [&] { return closed_by_peer(asker.get()); }));
}

TEST_CASE("a HashKV query from a member of the cluster is answered with the hash it asks for") {
    auto reactor = Reactor::create().value();
    auto member = std::make_unique<TransportMember>();
    PeerTransportOptions options;
    options.cluster_id = kCluster;
    options.self = 2;
    options.listen = "127.0.0.1:0";
    options.hash_kv = [](int64_t revision) {
        return PeerHashKv{2, 50, 3, uint32_t(revision * 10), ""};
    };
    member->transport =
        PeerTransport::listen(
            *reactor, options, [](kv::Message) {}, [](NodeId) {}, [](NodeId, SnapshotStatus) {})
            .value();
    // A port nothing listens on: a member that is down.
    uint16_t down = 0;
    {
        auto gone = start_member(*reactor, 3);
        down = gone->transport->port();
    }
    ServerUrl url =
        parse_server_url("http://127.0.0.1:" + std::to_string(member->transport->port())).value();
    ServerUrl down_url = parse_server_url("http://127.0.0.1:" + std::to_string(down)).value();
    std::vector<PeerToCheck> peers = {{2, {url}}, {3, {down_url}}};
    std::vector<PeerHashResult> results;
    Result<std::string> other_cluster = std::string();
    std::atomic<bool> done = false;
    // The asking side blocks; the answering side runs on this loop.
    std::thread asker([&] {
        results = ask_peer_hashes(peers, kCluster, 1, 7, 2000ms, nullptr);
        other_cluster =
            ask_peer(url, PeerHello{0xbad, 1, 2, kPeerProtocolVersion, 7, HelloPurpose::HashKv},
                     2000ms, nullptr);
        done = true;
    });
    bool finished = reached_in_time(
        *reactor, [&] { return done.load(); }, 10000ms);
    asker.join();
    REQUIRE(finished);
    REQUIRE(results.size() == 2);
    REQUIRE(results[0].answer);
    CHECK(results[0].answer->hash == 70);
    CHECK(results[0].answer->revision == 50);
    CHECK(results[0].answer->compact_revision == 3);
    CHECK_FALSE(results[1].answer);
    CHECK(results[1].failure.find("Connection refused") != std::string::npos);
    // A member of another cluster gets no answer.
    REQUIRE_FALSE(other_cluster);
    CHECK(other_cluster.error().to_string().find("closed the connection without an answer") !=
          std::string::npos);
}

TEST_CASE("a peer's connection is known up from when it connected until it drops") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    CHECK(!a->transport->connected_since(2));
    auto before = std::chrono::steady_clock::now();
    a->transport->set_peer(2, address_of(*b));
    REQUIRE(
        reached_in_time(*reactor, [&] { return a->transport->connected_since(2).has_value(); }));
    CHECK(*a->transport->connected_since(2) >= before);
    b.reset(); // the peer goes away: its end closes
    REQUIRE(
        reached_in_time(*reactor, [&] { return !a->transport->connected_since(2).has_value(); }));
}

TEST_CASE("what was queued for a peer before it moved still goes out on its old connection") {
    auto reactor = Reactor::create().value();
    auto a = start_member(*reactor, 1);
    auto b = start_member(*reactor, 2);
    a->transport->set_peer(2, address_of(*b));
    REQUIRE(
        reached_in_time(*reactor, [&] { return a->transport->connected_since(2).has_value(); }));
    a->transport->send(appends(1, 2, 1, 3));
    // Nothing listens there: a new connection would lose what was queued.
    a->transport->set_peer(2, "127.0.0.1:1");
    REQUIRE(reached_in_time(*reactor, [&] { return b->received.size() >= 3; }));
    check_in_order(b->received, 1, 3);
}
