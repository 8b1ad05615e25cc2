// Tests for the MVCC store's transactions (kv/mvcc_txn.cpp) with etcd's
// semantics: compares of each target and relation, over a key and a range,
// missing keys, nesting, one revision per txn, none for a read-only txn,
// the duplicate-key refusal, and all-or-nothing on an error.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::delete_op;
using keel::testing::get;
using keel::testing::open_memory_store;
using keel::testing::put;
using keel::testing::put_op;
using keel::testing::range_op;

namespace {

kv::Compare compare_number(std::string key, CompareTarget target, CompareResult result,
                           int64_t number) {
    kv::Compare compare;
    compare.key = std::move(key);
    compare.target = target;
    compare.result = result;
    compare.number = number;
    return compare;
}

kv::Compare compare_value(std::string key, CompareResult result, std::string value) {
    kv::Compare compare;
    compare.key = std::move(key);
    compare.target = CompareTarget::Value;
    compare.result = result;
    compare.value = std::move(value);
    return compare;
}

/// Whether a txn with one compare takes its success branch.
bool holds(MvccStore& store, kv::Compare compare) {
    TxnRequest txn;
    txn.compare.push_back(std::move(compare));
    auto written = store.txn(txn);
    REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
    return written->response.succeeded;
}

} // namespace

TEST_CASE("txn compares on version, create, mod and lease hold as etcd's do") {
    auto store = open_memory_store();
    put(*store, "k", "v", 4); // 2
    put(*store, "k", "w", 4); // 3
    CHECK(holds(*store, compare_number("k", CompareTarget::Version, CompareResult::Equal, 2)));
    CHECK(holds(*store, compare_number("k", CompareTarget::Version, CompareResult::Greater, 1)));
    CHECK_FALSE(holds(*store, compare_number("k", CompareTarget::Version, CompareResult::Less, 2)));
    CHECK(holds(*store, compare_number("k", CompareTarget::Create, CompareResult::Equal, 2)));
    CHECK(holds(*store, compare_number("k", CompareTarget::Mod, CompareResult::NotEqual, 2)));
    CHECK(holds(*store, compare_number("k", CompareTarget::Mod, CompareResult::Less, 4)));
    CHECK(holds(*store, compare_number("k", CompareTarget::Lease, CompareResult::Equal, 4)));
    CHECK_FALSE(holds(*store, compare_number("k", CompareTarget::Lease, CompareResult::Equal, 0)));
}

TEST_CASE("txn value compares are byte comparisons") {
    auto store = open_memory_store();
    put(*store, "k", "bcd");
    CHECK(holds(*store, compare_value("k", CompareResult::Equal, "bcd")));
    CHECK(holds(*store, compare_value("k", CompareResult::Greater, "bc")));
    CHECK(holds(*store, compare_value("k", CompareResult::Less, "c")));
    CHECK(holds(*store, compare_value("k", CompareResult::NotEqual, "")));
}

TEST_CASE("a missing key compares as zero, but any value compare on it fails") {
    auto store = open_memory_store();
    CHECK(holds(*store, compare_number("nope", CompareTarget::Version, CompareResult::Equal, 0)));
    CHECK(holds(*store, compare_number("nope", CompareTarget::Create, CompareResult::Equal, 0)));
    CHECK_FALSE(holds(*store, compare_value("nope", CompareResult::Equal, "")));
    CHECK_FALSE(holds(*store, compare_value("nope", CompareResult::NotEqual, "x")));
}

TEST_CASE("a compare over a range holds only when every key in it satisfies it") {
    auto store = open_memory_store();
    put(*store, "a1", "x");
    put(*store, "a2", "x");
    put(*store, "a2", "y");
    kv::Compare compare = compare_number("a", CompareTarget::Version, CompareResult::Equal, 1);
    compare.range_end = "b";
    CHECK_FALSE(holds(*store, compare));
    compare.result = CompareResult::Greater;
    compare.number = 0;
    CHECK(holds(*store, compare));
}

TEST_CASE("a txn's writes are one revision with sub-revisions in order") {
    auto store = open_memory_store();
    put(*store, "old", "1"); // 2
    TxnRequest txn;
    txn.success = {put_op("a", "1"), put_op("b", "2"), delete_op("old"), range_op("a")};
    auto written = store->txn(txn);
    REQUIRE(written);
    CHECK(written->response.succeeded);
    CHECK(written->response.revision == 3);
    CHECK(store->revision() == 3);
    CHECK(get(*store, "a")->mod_revision == 3);
    CHECK(get(*store, "b")->mod_revision == 3);
    REQUIRE(written->events.size() == 3);
    CHECK(written->events[2].type == kv::EventType::Delete);
    // A read inside the txn sees its earlier writes.
    auto& range = std::get<RangeResponse>(written->response.responses[3].response);
    REQUIRE(range.kvs.size() == 1);
    CHECK(range.kvs[0].value == "1");
    CHECK(range.revision == 3);
}

TEST_CASE("a read-only txn makes no revision") {
    auto store = open_memory_store();
    put(*store, "a", "1");
    TxnRequest txn;
    txn.success = {range_op("a")};
    auto written = store->txn(txn);
    REQUIRE(written);
    CHECK(written->response.revision == 2);
    CHECK(store->revision() == 2);
    CHECK(written->events.empty());
}

TEST_CASE("the failure branch runs when a compare fails") {
    auto store = open_memory_store();
    put(*store, "k", "v");
    TxnRequest txn;
    txn.compare = {compare_value("k", CompareResult::Equal, "other")};
    txn.success = {put_op("then", "1")};
    txn.failure = {put_op("else", "1")};
    auto written = store->txn(txn);
    REQUIRE(written);
    CHECK_FALSE(written->response.succeeded);
    CHECK(get(*store, "else"));
    CHECK_FALSE(get(*store, "then"));
}

TEST_CASE("nested txns compare against the store as the outer txn began") {
    auto store = open_memory_store();
    put(*store, "k", "v"); // 2
    TxnRequest inner;
    inner.compare = {compare_value("k", CompareResult::Equal, "v")};
    inner.success = {put_op("inner-saw-old", "1")};
    inner.failure = {put_op("inner-saw-new", "1")};
    TxnRequest outer;
    outer.success = {put_op("k", "changed"), RequestOp{inner}};
    auto written = store->txn(outer);
    REQUIRE(written);
    CHECK(get(*store, "inner-saw-old"));
    CHECK_FALSE(get(*store, "inner-saw-new"));
    auto& nested = std::get<TxnResponse>(written->response.responses[1].response);
    CHECK(nested.succeeded);
    CHECK(nested.revision == 3);
    CHECK(store->revision() == 3);
}

TEST_CASE("a txn that puts one key twice is refused as etcd refuses it") {
    auto store = open_memory_store();
    TxnRequest txn;
    txn.success = {put_op("k", "1"), put_op("k", "2")};
    auto written = store->txn(txn);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == int(ErrorCode::DuplicateKey));
    CHECK(written.error().root() == "etcdserver: duplicate key given in txn request");
    CHECK(store->revision() == 1);
}

TEST_CASE("a txn that puts a key it also deletes is refused, even in a nested txn") {
    auto store = open_memory_store();
    TxnRequest txn;
    txn.success = {delete_op("a", "c"), put_op("b", "1")};
    CHECK_FALSE(store->txn(txn));

    TxnRequest inner;
    inner.success = {put_op("b", "1")};
    txn.success = {delete_op("a", "c"), RequestOp{inner}};
    CHECK_FALSE(store->txn(txn));
}

TEST_CASE("the two branches of a nested txn may put the same key") {
    auto store = open_memory_store();
    TxnRequest inner;
    inner.success = {put_op("k", "then")};
    inner.failure = {put_op("k", "else")};
    TxnRequest txn;
    txn.success = {RequestOp{inner}};
    txn.failure = {put_op("k", "outer else")}; // the other top-level branch: checked apart
    auto written = store->txn(txn);
    REQUIRE(written);
    CHECK(get(*store, "k")->value == "then");

    TxnRequest twice;
    twice.success = {RequestOp{inner}, put_op("k", "again")};
    CHECK_FALSE(store->txn(twice));
}

TEST_CASE("a txn whose chosen operation fails changes nothing") {
    auto store = open_memory_store();
    put(*store, "a", "1"); // 2
    PutRequest ignore;
    ignore.key = "missing";
    ignore.ignore_value = true;
    TxnRequest txn;
    txn.success = {put_op("a", "2"), RequestOp{ignore}};
    auto written = store->txn(txn);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == int(ErrorCode::KeyNotFound));
    CHECK(get(*store, "a")->value == "1");
    CHECK(store->revision() == 2);

    RangeRequest future;
    future.key = "a";
    future.revision = 9;
    txn.success = {put_op("a", "3"), RequestOp{future}};
    written = store->txn(txn);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == int(ErrorCode::FutureRevision));
    CHECK(get(*store, "a")->value == "1");
}

TEST_CASE("a txn on a branch not taken may name a missing key with ignore_value") {
    auto store = open_memory_store();
    PutRequest ignore;
    ignore.key = "missing";
    ignore.ignore_value = true;
    TxnRequest txn;
    txn.compare = {compare_number("x", CompareTarget::Version, CompareResult::Equal, 0)};
    txn.success = {put_op("x", "1")};
    txn.failure = {RequestOp{ignore}};
    CHECK(store->txn(txn));
}
