// Tests for the MVCC store's write path (kv/mvcc_write.cpp): sub-revisions
// and events in the order of the changes, a key moving between leases, and
// a backend commit that fails leaving the store exactly as it was.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::get;
using keel::testing::put;
using keel::testing::put_op;

namespace {

/// The memory backend, with commits that fail while `fail` is set.
class FlakyBackend final : public Backend {
public:
    explicit FlakyBackend(bool& fail) : m_fail(fail), m_inner(make_memory_backend()) {}
    Result<std::optional<std::string>> get(std::string_view key) const override {
        return m_inner->get(key);
    }
    Result<void> scan(std::string_view from, std::string_view to,
                      const ScanVisitor& visit) const override {
        return m_inner->scan(from, to, visit);
    }
    Result<void> commit(std::span<const BackendWrite> writes) override {
        if (m_fail)
            return errno_error(EIO, "commit");
        return m_inner->commit(writes);
    }

private:
    bool& m_fail;
    std::unique_ptr<Backend> m_inner;
};

std::unique_ptr<MvccStore> open_flaky_store(bool& fail) {
    auto store = MvccStore::open(std::make_unique<FlakyBackend>(fail));
    REQUIRE(store);
    return std::move(*store);
}

} // namespace

TEST_CASE("a txn's events come in the order of its changes, all at its revision") {
    bool fail = false;
    auto store = open_flaky_store(fail);
    put(*store, "z", "1");
    TxnRequest txn;
    DeleteRangeRequest remove;
    remove.key = "z";
    txn.success = {put_op("b", "1"), put_op("a", "1"), RequestOp{remove}};
    auto written = store->txn(txn);
    REQUIRE(written);
    REQUIRE(written->events.size() == 3);
    CHECK(written->events[0].kv.key == "b");
    CHECK(written->events[1].kv.key == "a");
    CHECK(written->events[2].kv.key == "z");
    for (const kv::Event& event : written->events)
        CHECK(event.kv.mod_revision == 3);
}

TEST_CASE("a failed backend commit leaves revision, keys, leases and history as they were") {
    bool fail = false;
    auto store = open_flaky_store(fail);
    put(*store, "a", "1", 5); // 2
    fail = true;
    TxnRequest txn;
    DeleteRangeRequest remove;
    remove.key = "a";
    txn.success = {RequestOp{remove}, put_op("b", "1", 6)};
    auto written = store->txn(txn);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == EIO);
    PutRequest again;
    again.key = "a";
    again.value = "2";
    CHECK_FALSE(store->put(again));
    CHECK_FALSE(store->compact(2));

    fail = false;
    CHECK(store->revision() == 2);
    CHECK(get(*store, "a")->value == "1");
    CHECK(get(*store, "a")->version == 1);
    CHECK_FALSE(get(*store, "b"));
    CHECK(store->keys_of_lease(5) == std::vector<std::string>{"a"});
    CHECK(store->keys_of_lease(6).empty());
    CHECK(store->compact_revision() == 0);
    CHECK(get(*store, "a", 2));
    CHECK(put(*store, "a", "3").response.revision == 3);
    CHECK(get(*store, "a")->version == 2);
}

TEST_CASE("a put with another lease moves the key; a delete detaches it") {
    bool fail = false;
    auto store = open_flaky_store(fail);
    put(*store, "k", "1", 5);
    put(*store, "k", "2", 6);
    CHECK(store->keys_of_lease(5).empty());
    CHECK(store->keys_of_lease(6) == std::vector<std::string>{"k"});
    put(*store, "k", "3");
    CHECK(store->keys_of_lease(6).empty());
}
