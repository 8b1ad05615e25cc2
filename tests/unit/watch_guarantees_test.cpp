// tests/cluster/watch_guarantees.cpp: each of etcd's watch guarantees holds
// for a well-behaved stream and is reported, with the watcher and the
// revision, for a stream that breaks it.
#include "tests/cluster/watch_guarantees.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace keel::watch_guarantees;

namespace {

keel::watch_guarantees::Event put_event(uint64_t revision, std::string key, std::string value) {
    return {revision, keel::watch_guarantees::EventType::Put, std::move(key), std::move(value)};
}
keel::watch_guarantees::Event delete_event(uint64_t revision, std::string key) {
    return {revision, keel::watch_guarantees::EventType::Delete, std::move(key), ""};
}
keel::watch_guarantees::Message events(std::vector<keel::watch_guarantees::Event> list) {
    return {MessageKind::Events, 0, std::move(list)};
}
keel::watch_guarantees::Message progress(uint64_t revision) {
    return {MessageKind::Progress, revision, {}};
}
keel::watch_guarantees::Message resume(uint64_t revision) {
    return {MessageKind::Resume, revision, {}};
}

// Writes: x=1 @2, y=1 @3, x=2 and y=2 in one txn @4, delete x @5, z=1 @6.
const std::vector<keel::watch_guarantees::Event> kWrites = {
    put_event(2, "x", "1"), put_event(3, "y", "1"), put_event(4, "x", "2"),
    put_event(4, "y", "2"), delete_event(5, "x"),   put_event(6, "z", "1"),
};

// A watcher of the prefix x..z (keys x and y; not z) from revision 2.
Watcher prefix_watcher(std::vector<keel::watch_guarantees::Message> messages) {
    return {"w", "x", "z", 2, std::move(messages)};
}

std::vector<Violation> violations_of(const Watcher& watcher,
                                     WriteSet write_set = WriteSet::Complete) {
    std::vector<Violation> found = check({watcher}, kWrites, write_set);
    for (const Violation& violation : found)
        MESSAGE(describe(violation));
    return found;
}

bool has_violation(const std::vector<Violation>& found, Guarantee guarantee, uint64_t revision) {
    for (const Violation& violation : found)
        if (violation.guarantee == guarantee && violation.revision == revision &&
            violation.watcher == "w")
            return true;
    return false;
}

const keel::watch_guarantees::Message kAll =
    events({put_event(2, "x", "1"), put_event(3, "y", "1"), put_event(4, "x", "2"),
            put_event(4, "y", "2"), delete_event(5, "x")});

} // namespace

TEST_CASE("a complete, ordered stream with progress notifies and a resume passes") {
    CHECK(violations_of(prefix_watcher({kAll, progress(6)})).empty());
    CHECK(violations_of(prefix_watcher({events({put_event(2, "x", "1")}),
                                        events({put_event(3, "y", "1")}), progress(3), resume(4),
                                        events({put_event(4, "x", "2"), put_event(4, "y", "2")}),
                                        events({delete_event(5, "x")})}))
              .empty());
    // A single-key watcher from "now" only sees its key.
    Watcher single{
        "w", "y", "", 0, {events({put_event(3, "y", "1")}), events({put_event(4, "y", "2")})}};
    CHECK(violations_of(single).empty());
}

TEST_CASE("ordered: a revision that goes back within a watcher is reported") {
    auto found = violations_of(prefix_watcher(
        {events({put_event(2, "x", "1"), put_event(4, "x", "2"), put_event(4, "y", "2")}),
         events({put_event(3, "y", "1")}), events({delete_event(5, "x")})}));
    CHECK(has_violation(found, Guarantee::Ordered, 3));
}

TEST_CASE("unique: an event delivered twice is reported") {
    auto found = violations_of(prefix_watcher({kAll, events({delete_event(5, "x")})}));
    CHECK(has_violation(found, Guarantee::Unique, 5));
    CHECK_FALSE(has_violation(found, Guarantee::Ordered, 5));
}

TEST_CASE("atomic: a revision split across two responses is reported") {
    auto found = violations_of(prefix_watcher(
        {events({put_event(2, "x", "1"), put_event(3, "y", "1"), put_event(4, "x", "2")}),
         events({put_event(4, "y", "2"), delete_event(5, "x")})}));
    CHECK(has_violation(found, Guarantee::Atomic, 4));
    CHECK_FALSE(has_violation(found, Guarantee::Reliable, 4));
    // Without the writes known, the split still shows.
    std::vector<Violation> partial = check(
        {prefix_watcher({events({put_event(7, "x", "a")}), events({put_event(7, "y", "b")})})}, {},
        WriteSet::Partial);
    REQUIRE(partial.size() == 1);
    CHECK(partial[0].guarantee == Guarantee::Atomic);
}

TEST_CASE("reliable: a write missing between the start and the last event is reported") {
    auto found = violations_of(prefix_watcher(
        {events({put_event(2, "x", "1")}), events({put_event(4, "x", "2"), put_event(4, "y", "2")}),
         events({delete_event(5, "x")})}));
    REQUIRE(found.size() == 1);
    CHECK(has_violation(found, Guarantee::Reliable, 3));
    CHECK(describe(found[0]) ==
          "watcher `w`, revision 3: reliable: put `y` = `1` was not delivered (the watcher saw up "
          "to revision 5)");
    // A progress notify also promises everything up to its revision.
    auto promised = violations_of(prefix_watcher({events({put_event(2, "x", "1")}), progress(3)}));
    CHECK(has_violation(promised, Guarantee::Reliable, 3));
}

TEST_CASE("resumable: after a reconnect from R, an event before R is reported") {
    auto found = violations_of(prefix_watcher(
        {events({put_event(2, "x", "1"), put_event(3, "y", "1")}), resume(4),
         events({put_event(3, "y", "1")}),
         events({put_event(4, "x", "2"), put_event(4, "y", "2"), delete_event(5, "x")})}));
    CHECK(has_violation(found, Guarantee::Resumable, 3));
    // And one skipped after the resume is a gap.
    auto gap =
        violations_of(prefix_watcher({events({put_event(2, "x", "1"), put_event(3, "y", "1")}),
                                      resume(4), events({delete_event(5, "x")})}));
    CHECK(has_violation(gap, Guarantee::Reliable, 4));
}

TEST_CASE("bookmarkable: an event at or below a progress notify's revision after it is reported") {
    auto found = violations_of(
        prefix_watcher({events({put_event(2, "x", "1"), put_event(3, "y", "1")}), progress(5),
                        events({put_event(4, "x", "2"), put_event(4, "y", "2")}),
                        events({delete_event(5, "x")})}));
    CHECK(has_violation(found, Guarantee::Bookmarkable, 4));
    CHECK(has_violation(found, Guarantee::Bookmarkable, 5));
}

TEST_CASE("clientv3 3.4's own resume at a progress notify's revision repeats that revision once") {
    // Seen up to 4, a notify at 4, then clientv3 reconnects from 4 (not 5).
    CHECK(violations_of(prefix_watcher({events({put_event(2, "x", "1"), put_event(3, "y", "1"),
                                                put_event(4, "x", "2"), put_event(4, "y", "2")}),
                                        progress(4), progress(4),
                                        events({put_event(4, "x", "2"), put_event(4, "y", "2"),
                                                delete_event(5, "x")})}))
              .empty());
    // Only that: part of the revision again, a revision below the notify,
    // or a repeat when the notify was past the last event are reported.
    auto partial = violations_of(
        prefix_watcher({events({put_event(2, "x", "1"), put_event(3, "y", "1"),
                                put_event(4, "x", "2"), put_event(4, "y", "2")}),
                        progress(4), events({put_event(4, "y", "2"), delete_event(5, "x")})}));
    CHECK(has_violation(partial, Guarantee::Unique, 4));
    auto below =
        violations_of(prefix_watcher({events({put_event(2, "x", "1"), put_event(3, "y", "1"),
                                              put_event(4, "x", "2"), put_event(4, "y", "2")}),
                                      progress(4), events({put_event(3, "y", "1")})}));
    CHECK(has_violation(below, Guarantee::Unique, 3));
    auto past = violations_of(prefix_watcher(
        {events({put_event(2, "x", "1"), put_event(3, "y", "1")}), progress(4),
         events({put_event(3, "y", "1"), put_event(4, "x", "2"), put_event(4, "y", "2")})}));
    CHECK(has_violation(past, Guarantee::Bookmarkable, 3));
}

TEST_CASE("faithful: an event that differs from the write at its revision is reported") {
    auto found = violations_of(prefix_watcher({events({put_event(2, "x", "9")})}));
    CHECK(has_violation(found, Guarantee::Faithful, 2));
    auto phantom = violations_of(prefix_watcher({kAll, events({put_event(7, "x", "3")})}));
    CHECK(has_violation(phantom, Guarantee::Faithful, 7));
    // Unless writes with an unknown outcome may be missing from the list.
    CHECK(violations_of(prefix_watcher({kAll, events({put_event(7, "x", "3")})}), WriteSet::Partial)
              .empty());
    auto outside = violations_of(prefix_watcher({kAll, events({put_event(6, "z", "1")})}));
    CHECK(has_violation(outside, Guarantee::Faithful, 6));
}
