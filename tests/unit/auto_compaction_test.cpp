// Automatic compaction: the retention flag as etcd 3.4 reads it, and when
// and where the policy compacts.
#include "kv/auto_compaction.h"

#include <doctest/doctest.h>

using namespace keel::kv;
using namespace std::chrono_literals;

TEST_CASE("a bare retention is hours in periodic mode and revisions in revision mode") {
    auto periodic = parse_compaction_retention(AutoCompactionMode::Periodic, "2");
    REQUIRE(periodic);
    REQUIRE(*periodic);
    CHECK((*periodic)->period == std::chrono::milliseconds(2h));
    auto revisions = parse_compaction_retention(AutoCompactionMode::Revision, "1000");
    REQUIRE(revisions);
    REQUIRE(*revisions);
    CHECK((*revisions)->mode == AutoCompactionMode::Revision);
    CHECK((*revisions)->revisions == 1000);
}

TEST_CASE("a retention of 0 or nothing turns automatic compaction off") {
    for (const char* text : {"0", "", "0s"}) {
        auto off = parse_compaction_retention(AutoCompactionMode::Periodic, text);
        REQUIRE(off);
        CHECK_FALSE(*off);
    }
}

TEST_CASE("a duration retention is periodic whatever the mode, in Go's duration syntax") {
    auto retention = parse_compaction_retention(AutoCompactionMode::Revision, "1h30m");
    REQUIRE(retention);
    REQUIRE(*retention);
    CHECK((*retention)->mode == AutoCompactionMode::Periodic);
    CHECK((*retention)->period == std::chrono::milliseconds(90min));
}

TEST_CASE("a malformed retention is refused naming the flag") {
    for (const char* text : {"-1", "1x", "h", "10m-", "1..2h", "abc", "1h 2m"}) {
        auto refused = parse_compaction_retention(AutoCompactionMode::Periodic, text);
        CHECK_FALSE(refused);
        if (!refused)
            CHECK(refused.error().to_string().find("--auto-compaction-retention") !=
                  std::string::npos);
    }
}

TEST_CASE("periodic compaction waits a period, then compacts at the revision of a period ago") {
    std::chrono::steady_clock::time_point start{};
    CompactionRetention retention;
    retention.period = 10s;
    AutoCompactor compactor(retention, start);
    CHECK(compactor.interval() == 1s);
    std::optional<int64_t> at;
    int64_t revision = 100;
    auto now = start;
    // One write a second: nothing is due before 10 s have passed.
    for (int second = 1; second < 10; ++second) {
        now = start + std::chrono::seconds(second);
        CHECK_FALSE(compactor.due(now, revision++));
    }
    now = start + 10s;
    at = compactor.due(now, revision++);
    REQUIRE(at);
    CHECK(*at == 100); // sampled 9 s ago, the oldest kept
    compactor.compacted(*at, now);
    CHECK_FALSE(compactor.due(now + 1s, revision++));
    // Samples keep sliding: a period later the compaction moves on.
    for (int second = 2; second < 10; ++second)
        (void)compactor.due(now + std::chrono::seconds(second), revision++);
    at = compactor.due(now + 10s, revision++);
    REQUIRE(at);
    CHECK(*at > 100);
    CHECK(*at <= revision - 9);
}

TEST_CASE("revision compaction keeps the last N revisions and does not repeat itself") {
    CompactionRetention retention;
    retention.mode = AutoCompactionMode::Revision;
    retention.revisions = 10;
    std::chrono::steady_clock::time_point now{};
    AutoCompactor compactor(retention, now);
    CHECK(compactor.interval() == kRevisionCompactionInterval);
    CHECK_FALSE(compactor.due(now, 10)); // nothing older than 10 revisions yet
    auto at = compactor.due(now, 25);
    REQUIRE(at);
    CHECK(*at == 15);
    compactor.compacted(*at, now);
    CHECK_FALSE(compactor.due(now, 25));
    CHECK(compactor.due(now, 26) == std::optional<int64_t>(16));
}
