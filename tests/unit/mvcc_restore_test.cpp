// Tests for MvccStore::snapshot() and restore() (kv/mvcc_restore.cpp): a
// restored store is the same store, and a damaged snapshot changes nothing.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::get;
using keel::testing::open_memory_store;
using keel::testing::put;
using keel::testing::remove;

TEST_CASE("a snapshot restored into another store gives the same store") {
    auto source = open_memory_store();
    put(*source, "a", "1", 3);
    put(*source, "b", "2");
    remove(*source, "b");
    REQUIRE(source->compact(3));
    PutRequest request;
    request.key = "c";
    request.value = "3";
    REQUIRE(source->put(request, 40));
    auto snapshot = source->snapshot();
    REQUIRE(snapshot);

    auto target = open_memory_store();
    put(*target, "zzz", "gone after restore");
    REQUIRE(target->restore(*snapshot));
    CHECK(target->revision() == source->revision());
    CHECK(target->compact_revision() == 3);
    CHECK(target->consistent_index() == 40);
    CHECK_FALSE(get(*target, "zzz"));
    CHECK(get(*target, "a")->lease == 3);
    CHECK(target->keys_of_lease(3) == std::vector<std::string>{"a"});
    CHECK(target->hash_kv(0)->hash == source->hash_kv(0)->hash);
}

TEST_CASE("a damaged snapshot is refused and the store stays as it was") {
    auto source = open_memory_store();
    put(*source, "a", "1");
    auto snapshot = source->snapshot();
    REQUIRE(snapshot);
    std::string damaged = *snapshot;
    damaged[damaged.size() / 2] ^= 0x40;

    auto target = open_memory_store();
    put(*target, "keep", "me");
    auto restored = target->restore(damaged);
    REQUIRE_FALSE(restored);
    CHECK(restored.error().root().find("MVCC snapshot") != std::string::npos);
    CHECK(get(*target, "keep"));
}
