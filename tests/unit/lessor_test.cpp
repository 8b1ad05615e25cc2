// Tests for kv/lessor.h: grants, keep-alives and revokes applied from the
// log, the TTL errors, each member's own clock (remaining TTLs, expiry
// order, the grace a new leader gives), and leases kept in the store:
// across a reopen, in a snapshot, and refused when their record is damaged.
#include "kv/lessor.h"

#include "tests/unit/mvcc_fixture.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;
using namespace std::chrono_literals;
using keel::testing::get;
using keel::testing::open_memory_store;
using keel::testing::put;

namespace {

using TimePoint = Lessor::TimePoint;

/// A fixed point to count from (the clock is never read).
const TimePoint kStart = TimePoint(1000h);

std::unique_ptr<Lessor> open_lessor(MvccStore& store, TimePoint now = kStart,
                                    int64_t minimum_ttl = 1) {
    auto lessor = Lessor::open(store, now, minimum_ttl);
    REQUIRE_MESSAGE(lessor, (lessor ? std::string() : lessor.error().to_string()));
    return std::move(*lessor);
}

void grant(Lessor& lessor, int64_t id, int64_t ttl, TimePoint now = kStart, kv::Index applied = 0) {
    auto granted = lessor.grant(id, ttl, applied, now);
    REQUIRE_MESSAGE(granted, (granted ? std::string() : granted.error().to_string()));
}

LeaseStatus status(const Lessor& lessor, int64_t id, TimePoint now,
                   LeaseKeys keys = LeaseKeys::Omit) {
    auto found = lessor.time_to_live(id, now, keys);
    REQUIRE_MESSAGE(found, (found ? std::string() : found.error().to_string()));
    return std::move(*found);
}

} // namespace

TEST_CASE("a granted lease counts down on the member's clock and a keep-alive restarts it") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 7, 10);
    CHECK(lessor->exists(7));
    CHECK_FALSE(lessor->exists(8));
    CHECK(status(*lessor, 7, kStart).remaining_ttl == 10);
    CHECK(status(*lessor, 7, kStart + 2500ms).remaining_ttl == 8); // rounded up
    CHECK(status(*lessor, 7, kStart + 2500ms).granted_ttl == 10);

    auto renewed = lessor->renew(7, 0, kStart + 9s);
    REQUIRE(renewed);
    CHECK(*renewed == 10);
    CHECK(status(*lessor, 7, kStart + 11s).remaining_ttl == 8);
    CHECK(status(*lessor, 7, kStart + 19s).remaining_ttl == -1);
}

TEST_CASE("grants are refused for a taken id, a TTL beyond etcd's maximum and id 0") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 1, 5);
    auto again = lessor->grant(1, 5, 0, kStart);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == int(ErrorCode::LeaseExists));
    CHECK(again.error().root() == "etcdserver: lease already exists");
    auto huge = lessor->grant(2, kMaxLeaseTtl + 1, 0, kStart);
    REQUIRE_FALSE(huge);
    CHECK(huge.error().code() == int(ErrorCode::LeaseTtlTooLarge));
    CHECK(lessor->grant(3, kMaxLeaseTtl, 0, kStart));
    CHECK(lessor->grant(0, 5, 0, kStart).error().code() == int(ErrorCode::LeaseNotFound));
    CHECK(lessor->leases() == std::vector<int64_t>{1, 3});
}

TEST_CASE("a TTL below the minimum is raised to it, for every member alike") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store, kStart, 2);
    grant(*lessor, 1, 0);
    grant(*lessor, 2, -5);
    CHECK(status(*lessor, 1, kStart).granted_ttl == 2);
    CHECK(status(*lessor, 2, kStart).granted_ttl == 2);
}

TEST_CASE("keep-alives, revokes and lookups of a missing lease are LeaseNotFound") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    CHECK(lessor->renew(4, 0, kStart).error().code() == int(ErrorCode::LeaseNotFound));
    CHECK(lessor->revoke(4, 0).error().code() == int(ErrorCode::LeaseNotFound));
    auto missing = lessor->time_to_live(4, kStart, LeaseKeys::Omit);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == int(ErrorCode::LeaseNotFound));
    CHECK(missing.error().root() == "etcdserver: requested lease not found");
}

TEST_CASE("revoking a lease deletes its keys in one revision and forgets it on disk") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 9, 60, kStart, 1);
    put(*store, "b", "1", 9);
    put(*store, "a", "1", 9);
    put(*store, "c", "1");
    CHECK(status(*lessor, 9, kStart, LeaseKeys::Include).keys ==
          std::vector<std::string>{"a", "b"});
    CHECK(status(*lessor, 9, kStart).keys.empty());

    auto revoked = lessor->revoke(9, 20);
    REQUIRE(revoked);
    CHECK(revoked->response.deleted == 2);
    CHECK(revoked->response.revision == 5);
    CHECK(revoked->events.size() == 2);
    CHECK(store->revision() == 5);
    CHECK(store->consistent_index() == 20);
    CHECK_FALSE(get(*store, "a"));
    CHECK(get(*store, "c"));
    CHECK_FALSE(lessor->exists(9));
    CHECK_FALSE(open_lessor(*store)->exists(9));
}

TEST_CASE("grants are committed with their log index and survive a reopen at full TTL") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 5, 30, kStart, 12);
    grant(*lessor, -3, 40, kStart, 13); // any non-zero id, as etcd allows
    CHECK(store->consistent_index() == 13);
    REQUIRE(lessor->renew(5, 14, kStart + 1s));
    CHECK(store->consistent_index() == 14);

    auto later = kStart + 25s;
    auto reopened = open_lessor(*store, later);
    CHECK(reopened->leases() == std::vector<int64_t>{-3, 5});
    CHECK(status(*reopened, 5, later).remaining_ttl == 30);
    CHECK(status(*reopened, -3, later).granted_ttl == 40);
}

TEST_CASE("leases and their revokes survive closing and reopening the store's file") {
    keel::testing::TempDir dir;
    auto open_store = [&] {
        auto backend = open_lmdb_backend(dir / "kv.lmdb", 64 << 20, LmdbSync::NoMetaSync);
        REQUIRE_MESSAGE(backend, (backend ? std::string() : backend.error().to_string()));
        auto store = MvccStore::open(std::move(*backend));
        REQUIRE_MESSAGE(store, (store ? std::string() : store.error().to_string()));
        return std::move(*store);
    };
    {
        auto store = open_store();
        auto lessor = open_lessor(*store);
        grant(*lessor, 1, 10, kStart, 1);
        grant(*lessor, 2, 20, kStart, 2);
        put(*store, "k", "v", 2);
        REQUIRE(lessor->revoke(2, 4));
    }
    auto store = open_store();
    CHECK(store->consistent_index() == 4);
    auto lessor = open_lessor(*store, kStart + 5s);
    CHECK(lessor->leases() == std::vector<int64_t>{1});
    CHECK(status(*lessor, 1, kStart + 5s).remaining_ttl == 10);
    CHECK_FALSE(get(*store, "k"));
}

TEST_CASE("expired leases come earliest expiry first, at most the limit asked for") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 1, 30);
    grant(*lessor, 2, 10);
    grant(*lessor, 3, 20);
    grant(*lessor, 4, 100);
    CHECK(lessor->expired(kStart + 5s, 10).empty());
    CHECK(lessor->expired(kStart + 10s, 10) == std::vector<int64_t>{2});
    CHECK(lessor->expired(kStart + 31s, 10) == std::vector<int64_t>{2, 3, 1});
    CHECK(lessor->expired(kStart + 31s, 2) == std::vector<int64_t>{2, 3});
    REQUIRE(lessor->renew(2, 0, kStart + 25s));
    CHECK(lessor->expired(kStart + 31s, 10) == std::vector<int64_t>{3, 1});
    REQUIRE(lessor->revoke(3, 0));
    CHECK(lessor->expired(kStart + 31s, 10) == std::vector<int64_t>{1});
}

TEST_CASE("a new leader keeps the remaining TTLs and only tops up those below the grace") {
    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 1, 100);
    grant(*lessor, 2, 10);
    TimePoint promoted = kStart + 8s;
    lessor->on_promote(promoted, 5000ms);
    CHECK(status(*lessor, 1, promoted).remaining_ttl == 92); // not reset to 100
    CHECK(status(*lessor, 2, promoted).remaining_ttl == 5);  // 2 left, raised to 5
    CHECK(lessor->expired(promoted + 4s, 10).empty());
    CHECK(lessor->expired(promoted + 5s, 10) == std::vector<int64_t>{2});
}

TEST_CASE("two members with different clocks hold the same replicated lease state") {
    auto first = open_memory_store();
    auto second = open_memory_store();
    auto lessor_first = open_lessor(*first, kStart);
    auto lessor_second = open_lessor(*second, kStart + 3s);
    for (auto [lessor, now] :
         {std::pair{lessor_first.get(), kStart}, std::pair{lessor_second.get(), kStart + 3s}}) {
        grant(*lessor, 1, 10, now, 1);
        grant(*lessor, 2, 20, now, 2);
        REQUIRE(lessor->renew(1, 3, now + 1s));
        REQUIRE(lessor->revoke(2, 4));
    }
    CHECK(*first->snapshot() == *second->snapshot());
    CHECK(status(*lessor_first, 1, kStart + 6s).remaining_ttl == 5);
    CHECK(status(*lessor_second, 1, kStart + 6s).remaining_ttl == 8);
}

TEST_CASE("after a snapshot restore known leases keep their clock and the snapshot's appear") {
    auto leader_store = open_memory_store();
    auto leader = open_lessor(*leader_store);
    grant(*leader, 1, 10);
    grant(*leader, 2, 50);
    auto snapshot = leader_store->snapshot();
    REQUIRE(snapshot);

    auto store = open_memory_store();
    auto lessor = open_lessor(*store);
    grant(*lessor, 1, 10);
    grant(*lessor, 3, 10); // revoked in the snapshot's history
    REQUIRE(store->restore(*snapshot));
    TimePoint later = kStart + 4s;
    REQUIRE(lessor->reload(later));
    CHECK(lessor->leases() == std::vector<int64_t>{1, 2});
    CHECK(status(*lessor, 1, later).remaining_ttl == 6);
    CHECK(status(*lessor, 2, later).remaining_ttl == 50);
}

TEST_CASE("a damaged lease record makes opening the leases fail, naming it") {
    auto store = open_memory_store();
    REQUIRE(store->put_aux("lease/00000000000000zz", std::string(8, '\0')));
    auto bad_name = Lessor::open(*store, kStart);
    REQUIRE_FALSE(bad_name);
    CHECK(bad_name.error().to_string().find("lease/00000000000000zz") != std::string::npos);

    auto other = open_memory_store();
    REQUIRE(other->put_aux("lease/0000000000000001", "short"));
    auto bad_value = Lessor::open(*other, kStart);
    REQUIRE_FALSE(bad_value);
    CHECK(bad_value.error().to_string().find("lease 1") != std::string::npos);

    auto zero = open_memory_store();
    REQUIRE(zero->put_aux("lease/0000000000000000", std::string(8, '\x01')));
    CHECK_FALSE(Lessor::open(*zero, kStart));
}
