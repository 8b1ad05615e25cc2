// Tests for etcd's strict reconfiguration check (kv/etcd_reconfig.cpp):
// which voter adds and removals a member refuses as "unhealthy cluster",
// from its connections to the other voters.
#include "kv/etcd_reconfig.h"

#include <doctest/doctest.h>

#include <map>

using namespace keel::kv;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Member 1 asked, voters 1..3; `up` says since when 1 is connected to each
// peer (absent: not connected).
ReconfigView view_of(std::map<NodeId, Clock::time_point> up, Clock::time_point now) {
    ReconfigView view;
    view.self = 1;
    view.voters = {1, 2, 3};
    view.connected_since = [up](NodeId id) -> std::optional<Clock::time_point> {
        auto it = up.find(id);
        if (it == up.end())
            return std::nullopt;
        return it->second;
    };
    view.now = now;
    return view;
}

} // namespace

TEST_CASE("a voter is added only once every other voter has been connected for 5 seconds") {
    Clock::time_point now = Clock::now();
    CHECK(may_add_voter(view_of({{2, now - 6s}, {3, now - 6s}}, now)));
    CHECK(!may_add_voter(view_of({{2, now - 6s}}, now)));
    CHECK(!may_add_voter(view_of({{2, now - 6s}, {3, now - 1s}}, now)));
}

TEST_CASE("a running voter is removed only if the connected voters left are a quorum") {
    Clock::time_point now = Clock::now();
    // All three up: 3 - 1 = 2 connected of the 2 a quorum of 3 needs.
    CHECK(may_remove_voter(view_of({{2, now - 6s}, {3, now - 6s}}, now), 2));
    // 3 down: removing 2 would leave 1 alone connected.
    CHECK(!may_remove_voter(view_of({{2, now - 6s}}, now), 2));
    // A member connected for less than 5 s does not count yet.
    CHECK(!may_remove_voter(view_of({{2, now - 6s}, {3, now - 1s}}, now), 2));
    // Removing itself counts the same way.
    CHECK(!may_remove_voter(view_of({{2, now - 6s}}, now), 1));
    CHECK(may_remove_voter(view_of({{2, now - 6s}, {3, now - 6s}}, now), 1));
}

TEST_CASE("a voter that is not connected may always be removed") {
    Clock::time_point now = Clock::now();
    CHECK(may_remove_voter(view_of({{2, now - 6s}}, now), 3));
    CHECK(may_remove_voter(view_of({}, now), 3));
}
