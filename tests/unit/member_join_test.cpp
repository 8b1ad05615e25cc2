// Tests for kv/member_join.h: a member started with
// --initial-cluster-state existing finds itself in the cluster's answer by
// its peer URLs, is refused with a clear error when it was never added, and
// says which peers it could not ask.
#include "kv/member_join.h"

#include "kv/peer_transport.h"

#include <atomic>
#include <doctest/doctest.h>
#include <thread>

using namespace keel;
using namespace keel::kv;
using namespace std::chrono_literals;

namespace {

ServerConfig joining(std::string name, std::string peer_url, std::string initial) {
    std::vector<std::string> args = {"--name=" + name, "--initial-advertise-peer-urls=" + peer_url,
                                     "--listen-peer-urls=" + peer_url,
                                     "--initial-cluster=" + initial,
                                     "--initial-cluster-state=existing"};
    return parse_server_config(args, {}).value();
}

ClusterMembers running_cluster() {
    return ClusterMembers{
        0xc1,
        {{0xa1, false, "m1", {"http://127.0.0.1:2380"}, {"http://127.0.0.1:2379"}},
         {0xa4, false, "", {"http://127.0.0.1:2386", "http://127.0.0.1:2387"}, {}}}};
}

} // namespace

TEST_CASE("a joining member learns the cluster's id and its own id from its peer URLs") {
    ServerConfig config =
        joining("m4", "http://127.0.0.1:2387,http://127.0.0.1:2386",
                "m1=http://127.0.0.1:2380,m4=http://127.0.0.1:2386,m4=http://127.0.0.1:2387");
    JoinIdentity identity = find_joining_member(running_cluster(), config).value();
    CHECK(identity.cluster_id == 0xc1);
    CHECK(identity.member_id == 0xa4);
    CHECK(identity.members.size() == 2);
}

TEST_CASE("a member that was never added is refused, naming itself and the cluster's members") {
    ServerConfig config =
        joining("m5", "http://127.0.0.1:2390", "m1=http://127.0.0.1:2380,m5=http://127.0.0.1:2390");
    auto identity = find_joining_member(running_cluster(), config);
    REQUIRE_FALSE(identity.has_value());
    std::string text = identity.error().to_string();
    CHECK(text.find("member m5 (peer URLs http://127.0.0.1:2390) is not in cluster c1") !=
          std::string::npos);
    CHECK(text.find("a1 m1 http://127.0.0.1:2380") != std::string::npos);
    CHECK(text.find("etcdctl member add") != std::string::npos);
    // One URL of a member's two is not that member.
    config =
        joining("m4", "http://127.0.0.1:2386", "m1=http://127.0.0.1:2380,m4=http://127.0.0.1:2386");
    CHECK_FALSE(find_joining_member(running_cluster(), config).has_value());
}

TEST_CASE("asking peers that do not answer fails naming each of them") {
    std::vector<ServerUrl> peers = {parse_server_url("http://127.0.0.1:1").value(),
                                    parse_server_url("http://127.0.0.1:2").value()};
    auto members = query_cluster_members(peers, 500ms);
    REQUIRE_FALSE(members.has_value());
    std::string text = members.error().to_string();
    CHECK(text.find("http://127.0.0.1:1: connect") != std::string::npos);
    CHECK(text.find("http://127.0.0.1:2: connect") != std::string::npos);
    CHECK_FALSE(query_cluster_members({}, 500ms).has_value());
}

TEST_CASE("a running member's peer transport answers a joining member's question") {
    auto reactor = Reactor::create().value();
    PeerTransportOptions options;
    options.cluster_id = 0xc1;
    options.self = 0xa1;
    options.listen = "127.0.0.1:0";
    options.members = [] { return running_cluster(); };
    auto transport =
        PeerTransport::listen(
            *reactor, options, [](kv::Message) {}, [](NodeId) {}, [](NodeId, SnapshotStatus) {})
            .value();
    std::vector<ServerUrl> peers = {
        parse_server_url("http://127.0.0.1:" + std::to_string(transport->port())).value()};
    // The question blocks, so it is asked from another thread while the
    // reactor runs here.
    Result<ClusterMembers> answer = error("not asked");
    std::atomic<bool> done = false;
    std::thread asker([&] {
        answer = query_cluster_members(peers, 2000ms);
        done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done && std::chrono::steady_clock::now() < deadline)
        REQUIRE(reactor->run_once(10ms).has_value());
    asker.join();
    REQUIRE(answer.has_value());
    CHECK(answer->cluster_id == 0xc1);
    CHECK(answer->members.size() == 2);
}
