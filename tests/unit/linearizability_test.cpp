// tests/cluster/linearizability.cpp: the checker accepts histories that
// have a linearization (sequential, overlapping, with unknown outcomes) and
// rejects the classic anomalies, naming the key and a small sub-history;
// a large history from a simulated sequential run passes, and the same
// history with one stale read fails.
#include "tests/cluster/linearizability.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

using namespace keel::history;
using keel::linearizability::check;
using keel::linearizability::describe;
using keel::linearizability::Report;

namespace {

keel::linearizability::Verdict verdict_of(const History& history) {
    Report report = check(history);
    INFO(describe(report));
    return report.verdict;
}

} // namespace

TEST_CASE("a sequential history of puts, gets, deletes and compare-and-sets is linearizable") {
    History history = {
        get(1, 0, 10, "x", std::nullopt),
        put(1, 20, 30, "x", "1"),
        get(2, 40, 50, "x", "1"),
        compare_and_set(1, 60, 70, "x", "1", "2", true),
        compare_and_set(2, 80, 90, "x", "1", "3", false),
        get(2, 100, 110, "x", "2"),
        remove(1, 120, 130, "x"),
        get(2, 140, 150, "x", std::nullopt),
        compare_and_set(1, 160, 170, "x", std::nullopt, "4", true),
        get(2, 180, 190, "x", "4"),
    };
    CHECK(verdict_of(history) == keel::linearizability::Verdict::Linearizable);
}

TEST_CASE("overlapping operations may take effect in either order") {
    // The reads overlap the write: one sees it, one does not, and the
    // later-called read sees the older value, which is fine while both
    // overlap the write.
    History history = {
        put(1, 0, 10, "x", "0"),
        put(1, 20, 100, "x", "1"),
        get(2, 30, 40, "x", "1"),
        get(3, 25, 90, "x", "0"),
    };
    CHECK(verdict_of(history) == keel::linearizability::Verdict::Linearizable);
}

TEST_CASE("a write with an unknown outcome may or may not have taken effect") {
    History took_effect = {
        put(1, 0, 10, "x", "0"),
        unknown(put(1, 20, 0, "x", "1")),
        get(2, 500, 510, "x", "1"),
        get(2, 520, 530, "x", "1"),
    };
    CHECK(verdict_of(took_effect) == keel::linearizability::Verdict::Linearizable);
    History did_not = {
        put(1, 0, 10, "x", "0"),
        unknown(put(1, 20, 0, "x", "1")),
        get(2, 500, 510, "x", "0"),
    };
    CHECK(verdict_of(did_not) == keel::linearizability::Verdict::Linearizable);
    // Late: a timed-out write may land long after its call.
    History late = {
        put(1, 0, 10, "x", "0"),
        unknown(put(1, 20, 0, "x", "1")),
        get(2, 500, 510, "x", "0"),
        get(2, 900, 910, "x", "1"),
    };
    CHECK(verdict_of(late) == keel::linearizability::Verdict::Linearizable);
}

TEST_CASE("a write with an unknown outcome cannot take effect before its call or twice") {
    History before_call = {
        put(1, 0, 10, "x", "0"),
        get(2, 20, 30, "x", "1"),
        unknown(put(1, 40, 0, "x", "1")),
    };
    CHECK(verdict_of(before_call) == keel::linearizability::Verdict::NotLinearizable);
    History flip_flop = {
        put(1, 0, 10, "x", "0"),  unknown(put(1, 20, 0, "x", "1")), get(2, 30, 40, "x", "1"),
        get(2, 50, 60, "x", "0"), get(2, 70, 80, "x", "1"),
    };
    CHECK(verdict_of(flip_flop) == keel::linearizability::Verdict::NotLinearizable);
}

TEST_CASE("a stale read after a completed write is not linearizable") {
    History history = {
        put(1, 0, 10, "x", "1"),
        put(1, 20, 30, "x", "2"),
        get(2, 40, 50, "x", "1"),
    };
    Report report = check(history);
    CHECK(report.verdict == keel::linearizability::Verdict::NotLinearizable);
    REQUIRE(report.failures.size() == 1);
    CHECK(report.failures[0].keys == std::vector<std::string>{"x"});
    CHECK(report.failures[0].explanation.size() == 3);
    CHECK(describe(report).find("0 40 50 ok get x -> 1") == std::string::npos);
    CHECK(describe(report).find("2 40 50 ok get x -> 1") != std::string::npos);
}

TEST_CASE("a read of a value that was never written is not linearizable") {
    History history = {
        put(1, 0, 10, "x", "1"),
        get(2, 5, 50, "x", "7"),
    };
    CHECK(verdict_of(history) == keel::linearizability::Verdict::NotLinearizable);
}

TEST_CASE("two reads that observe two writes in opposite orders are not linearizable") {
    // Both writes overlap everything, but reader 3 sees a then b, reader 4
    // b then a: no single order explains both.
    History history = {
        put(1, 0, 100, "x", "a"), put(2, 0, 100, "x", "b"), get(3, 10, 20, "x", "a"),
        get(3, 30, 40, "x", "b"), get(4, 10, 20, "x", "b"), get(4, 30, 40, "x", "a"),
    };
    Report report = check(history);
    INFO(describe(report));
    CHECK(report.verdict == keel::linearizability::Verdict::NotLinearizable);
    REQUIRE(report.failures.size() == 1);
    // Minimal: both writes and all four reads are needed.
    CHECK(report.failures[0].explanation.size() == 6);
}

TEST_CASE("a compare-and-set cannot succeed twice from the same expected value") {
    History history = {
        put(1, 0, 10, "x", "0"),
        compare_and_set(2, 20, 60, "x", "0", "a", true),
        compare_and_set(3, 20, 60, "x", "0", "b", true),
    };
    CHECK(verdict_of(history) == keel::linearizability::Verdict::NotLinearizable);
    // One of them failing is fine.
    history[2].succeeded = false;
    CHECK(verdict_of(history) == keel::linearizability::Verdict::Linearizable);
}

TEST_CASE("a failed operation whose effect is observed is not linearizable") {
    History history = {
        put(1, 0, 10, "x", "0"),
        failed(put(1, 20, 30, "x", "1")),
        get(2, 40, 50, "x", "1"),
    };
    Report report = check(history);
    INFO(describe(report));
    CHECK(report.verdict == keel::linearizability::Verdict::NotLinearizable);
    REQUIRE(report.failures.size() == 1);
    // The failed write is shown beside the read that saw it.
    bool shows_failed =
        std::any_of(report.failures[0].explanation.begin(), report.failures[0].explanation.end(),
                    [](const Operation& op) { return op.outcome == Outcome::Failed; });
    CHECK(shows_failed);
    // The same history with the write unknown instead is fine.
    history[1] = unknown(history[1]);
    CHECK(verdict_of(history) == keel::linearizability::Verdict::Linearizable);
}

TEST_CASE("keys are checked apart, and only the failing key is reported") {
    History history = {
        put(1, 0, 10, "x", "1"),  put(1, 20, 30, "y", "1"), put(1, 40, 50, "x", "2"),
        get(2, 60, 70, "y", "1"), get(2, 80, 90, "x", "1"), // stale
    };
    Report report = check(history);
    CHECK(report.partitions == 2);
    REQUIRE(report.failures.size() == 1);
    CHECK(report.failures[0].keys == std::vector<std::string>{"x"});
}

TEST_CASE("a transaction on two keys joins them into one partition and is atomic") {
    // txn: if x == 1 then put y 1, get x.
    Operation txn;
    txn.client = 3;
    txn.call = 40;
    txn.return_time = 50;
    txn.compares = {{"x", "1"}};
    txn.success = {{ActionKind::Put, "y", "1"}, {ActionKind::Get, "x", ""}};
    txn.failure = {{ActionKind::Get, "y", ""}};
    txn.succeeded = true;
    txn.reads = {"1"};
    History history = {
        put(1, 0, 10, "x", "1"),
        txn,
        get(2, 60, 70, "y", "1"),
    };
    CHECK(check(history).partitions == 1);
    CHECK(verdict_of(history) == keel::linearizability::Verdict::Linearizable);
    // A read of y before the transaction was called cannot see its write.
    history.push_back(get(2, 20, 30, "y", "1"));
    CHECK(verdict_of(history) == keel::linearizability::Verdict::NotLinearizable);
}

TEST_CASE("a search that runs out of budget says so instead of hanging") {
    // Many concurrent writes and reads that defeat the cache for a while.
    History history;
    for (int i = 0; i < 40; ++i)
        history.push_back(put(static_cast<uint64_t>(i), 0, 1000, "x", std::to_string(i)));
    history.push_back(get(99, 2000, 2010, "x", "never"));
    keel::linearizability::Options options;
    options.max_steps = 1000;
    Report report = check(history, options);
    CHECK(report.verdict == keel::linearizability::Verdict::BudgetExhausted);
    CHECK(describe(report).find("unknown: budget exhausted") != std::string::npos);
}

TEST_CASE("revisions that go back in real time, or two writes sharing one, are reported") {
    History history = {
        put(1, 0, 10, "x", "1"),
        put(1, 20, 30, "y", "1"),
        get(2, 40, 50, "x", "1"),
    };
    history[0].revision = 2;
    history[1].revision = 3;
    history[2].revision = 3;
    CHECK(check(history).verdict == keel::linearizability::Verdict::Linearizable);
    history[2].revision = 2; // older than y's write, which returned before
    Report back = check(history);
    CHECK(back.verdict == keel::linearizability::Verdict::NotLinearizable);
    REQUIRE(back.revision_violations.size() == 1);
    CHECK(back.revision_violations[0].later == history[2]);
    keel::linearizability::Options off;
    off.revisions = keel::linearizability::RevisionCheck::Off;
    CHECK(check(history, off).verdict == keel::linearizability::Verdict::Linearizable);
    history[2].revision = 3;
    history[1].revision = 2; // the same as x's write
    Report shared = check(history);
    REQUIRE(shared.revision_violations.size() == 1);
    CHECK(shared.revision_violations[0].what == "two writes have the same revision 2");
}

namespace {

// A history from a sequential run of random operations on a few keys,
// each given a call and return around its instant so that neighbours
// overlap. Values are unique per write. Some calls time out (taking effect
// or not) and some fail (not taking effect).
History simulated_history(std::mt19937_64& random, size_t count) {
    const std::vector<std::string> keys = {"a", "b", "c", "d"};
    std::map<std::string, Value> state;
    History history;
    for (size_t i = 0; i < count; ++i) {
        const std::string& key = keys[random() % keys.size()];
        Nanoseconds instant = 1000 + i * 10;
        Nanoseconds call = instant - random() % 40;
        Nanoseconds returned = instant + random() % 40;
        uint64_t client = random() % 16;
        std::string fresh = "v" + std::to_string(i);
        Operation op;
        switch (random() % 4) {
        case 0:
            op = put(client, call, returned, key, fresh);
            break;
        case 1:
            op = get(client, call, returned, key, state[key]);
            break;
        case 2:
            op = remove(client, call, returned, key);
            break;
        default: {
            Value expected =
                random() % 2 ? state[key] : Value("v" + std::to_string(random() % (i + 1)));
            op = compare_and_set(client, call, returned, key, expected, fresh,
                                 state[key] == expected);
            break;
        }
        }
        // 0.5% fail, 0.2% time out without effect, 0.2% time out with it:
        // each unknown write stays open to the end, and a failing search
        // explores both sides of each.
        unsigned fate = random() % 1000;
        bool takes_effect = fate >= 7;
        if (fate < 5)
            op = failed(op);
        else if (fate < 9)
            op = unknown(op);
        if (takes_effect && op.shape() != OperationShape::Get &&
            (op.shape() != OperationShape::CompareAndSet || state[key] == op.compares[0].value)) {
            if (op.success[0].kind == ActionKind::Put)
                state[key] = op.success[0].value;
            else
                state[key] = std::nullopt;
        }
        history.push_back(op);
    }
    std::shuffle(history.begin(), history.end(), random);
    return history;
}

// Makes one read of `history` stale: a get that ran after W1 -> W2 on its
// key completed reads W1's value. Returns the changed read.
Operation make_one_read_stale(History& history) {
    for (Operation& reader : history) {
        if (reader.shape() != OperationShape::Get || reader.outcome != Outcome::Ok)
            continue;
        const std::string& key = reader.success[0].key;
        for (const Operation& first : history) {
            if (first.outcome != Outcome::Ok || first.shape() != OperationShape::Put ||
                first.success[0].key != key || first.return_time >= reader.call)
                continue;
            for (const Operation& second : history) {
                if (second.outcome == Outcome::Ok && second.shape() == OperationShape::Put &&
                    second.success[0].key == key && second.call > first.return_time &&
                    second.return_time < reader.call && reader.reads[0] != first.success[0].value) {
                    reader.reads[0] = first.success[0].value;
                    return reader;
                }
            }
        }
    }
    FAIL("no read could be made stale");
    return {};
}

} // namespace

TEST_CASE("a large simulated history passes, and fails once one read is made stale") {
    std::mt19937_64 random(20261206);
    keel::linearizability::Options whole;
    whole.explanation = keel::linearizability::Explanation::Whole;
    for (int round = 0; round < 2; ++round) {
        History history = simulated_history(random, 3000);
        Report report = check(history, whole);
        INFO(describe(report));
        REQUIRE(report.verdict == keel::linearizability::Verdict::Linearizable);
        Operation stale = make_one_read_stale(history);
        Report broken = check(history, whole);
        INFO(describe(broken));
        CHECK(broken.verdict == keel::linearizability::Verdict::NotLinearizable);
        REQUIRE(broken.failures.size() == 1);
        CHECK(std::find(broken.failures[0].explanation.begin(),
                        broken.failures[0].explanation.end(),
                        stale) != broken.failures[0].explanation.end());
    }
}

TEST_CASE("a failure in a long history is shrunk to a few operations around it") {
    std::mt19937_64 random(7);
    History history = simulated_history(random, 400);
    Operation stale = make_one_read_stale(history);
    Report report = check(history);
    INFO(describe(report));
    CHECK(report.verdict == keel::linearizability::Verdict::NotLinearizable);
    REQUIRE(report.failures.size() == 1);
    CHECK(report.failures[0].explanation.size() < 12);
    CHECK(std::find(report.failures[0].explanation.begin(), report.failures[0].explanation.end(),
                    stale) != report.failures[0].explanation.end());
}
