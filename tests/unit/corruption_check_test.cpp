// kv/corruption_check.h: the comparisons of the initial and the leader's
// check, with etcd 3.4's rules (which hashes count as a mismatch, which
// peers are skipped).
#include "kv/corruption_check.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

PeerHashResult answered(NodeId id, int64_t revision, int64_t compacted, uint32_t hash) {
    return {id, PeerHashKv{id, revision, compacted, hash, ""}, ""};
}

} // namespace

TEST_CASE("the initial check finds a peer whose hash differs at the same compaction") {
    HashKv own{111, 0, 9};
    std::vector<PeerHashResult> peers = {answered(2, 9, 0, 111), answered(3, 12, 0, 222)};
    auto findings = compare_initial_hashes(own, peers);
    REQUIRE(findings.mismatches.size() == 1);
    CHECK(findings.mismatches[0].find("3's hash 222 != this member's 111") != std::string::npos);
    CHECK(findings.skipped.empty());
}

TEST_CASE("the initial check skips peers it cannot compare with, and none of them is a mismatch") {
    HashKv own{111, 4, 9};
    std::vector<PeerHashResult> peers = {
        answered(2, 9, 6, 333), // compacted further: another range hashed
        {3, PeerHashKv{3, 5, 0, 0, "etcdserver: mvcc: required revision is a future revision"}, ""},
        {4, std::nullopt, "http://127.0.0.1:1: connect: Connection refused"},
    };
    auto findings = compare_initial_hashes(own, peers);
    CHECK(findings.mismatches.empty());
    REQUIRE(findings.skipped.size() == 3);
    CHECK(findings.skipped[1].find("future revision") != std::string::npos);
    CHECK(findings.skipped[2].find("Connection refused") != std::string::npos);
}

TEST_CASE("the leader's check passes when every peer has its hash at its compaction") {
    HashKv before{111, 0, 9}, after{555, 0, 11}; // writes in between change the hash
    std::vector<PeerHashResult> peers = {answered(2, 9, 0, 111), answered(3, 10, 0, 111)};
    auto findings = compare_leader_hashes(before, after, peers);
    CHECK(findings.mismatches.empty());
}

TEST_CASE("the leader's check finds a differing hash, a peer ahead, and its own hash changing") {
    HashKv before{111, 2, 9};
    SUBCASE("a peer with another hash at the leader's compaction") {
        auto findings = compare_leader_hashes(before, before, std::vector{answered(2, 9, 2, 999)});
        REQUIRE(findings.mismatches.size() == 1);
        CHECK(findings.mismatches[0].find("2's hash 999") != std::string::npos);
    }
    SUBCASE("a peer with another hash at another compaction is no mismatch") {
        HashKv after{111, 3, 9};
        auto findings = compare_leader_hashes(before, after, std::vector{answered(2, 9, 3, 999)});
        CHECK(findings.mismatches.empty());
    }
    SUBCASE("a peer past the leader's revision or compaction") {
        auto findings = compare_leader_hashes(before, before, std::vector{answered(2, 10, 4, 111)});
        REQUIRE(findings.mismatches.size() == 2);
        CHECK(findings.mismatches[0].find("at revision 10, past the leader's 9") !=
              std::string::npos);
        CHECK(findings.mismatches[1].find("compacted at revision 4") != std::string::npos);
    }
    SUBCASE("the leader's own hash changed with no write") {
        HashKv after{112, 2, 9};
        auto findings = compare_leader_hashes(before, after, {});
        REQUIRE(findings.mismatches.size() == 1);
        CHECK(findings.mismatches[0].find("the leader's hash changed") != std::string::npos);
    }
    SUBCASE("a peer that did not answer is skipped") {
        std::vector<PeerHashResult> peers = {{2, std::nullopt, "no answer within 2000 ms"}};
        auto findings = compare_leader_hashes(before, before, peers);
        CHECK(findings.mismatches.empty());
        CHECK(findings.skipped.size() == 1);
    }
}
