// Tests for kv/raft_log.h: the Raft core's in-memory log and the
// committed / applied / persisted positions the Ready cycle moves.
#include "kv/raft_log.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

std::vector<Entry> entries(keel::kv::Index first, std::vector<Term> terms) {
    std::vector<Entry> out;
    for (Term term : terms)
        out.push_back(Entry{term, first++, EntryType::Normal, "d" + std::to_string(term)});
    return out;
}

} // namespace

TEST_CASE("a repeated or reordered append does not cut the log") {
    RaftLog log;
    log.append(entries(1, {1, 1, 2, 2}));
    CHECK(log.append_after(1, entries(2, {1, 2})) == 3);
    CHECK(log.last_index() == 4);
    CHECK(log.term(4) == 2);
}

TEST_CASE("an append replaces the conflicting entry and everything after it") {
    RaftLog log;
    log.append(entries(1, {1, 1, 2, 2}));
    std::vector<Entry> unstable = log.hand_out_unstable();
    CHECK(unstable.size() == 4);
    log.persisted_to(4, 2);
    CHECK(log.persisted() == 4);

    CHECK(log.append_after(2, entries(3, {3})) == 3);
    CHECK(log.last_index() == 3);
    CHECK(log.term(3) == 3);
    // What was on disk from index 3 on is stale: only 2 counts as persisted,
    // and the new entry is handed out again.
    CHECK(log.persisted() == 2);
    std::vector<Entry> again = log.hand_out_unstable();
    REQUIRE(again.size() == 1);
    CHECK(again[0].index == 3);
}

TEST_CASE("entries replaced before advance() are not taken as persisted") {
    RaftLog log;
    log.append(entries(1, {1, 1, 1}));
    std::vector<Entry> handed = log.hand_out_unstable();
    log.append_after(1, entries(2, {2, 2}));
    log.persisted_to(handed.back().index, handed.back().term); // (3, 1): replaced
    CHECK(log.persisted() == 0);
    std::vector<Entry> again = log.hand_out_unstable();
    REQUIRE(again.size() == 2);
    CHECK(again[0].index == 2);
    log.persisted_to(3, 2);
    CHECK(log.persisted() == 3);
}

TEST_CASE("the backtracking hint is the last entry no newer than the leader's term") {
    RaftLog log;
    log.append(entries(1, {1, 1, 3, 3, 5}));
    CHECK(log.find_conflict_by_term(5, 4) == std::pair<keel::kv::Index, Term>{4, 3});
    CHECK(log.find_conflict_by_term(5, 2) == std::pair<keel::kv::Index, Term>{2, 1});
    CHECK(log.find_conflict_by_term(9, 9) == std::pair<keel::kv::Index, Term>{5, 5});
    CHECK(log.find_conflict_by_term(5, 0) == std::pair<keel::kv::Index, Term>{0, 0});
}

TEST_CASE("a compacted log keeps the term of its last dropped entry") {
    RaftLog log;
    log.append(entries(1, {1, 2, 3}));
    log.commit_to(3);
    log.hand_out_committed();
    log.applied_to(3);
    log.compact(2, 2);
    CHECK(log.first_index() == 3);
    CHECK(log.term(2) == 2);
    CHECK(!log.term(1));
    CHECK(log.matches(2, 2));
    CHECK(log.is_up_to_date(3, 3));
    CHECK(!log.is_up_to_date(9, 2));
}

TEST_CASE("committed entries are handed out once and the commit index never goes back") {
    RaftLog log;
    log.append(entries(1, {1, 1, 1}));
    CHECK(log.commit_to(2));
    CHECK(!log.commit_to(1));
    CHECK(log.hand_out_committed().size() == 2);
    CHECK(log.hand_out_committed().empty());
    CHECK(log.commit_to(9)); // capped at the last entry
    CHECK(log.committed() == 3);
    CHECK(log.hand_out_committed().size() == 1);
    log.applied_to(3);
    CHECK(log.applied() == 3);
}

TEST_CASE("a restored log starts persisted, with its commit index clamped to its entries") {
    RaftLog log;
    log.restore(5, 2, entries(6, {2, 3}), 100, 0);
    CHECK(log.persisted() == 7);
    CHECK(!log.has_unstable());
    CHECK(log.committed() == 7);
    CHECK(log.applied() == 5);
    CHECK(log.hand_out_committed().size() == 2);
}
