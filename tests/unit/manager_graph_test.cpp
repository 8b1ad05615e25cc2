// The Manager's dependency graph: ordering cycles are broken and reported.
#include "tests/unit/manager_fixture.h"

#include <doctest/doctest.h>
#include <vector>

using keel::ActiveState;
using keel::testing::exited;
using keel::testing::Fixture;

TEST_CASE("an ordering cycle is broken by ignoring one edge, reported, and the units still start") {
    Fixture f;
    f.unit("a.service", "[Unit]\nAfter=c.service\n[Service]\nType=oneshot\nExecStart=/bin/a\n");
    f.unit("b.service", "[Unit]\nAfter=a.service\n[Service]\nType=oneshot\nExecStart=/bin/b\n");
    f.unit("c.service", "[Unit]\nAfter=b.service\n[Service]\nType=oneshot\nExecStart=/bin/c\n");
    f.unit("all.target", "[Unit]\nWants=a.service b.service c.service\n");
    f.load();
    REQUIRE(f.manager.broken_cycles().size() == 1);
    CHECK(f.host.said("found ordering cycle: "));
    CHECK(f.host.said(f.manager.broken_cycles()[0]));
    f.start("all.target");
    for (int i = 0; i < 3; ++i) {
        std::vector<pid_t> running;
        for (auto& [pid, process] : f.host.processes)
            if (process.alive)
                running.push_back(pid);
        REQUIRE(running.size() == 1); // still ordered, as a chain
        f.host.exit(running[0], exited(0));
    }
    CHECK(f.state("all.target") == ActiveState::Active);
}

TEST_CASE("a cycle through a requirement drops the edge no requirement depends on") {
    Fixture f;
    f.unit("a.service",
           "[Unit]\nRequires=b.service\nAfter=b.service\n[Service]\nExecStart=/bin/a\n");
    f.unit("b.service", "[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/b\n");
    f.load();
    REQUIRE(f.manager.broken_cycles().size() == 1);
    CHECK(f.manager.broken_cycles()[0] == "b.service After=a.service");
}
