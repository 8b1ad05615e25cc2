// Tests for kv/raft_log.h: the Raft core's in-memory log and the
// committed / applied / persisted positions the Ready cycle moves.
#include "kv/raft_log.h"

#include "kv/raft.h"

#include <doctest/doctest.h>

#include <map>

using namespace keel::kv;

namespace {

std::vector<Entry> entries(keel::kv::Index first, std::vector<Term> terms) {
    std::vector<Entry> out;
    for (Term term : terms)
        out.push_back(Entry{term, first++, EntryType::Normal, "d" + std::to_string(term)});
    return out;
}

// The persisted log, as a driver's entry source reads it back: every entry
// handed out to persist, with a way to damage one.
struct LogTestDisk : RaftEntrySource {
    std::map<keel::kv::Index, Entry> stored;
    int reads = 0;
    keel::Result<std::vector<Entry>> entries_from(keel::kv::Index low, keel::kv::Index high,
                                                  size_t max_bytes) {
        std::vector<Entry> out;
        size_t bytes = 0;
        for (keel::kv::Index i = low; i <= high && stored.contains(i); ++i) {
            bytes += stored[i].data.size();
            if (!out.empty() && bytes > max_bytes)
                break;
            out.push_back(stored[i]);
        }
        return out;
    }
    keel::Result<std::vector<Entry>> entries(keel::kv::Index low, keel::kv::Index high,
                                             size_t max_bytes) override {
        ++reads;
        return entries_from(low, high, max_bytes);
    }
};

// A log of `terms` from index 1, persisted into `disk`, committed and
// applied.
void fill_persisted_and_applied(RaftLog& log, LogTestDisk& disk, std::vector<Term> terms) {
    log.set_entry_source(&disk);
    log.append(entries(log.last_index() + 1, std::move(terms)));
    for (Entry& e : log.hand_out_unstable())
        disk.stored[e.index] = e;
    log.persisted_to(log.last_index(), log.last_term());
    log.commit_to(log.last_index());
    log.hand_out_committed();
    log.applied_to(log.last_index());
}

} // namespace

TEST_CASE("released entries leave memory but keep their terms, and are read back from the source") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 1, 2, 2, 2, 3, 3, 4, 4, 4});
    log.release(3, 1 << 20);
    CHECK(log.entries().size() == 3);
    CHECK(log.first_in_memory() == 8);
    CHECK(log.first_index() == 1);
    CHECK(log.term(1) == 1);
    CHECK(log.term(5) == 2);
    CHECK(log.term(6) == 3);
    CHECK(log.matches(7, 3));
    CHECK(!log.matches(7, 2));
    // Backtracking skips whole runs of released entries.
    CHECK(log.find_conflict_by_term(10, 2) == std::pair<keel::kv::Index, Term>{5, 2});
    CHECK(log.find_conflict_by_term(7, 1) == std::pair<keel::kv::Index, Term>{2, 1});

    keel::Result<std::vector<Entry>> old = log.slice(2, 10, 1 << 20);
    REQUIRE(old);
    // From the source, up to the window; the window's entries come next.
    REQUIRE(old->size() == 6);
    CHECK(old->front() == disk.stored[2]);
    CHECK(old->back().index == 7);
    CHECK(disk.reads == 1);
    keel::Result<std::vector<Entry>> held = log.slice(8, 10, 1 << 20);
    REQUIRE(held);
    CHECK(held->size() == 3);
    CHECK(disk.reads == 1);
}

TEST_CASE("the byte limit releases entries as well as the count") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 1, 1, 1, 1, 1}); // 2 bytes each
    log.release(100, 5);
    CHECK(log.entries().size() == 2);
    CHECK(log.first_in_memory() == 5);
}

TEST_CASE("entries not yet applied or persisted stay in memory") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 1, 1});
    log.append(entries(4, {1, 1, 1}));
    log.commit_to(6);
    log.release(0, 0);
    CHECK(log.first_in_memory() == 4); // 4..6 are neither persisted nor applied
    for (Entry& e : log.hand_out_unstable())
        disk.stored[e.index] = e;
    log.persisted_to(6, 1);
    log.release(0, 0);
    CHECK(log.first_in_memory() == 4); // persisted, not applied
    CHECK(log.hand_out_committed().size() == 3);
    log.applied_to(5);
    log.release(0, 0);
    CHECK(log.first_in_memory() == 6);
    CHECK(log.entries().size() == 1);
}

TEST_CASE("a source that returns another log's entries is refused, not sent on") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 2, 3, 4});
    log.release(1, 1 << 20);
    disk.stored[2].term = 9;
    keel::Result<std::vector<Entry>> wrong_term = log.slice(1, 4, 1 << 20);
    REQUIRE(!wrong_term);
    CHECK(wrong_term.error().code() == int(keel::ErrorCode::DataCorrupt));
    CHECK(wrong_term.error().to_string().find("entry 2 has term 9") != std::string::npos);
    disk.stored.erase(1);
    CHECK(!log.slice(1, 4, 1 << 20));
}

TEST_CASE("a conflicting suffix that reaches into released entries is replaced and held") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 1, 2, 2});
    log.release(1, 1 << 20);
    CHECK(log.first_in_memory() == 4);
    // Never sent by a correct leader (those entries are committed), but the
    // log stays whole if it happens.
    log.append_after(2, entries(3, {5, 5}));
    CHECK(log.first_in_memory() == 3);
    CHECK(log.last_index() == 4);
    CHECK(log.term(2) == 1);
    CHECK(log.term(3) == 5);
    CHECK(log.at(4).term == 5);
}

TEST_CASE("compacting past released entries keeps the runs after the snapshot") {
    RaftLog log;
    LogTestDisk disk;
    fill_persisted_and_applied(log, disk, {1, 1, 2, 2, 3, 3});
    log.release(2, 1 << 20);
    log.compact(3, 2);
    CHECK(log.first_index() == 4);
    CHECK(log.first_in_memory() == 5);
    CHECK(log.term(3) == 2);
    CHECK(log.term(4) == 2);
    CHECK(log.term(5) == 3);
    CHECK(log.find_conflict_by_term(6, 2) == std::pair<keel::kv::Index, Term>{4, 2});
    CHECK(log.find_conflict_by_term(6, 1) == std::pair<keel::kv::Index, Term>{3, 2});
}

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
