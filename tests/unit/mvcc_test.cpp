// Tests for kv/mvcc.h with etcd's semantics: revisions and versions across
// put, delete and recreate, leases, compaction (errors and what survives),
// events with prev_kv and catch-up reads, the history hash, and the
// consistent index. (Snapshots: mvcc_restore_test.cpp; the write path's
// undo: mvcc_write_test.cpp.)
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::get;
using keel::testing::keys;
using keel::testing::open_memory_store;
using keel::testing::put;
using keel::testing::read;
using keel::testing::remove;

TEST_CASE("an empty store is at revision 1 and its first write makes revision 2") {
    auto store = open_memory_store();
    CHECK(store->revision() == 1);
    auto written = put(*store, "a", "1");
    CHECK(written.response.revision == 2);
    CHECK(store->revision() == 2);
}

TEST_CASE("a key's version counts puts and a delete ends its life; recreating starts over") {
    auto store = open_memory_store();
    put(*store, "k", "v1"); // 2
    put(*store, "k", "v2"); // 3
    auto kv = get(*store, "k");
    REQUIRE(kv);
    CHECK(kv->create_revision == 2);
    CHECK(kv->mod_revision == 3);
    CHECK(kv->version == 2);
    CHECK(kv->value == "v2");

    auto deleted = remove(*store, "k"); // 4
    CHECK(deleted.response.deleted == 1);
    CHECK(deleted.response.revision == 4);
    CHECK_FALSE(get(*store, "k"));

    put(*store, "k", "v3"); // 5
    kv = get(*store, "k");
    REQUIRE(kv);
    CHECK(kv->create_revision == 5);
    CHECK(kv->mod_revision == 5);
    CHECK(kv->version == 1);
}

TEST_CASE("a delete that matches nothing makes no revision") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    auto deleted = remove(*store, "b");
    CHECK(deleted.response.deleted == 0);
    CHECK(deleted.response.revision == 2);
    CHECK(deleted.events.empty());
    CHECK(store->revision() == 2);
}

TEST_CASE("a put answers with the previous key-value when asked") {
    auto store = open_memory_store();
    auto first = put(*store, "k", "old");
    CHECK_FALSE(first.response.prev_kv);
    auto second = put(*store, "k", "new");
    REQUIRE(second.response.prev_kv);
    CHECK(second.response.prev_kv->value == "old");
    CHECK(second.response.prev_kv->mod_revision == 2);
}

TEST_CASE("ignore_value and ignore_lease keep the current value and lease") {
    auto store = open_memory_store();
    put(*store, "k", "value", 7);
    PutRequest request;
    request.key = "k";
    request.ignore_value = true;
    request.lease = 9;
    REQUIRE(store->put(request));
    auto kv = get(*store, "k");
    CHECK(kv->value == "value");
    CHECK(kv->lease == 9);

    request = {};
    request.key = "k";
    request.value = "other";
    request.ignore_lease = true;
    REQUIRE(store->put(request));
    kv = get(*store, "k");
    CHECK(kv->value == "other");
    CHECK(kv->lease == 9);
}

TEST_CASE("ignore_value on a missing key is etcd's key-not-found error and changes nothing") {
    auto store = open_memory_store();
    PutRequest request;
    request.key = "missing";
    request.ignore_value = true;
    auto written = store->put(request);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == int(ErrorCode::KeyNotFound));
    CHECK(written.error().root() == "etcdserver: key not found");
    CHECK(store->revision() == 1);
}

TEST_CASE("reads at an old revision see the store as it was then") {
    auto store = open_memory_store();
    put(*store, "k", "v1"); // 2
    put(*store, "k", "v2"); // 3
    remove(*store, "k");    // 4
    put(*store, "k", "v3"); // 5
    CHECK_FALSE(get(*store, "k", 1));
    CHECK(get(*store, "k", 2)->value == "v1");
    CHECK(get(*store, "k", 3)->value == "v2");
    CHECK_FALSE(get(*store, "k", 4));
    CHECK(get(*store, "k", 5)->value == "v3");
    RangeRequest request;
    request.key = "k";
    request.revision = 3;
    CHECK(read(*store, request).revision == 5); // the header revision is the current one
}

TEST_CASE("a read at a future revision is etcd's future-revision error") {
    auto store = open_memory_store();
    put(*store, "k", "v");
    RangeRequest request;
    request.key = "k";
    request.revision = 3;
    auto response = store->range(request);
    REQUIRE_FALSE(response);
    CHECK(response.error().code() == int(ErrorCode::FutureRevision));
    CHECK(response.error().root() == "mvcc: required revision is a future revision");
}

TEST_CASE("compaction keeps each key's latest value at that revision and refuses older reads") {
    auto store = open_memory_store();
    put(*store, "a", "a1"); // 2
    put(*store, "a", "a2"); // 3
    put(*store, "b", "b1"); // 4
    remove(*store, "b");    // 5
    put(*store, "c", "c1"); // 6
    put(*store, "a", "a3"); // 7
    REQUIRE(store->compact(6));
    CHECK(store->compact_revision() == 6);

    CHECK(get(*store, "a", 6)->value == "a2");
    CHECK_FALSE(get(*store, "b", 6));
    CHECK(get(*store, "c", 6)->value == "c1");
    CHECK(get(*store, "a")->value == "a3");
    CHECK(get(*store, "a")->version == 3);

    RangeRequest request;
    request.key = "a";
    request.revision = 5;
    auto old = store->range(request);
    REQUIRE_FALSE(old);
    CHECK(old.error().code() == int(ErrorCode::RevisionCompacted));
    CHECK(old.error().root() == "mvcc: required revision has been compacted");
}

TEST_CASE("compacting at or below the compaction revision or in the future is refused") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    put(*store, "a", "2");
    REQUIRE(store->compact(2));
    auto again = store->compact(2);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == int(ErrorCode::RevisionCompacted));
    auto future = store->compact(4);
    REQUIRE_FALSE(future);
    CHECK(future.error().code() == int(ErrorCode::FutureRevision));
    CHECK(store->compact(3));
}

TEST_CASE("a put's event carries the new key-value and the previous one") {
    auto store = open_memory_store();
    put(*store, "k", "v1");
    auto written = put(*store, "k", "v2");
    REQUIRE(written.events.size() == 1);
    const kv::Event& event = written.events[0];
    CHECK(event.type == kv::EventType::Put);
    CHECK(event.kv.value == "v2");
    CHECK(event.kv.version == 2);
    REQUIRE(event.prev_kv);
    CHECK(event.prev_kv->value == "v1");
}

TEST_CASE("a delete's event carries the key at the delete's revision and the deleted value") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    put(*store, "b", "2");
    auto deleted = remove(*store, "a", "c");
    REQUIRE(deleted.events.size() == 2);
    for (const kv::Event& event : deleted.events) {
        CHECK(event.type == kv::EventType::Delete);
        CHECK(event.kv.mod_revision == 4);
        CHECK(event.kv.version == 0);
        CHECK(event.kv.create_revision == 0);
        CHECK(event.kv.value.empty());
        REQUIRE(event.prev_kv);
    }
    CHECK(deleted.events[0].kv.key == "a");
    CHECK(deleted.events[1].prev_kv->value == "2");
    CHECK(deleted.response.prev_kvs.size() == 2);
}

TEST_CASE("a watcher catching up gets the events of its range from its start revision") {
    auto store = open_memory_store();
    put(*store, "a", "1"); // 2
    put(*store, "b", "1"); // 3
    put(*store, "a", "2"); // 4
    remove(*store, "a");   // 5
    auto events = store->events_since("a", {}, 3, PrevKv::Include);
    REQUIRE(events);
    REQUIRE(events->size() == 2);
    CHECK((*events)[0].type == kv::EventType::Put);
    CHECK((*events)[0].kv.mod_revision == 4);
    CHECK((*events)[0].prev_kv->value == "1");
    CHECK((*events)[1].type == kv::EventType::Delete);
    CHECK((*events)[1].kv.mod_revision == 5);
    CHECK((*events)[1].prev_kv->value == "2");

    auto all = store->events_since("a", std::string("\0", 1), 1, PrevKv::Omit);
    REQUIRE(all);
    CHECK(all->size() == 4);
    CHECK_FALSE((*all)[2].prev_kv);
}

TEST_CASE("catching up from below the compaction revision is the compacted error") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    put(*store, "a", "2");
    put(*store, "a", "3");
    REQUIRE(store->compact(3));
    auto events = store->events_since("a", {}, 2, PrevKv::Omit);
    REQUIRE_FALSE(events);
    CHECK(events.error().code() == int(ErrorCode::RevisionCompacted));
    CHECK(store->compact_revision() == 3);
    CHECK(store->events_since("a", {}, 3, PrevKv::Omit));
}

TEST_CASE("revoking a lease deletes all of its keys in one revision") {
    auto store = open_memory_store();
    put(*store, "b", "1", 5);
    put(*store, "a", "1", 5);
    put(*store, "c", "1", 6);
    put(*store, "b", "2", 6); // moves b to lease 6
    CHECK(store->keys_of_lease(5) == std::vector<std::string>{"a"});
    CHECK(store->keys_of_lease(6) == std::vector<std::string>{"b", "c"});
    auto revoked = store->delete_keys_of_lease(6);
    REQUIRE(revoked);
    CHECK(revoked->response.deleted == 2);
    CHECK(revoked->response.revision == 6);
    REQUIRE(revoked->events.size() == 2);
    CHECK(revoked->events[0].kv.key == "b");
    CHECK(revoked->events[1].kv.key == "c");
    CHECK(store->keys_of_lease(6).empty());
    CHECK(get(*store, "a"));
}

TEST_CASE("two stores fed the same operations have the same hash; a different one differs") {
    auto first = open_memory_store();
    auto second = open_memory_store();
    for (auto* store : {first.get(), second.get()}) {
        put(*store, "a", "1");
        put(*store, "b", "2");
        remove(*store, "a");
        REQUIRE(store->compact(3));
    }
    auto hash_first = first->hash_kv(0);
    auto hash_second = second->hash_kv(0);
    REQUIRE(hash_first);
    REQUIRE(hash_second);
    CHECK(hash_first->hash == hash_second->hash);
    CHECK(hash_first->compact_revision == 3);
    CHECK(hash_first->hash_revision == 4);

    auto at_compaction = first->hash_kv(3);
    REQUIRE_FALSE(at_compaction);
    CHECK(at_compaction.error().code() == int(ErrorCode::RevisionCompacted));
    CHECK(first->hash_kv(5).error().code() == int(ErrorCode::FutureRevision));

    put(*second, "c", "3");
    CHECK(second->hash_kv(4)->hash == hash_first->hash); // history up to 4 is the same
    CHECK(second->hash_kv(0)->hash != hash_first->hash);
    put(*first, "c", "4");
    CHECK(second->hash_kv(0)->hash != first->hash_kv(0)->hash);
}

TEST_CASE("the consistent index is recorded with the write of its entry") {
    auto store = open_memory_store();
    PutRequest request;
    request.key = "k";
    request.value = "v";
    REQUIRE(store->put(request, 11));
    CHECK(store->consistent_index() == 11);
    store->mark_applied(12);
    CHECK(store->consistent_index() == 12);
}

TEST_CASE("a catch-up read stops at the end revision it is given") {
    auto store = open_memory_store();
    put(*store, "a", "1"); // 2
    put(*store, "a", "2"); // 3
    put(*store, "a", "3"); // 4
    auto events = store->events_since("a", {}, 2, PrevKv::Omit, 3);
    REQUIRE(events);
    REQUIRE(events->size() == 2);
    CHECK(events->back().kv.mod_revision == 3);
}

namespace {

/// The aux records under `prefix`, as "name=value" lines.
std::vector<std::string> aux_records(const MvccStore& store, std::string_view prefix) {
    std::vector<std::string> out;
    auto scanned = store.scan_aux(prefix, [&](std::string_view name, std::string_view value) {
        out.push_back(std::string(name) + "=" + std::string(value));
        return ScanStep::Continue;
    });
    REQUIRE_MESSAGE(scanned, (scanned ? std::string() : scanned.error().to_string()));
    return out;
}

} // namespace

TEST_CASE("aux records are kept beside the keys, never seen by ranges, events or the hash") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    auto hash_before = store->hash_kv(0);
    REQUIRE(hash_before);
    REQUIRE(store->put_aux("lease/2", "two", 7));
    REQUIRE(store->put_aux("lease/1", "one", 8));
    REQUIRE(store->put_aux("other", "x", 9));
    CHECK(store->revision() == 2);
    CHECK(store->consistent_index() == 9);
    CHECK(aux_records(*store, "lease/") == std::vector<std::string>{"lease/1=one", "lease/2=two"});
    CHECK(aux_records(*store, "").size() == 3);

    RangeRequest everything;
    everything.key = std::string("\0", 1);
    everything.range_end = std::string("\0", 1);
    CHECK(keys(read(*store, everything)) == std::vector<std::string>{"a"});
    auto events = store->events_since("", std::string("\0", 1), 1, PrevKv::Omit);
    REQUIRE(events);
    CHECK(events->size() == 1);
    CHECK(store->hash_kv(0)->hash == hash_before->hash);

    REQUIRE(store->put_aux("lease/1", std::nullopt));
    CHECK(aux_records(*store, "lease/") == std::vector<std::string>{"lease/2=two"});
}

TEST_CASE("a prefix scan of aux records ends at the names that no longer share the prefix") {
    auto store = open_memory_store();
    std::string high(2, '\xff');
    REQUIRE(store->put_aux("p\xff", "1"));
    REQUIRE(store->put_aux("p\xff\x01", "2"));
    REQUIRE(store->put_aux("q", "3"));
    REQUIRE(store->put_aux(high, "4"));
    CHECK(aux_records(*store, "p\xff").size() == 2);
    CHECK(aux_records(*store, "p").size() == 2);
    CHECK(aux_records(*store, high).size() == 1);
}

TEST_CASE("aux records travel in the store's snapshot and are replaced by a restore") {
    auto source = open_memory_store();
    put(*source, "a", "1");
    REQUIRE(source->put_aux("lease/1", "one", 3));
    auto snapshot = source->snapshot();
    REQUIRE(snapshot);

    auto target = open_memory_store();
    REQUIRE(target->put_aux("lease/9", "stale"));
    REQUIRE(target->restore(*snapshot));
    CHECK(aux_records(*target, "") == std::vector<std::string>{"lease/1=one"});
    CHECK(get(*target, "a")->value == "1");
    CHECK(target->consistent_index() == 3);
}

TEST_CASE("a lease's keys and its aux record are deleted in one commit") {
    auto store = open_memory_store();
    put(*store, "a", "1", 5);
    REQUIRE(store->put_aux("lease/5", "ttl"));
    REQUIRE(store->put_aux("lease/6", "ttl"));
    std::vector<AuxWrite> drop{{std::nullopt, "lease/5"}};
    auto revoked = store->delete_keys_of_lease(5, 10, drop);
    REQUIRE(revoked);
    CHECK(revoked->response.deleted == 1);
    CHECK(store->revision() == 3);
    CHECK(store->consistent_index() == 10);
    CHECK(aux_records(*store, "lease/") == std::vector<std::string>{"lease/6=ttl"});

    // A lease with no keys: no revision, but its record still goes.
    std::vector<AuxWrite> drop_six{{std::nullopt, "lease/6"}};
    auto empty = store->delete_keys_of_lease(6, 11, drop_six);
    REQUIRE(empty);
    CHECK(empty->response.deleted == 0);
    CHECK(store->revision() == 3);
    CHECK(store->consistent_index() == 11);
    CHECK(aux_records(*store, "lease/").empty());
}
