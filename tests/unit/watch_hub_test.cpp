// Tests for kv/watch_hub.h: what a watcher receives for single keys,
// prefixes and ranges, with filters and prev_kv; whole revisions per
// delivery; start revisions in the past and below the compaction; a slow
// sink left behind and caught up; progress; ids; snapshot restores; and a
// randomized run checked against etcd's watch guarantees by the cluster
// tests' checker, plus matching at 10,000 watchers.
#include "kv/watch_hub.h"

#include "tests/cluster/watch_guarantees.h"
#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

using namespace keel;
using namespace keel::kv;
using keel::testing::open_memory_store;

namespace {

/// A sink that records what it is given; `pending` is what it claims to
/// have queued.
class RecordingSink : public WatchSink {
public:
    struct Delivery {
        WatchId id = 0;
        std::vector<kv::Event> events;
        int64_t revision = 0;
    };

    void deliver(WatchId id, std::vector<kv::Event> events, int64_t revision) override {
        deliveries.push_back({id, std::move(events), revision});
    }
    void compacted(WatchId id, int64_t compact_revision) override {
        compactions.emplace_back(id, compact_revision);
    }
    size_t pending_bytes() const override { return pending; }

    /// "KEY@REVISION" (a put) or "-KEY@REVISION" (a delete) for each event
    /// watcher `id` got, in order.
    std::vector<std::string> seen(WatchId id) const {
        std::vector<std::string> out;
        for (const Delivery& delivery : deliveries)
            if (delivery.id == id)
                for (const kv::Event& event : delivery.events)
                    out.push_back((event.type == kv::EventType::Delete ? "-" : "") + event.kv.key +
                                  "@" + std::to_string(event.kv.mod_revision));
        return out;
    }

    std::vector<Delivery> deliveries;
    std::vector<std::pair<WatchId, int64_t>> compactions;
    size_t pending = 0;
};

/// A store and a hub over it, with writes that notify the hub as the
/// server's apply loop does.
struct HubFixture {
    std::unique_ptr<MvccStore> store = open_memory_store();
    WatchHub hub{*store, 1000};

    void put(std::string key, std::string value) {
        PutRequest request;
        request.key = std::move(key);
        request.value = std::move(value);
        request.prev_kv = true;
        auto written = store->put(request);
        REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
        hub.notify(written->events, store->revision());
    }

    void remove(std::string key, std::string range_end = {}) {
        DeleteRangeRequest request;
        request.key = std::move(key);
        request.range_end = std::move(range_end);
        auto written = store->delete_range(request);
        REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
        if (!written->events.empty())
            hub.notify(written->events, store->revision());
    }

    /// Puts every key as one revision (a txn).
    void put_all(std::vector<std::pair<std::string, std::string>> pairs) {
        TxnRequest txn;
        for (auto& [key, value] : pairs) {
            PutRequest request;
            request.key = key;
            request.value = value;
            txn.success.push_back(RequestOp{request});
        }
        auto written = store->txn(txn);
        REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
        hub.notify(written->events, store->revision());
    }

    WatchId watch(RecordingSink& sink, WatchSpec spec) {
        auto id = hub.add(sink, std::move(spec));
        REQUIRE_MESSAGE(id, (id ? std::string() : id.error().to_string()));
        return *id;
    }

    void resume(RecordingSink& sink) {
        auto resumed = hub.resume(sink);
        REQUIRE_MESSAGE(resumed, (resumed ? std::string() : resumed.error().to_string()));
    }
};

WatchSpec spec(std::string key, std::string range_end = {}, int64_t start = 0) {
    WatchSpec watch;
    watch.key = std::move(key);
    watch.range_end = std::move(range_end);
    watch.start_revision = start;
    return watch;
}

const std::string kFromKey("\0", 1);

using Seen = std::vector<std::string>;

} // namespace

TEST_CASE("a key watcher gets the puts and deletes of its key alone, with the header revision") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("a"));
    fixture.put("a", "1");  // 2
    fixture.put("ab", "1"); // 3
    fixture.put("b", "1");  // 4
    fixture.remove("a");    // 5
    CHECK(sink.seen(id) == Seen{"a@2", "-a@5"});
    REQUIRE(sink.deliveries.size() == 2);
    CHECK(sink.deliveries[0].revision == 2);
    CHECK(sink.deliveries[0].events[0].kv.value == "1");
    CHECK(sink.deliveries[1].revision == 5);
}

TEST_CASE("prefix, from-key and range watchers get exactly the keys their ranges hold") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId prefix = fixture.watch(sink, spec("a/", "a0"));
    WatchId from = fixture.watch(sink, spec("b", kFromKey));
    WatchId range = fixture.watch(sink, spec("a/2", "c"));
    WatchId all = fixture.watch(sink, spec("", kFromKey));
    WatchId empty = fixture.watch(sink, spec("z", "a"));
    for (std::string key : {"a", "a/", "a/1", "a/2", "a0", "b", "bb", "c", "d"})
        fixture.put(key, "v");
    CHECK(sink.seen(prefix) == Seen{"a/@3", "a/1@4", "a/2@5"});
    CHECK(sink.seen(from) == Seen{"b@7", "bb@8", "c@9", "d@10"});
    CHECK(sink.seen(range) == Seen{"a/2@5", "a0@6", "b@7", "bb@8"});
    CHECK(sink.seen(all).size() == 9);
    CHECK(sink.seen(empty).empty());
}

TEST_CASE("a prefix of 0xff bytes watches the keys that start with it") {
    HubFixture fixture;
    RecordingSink sink;
    // etcd's prefix end of "a\xff" is "b".
    WatchId id = fixture.watch(sink, spec("a\xff", "b"));
    fixture.put("a\xff", "1");
    fixture.put("a\xff\xff", "1");
    fixture.put("a", "1");
    fixture.put("b", "1");
    CHECK(sink.seen(id).size() == 2);
}

TEST_CASE("filters leave out puts or deletes, and prev_kv is sent only when asked for") {
    HubFixture fixture;
    RecordingSink sink;
    WatchSpec no_put = spec("k");
    no_put.no_put = true;
    WatchSpec no_delete = spec("k");
    no_delete.no_delete = true;
    no_delete.prev_kv = PrevKv::Include;
    WatchId deletes_only = fixture.watch(sink, no_put);
    WatchId puts_only = fixture.watch(sink, no_delete);
    WatchId plain = fixture.watch(sink, spec("k"));
    fixture.put("k", "1");
    fixture.put("k", "2");
    fixture.remove("k");
    CHECK(sink.seen(deletes_only) == Seen{"-k@4"});
    CHECK(sink.seen(puts_only) == Seen{"k@2", "k@3"});
    CHECK(sink.seen(plain).size() == 3);
    for (const auto& delivery : sink.deliveries) {
        const kv::Event& event = delivery.events.front();
        if (delivery.id == puts_only && event.kv.mod_revision == 3) {
            REQUIRE(event.prev_kv);
            CHECK(event.prev_kv->value == "1");
        }
        if (delivery.id == plain)
            CHECK_FALSE(event.prev_kv);
    }
}

TEST_CASE("the events of one revision reach a watcher in one delivery") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("t/", "t0"));
    fixture.put_all({{"t/1", "a"}, {"x", "b"}, {"t/2", "c"}, {"t/3", "d"}});
    REQUIRE(sink.deliveries.size() == 1);
    CHECK(sink.seen(id) == Seen{"t/1@2", "t/2@2", "t/3@2"});
}

TEST_CASE("a watcher from a past revision gets the history on resume, then live events") {
    HubFixture fixture;
    fixture.put("a", "1"); // 2
    fixture.put("b", "1"); // 3
    fixture.put("a", "2"); // 4
    fixture.remove("a");   // 5
    RecordingSink sink;
    WatchSpec past = spec("a", {}, 3);
    past.prev_kv = PrevKv::Include;
    WatchId id = fixture.watch(sink, past);
    CHECK(sink.deliveries.empty()); // "created" goes out first
    CHECK_FALSE(fixture.hub.progress(sink));
    fixture.put("a", "3"); // 6: not live yet, comes with the catch-up
    CHECK(sink.deliveries.empty());
    fixture.resume(sink);
    CHECK(sink.seen(id) == Seen{"a@4", "-a@5", "a@6"});
    REQUIRE(sink.deliveries[0].events[0].prev_kv);
    CHECK(sink.deliveries[0].events[0].prev_kv->value == "1");
    CHECK(sink.deliveries[0].revision == 6);
    CHECK(fixture.hub.progress(sink) == 6);
    fixture.put("a", "4");
    CHECK(sink.seen(id).back() == "a@7");
    CHECK(sink.seen(id).size() == 4);
}

TEST_CASE("a long catch-up comes in bounded deliveries of whole revisions, with no gap") {
    HubFixture fixture;
    for (int i = 0; i < 120; ++i)
        fixture.put_all({{"p/a", std::to_string(i)}, {"p/b", std::to_string(i)}});
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("p/", "p0", 1));
    fixture.resume(sink);
    CHECK(sink.deliveries.size() >= 2);
    int64_t next = 2;
    for (const auto& delivery : sink.deliveries) {
        CHECK(delivery.id == id);
        REQUIRE(delivery.events.size() % 2 == 0);
        for (size_t at = 0; at < delivery.events.size(); at += 2) {
            CHECK(delivery.events[at].kv.mod_revision == next);
            CHECK(delivery.events[at + 1].kv.mod_revision == next);
            ++next;
        }
    }
    CHECK(next == 122);
}

TEST_CASE("a watcher whose start was compacted away is cancelled with the compact revision") {
    HubFixture fixture;
    for (int i = 0; i < 5; ++i)
        fixture.put("k", std::to_string(i)); // 2..6
    REQUIRE(fixture.store->compact(4));
    RecordingSink sink;
    WatchId gone = fixture.watch(sink, spec("k", {}, 3));
    WatchId kept = fixture.watch(sink, spec("k", {}, 4)); // etcd allows the compaction revision
    fixture.resume(sink);
    CHECK(sink.compactions == std::vector<std::pair<WatchId, int64_t>>{{gone, 4}});
    CHECK(sink.seen(gone).empty());
    CHECK(sink.seen(kept) == Seen{"k@4", "k@5", "k@6"}); // the kept revision too
    CHECK(fixture.hub.size() == 1);
}

TEST_CASE("a watcher from a future revision gets events from that revision on") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("k", {}, 4));
    fixture.put("k", "1"); // 2
    fixture.put("k", "2"); // 3
    fixture.put("k", "3"); // 4
    CHECK(sink.seen(id) == Seen{"k@4"});
}

TEST_CASE("a slow sink stops getting live events and catches up exactly once when it drains") {
    HubFixture fixture;
    RecordingSink slow;
    RecordingSink fast;
    WatchId slow_id = fixture.watch(slow, spec("k"));
    WatchId quiet_id = fixture.watch(slow, spec("q"));
    WatchId fast_id = fixture.watch(fast, spec("k"));
    fixture.put("k", "1"); // 2
    slow.pending = 5000;
    fixture.put("k", "2"); // 3
    fixture.put("k", "3"); // 4
    CHECK(slow.seen(slow_id) == Seen{"k@2"});
    CHECK(fast.seen(fast_id) == Seen{"k@2", "k@3", "k@4"});
    CHECK(fixture.hub.behind(slow) == 2);
    CHECK_FALSE(fixture.hub.progress(slow));

    fixture.resume(slow); // still full: nothing moves
    CHECK(slow.seen(slow_id).size() == 1);

    slow.pending = 0;
    fixture.put("q", "1"); // 5: the sink is behind, so not live
    CHECK(slow.seen(quiet_id).empty());
    fixture.resume(slow);
    CHECK(slow.seen(slow_id) == Seen{"k@2", "k@3", "k@4"});
    CHECK(slow.seen(quiet_id) == Seen{"q@5"});
    CHECK(fixture.hub.behind(slow) == 0);
    CHECK(fixture.hub.progress(slow) == 5);
    fixture.put("k", "4");
    CHECK(slow.seen(slow_id).back() == "k@6");
}

TEST_CASE("a sink that stays slow past a compaction gets its watchers cancelled, not a gap") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("k"));
    fixture.put("k", "1"); // 2
    sink.pending = 5000;
    fixture.put("k", "2"); // 3
    fixture.put("k", "3"); // 4
    REQUIRE(fixture.store->compact(4));
    sink.pending = 0;
    fixture.resume(sink);
    CHECK(sink.compactions == std::vector<std::pair<WatchId, int64_t>>{{id, 4}});
    CHECK(sink.seen(id) == Seen{"k@2"});
    CHECK(fixture.hub.size() == 0);
}

TEST_CASE("no event at or below a reported progress revision is sent after it") {
    HubFixture fixture;
    RecordingSink sink;
    WatchId id = fixture.watch(sink, spec("k"));
    fixture.put("k", "1");
    fixture.put("x", "1");
    auto progress = fixture.hub.progress(sink);
    REQUIRE(progress);
    CHECK(*progress == 3);
    CHECK(fixture.hub.progress(sink, id) == 3);
    CHECK_FALSE(fixture.hub.progress(sink, id + 1));
    size_t before = sink.deliveries.size();
    fixture.put("k", "2");
    REQUIRE(sink.deliveries.size() == before + 1);
    CHECK(sink.deliveries.back().events.front().kv.mod_revision > *progress);
}

TEST_CASE("watch ids count up per sink from 0, skip requested ones and refuse duplicates") {
    HubFixture fixture;
    RecordingSink first;
    RecordingSink second;
    CHECK(fixture.watch(first, spec("a")) == 0);
    WatchSpec chosen = spec("a");
    chosen.id = 1;
    CHECK(fixture.watch(first, chosen) == 1);
    CHECK(fixture.watch(first, spec("a")) == 2);
    CHECK(fixture.watch(second, spec("a")) == 0);
    auto duplicate = fixture.hub.add(first, chosen);
    REQUIRE_FALSE(duplicate);
    CHECK(duplicate.error().root() == "mvcc: duplicate watch ID provided on the WatchStream");
    CHECK(fixture.hub.size() == 4);
}

TEST_CASE("a cancelled watcher or a removed sink gets nothing more") {
    HubFixture fixture;
    RecordingSink first;
    RecordingSink second;
    WatchId cancelled = fixture.watch(first, spec("k"));
    WatchId kept = fixture.watch(first, spec("k"));
    fixture.watch(second, spec("k"));
    fixture.hub.cancel(first, cancelled);
    fixture.hub.cancel(first, 99); // unknown: nothing happens
    fixture.hub.remove_sink(second);
    fixture.put("k", "1");
    CHECK(first.seen(cancelled).empty());
    CHECK(first.seen(kept) == Seen{"k@2"});
    CHECK(second.deliveries.empty());
    CHECK(fixture.hub.size() == 1);
}

TEST_CASE("after a snapshot restore watchers continue from the revision they need next") {
    HubFixture leader;
    leader.put("k", "1"); // 2
    leader.put("k", "2"); // 3
    leader.put("k", "3"); // 4
    auto snapshot = leader.store->snapshot();
    REQUIRE(snapshot);

    HubFixture follower;
    RecordingSink sink;
    WatchId id = follower.watch(sink, spec("k"));
    follower.put("k", "1"); // 2, as the leader's
    REQUIRE(follower.store->restore(*snapshot));
    follower.hub.restored();
    CHECK(follower.hub.behind(sink) == 1);
    follower.resume(sink);
    CHECK(sink.seen(id) == Seen{"k@2", "k@3", "k@4"});
    CHECK(follower.hub.progress(sink) == 4);
}

namespace {

namespace wg = keel::watch_guarantees;

wg::Event checker_event(const kv::Event& event) {
    return {uint64_t(event.kv.mod_revision),
            event.type == kv::EventType::Put ? wg::EventType::Put : wg::EventType::Delete,
            event.kv.key, event.type == kv::EventType::Put ? event.kv.value : ""};
}

/// A sink that records, per watcher, the messages the checker reads.
class CheckedSink : public RecordingSink {
public:
    void deliver(WatchId id, std::vector<kv::Event> events, int64_t revision) override {
        wg::Message message;
        for (const kv::Event& event : events)
            message.events.push_back(checker_event(event));
        watchers.at(id).messages.push_back(std::move(message));
        RecordingSink::deliver(id, std::move(events), revision);
    }
    void progress(int64_t revision) {
        for (auto& [id, watcher] : watchers)
            watcher.messages.push_back({wg::MessageKind::Progress, uint64_t(revision), {}});
    }
    std::map<WatchId, wg::Watcher> watchers;
};

} // namespace

TEST_CASE("random writes, watchers, slow sinks and catch-ups keep every watch guarantee") {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
        CAPTURE(seed);
        std::mt19937 random(seed);
        auto pick = [&](int bound) { return int(random() % uint32_t(bound)); };
        HubFixture fixture;
        std::vector<wg::Event> writes;
        std::vector<std::unique_ptr<CheckedSink>> sinks;
        for (int i = 0; i < 4; ++i)
            sinks.push_back(std::make_unique<CheckedSink>());
        const std::vector<std::string> keys{"a", "a/1", "a/2", "b", "b/x", "c"};

        auto record = [&](const std::vector<kv::Event>& events) {
            for (const kv::Event& event : events)
                writes.push_back(checker_event(event));
        };
        for (int step = 0; step < 300; ++step) {
            int action = pick(20);
            CheckedSink& sink = *sinks[size_t(pick(int(sinks.size())))];
            if (action < 10) {
                PutRequest request;
                request.key = keys[size_t(pick(int(keys.size())))];
                request.value = std::to_string(step);
                request.prev_kv = true;
                auto written = fixture.store->put(request);
                REQUIRE(written);
                record(written->events);
                fixture.hub.notify(written->events, fixture.store->revision());
            } else if (action < 12) {
                DeleteRangeRequest request;
                request.key = keys[size_t(pick(int(keys.size())))];
                request.range_end = pick(2) ? std::string() : request.key + "0";
                auto written = fixture.store->delete_range(request);
                REQUIRE(written);
                if (!written->events.empty()) {
                    record(written->events);
                    fixture.hub.notify(written->events, fixture.store->revision());
                }
            } else if (action < 14) {
                static const std::vector<std::pair<std::string, std::string>> ranges{
                    {"a", ""}, {"a/", "a0"}, {"b", kFromKey}, {"a/2", "b/y"}, {"", kFromKey}};
                auto [key, range_end] = ranges[size_t(pick(int(ranges.size())))];
                WatchSpec watch = spec(key, range_end);
                if (pick(2))
                    watch.start_revision = 1 + pick(int(fixture.store->revision()));
                WatchId id = fixture.watch(sink, watch);
                wg::Watcher& recorded = sink.watchers[id];
                recorded.name = "seed " + std::to_string(seed) + " watcher " + std::to_string(id);
                recorded.key = key;
                recorded.range_end = range_end;
                recorded.start_revision =
                    uint64_t(watch.start_revision > 0 ? watch.start_revision
                                                      : fixture.store->revision() + 1);
            } else if (action < 16) {
                sink.pending = sink.pending ? 0 : 5000;
            } else if (action < 18) {
                fixture.resume(sink);
            } else if (auto progress = fixture.hub.progress(sink)) {
                sink.progress(*progress);
            }
        }
        std::vector<wg::Watcher> all;
        for (auto& sink : sinks) {
            sink->pending = 0;
            fixture.resume(*sink);
            auto progress = fixture.hub.progress(*sink);
            REQUIRE(progress);
            CHECK(*progress == fixture.store->revision());
            sink->progress(*progress); // so "reliable" covers everything
            for (auto& [id, watcher] : sink->watchers)
                all.push_back(watcher);
        }
        CHECK(!all.empty());
        for (const wg::Violation& violation : wg::check(all, writes))
            FAIL_CHECK(wg::describe(violation));
    }
}

TEST_CASE("10,000 watchers get exactly the puts a brute-force check finds, also after cancels") {
    HubFixture fixture;
    RecordingSink sink;
    std::mt19937 random(7);
    auto word = [&](size_t length) {
        std::string out;
        for (size_t i = 0; i < length; ++i)
            out += char('a' + random() % 4);
        return out;
    };
    std::vector<wg::Watcher> shapes;
    for (int i = 0; i < 10000; ++i) {
        wg::Watcher shape;
        shape.key = word(1 + random() % 4);
        switch (random() % 8) {
        case 0:
            shape.range_end = kFromKey;
            break;
        case 1:
            shape.range_end = word(1 + random() % 4);
            break; // maybe empty
        case 2:
        case 3: {
            shape.range_end = shape.key;
            shape.range_end.back()++; // a prefix
            break;
        }
        default:
            break; // a single key
        }
        CHECK(fixture.watch(sink, spec(shape.key, shape.range_end)) == i);
        shapes.push_back(shape);
    }
    std::vector<bool> cancelled(shapes.size(), false);
    auto check_puts = [&](int count) {
        for (int i = 0; i < count; ++i) {
            std::string key = word(1 + random() % 5);
            sink.deliveries.clear();
            fixture.put(key, "v");
            std::vector<WatchId> got;
            for (const auto& delivery : sink.deliveries)
                got.push_back(delivery.id);
            std::sort(got.begin(), got.end());
            std::vector<WatchId> expected;
            for (size_t id = 0; id < shapes.size(); ++id)
                if (!cancelled[id] && wg::watches(shapes[id], key))
                    expected.push_back(WatchId(id));
            CHECK_MESSAGE(got == expected, "key ", key);
        }
    };
    check_puts(200);
    // Cancelling a third takes exactly those out of the index.
    for (size_t id = 0; id < shapes.size(); id += 3) {
        fixture.hub.cancel(sink, WatchId(id));
        cancelled[id] = true;
    }
    CHECK(fixture.hub.size() == 6666);
    check_puts(100);
}
