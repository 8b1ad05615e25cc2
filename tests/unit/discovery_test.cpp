// Tests for kv/discovery.h's pure part: the registry's keys and values as
// etcd's v3 discovery writes them, the cluster a registry makes (the first
// `size` members by create revision, the same on every member), and the
// refusals: a full cluster, a malformed entry, a size that is no size, and
// a data dir of another member or cluster.
#include "kv/discovery.h"
#include "tests/unit/test_util.h"

#include <algorithm>
#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::contains_or_show;

namespace {

constexpr std::string_view kToken = "tok-1";

ServerConfig discovering(std::string name, std::string peer_url,
                         std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--name=" + name,
                                     "--initial-advertise-peer-urls=" + peer_url,
                                     "--listen-peer-urls=" + peer_url,
                                     "--discovery-token=" + std::string(kToken),
                                     "--discovery-endpoints=http://127.0.0.1:2379",
                                     "--data-dir=/nonexistent/" + name};
    args.insert(args.end(), more.begin(), more.end());
    return parse_server_config(args, {}).value();
}

/// The entry member `name` at `url` writes, created at `revision`.
RegistryEntry entry(std::string name, std::string url, int64_t revision) {
    std::vector<std::string> urls = {url};
    uint64_t id = member_id(urls, kToken);
    return {revision, discovery_member_key(kToken, id), name + "=" + url};
}

InitialMember self_of(std::string name, std::string url) {
    return discovery_self(discovering(std::move(name), std::move(url)));
}

std::vector<std::string> member_names(const std::vector<InitialMember>& members) {
    std::vector<std::string> out;
    for (const InitialMember& member : members)
        out.push_back(member.name);
    return out;
}

std::string discovery_refusal(uint64_t size, const InitialMember& self,
                              const std::vector<RegistryEntry>& entries) {
    auto outcome = choose_discovered_members(kToken, size, self, entries);
    REQUIRE_FALSE(outcome.has_value());
    return outcome.error().to_string();
}

} // namespace

TEST_CASE("the registry's keys are etcd's: the size under _config, members by hex id") {
    CHECK(discovery_size_key("abc") == "/_etcd/registry/abc/_config/size");
    CHECK(discovery_members_prefix("abc") == "/_etcd/registry/abc/members/");
    CHECK(discovery_member_key("abc", 0x8e9e05c52164694d) ==
          "/_etcd/registry/abc/members/8e9e05c52164694d");
    // No leading zeros, as etcd prints member ids.
    CHECK(discovery_member_key("abc", 0x0a) == "/_etcd/registry/abc/members/a");
}

TEST_CASE("a member registers name=peerURL for each of its peer URLs, sorted") {
    ServerConfig config = discovering("m1", "http://127.0.0.1:2390,http://127.0.0.1:2381");
    CHECK(discovery_member_value(discovery_self(config)) ==
          "m1=http://127.0.0.1:2381,m1=http://127.0.0.1:2390");
}

TEST_CASE("a member's registry entry reads back as the member, with the id its URLs derive") {
    InitialMember self = self_of("m1", "http://127.0.0.1:2380");
    RegistryEntry written{7, discovery_member_key(kToken, self.id), discovery_member_value(self)};
    InitialMember read = parse_registry_entry(kToken, written).value();
    CHECK(read.id == self.id);
    CHECK(read.name == "m1");
    REQUIRE(read.peer_urls.size() == 1);
    CHECK(read.peer_urls[0].str() == "http://127.0.0.1:2380");
    // A bare URL after the first continues the same member.
    std::vector<std::string> two = {"http://127.0.0.1:2380", "http://127.0.0.1:2381"};
    RegistryEntry bare{8, discovery_member_key(kToken, member_id(two, kToken)),
                       "m2=http://127.0.0.1:2381,http://127.0.0.1:2380"};
    CHECK(parse_registry_entry(kToken, bare).value().peer_urls.size() == 2);
}

TEST_CASE("malformed registry entries are refused, naming the key and the value") {
    RegistryEntry good = entry("m1", "http://127.0.0.1:2380", 5);
    auto refused = [](RegistryEntry bad) {
        auto member = parse_registry_entry(kToken, bad);
        REQUIRE_FALSE(member.has_value());
        return member.error().to_string();
    };
    RegistryEntry bad = good;
    bad.value = "http://127.0.0.1:2380";
    CHECK(contains_or_show(refused(bad), "is not name=peerURL[,peerURL]"));
    CHECK(contains_or_show(refused(bad), good.key));
    bad.value = "=http://127.0.0.1:2380";
    CHECK(contains_or_show(refused(bad), "empty member name"));
    bad.value = "m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2381";
    CHECK(contains_or_show(refused(bad), "names two members"));
    bad.value = "m1=http://example.com:2380";
    CHECK(contains_or_show(refused(bad), "bad peer URL"));
    bad.value = "m1=http://127.0.0.1:2380,m1=http://127.0.0.1:2380";
    CHECK(contains_or_show(refused(bad), "twice"));
    bad.value = "";
    CHECK(contains_or_show(refused(bad), "is not name=peerURL"));
    bad = good;
    bad.key = "/_etcd/registry/other/members/1";
    CHECK(contains_or_show(refused(bad), "is not under /_etcd/registry/tok-1/members/"));
    for (std::string id : {"", "0a", "ABC", "xyz", "1/2", "12345678901234567"}) {
        bad.key = discovery_members_prefix(kToken) + id;
        CHECK(contains_or_show(refused(bad), "does not end in a member id"));
    }
    // Written by a member with another token, or by etcd itself.
    bad = good;
    bad.key = discovery_member_key(kToken, 0x1234);
    CHECK(contains_or_show(refused(bad), "has the id 1234 but its peer URLs and the token give"));
}

TEST_CASE("the size key holds a whole number of members, or discovery says how to set it") {
    CHECK(parse_discovery_size(kToken, "3").value() == 3);
    CHECK(parse_discovery_size(kToken, "1").value() == 1);
    for (std::string_view bad : {"", "0", "-1", "3\n", " 3", "three", "1001", "3.0"}) {
        auto size = parse_discovery_size(kToken, bad);
        REQUIRE_FALSE(size.has_value());
        CHECK(contains_or_show(size.error().to_string(),
                               "/_etcd/registry/tok-1/_config/size is `" + std::string(bad) + "`"));
        CHECK(contains_or_show(size.error().to_string(),
                               "etcdctl put /_etcd/registry/tok-1/_config/size"));
    }
}

TEST_CASE("the cluster is the first size members by create revision, however listed") {
    std::vector<RegistryEntry> entries = {
        entry("m3", "http://127.0.0.1:2384", 30), entry("m1", "http://127.0.0.1:2380", 10),
        entry("m4", "http://127.0.0.1:2386", 40), entry("m2", "http://127.0.0.1:2382", 20)};
    InitialMember m2 = self_of("m2", "http://127.0.0.1:2382");
    DiscoveryOutcome outcome = choose_discovered_members(kToken, 3, m2, entries).value();
    CHECK(outcome.progress == DiscoveryProgress::Complete);
    CHECK(member_names(outcome.members) == std::vector<std::string>{"m1", "m2", "m3"});
    std::reverse(entries.begin(), entries.end());
    CHECK(member_names(choose_discovered_members(kToken, 3, m2, entries).value().members) ==
          std::vector<std::string>{"m1", "m2", "m3"});
}

TEST_CASE("a member waits while fewer than size members registered") {
    InitialMember m2 = self_of("m2", "http://127.0.0.1:2382");
    std::vector<RegistryEntry> entries = {entry("m1", "http://127.0.0.1:2380", 10)};
    // Not registered yet: it would be the second.
    DiscoveryOutcome before = choose_discovered_members(kToken, 3, m2, entries).value();
    CHECK(before.progress == DiscoveryProgress::Waiting);
    CHECK(member_names(before.members) == std::vector<std::string>{"m1"});
    entries.push_back(entry("m2", "http://127.0.0.1:2382", 11));
    DiscoveryOutcome after = choose_discovered_members(kToken, 3, m2, entries).value();
    CHECK(after.progress == DiscoveryProgress::Waiting);
    CHECK(member_names(after.members) == std::vector<std::string>{"m1", "m2"});
    // Size 1: the member alone is the cluster.
    CHECK(choose_discovered_members(kToken, 1, self_of("m1", "http://127.0.0.1:2380"), entries)
              .value()
              .progress == DiscoveryProgress::Complete);
}

TEST_CASE("a member arriving when the cluster is full is refused with how to fix it") {
    std::vector<RegistryEntry> entries = {entry("m1", "http://127.0.0.1:2380", 10),
                                          entry("m2", "http://127.0.0.1:2382", 11),
                                          entry("m3", "http://127.0.0.1:2384", 12)};
    InitialMember m4 = self_of("m4", "http://127.0.0.1:2386");
    std::string text = discovery_refusal(3, m4, entries);
    CHECK(contains_or_show(text, "discovery: cluster of size 3 for token tok-1 is already full: "));
    CHECK(contains_or_show(text, "m1 ("));
    CHECK(contains_or_show(text, ") http://127.0.0.1:2384"));
    CHECK(contains_or_show(text, "use a fresh --discovery-token"));
    CHECK(contains_or_show(text, "etcdctl member add m4 --peer-urls=http://127.0.0.1:2386"));
    CHECK(contains_or_show(text, "--initial-cluster-state=existing"));
    // Registered, but after the first three (two members raced for the last place).
    entries.push_back(entry("m4", "http://127.0.0.1:2386", 13));
    CHECK(contains_or_show(discovery_refusal(3, m4, entries), "is already full"));
}

TEST_CASE("a registry that would make a cluster of duplicates is refused") {
    InitialMember m1 = self_of("m1", "http://127.0.0.1:2380");
    // Two members named alike.
    std::vector<RegistryEntry> entries = {entry("m1", "http://127.0.0.1:2380", 10),
                                          entry("m1", "http://127.0.0.1:2382", 11)};
    CHECK(contains_or_show(discovery_refusal(2, m1, entries), "has two members named `m1`"));
    // Two members at one address (localhost and 127.0.0.1 are one).
    entries = {entry("m1", "http://127.0.0.1:2380", 10), entry("m2", "http://localhost:2380", 11)};
    CHECK(contains_or_show(discovery_refusal(2, m1, entries), "has two members at 127.0.0.1:2380"));
    // This member's URLs registered under another name.
    entries = {entry("other", "http://127.0.0.1:2380", 10)};
    CHECK(contains_or_show(discovery_refusal(3, m1, entries), "registered under another name"));
    // One malformed entry refuses the registry: every member must read the
    // same cluster from it.
    entries = {entry("m1", "http://127.0.0.1:2380", 10),
               {11, discovery_members_prefix(kToken) + "zz", "m2=http://127.0.0.1:2382"}};
    CHECK(contains_or_show(discovery_refusal(3, m1, entries), "does not end in a member id"));
}

TEST_CASE("a discovered cluster gives the ids a static --initial-cluster with the token gives") {
    ServerConfig config = discovering("m2", "http://127.0.0.1:2382");
    std::vector<RegistryEntry> entries = {entry("m3", "http://127.0.0.1:2384", 10),
                                          entry("m1", "http://127.0.0.1:2380", 11),
                                          entry("m2", "http://127.0.0.1:2382", 12)};
    DiscoveryOutcome outcome =
        choose_discovered_members(kToken, 3, discovery_self(config), entries).value();
    ServerConfig discovered = with_discovered_cluster(config, outcome.members);
    CHECK(member_names(discovered.initial_cluster) == std::vector<std::string>{"m1", "m2", "m3"});

    std::vector<std::string> args = {
        "--name=m2", "--initial-advertise-peer-urls=http://127.0.0.1:2382",
        "--initial-cluster=m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2382,"
        "m3=http://127.0.0.1:2384",
        "--initial-cluster-token=" + std::string(kToken)};
    ServerConfig fixed = parse_server_config(args, {}).value();
    CHECK(discovered.member_id == fixed.member_id);
    CHECK(discovered.cluster_id == fixed.cluster_id);
    for (size_t i = 0; i < 3; ++i)
        CHECK(discovered.initial_cluster[i].id == fixed.initial_cluster[i].id);
    CHECK(discovered.initial_cluster_token == kToken);
}

TEST_CASE("a data dir of another member, token or cluster is refused on restart") {
    ServerConfig config = discovering("m1", "http://127.0.0.1:2380");
    uint64_t own = discovery_self(config).id;
    CHECK(check_discovered_data_dir(config, 0xc1, own, 0).has_value());
    CHECK(check_discovered_data_dir(config, 0xc1, own, 0xc1).has_value());

    auto other_member = check_discovered_data_dir(config, 0xc1, 0xbad, 0);
    REQUIRE_FALSE(other_member.has_value());
    CHECK(other_member.error().code() == int(ErrorCode::ForeignDataDir));
    CHECK(contains_or_show(other_member.error().to_string(),
                           "data dir /nonexistent/m1 belongs to member bad of cluster c1"));
    CHECK(contains_or_show(other_member.error().to_string(), "--discovery-token tok-1"));

    auto other_cluster = check_discovered_data_dir(config, 0xc1, own, 0xc2);
    REQUIRE_FALSE(other_cluster.has_value());
    CHECK(other_cluster.error().code() == int(ErrorCode::ForeignDataDir));
    CHECK(contains_or_show(other_cluster.error().to_string(), "describes cluster c2"));
}
