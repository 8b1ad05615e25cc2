// Tests for kv/progress.h: the leader's flow control per follower and the
// quorum arithmetic.
#include "kv/progress.h"

#include <doctest/doctest.h>

using namespace keel::kv;

TEST_CASE("a probing follower gets one append until it answers") {
    Progress p;
    p.next = 5;
    CHECK(!p.paused(4));
    p.sent_entries(7, 3);
    CHECK(p.paused(4));
    CHECK(p.next == 5); // probing does not move next optimistically
    CHECK(p.maybe_update(7));
    CHECK(!p.paused(4));
}

TEST_CASE("a replicating follower is pipelined up to the inflight window") {
    Progress p;
    p.match = 4;
    p.become_replicate();
    CHECK(p.next == 5);
    p.sent_entries(6, 2);
    p.sent_entries(8, 2);
    CHECK(p.next == 9);
    CHECK(p.paused(2));
    p.maybe_update(6);
    CHECK(!p.paused(2));
    CHECK(p.inflights.size() == 1);
}

TEST_CASE("a stale rejection is ignored, a fresh one backs off to the hint") {
    Progress p;
    p.match = 3;
    p.next = 10;
    CHECK(!p.maybe_decrease(5, 2)); // probe: not the last probe (next - 1 = 9)
    CHECK(p.maybe_decrease(9, 6));
    CHECK(p.next == 7);
    p.become_replicate();
    CHECK(!p.maybe_decrease(2, 0)); // at or below match
}

TEST_CASE("after a snapshot a follower is probed from past the snapshot") {
    Progress p;
    p.match = 2;
    p.become_snapshot(50);
    CHECK(p.paused(100));
    p.become_probe();
    CHECK(p.next == 51);
}

TEST_CASE("the commit index is what a majority of voters matches; learners do not count") {
    ProgressTracker tracker;
    tracker.set_conf(ConfState{{1, 2, 3}, {4}}, 1);
    tracker.find(1)->match = 9;
    tracker.find(4)->match = 9;
    tracker.find(2)->match = 3;
    CHECK(tracker.quorum_match() == 3);
    tracker.find(3)->match = 7;
    CHECK(tracker.quorum_match() == 7);
}

TEST_CASE("a vote is won by a majority of voters and lost once it cannot be") {
    ConfState conf{{1, 2, 3, 4, 5}, {6}};
    VoteTally tally;
    tally.record(1, true);
    tally.record(6, true);
    tally.record(2, true);
    CHECK(tally.result(conf) == VoteResult::Pending);
    tally.record(3, false);
    tally.record(4, false);
    CHECK(tally.result(conf) == VoteResult::Pending);
    tally.record(5, false);
    CHECK(tally.result(conf) == VoteResult::Lost);
    tally.clear();
    for (NodeId id : {1, 2, 3})
        tally.record(id, true);
    CHECK(tally.result(conf) == VoteResult::Won);
}
