// A property test of the MVCC store: random sequences of puts, deletes,
// txns and compactions are applied to the store and to a tiny reference
// model (per key, its history of values); every range at every readable
// revision must agree, and so must catch-up events. Seeds are fixed so a
// failure replays; the failing seed is printed.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"

#include <doctest/doctest.h>

#include <map>
#include <random>

using namespace keel;
using namespace keel::kv;

namespace {

/// The reference: for each revision, the whole store as a map.
struct Model {
    std::vector<std::map<std::string, KeyValue>> states{{}, {}}; // revisions 0 and 1: empty
    int64_t compacted = 0;

    const std::map<std::string, KeyValue>& now() const { return states.back(); }
    int64_t revision() const { return int64_t(states.size()) - 1; }

    /// Applies puts/deletes as one revision (none when nothing changes).
    void apply(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
        std::map<std::string, KeyValue> next = now();
        int64_t rev = revision() + 1;
        bool changed = false;
        for (const auto& [key, value] : changes) {
            if (value) {
                KeyValue kv;
                auto found = next.find(key);
                kv.key = key;
                kv.value = *value;
                kv.create_revision = found == next.end() ? rev : found->second.create_revision;
                kv.version = found == next.end() ? 1 : found->second.version + 1;
                kv.mod_revision = rev;
                next[key] = kv;
                changed = true;
            } else if (next.erase(key)) {
                changed = true;
            }
        }
        if (changed)
            states.push_back(std::move(next));
    }
};

const char* kKeys[] = {"a", "ab", "b", "ba", "c", "d"};

std::string random_key(std::mt19937& rng) {
    return kKeys[rng() % std::size(kKeys)];
}

void check_ranges(const MvccStore& store, const Model& model, uint32_t seed) {
    REQUIRE(store.revision() == model.revision());
    for (int64_t rev = std::max<int64_t>(model.compacted, 1); rev <= model.revision(); ++rev) {
        const auto& state = model.states[size_t(rev)];
        for (const char* from : kKeys) {
            for (std::string end :
                 {std::string(), std::string("\0", 1), std::string("b"), std::string("c")}) {
                RangeRequest request;
                request.key = from;
                request.range_end = end;
                request.revision = rev;
                auto response = store.range(request);
                REQUIRE_MESSAGE(response, "seed ", seed, ": ",
                                (response ? std::string() : response.error().to_string()));
                std::vector<KeyValue> expected;
                for (const auto& [key, kv] : state)
                    if (end.empty() ? key == from
                                    : key >= from && (end == std::string("\0", 1) || key < end))
                        expected.push_back(kv);
                CHECK_MESSAGE(response->kvs == expected, "seed ", seed, " rev ", rev, " range [",
                              from, ", ", end, ")");
                CHECK(response->count == int64_t(expected.size()));
            }
        }
    }
    // Below the compaction every read is refused.
    if (model.compacted > 1) {
        RangeRequest request;
        request.key = "a";
        request.revision = model.compacted - 1;
        CHECK_FALSE(store.range(request));
    }
}

/// Catch-up events from the compaction on replay to the current state.
void check_events(const MvccStore& store, const Model& model, uint32_t seed) {
    int64_t start = std::max<int64_t>(model.compacted, 1);
    auto events = store.events_since("", std::string("\0", 1), start + 1, PrevKv::Include);
    REQUIRE_MESSAGE(events, "seed ", seed);
    std::map<std::string, KeyValue> replayed = model.states[size_t(start)];
    for (const kv::Event& event : *events) {
        auto before = model.states[size_t(event.kv.mod_revision - 1)];
        auto found = before.find(event.kv.key);
        if (found == before.end())
            CHECK_MESSAGE(!event.prev_kv, "seed ", seed);
        else
            CHECK_MESSAGE(event.prev_kv == found->second, "seed ", seed);
        if (event.type == kv::EventType::Put)
            replayed[event.kv.key] = event.kv;
        else
            replayed.erase(event.kv.key);
    }
    CHECK_MESSAGE(replayed == model.now(), "seed ", seed);
}

} // namespace

TEST_CASE("random operations on the store agree with a reference model at every revision") {
    for (uint32_t seed = 1; seed <= 40; ++seed) {
        std::mt19937 rng(seed);
        auto store = keel::testing::open_memory_store();
        Model model;
        for (int step = 0; step < 60; ++step) {
            unsigned choice = rng() % 10;
            if (choice < 4) {
                std::string key = random_key(rng);
                std::string value = "v" + std::to_string(rng() % 100);
                PutRequest request;
                request.key = key;
                request.value = value;
                REQUIRE(store->put(request));
                model.apply({{key, value}});
            } else if (choice < 6) {
                DeleteRangeRequest request;
                request.key = random_key(rng);
                if (rng() % 2)
                    request.range_end = random_key(rng);
                REQUIRE(store->delete_range(request));
                std::vector<std::pair<std::string, std::optional<std::string>>> changes;
                for (const auto& [key, kv] : model.now())
                    if (request.range_end.empty() ? key == request.key
                                                  : key >= request.key && key < request.range_end)
                        changes.push_back({key, std::nullopt});
                model.apply(changes);
            } else if (choice < 9) {
                // A txn putting two distinct keys when one key has a value.
                std::string probe = random_key(rng);
                std::string first = random_key(rng), second = random_key(rng);
                TxnRequest txn;
                kv::Compare compare;
                compare.key = probe;
                compare.target = CompareTarget::Version;
                compare.result = CompareResult::Greater;
                txn.compare = {compare};
                PutRequest put_first;
                put_first.key = first;
                put_first.value = "t" + std::to_string(step);
                txn.success = {RequestOp{put_first}};
                if (second != first) {
                    PutRequest put_second = put_first;
                    put_second.key = second;
                    txn.success.push_back(RequestOp{put_second});
                }
                DeleteRangeRequest delete_probe;
                delete_probe.key = probe;
                txn.failure = {RequestOp{delete_probe}};
                auto written = store->txn(txn);
                REQUIRE_MESSAGE(written, "seed ", seed, ": ",
                                (written ? std::string() : written.error().to_string()));
                bool exists = model.now().contains(probe);
                CHECK(written->response.succeeded == exists);
                if (exists) {
                    std::vector<std::pair<std::string, std::optional<std::string>>> changes = {
                        {first, put_first.value}};
                    if (second != first)
                        changes.push_back({second, put_first.value});
                    model.apply(changes);
                } else {
                    model.apply({{probe, std::nullopt}});
                }
            } else if (model.revision() > model.compacted + 1) {
                int64_t at = model.compacted + 1 +
                             int64_t(rng() % uint64_t(model.revision() - model.compacted));
                auto compacted = store->compact(at);
                REQUIRE_MESSAGE(compacted, "seed ", seed, ": ",
                                (compacted ? std::string() : compacted.error().to_string()));
                model.compacted = at;
            }
        }
        check_ranges(*store, model, seed);
        check_events(*store, model, seed);
    }
}
