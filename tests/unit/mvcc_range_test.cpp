// Tests for the MVCC store's range reads (kv/mvcc_range.cpp) with etcd's
// semantics: the three range_end forms, limit with more and count, sorting,
// keys_only, count_only and the min/max revision filters.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::keys;
using keel::testing::open_memory_store;
using keel::testing::put;
using keel::testing::read;
using keel::testing::remove;

namespace {

const std::string kAllKeys("\0", 1);

std::unique_ptr<MvccStore> store_of_abc() {
    auto store = open_memory_store();
    put(*store, "b", "2");  // 2
    put(*store, "a", "3");  // 3
    put(*store, "c", "1");  // 4
    put(*store, "b", "9");  // 5
    put(*store, "ca", "0"); // 6
    return store;
}

RangeRequest range(std::string key, std::string range_end) {
    RangeRequest request;
    request.key = std::move(key);
    request.range_end = std::move(range_end);
    return request;
}

} // namespace

TEST_CASE("an empty range_end reads the key alone") {
    auto store = store_of_abc();
    CHECK(keys(read(*store, range("c", ""))) == std::vector<std::string>{"c"});
}

TEST_CASE("a range_end of \\0 reads every key from the key on") {
    auto store = store_of_abc();
    CHECK(keys(read(*store, range("b", kAllKeys))) == std::vector<std::string>{"b", "c", "ca"});
    CHECK(read(*store, range(kAllKeys, kAllKeys)).count == 4);
}

TEST_CASE("any other range_end reads the half-open interval, a prefix read included") {
    auto store = store_of_abc();
    CHECK(keys(read(*store, range("a", "c"))) == std::vector<std::string>{"a", "b"});
    CHECK(keys(read(*store, range("c", "d"))) == std::vector<std::string>{"c", "ca"});
}

TEST_CASE("a limit returns the first keys, says there are more and counts them all") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.limit = 2;
    RangeResponse response = read(*store, request);
    CHECK(keys(response) == std::vector<std::string>{"a", "b"});
    CHECK(response.more);
    CHECK(response.count == 4);

    request.limit = 4;
    response = read(*store, request);
    CHECK_FALSE(response.more);
    CHECK(response.kvs.size() == 4);
}

TEST_CASE("deleted keys are neither returned nor counted") {
    auto store = store_of_abc();
    remove(*store, "b");
    RangeResponse response = read(*store, range("a", kAllKeys));
    CHECK(keys(response) == std::vector<std::string>{"a", "c", "ca"});
    CHECK(response.count == 3);
}

TEST_CASE("sorting by value descending orders the whole range before the limit applies") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.sort_order = SortOrder::Descend;
    request.sort_target = SortTarget::Value;
    request.limit = 2;
    RangeResponse response = read(*store, request);
    CHECK(keys(response) == std::vector<std::string>{"b", "a"});
    CHECK(response.more);
    CHECK(response.count == 4);
}

TEST_CASE("a sort target without an order sorts ascending") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.sort_target = SortTarget::Mod;
    CHECK(keys(read(*store, request)) == std::vector<std::string>{"a", "c", "b", "ca"});
    request.sort_target = SortTarget::Create;
    CHECK(keys(read(*store, request)) == std::vector<std::string>{"b", "a", "c", "ca"});
    request.sort_target = SortTarget::Version;
    request.sort_order = SortOrder::Descend;
    CHECK(keys(read(*store, request)).front() == "b");
}

TEST_CASE("sorting by key descending reverses the key order") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.sort_order = SortOrder::Descend;
    CHECK(keys(read(*store, request)) == std::vector<std::string>{"ca", "c", "b", "a"});
}

TEST_CASE("keys_only leaves values out and count_only returns only the count") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.keys_only = true;
    RangeResponse response = read(*store, request);
    REQUIRE(response.kvs.size() == 4);
    CHECK(response.kvs[1].value.empty());
    CHECK(response.kvs[1].mod_revision == 5);

    request = range("a", kAllKeys);
    request.count_only = true;
    request.limit = 1;
    response = read(*store, request);
    CHECK(response.kvs.empty());
    CHECK(response.count == 4);
    CHECK_FALSE(response.more);
}

TEST_CASE("the min and max revision filters drop kvs but not the count") {
    auto store = store_of_abc();
    RangeRequest request = range("a", kAllKeys);
    request.min_mod_revision = 4;
    RangeResponse response = read(*store, request);
    CHECK(keys(response) == std::vector<std::string>{"b", "c", "ca"});
    CHECK(response.count == 4);

    request = range("a", kAllKeys);
    request.max_create_revision = 3;
    CHECK(keys(read(*store, request)) == std::vector<std::string>{"a", "b"});
    request.min_create_revision = 3;
    CHECK(keys(read(*store, request)) == std::vector<std::string>{"a"});
    request = range("a", kAllKeys);
    request.max_mod_revision = 4;
    request.limit = 1;
    response = read(*store, request);
    CHECK(keys(response) == std::vector<std::string>{"a"});
    CHECK(response.more);
}
