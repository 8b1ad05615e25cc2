// Tests for containers/container_records.cpp over a state root made by
// hand: containers found by name, id and id prefix, ps's STATUS text and
// inspect's State for an exited, OOM-killed, health-checked container.
#include "containers/containers.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

void add_container(const TempDir& root, const std::string& id, const std::string& name,
                   const RunState& state) {
    std::string dir = root / cat("containers/", id);
    REQUIRE(make_directories(dir));
    REQUIRE(write_new_file(
        dir + "/container.json",
        cat(R"({"id":")", id, R"(","name":")", name,
            R"(","image":"box","created":"2026-01-02T03:04:05Z","command":["sh"]})")));
    REQUIRE(write_new_file(dir + "/state.json", run_state_json(state)));
}

} // namespace

TEST_CASE("a container is found by its name, its id or a unique prefix of its id") {
    TempDir root;
    add_container(root, kId, "web", {});
    add_container(root, "0123ffff", "db", {});
    CHECK(find_container(root.path(), "web")->id == kId);
    CHECK(find_container(root.path(), kId)->name == "web");
    CHECK(find_container(root.path(), "0123456")->name == "web");
    CHECK_FALSE(find_container(root.path(), "0123"));
    CHECK(find_container(root.path(), "nobody").error().code() == ENOENT);
    CHECK(list_containers(root.path())->size() == 2);
}

TEST_CASE("an OOM-killed container shows as such in ps and inspect") {
    TempDir root;
    add_container(root, kId, "hog",
                  {.oom_killed = true, .exit_code = 137, .finished = "2026-01-02T03:04:09Z"});
    RunContainer container = *find_container(root.path(), "hog");
    CHECK(container_status(root.path(), container) == "exited");
    CHECK(container_status_text(root.path(), container) == "Exited (137) OOM-killed");
    Result<std::string> inspected = inspect_container(root.path(), container);
    REQUIRE(inspected);
    CHECK(inspected->find(R"("OOMKilled":true)") != std::string::npos);
    CHECK(inspected->find(R"("ExitCode":137)") != std::string::npos);
    CHECK(inspected->find(R"("Name":"/hog")") != std::string::npos);
}

TEST_CASE("inspect shows the health check's status, streak and log as Docker's State.Health") {
    TempDir root;
    add_container(root, kId, "web",
                  {.health = HealthStatus::Unhealthy,
                   .failing_streak = 3,
                   .exit_code = 0,
                   .health_log = {{.exit_code = 1, .start = "a", .end = "b", .output = "down"}}});
    RunContainer container = *find_container(root.path(), "web");
    Result<std::string> inspected = inspect_container(root.path(), container);
    REQUIRE(inspected);
    CHECK(
        inspected->find(
            R"("Health":{"Status":"unhealthy","FailingStreak":3,"Log":[{"Start":"a","End":"b","ExitCode":1,"Output":"down"}]})") !=
        std::string::npos);
    CHECK(container_status_text(root.path(), container).starts_with("Exited (0)"));
}

TEST_CASE("a container whose state.json is damaged is not listed") {
    TempDir root;
    add_container(root, kId, "web", {});
    REQUIRE(write_existing_file(root / cat("containers/", kId, "/state.json"), "{\"health\":1}"));
    CHECK(list_containers(root.path())->empty());
}

TEST_CASE("a container that was running when the machine went down is recorded as Exited (255)") {
    TempDir root;
    add_container(root, kId, "web", {.pid = 42, .started = "2026-01-02T03:04:05Z"});
    add_container(root, "0123ffff", "db", {.exit_code = 3, .finished = "2026-01-02T03:04:09Z"});
    RunContainer web = *find_container(root.path(), "web");
    CHECK(container_status(root.path(), web) == "exited");
    Result<bool> ended = record_interrupted_run(root.path(), web);
    REQUIRE_MESSAGE(ended, (ended ? std::string() : ended.error().to_string()));
    CHECK(*ended);
    web = *find_container(root.path(), "web");
    CHECK(web.state.exit_code == 255);
    CHECK(web.state.pid == 0);
    CHECK_FALSE(web.state.finished.empty());
    CHECK(container_status_text(root.path(), web).starts_with("Exited (255)"));
    // Once recorded, and never for a run whose end was seen.
    CHECK_FALSE(*record_interrupted_run(root.path(), web));
    RunContainer db = *find_container(root.path(), "db");
    CHECK_FALSE(*record_interrupted_run(root.path(), db));
    CHECK(find_container(root.path(), "db")->state.exit_code == 3);
}
