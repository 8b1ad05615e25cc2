// Tests for kv/key_index.h: which revision of a key a read at a store
// revision sees, and what compaction drops and keeps.
#include "kv/key_index.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

/// put@2, put@3, delete@4, put@6: two lives.
KeyHistory two_lives() {
    KeyHistory history;
    history.put({2, 0}, 2, 1);
    history.put({3, 0}, 2, 2);
    history.tombstone({4, 0});
    history.put({6, 1}, 6, 1);
    return history;
}

} // namespace

TEST_CASE("a key's visible revision follows its puts and is absent after its delete") {
    KeyHistory history = two_lives();
    CHECK_FALSE(history.visible_at(1));
    CHECK(history.visible_at(2) == Revision{2, 0});
    CHECK(history.visible_at(3) == Revision{3, 0});
    CHECK_FALSE(history.visible_at(4));
    CHECK_FALSE(history.visible_at(5));
    CHECK(history.visible_at(6) == Revision{6, 1});
    CHECK(history.visible_at(100) == Revision{6, 1});
    REQUIRE(history.current());
    CHECK(history.current()->created == 6);
}

TEST_CASE("compacting inside a life keeps the latest revision at or below the point") {
    KeyHistory history = two_lives();
    std::vector<RevisionRecord> dropped;
    history.compact(3, dropped);
    REQUIRE(dropped.size() == 1);
    CHECK(dropped[0].revision == Revision{2, 0});
    CHECK(history.visible_at(3) == Revision{3, 0});
    CHECK(history.visible_at(6) == Revision{6, 1});
}

TEST_CASE("compacting past a delete drops the whole ended life, delete included") {
    KeyHistory history = two_lives();
    std::vector<RevisionRecord> dropped;
    history.compact(5, dropped);
    REQUIRE(dropped.size() == 3);
    CHECK(dropped[2].kind == RecordKind::Tombstone);
    CHECK(dropped[2].revision == Revision{4, 0});
    CHECK_FALSE(history.visible_at(5));
    CHECK(history.generations().size() == 1);
    CHECK_FALSE(history.empty());
}

TEST_CASE("a deleted key compacted past its delete leaves nothing") {
    KeyHistory history;
    history.put({2, 0}, 2, 1);
    history.tombstone({3, 0});
    std::vector<RevisionRecord> dropped;
    history.compact(2, dropped);
    CHECK_FALSE(history.empty()); // still readable at 2
    history.compact(3, dropped);
    CHECK(history.empty());
}

TEST_CASE("a range visits the key alone, everything from it, or the half-open interval") {
    KeyIndex index;
    for (const char* key : {"a", "b", "ba", "c"})
        index[key].put({2, 0}, 2, 1);
    auto visited = [&](std::string key, std::string end) {
        std::vector<std::string> out;
        for_each_in_range(index, key, end,
                          [&](const std::string& k, const KeyHistory&) { out.push_back(k); });
        return out;
    };
    CHECK(visited("b", "") == std::vector<std::string>{"b"});
    CHECK(visited("b", std::string("\0", 1)) == std::vector<std::string>{"b", "ba", "c"});
    CHECK(visited("a", "c") == std::vector<std::string>{"a", "b", "ba"});
    CHECK(visited("x", "").empty());
}
