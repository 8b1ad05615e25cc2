// Tests for the lease directory (network.h's LeaseStore): leases written,
// found, listed and released; an address never leased twice; a second
// lease for one container refused.
#include "containers/network.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <set>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

TEST_CASE("leases on one bridge get distinct addresses, and a released one is leased again") {
    TempDir dir;
    auto store = LeaseStore::open(dir / "state");
    REQUIRE(store);
    Ipv4Subnet subnet = *parse_subnet("10.88.0.0/16");
    std::set<std::string> addresses;
    for (std::string id : {"a", "b", "c"}) {
        auto lease = store->lease("keel0", subnet, id, {});
        REQUIRE(lease);
        addresses.insert(lease->address);
    }
    CHECK(addresses == std::set<std::string>{"10.88.0.2", "10.88.0.3", "10.88.0.4"});
    REQUIRE(store->release("b"));
    auto again = store->lease("keel0", subnet, "d", {});
    REQUIRE(again);
    CHECK(again->address == "10.88.0.3");
    auto all = store->list();
    REQUIRE(all);
    CHECK(all->size() == 3);
}

TEST_CASE("a container holds one lease at most") {
    TempDir dir;
    auto store = LeaseStore::open(dir.path());
    REQUIRE(store);
    Ipv4Subnet subnet = *parse_subnet("10.88.0.0/16");
    REQUIRE(store->lease("keel0", subnet, "web", {}));
    auto second = store->lease("keel0", subnet, "web", {});
    REQUIRE(!second);
    CHECK(second.error().code() == EEXIST);
    CHECK(store->list()->size() == 1);
}

TEST_CASE("a lease is found by container id with its ports, and releasing twice fails") {
    TempDir dir;
    auto store = LeaseStore::open(dir.path());
    REQUIRE(store);
    std::vector<PortMapping> ports = {*parse_port_mapping("8080:80")};
    REQUIRE(store->lease("keel0", *parse_subnet("10.88.0.0/16"), "web", ports));
    auto found = store->find("web");
    REQUIRE(found);
    CHECK(found->ports.size() == 1);
    auto other = store->find("other");
    REQUIRE(!other);
    CHECK(other.error().code() == ENOENT);
    REQUIRE(store->release("web"));
    auto again = store->release("web");
    REQUIRE(!again);
    CHECK(again.error().code() == ENOENT);
}

TEST_CASE("a corrupt lease file makes listing fail, naming the file") {
    TempDir dir;
    auto store = LeaseStore::open(dir.path());
    REQUIRE(store);
    REQUIRE(write_new_file(dir / "bad.json", "{\"id\":"));
    auto listed = store->list();
    REQUIRE(!listed);
    CHECK(listed.error().to_string().find("bad.json") != std::string::npos);
}
