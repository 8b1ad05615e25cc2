// Tests for kv/raft.h: the behaviours of the Raft core a cluster relies on,
// driven by hand on a small in-memory cluster (tests/unit/raft_cluster.h).
// tests/sim/raft_sim.cpp checks the safety properties under random faults.
#include "kv/raft.h"

#include "tests/unit/raft_cluster.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace keel;
using namespace keel::kv;
using keel::kv::testing::Cluster;

namespace {

bool refused_with(const Result<void>& r, ErrorCode code) {
    return !r && r.error().code() == int(code);
}

Snapshot empty_snapshot(kv::Index index, Term term, std::vector<NodeId> voters) {
    return Snapshot{SnapshotMeta{index, term, ConfState{voters, {}}}, ""};
}

} // namespace

TEST_CASE("a new cluster elects a leader that replicates a proposal to every member") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    REQUIRE(c.leader() == 1);
    REQUIRE(c[1].propose("x"));
    c.deliver();
    for (NodeId id : {1, 2, 3})
        CHECK(c.has_applied(id, "x"));
}

TEST_CASE("the membership of a new cluster is in its log, committed") {
    Cluster c({1, 2, 3});
    for (NodeId id : {1, 2, 3}) {
        CHECK(c.status(id).commit == 3);
        CHECK(c.status(id).conf.voters == std::vector<NodeId>{1, 2, 3});
        CHECK(c.applied[id].size() == 3);
    }
}

TEST_CASE("a follower forwards a proposal to the leader") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    REQUIRE(c[3].propose("from a follower"));
    c.deliver();
    CHECK(c.has_applied(1, "from a follower"));
    CHECK(c.has_applied(2, "from a follower"));
}

TEST_CASE("a proposal with no leader known is refused as no leader") {
    Cluster c({1, 2, 3});
    CHECK(refused_with(c[2].propose("x"), ErrorCode::NoLeader));
    CHECK(refused_with(c[2].read_index("r"), ErrorCode::NoLeader));
}

TEST_CASE("a leader sends its appends before its own write is done, votes wait for the write") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    REQUIRE(c[1].propose("x"));
    Ready ready = c[1].ready();
    CHECK(ready.entries.size() == 1);
    bool append_early = false;
    for (const kv::Message& m : ready.messages)
        append_early |= m.type == MessageType::Append && m.entries.size() == 1;
    CHECK(append_early);
    c[1].advance(ready);

    // A member asked to take over campaigns at once: its vote requests
    // promise its own vote, so they go out after the write.
    Term term = c.status(2).term;
    REQUIRE(
        c[2].step(kv::Message{.type = MessageType::TimeoutNow, .from = 1, .to = 2, .term = term}));
    Ready vote = c[2].ready();
    REQUIRE(vote.hard_state);
    CHECK(vote.hard_state->vote == 2);
    CHECK(vote.hard_state->term == term + 1);
    size_t requests = 0;
    for (const kv::Message& m : vote.messages)
        CHECK(m.type != MessageType::Vote);
    for (const kv::Message& m : vote.messages_after_persist)
        requests += m.type == MessageType::Vote;
    CHECK(requests == 2);
}

TEST_CASE("a leader sends each follower one Append for all the proposals made before its Ready") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    for (std::string data : {"a", "b", "c"})
        REQUIRE(c[1].propose(data));
    Ready ready = c[1].ready();
    CHECK(ready.entries.size() == 3);
    std::map<NodeId, size_t> appends;
    for (const kv::Message& m : ready.messages) {
        if (m.type != MessageType::Append)
            continue;
        ++appends[m.to];
        CHECK(m.entries.size() == 3);
    }
    CHECK(appends == std::map<NodeId, size_t>{{2, 1}, {3, 1}});
    c[1].advance(ready);
    for (kv::Message& m : ready.messages)
        c.queue.push_back(m);
    c.deliver();
    for (NodeId id : {1, 2, 3})
        for (std::string data : {"a", "b", "c"})
            CHECK(c.has_applied(id, data));
}

TEST_CASE("a follower forwards the proposals made before its Ready in one message, a membership "
          "change in one of its own") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    REQUIRE(c[3].propose("a"));
    REQUIRE(c[3].propose("b"));
    REQUIRE(c[3].propose_conf_change(ConfChange{.type = ConfChangeType::AddLearner, .node = 4}));
    REQUIRE(c[3].propose("c"));
    Ready ready = c[3].ready();
    std::vector<size_t> sizes;
    for (const kv::Message& m : ready.messages)
        if (m.type == MessageType::Propose)
            sizes.push_back(m.entries.size());
    CHECK(sizes == std::vector<size_t>{2, 1, 1});
    c[3].advance(ready);
    for (kv::Message& m : ready.messages)
        c.queue.push_back(m);
    c.deliver();
    for (std::string data : {"a", "b", "c"})
        CHECK(c.has_applied(1, data));
    CHECK(c.status(1).conf.learners == std::vector<NodeId>{4});
}

TEST_CASE("pre-vote stops a partitioned member from raising the term when it rejoins") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    Term term = c.status(1).term;
    c.isolated = {3};
    c.tick(100);
    CHECK(c.status(3).term == term);
    CHECK(c.status(3).role == Role::PreCandidate);
    c.isolated.clear();
    c.tick(30);
    CHECK(c.leader() == 1);
    CHECK(c.status(1).term == term);
    CHECK(c.status(3).leader == 1);
}

TEST_CASE("a leader without a quorum of recent contacts steps down (check-quorum)") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.isolated = {2, 3};
    c.tick(25);
    CHECK(c.status(1).role == Role::Follower);
    CHECK(refused_with(c[1].propose("x"), ErrorCode::NoLeader));
}

TEST_CASE("a member that heard from its leader recently ignores an election, not a transfer") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    Term term = c.status(2).term;
    kv::Message vote{.type = MessageType::Vote,
                     .from = 3,
                     .to = 2,
                     .term = term + 5,
                     .log_term = term + 4,
                     .index = 100};
    REQUIRE(c[2].step(vote));
    CHECK(c.status(2).term == term);
    CHECK(c.status(2).leader == 1);
    vote.campaign = CampaignKind::Transfer;
    REQUIRE(c[2].step(vote));
    CHECK(c.status(2).term == term + 5);
    CHECK(c.status(2).vote == 3);
}

TEST_CASE("an entry of an earlier term is not committed by counting replicas (Raft §5.4.2)") {
    // Raft's figure 8: member 1 holds entry 4 from term 2, member 3 a
    // different entry 4 from term 3. Member 1 leads term 4 and copies its
    // entry 4 to member 2: a majority holds it, yet member 3 could still
    // win an election and overwrite it, so it must not count as committed.
    std::map<NodeId, RestoreState> states;
    for (NodeId id : {1, 2, 3})
        states[id] = RestoreState{.hard = {3, 0, 3}, .snapshot = empty_snapshot(3, 1, {1, 2, 3})};
    states[1].entries = {Entry{2, 4, EntryType::Normal, "old"}};
    states[3].entries = {Entry{3, 4, EntryType::Normal, "other"}};
    Cluster c(0, std::move(states)); // one entry per Append
    c.isolated = {3};
    // Let the first probe through (it is rejected: member 2 lacks entry 4),
    // then hold back the leader's own entry 5.
    bool rejected = false;
    c.drop = [&rejected](const kv::Message& m) {
        rejected |= m.type == MessageType::AppendResponse && m.reject;
        return rejected && m.type == MessageType::Append && !m.entries.empty() &&
               m.entries[0].index == 5;
    };
    c.campaign(1);
    REQUIRE(c.leader() == 1);
    REQUIRE(c.status(1).term == 4);
    REQUIRE(c[2].log_entries().size() == 1);
    CHECK(c[2].log_entries()[0].data == "old");
    CHECK(c.status(1).commit == 3);

    // Once the leader's own entry reaches a quorum, both commit.
    c.drop = nullptr;
    c.tick(2);
    CHECK(c.status(1).commit == 5);
    CHECK(c.has_applied(2, "old"));
}

TEST_CASE("a new leader refuses a membership change until it commits an entry of its term") {
    Cluster c({1, 2, 3});
    c.drop = [](const kv::Message& m) { return m.type == MessageType::AppendResponse; };
    c.campaign(1);
    REQUIRE(c.leader() == 1);
    ConfChange add{ConfChangeType::AddLearner, 4, {}};
    CHECK(refused_with(c[1].propose_conf_change(add), ErrorCode::ProposalDropped));

    c.drop = nullptr;
    c.tick(2);
    REQUIRE(c[1].propose_conf_change(add));
    // One change at a time.
    CHECK(refused_with(c[1].propose_conf_change({ConfChangeType::AddLearner, 5, {}}),
                       ErrorCode::ProposalDropped));
    c.deliver();
    CHECK(c.status(2).conf.learners == std::vector<NodeId>{4});
    CHECK(c[1].propose_conf_change({ConfChangeType::AddLearner, 5, {}}));
}

TEST_CASE("a membership change that cannot apply is refused when proposed") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    CHECK(!c[1].propose_conf_change({ConfChangeType::AddVoter, 2, {}}));
    CHECK(!c[1].propose_conf_change({ConfChangeType::RemoveNode, 9, {}}));
    CHECK(!c[1].propose_conf_change({ConfChangeType::PromoteLearner, 3, {}}));
}

TEST_CASE("a read index waits until the leader has committed an entry of its term") {
    Cluster c({1, 2, 3});
    c.drop = [](const kv::Message& m) { return m.type == MessageType::AppendResponse; };
    c.campaign(1);
    REQUIRE(c.leader() == 1);
    REQUIRE(c[1].read_index("early"));
    c.tick(3);
    CHECK(c.reads[1].empty());

    c.drop = nullptr;
    c.tick(3);
    REQUIRE(c.reads[1].size() == 1);
    CHECK(c.reads[1][0].context == "early");
    CHECK(c.reads[1][0].index == c.status(1).commit);
}

TEST_CASE("a read index from a follower is confirmed by the leader and answered to it") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    REQUIRE(c[2].read_index("r2"));
    c.tick(1);
    REQUIRE(c.reads[2].size() == 1);
    CHECK(c.reads[2][0].context == "r2");
    CHECK(c.reads[2][0].index == c.status(1).commit);
}

TEST_CASE("a leader cut off from the quorum answers no read") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.isolated = {2, 3};
    REQUIRE(c[1].read_index("stale"));
    c.tick(5);
    CHECK(c.reads[1].empty());
}

TEST_CASE("learners receive the log but never campaign and are not counted") {
    Cluster c({1, 2}, {3});
    c.isolated = {1, 2};
    for (int i = 0; i < 100; ++i)
        c[3].tick();
    c.deliver();
    CHECK(c.status(3).role == Role::Follower);
    CHECK(c.status(3).term == 1);

    c.isolated.clear();
    c.campaign(1);
    REQUIRE(c.leader() == 1);
    c.isolated = {2};
    REQUIRE(c[1].propose("only the learner has it"));
    c.tick(3);
    CHECK(c[3].log_entries().back().data == "only the learner has it");
    CHECK(!c.has_applied(1, "only the learner has it"));

    c.isolated.clear();
    c.tick(3);
    CHECK(c.has_applied(1, "only the learner has it"));
    CHECK(c.has_applied(3, "only the learner has it"));
}

TEST_CASE("a promoted learner votes") {
    Cluster c({1, 2}, {3});
    c.campaign(1);
    c.tick(1);
    REQUIRE(c[1].propose_conf_change({ConfChangeType::PromoteLearner, 3, {}}));
    c.deliver();
    CHECK(c.status(3).conf.voters == std::vector<NodeId>{1, 2, 3});
    // With 2 gone, 1 and 3 are a quorum of three.
    c.isolated = {2};
    REQUIRE(c[1].propose("after promotion"));
    c.tick(2);
    CHECK(c.has_applied(1, "after promotion"));
}

TEST_CASE("leadership moves to an up-to-date target and proposals are refused meanwhile") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.drop = [](const kv::Message& m) { return m.to == 2; };
    REQUIRE(c[1].propose("before"));
    c.deliver();
    REQUIRE(c[1].transfer_leadership(2));
    CHECK(c.status(1).transferee == 2);
    CHECK(refused_with(c[1].propose("during"), ErrorCode::ProposalDropped));

    c.drop = nullptr;
    c.tick(1);
    CHECK(c.leader() == 2);
    CHECK(c.status(1).role == Role::Follower);
    CHECK(c.has_applied(2, "before"));
}

TEST_CASE("a transfer that cannot finish is abandoned after an election timeout") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.isolated = {2};
    REQUIRE(c[1].transfer_leadership(2));
    c.tick(12);
    CHECK(c.leader() == 1);
    CHECK(c.status(1).transferee == 0);
    CHECK(c[1].propose("after"));
}

TEST_CASE("a removed leader steps down once the change commits, and the rest elect another") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.tick(1);
    REQUIRE(c[1].propose_conf_change({ConfChangeType::RemoveNode, 1, {}}));
    c.deliver();
    CHECK(c.status(1).role == Role::Follower);
    CHECK(c.status(2).conf.voters == std::vector<NodeId>{2, 3});
    c.tick(40);
    NodeId leader = c.leader();
    CHECK((leader == 2 || leader == 3));
    REQUIRE(c[leader].propose("without 1"));
    c.deliver();
    CHECK(c.has_applied(2, "without 1"));
    CHECK(c.has_applied(3, "without 1"));
}

TEST_CASE("a member added later learns the membership from the log") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.tick(1);
    c.add(4, RestoreState{});
    REQUIRE(c[1].propose_conf_change({ConfChangeType::AddVoter, 4, {}}));
    c.tick(3);
    CHECK(c.status(4).conf.voters == std::vector<NodeId>{1, 2, 3, 4});
    CHECK(c.status(4).commit == c.status(1).commit);
}

TEST_CASE("a follower whose next entry was compacted away gets the snapshot") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.isolated = {3};
    for (int i = 0; i < 5; ++i)
        REQUIRE(c[1].propose("e" + std::to_string(i)));
    c.tick(1);
    kv::Index applied = c.status(1).applied;
    Result<SnapshotMeta> meta = c[1].compact(applied, "state");
    REQUIRE(meta);
    CHECK(meta->conf.voters == std::vector<NodeId>{1, 2, 3});
    CHECK(c.status(1).first_index == applied + 1);

    c.isolated.clear();
    c.tick(3);
    CHECK(c.status(3).commit == c.status(1).commit);
    CHECK(c.status(3).first_index == applied + 1);
}

TEST_CASE("compaction refuses an index not applied yet or compacted already") {
    Cluster c({1, 2, 3});
    CHECK(!c[1].compact(10, ""));
    REQUIRE(c[1].compact(2, ""));
    CHECK(!c[1].compact(2, ""));
}

TEST_CASE("a malformed message is an error and changes nothing") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    RaftStatus before = c.status(2);
    std::vector<Entry> log_before = c[2].log_entries();
    Term t = before.term;
    std::vector<kv::Message> bad = {
        kv::Message{.type = MessageType::Heartbeat, .from = 1, .to = 3, .term = t},
        kv::Message{.type = MessageType::Heartbeat, .from = 0, .to = 2, .term = t},
        kv::Message{.type = MessageType::Heartbeat, .from = 2, .to = 2, .term = t},
        kv::Message{.type = MessageType(200), .from = 1, .to = 2, .term = t},
        kv::Message{.type = MessageType::Heartbeat, .from = 1, .to = 2, .term = 0},
        kv::Message{.type = MessageType::Propose, .from = 1, .to = 2, .term = t},
        kv::Message{.type = MessageType::Append,
                    .from = 1,
                    .to = 2,
                    .term = t,
                    .log_term = t,
                    .index = 4,
                    .entries = {Entry{t, 6, EntryType::Normal, "gap"}}},
        kv::Message{.type = MessageType::Append,
                    .from = 1,
                    .to = 2,
                    .term = t,
                    .log_term = t,
                    .index = 4,
                    .entries = {Entry{t + 1, 5, EntryType::Normal, "future"}}},
        kv::Message{.type = MessageType::Append,
                    .from = 1,
                    .to = 2,
                    .term = t,
                    .log_term = t,
                    .index = 4,
                    .entries = {Entry{t, 5, EntryType(9), "unknown"}}},
        kv::Message{.type = MessageType::Snapshot, .from = 1, .to = 2, .term = t},
        kv::Message{.type = MessageType::Snapshot,
                    .from = 1,
                    .to = 2,
                    .term = t,
                    .snapshot =
                        Snapshot{SnapshotMeta{~uint64_t(0), t, ConfState{{1, 2, 3}, {}}}, ""}},
        kv::Message{.type = MessageType::Vote, .from = 3, .to = 2, .term = t, .log_term = t + 1},
    };
    for (const kv::Message& m : bad) {
        CAPTURE(kMessageTypeNames.name(m.type));
        CHECK(!c[2].step(m));
    }
    RaftStatus after = c.status(2);
    CHECK(after.term == before.term);
    CHECK(after.commit == before.commit);
    CHECK(after.last_index == before.last_index);
    CHECK(c[2].log_entries() == log_before);
}

TEST_CASE("a membership change round-trips through an entry and bad data is refused") {
    ConfChange change{ConfChangeType::PromoteLearner, 0x0102030405060708ULL, "urls"};
    Result<ConfChange> back = decode_conf_change(encode_conf_change(change));
    REQUIRE(back);
    CHECK(back->type == change.type);
    CHECK(back->node == change.node);
    CHECK(back->context == "urls");
    CHECK(!decode_conf_change(""));
    CHECK(!decode_conf_change(std::string(9, '\0')));                       // member 0
    CHECK(!decode_conf_change(std::string("\x09") + std::string(8, '\1'))); // type
}

TEST_CASE("message types and roles have names both ways") {
    CHECK(kMessageTypeNames.name(MessageType::ReadIndexResponse) == "read-index-response");
    CHECK(kMessageTypeNames.parse("timeout-now") == MessageType::TimeoutNow);
    CHECK(kRoleNames.name(Role::PreCandidate) == "pre-candidate");
}

// The entries `id` applied that are membership changes of `type`.
static size_t applied_changes(Cluster& c, NodeId id, ConfChangeType type) {
    size_t count = 0;
    for (const Entry& e : c.applied[id]) {
        if (e.type != EntryType::ConfChange)
            continue;
        Result<ConfChange> change = decode_conf_change(e.data);
        count += change && change->type == type ? 1 : 0;
    }
    return count;
}

TEST_CASE("a member that asks for its own removal hears that the removal committed") {
    Cluster c({1, 2, 3});
    c.campaign(1);
    c.tick(1);
    REQUIRE(c[3].propose_conf_change({ConfChangeType::RemoveNode, 3, {}}));
    c.deliver();
    CHECK(c.status(1).conf.voters == std::vector<NodeId>{1, 2});
    // The leader sent 3 the commit before it stopped sending to it.
    CHECK(c.status(3).conf.voters == std::vector<NodeId>{1, 2});
    CHECK(applied_changes(c, 3, ConfChangeType::RemoveNode) == 1);
}

TEST_CASE("a promotion of a learner not in sync is refused through the log, asked of any member") {
    Cluster c({1, 2}, {3});
    c.campaign(1);
    c.tick(1);
    c.isolated = {3};
    for (int i = 0; i < 10; ++i)
        REQUIRE(c[1].propose("while 3 is away"));
    c.tick(1);
    // Asked of the follower 2: forwarded, the leader refuses it in the log.
    REQUIRE(c[2].propose_conf_change({ConfChangeType::PromoteLearner, 3, {}}));
    c.deliver();
    CHECK(applied_changes(c, 2, ConfChangeType::RefusedPromotion) == 1);
    CHECK(c.status(2).conf.learners == std::vector<NodeId>{3});
    // Asked of the leader: the same.
    REQUIRE(c[1].propose_conf_change({ConfChangeType::PromoteLearner, 3, {}}));
    c.deliver();
    CHECK(applied_changes(c, 1, ConfChangeType::RefusedPromotion) == 2);
    CHECK(c.status(1).conf.learners == std::vector<NodeId>{3});
    // Caught up, it is promoted, asked of the follower.
    c.isolated.clear();
    c.tick(3);
    REQUIRE(c[2].propose_conf_change({ConfChangeType::PromoteLearner, 3, {}}));
    c.deliver();
    CHECK(c.status(2).conf.voters == std::vector<NodeId>{1, 2, 3});
}

TEST_CASE("a refused promotion changes nothing and says the learner is not in sync") {
    ConfState conf{{1, 2}, {3}};
    Result<ConfState> refused = apply_conf_change(conf, {ConfChangeType::RefusedPromotion, 3, {}});
    REQUIRE(!refused);
    CHECK(refused.error().code() == int(ErrorCode::LearnerNotReady));
}
