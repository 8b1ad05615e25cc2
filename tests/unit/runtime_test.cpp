// Tests for containers/runtime.cpp's pure parts: container ids, the OCI
// state JSON, and the verbs' answers for containers that do not exist.
// The runtime itself runs containers in tests/host/oci.sh.
#include "containers/containers.h"

#include "base/json.h"
#include "containers/process_spawn.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

TEST_CASE("container ids are names a directory can take and nothing else") {
    CHECK(check_id("web"));
    CHECK(check_id("a.b-c_d+e"));
    CHECK(check_id(std::string(255, 'x')));
    CHECK_FALSE(check_id(""));
    CHECK_FALSE(check_id("."));
    CHECK_FALSE(check_id(".."));
    CHECK_FALSE(check_id(".hidden"));
    CHECK_FALSE(check_id("a/b"));
    CHECK_FALSE(check_id("a b"));
    CHECK_FALSE(check_id(std::string(256, 'x')));
    CHECK(check_id("a/b").error().to_string() ==
          "container id `a/b`: only letters, digits and _ + - . are allowed");
}

TEST_CASE("the state is the OCI runtime spec's JSON") {
    ContainerState state;
    state.id = "web";
    state.status = Status::Running;
    state.pid = 42;
    state.bundle = "/srv/b";
    state.rootfs = "/srv/b/rootfs";
    state.created = "2026-12-02T21:18:40.000000001Z";
    state.annotations = {{"k", "v"}};
    auto parsed = parse_json(state_json(state));
    REQUIRE(parsed);
    auto root = JsonCursor(*parsed).object();
    REQUIRE(root);
    CHECK(*(*root)["ociVersion"].string() == std::string(oci::kOciVersion));
    CHECK(*(*root)["id"].string() == "web");
    CHECK(*(*root)["status"].string() == "running");
    CHECK(*(*root)["pid"].integer<int>() == 42);
    CHECK(*(*root)["bundle"].string() == "/srv/b");
    CHECK(*(*root)["annotations"].object()->operator[]("k").string() == "v");
}

TEST_CASE("a seccomp agent gets the runtime spec's containerProcessState") {
    ContainerState state;
    state.id = "web";
    state.status = Status::Creating;
    state.pid = 42;
    state.bundle = "/srv/b";
    auto parsed = parse_json(container_process_state(43, "MKNOD=/dev/null", state));
    REQUIRE(parsed);
    auto root = JsonCursor(*parsed).object();
    REQUIRE(root);
    CHECK(*(*root)["ociVersion"].string() == std::string(oci::kOciVersion));
    auto fds = (*root)["fds"].array();
    REQUIRE(fds);
    REQUIRE(fds->size() == 1);
    CHECK(*(*fds)[0].string() == "seccompFd");
    CHECK(*(*root)["pid"].integer<int>() == 43);
    CHECK(*(*root)["metadata"].string() == "MKNOD=/dev/null");
    auto inner = (*root)["state"].object();
    REQUIRE(inner);
    CHECK(*(*inner)["id"].string() == "web");
    CHECK(*(*inner)["status"].string() == "creating");
    CHECK(*(*inner)["pid"].integer<int>() == 42);
}

TEST_CASE("verbs on a container that does not exist say so") {
    TempDir dir;
    RuntimeOptions runtime{.root = dir.path()};
    CHECK(state(runtime, "ghost").error().to_string() == "container `ghost` does not exist");
    CHECK(start(runtime, "ghost").error().to_string() ==
          "start container `ghost`: container `ghost` does not exist");
    CHECK(remove(runtime, "ghost").error().to_string() ==
          "delete container `ghost`: container `ghost` does not exist");
    auto listed = list(runtime);
    REQUIRE(listed);
    CHECK(listed->empty());
}
