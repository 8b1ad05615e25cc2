// The Manager's registry: loading units (a unit that fails to load,
// daemon-reload), driven through the fake host of manager_fixture.h.
#include "tests/unit/manager_fixture.h"

#include <doctest/doctest.h>

using keel::ActiveState;
using keel::JobType;
using keel::testing::Fixture;

TEST_CASE("a unit that fails to load is reported, the others run, and requiring it fails") {
    Fixture f;
    f.unit("broken.service", "[Service]\nExecStart=/bin/x\nRestart=sometimes\n");
    f.unit("good.service", "[Service]\nExecStart=/bin/good\n");
    f.unit("needy.service", "[Unit]\nRequires=broken.service\n[Service]\nExecStart=/bin/needy\n");
    f.want("multi-user.target", "broken.service");
    f.want("multi-user.target", "good.service");
    f.want("multi-user.target", "needy.service");
    f.load();
    CHECK(f.host.said("failed to load: " + (f.dir / "broken.service") +
                      ":3: Restart: unknown value `sometimes`"));
    CHECK(f.info("broken.service").load_state == keel::LoadState::Error);
    f.start("default.target");
    CHECK(f.state("good.service") == ActiveState::Active);
    CHECK(f.state("needy.service") == ActiveState::Inactive);
    CHECK(f.state("multi-user.target") == ActiveState::Active);
    auto refused = f.manager.enqueue(JobType::Start, "broken.service");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().starts_with("unit `broken.service` failed to load: "));
    CHECK(f.manager.enqueue(JobType::Start, "missing.service").error().to_string() ==
          "unit `missing.service` not found");
}

TEST_CASE("daemon-reload picks up new units and keeps running ones running") {
    Fixture f;
    f.unit("a.service", "[Service]\nExecStart=/bin/a\n");
    f.load();
    f.start("a.service");
    pid_t a = f.main("a.service");
    f.unit("a.service", "[Unit]\nDescription=Changed\n[Service]\nExecStart=/bin/a2\n");
    f.unit("b.service", "[Service]\nExecStart=/bin/b\n");
    f.load();
    CHECK(f.main("a.service") == a);
    CHECK(f.info("a.service").description == "Changed");
    f.start("b.service");
    CHECK(f.state("b.service") == ActiveState::Active);
}
