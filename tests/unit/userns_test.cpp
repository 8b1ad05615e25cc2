// Tests for containers/userns.h: --userns, --uidmap and --gidmap read (and
// refused with the option named), maps checked as the kernel takes them,
// keel's pool read from subuid/subgid text, the choice of a free range,
// the lease read back from container records (through the file seam), and
// the spec a container with a user namespace gets.
#include "containers/userns.h"

#include "base/json.h"
#include "base/sys.h"
#include "cli/run_commands.h"
#include "containers/run_spec.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

using namespace keel;
using namespace keel::containers;
using keel::testing::TempDir;

namespace {

Result<UsernsRequest> read_options(std::optional<std::string_view> mode,
                                   std::initializer_list<std::string_view> uidmaps = {},
                                   std::initializer_list<std::string_view> gidmaps = {}) {
    std::vector<std::string_view> uids(uidmaps);
    std::vector<std::string_view> gids(gidmaps);
    return parse_userns_options(mode, uids, gids);
}

std::string options_error(std::optional<std::string_view> mode,
                          std::initializer_list<std::string_view> uidmaps = {},
                          std::initializer_list<std::string_view> gidmaps = {}) {
    Result<UsernsRequest> request = read_options(mode, uidmaps, gidmaps);
    REQUIRE_FALSE(request);
    return request.error().to_string();
}

bool same_mapping(const oci::IdMapping& a, const oci::IdMapping& b) {
    return a.container_id == b.container_id && a.host_id == b.host_id && a.size == b.size;
}

IdMaps auto_maps(uint32_t uid, uint32_t gid, uint32_t size) {
    IdMaps maps;
    maps.uids.push_back({.container_id = 0, .host_id = uid, .size = size});
    maps.gids.push_back({.container_id = 0, .host_id = gid, .size = size});
    return maps;
}

// A container record under ROOT/containers/ID holding `maps`.
void record_container(const TempDir& root, std::string_view id, const IdMaps& maps) {
    std::string bundle = root / cat("containers/", id);
    REQUIRE(make_directories(bundle));
    JsonWriter json;
    json.begin_object().field("id", id);
    write_userns_record(json, UsernsMode::Auto, maps);
    json.end_object();
    REQUIRE(write_new_file(bundle + "/container.json", json.text()));
}

} // namespace

TEST_CASE("without --userns or maps a container gets no user namespace") {
    Result<UsernsRequest> request = read_options(std::nullopt);
    REQUIRE(request);
    CHECK(request->mode == UsernsMode::Host);
    CHECK(request->maps.empty());
    request = read_options("host");
    REQUIRE(request);
    CHECK(request->mode == UsernsMode::Host);
}

TEST_CASE("--userns auto leases 65536 ids unless auto:size=N says how many") {
    Result<UsernsRequest> request = read_options("auto");
    REQUIRE(request);
    CHECK(request->mode == UsernsMode::Auto);
    CHECK(request->size == 65536);
    request = read_options("auto:size=1000");
    REQUIRE(request);
    CHECK(request->size == 1000);
}

TEST_CASE("a bad --userns value is refused naming the option and the value") {
    CHECK(options_error("bogus") ==
          "--userns: unknown mode `bogus` (expected host, auto or auto:size=N)");
    CHECK(options_error("host:x").find("unknown mode `host:x`") != std::string::npos);
    CHECK(options_error("auto:size=0").starts_with("--userns: auto size `0`"));
    CHECK(options_error("auto:size=").starts_with("--userns: auto size ``"));
    CHECK(options_error("auto:size=99999999999").starts_with("--userns: auto size"));
    CHECK(options_error("auto:uidmapping=0:1:1").starts_with("--userns: unknown auto option"));
    CHECK(options_error("").starts_with("--userns: unknown mode"));
}

TEST_CASE("--uidmap alone makes the gid map the same, as podman does") {
    Result<UsernsRequest> request = read_options(std::nullopt, {"0:200000:65536"});
    REQUIRE(request);
    CHECK(request->mode == UsernsMode::Mapped);
    REQUIRE(request->maps.uids.size() == 1);
    REQUIRE(request->maps.gids.size() == 1);
    CHECK(same_mapping(request->maps.uids[0], {0, 200000, 65536}));
    CHECK(same_mapping(request->maps.gids[0], {0, 200000, 65536}));
    request = read_options(std::nullopt, {"0:200000:1000", "1000:300000:10"}, {"0:400000:5000"});
    REQUIRE(request);
    CHECK(request->maps.uids.size() == 2);
    REQUIRE(request->maps.gids.size() == 1);
    CHECK(same_mapping(request->maps.gids[0], {0, 400000, 5000}));
    request = read_options(std::nullopt, {}, {"0:400000:5000"});
    REQUIRE(request);
    CHECK(same_mapping(request->maps.uids[0], {0, 400000, 5000}));
}

TEST_CASE("a malformed --uidmap or --gidmap is refused naming the option and the mapping") {
    CHECK(options_error(std::nullopt, {"0:1"}) ==
          "--uidmap: bad mapping `0:1` (expected CONTAINER:HOST:SIZE, like 0:100000:65536)");
    CHECK(options_error(std::nullopt, {"0:x:5"}).find("the host id `x` is not a number") !=
          std::string::npos);
    CHECK(options_error(std::nullopt, {"-1:0:5"}).find("the container id `-1`") !=
          std::string::npos);
    CHECK(options_error(std::nullopt, {"0:1:0"}).find("the size is 0") != std::string::npos);
    CHECK(options_error(std::nullopt, {"0:4294967290:10"}).find("goes past id 4294967294") !=
          std::string::npos);
    CHECK(options_error(std::nullopt, {"0:4294967296:1"}).find("not a number up to") !=
          std::string::npos);
    CHECK(options_error(std::nullopt, {}, {"0:1:2:3"}).starts_with("--gidmap: bad mapping"));
    CHECK(options_error(std::nullopt, {"0:1:1"}, {""}).starts_with("--gidmap: bad mapping ``"));
}

TEST_CASE("maps that overlap, or leave container id 0 unmapped, are refused") {
    CHECK(options_error(std::nullopt, {"0:100000:10", "5:200000:10"})
              .ends_with("overlap inside the container"));
    CHECK(options_error(std::nullopt, {"0:100000:10", "10:100005:10"})
              .ends_with("overlap on the host"));
    CHECK(options_error(std::nullopt, {"1:100000:10"})
              .starts_with("--uidmap: container id 0 is not mapped"));
    CHECK(options_error(std::nullopt, {"0:100000:10"}, {"1:100000:10"})
              .starts_with("--gidmap: container id 0 is not mapped"));
    // Touching ranges are fine.
    CHECK(read_options(std::nullopt, {"0:100000:10", "10:100010:10"}));
}

TEST_CASE("more mappings than the kernel takes are refused") {
    std::vector<std::string> texts;
    for (uint32_t i = 0; i <= kMaxIdMapLines; ++i)
        texts.push_back(cat(i, ":", 100000 + i, ":1"));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    Result<UsernsRequest> request = parse_userns_options(std::nullopt, views, {});
    REQUIRE_FALSE(request);
    CHECK(request.error().to_string() == "--uidmap: 341 mappings, more than the kernel's 340");
    views.pop_back();
    CHECK(parse_userns_options(std::nullopt, views, {}));
}

TEST_CASE("maps with --userns host or auto are refused") {
    CHECK(
        options_error("host", {"0:1:1"}).starts_with("--uidmap, --gidmap: not with --userns host"));
    CHECK(options_error("auto", {}, {"0:1:1"})
              .starts_with("--uidmap, --gidmap: not with --userns auto"));
}

TEST_CASE("keel run reads --userns, --uidmap and --gidmap, and names them in errors") {
    std::vector<std::string_view> args = {"--userns", "auto:size=4096", "busybox"};
    Result<RunOptions> options = cli::parse_run_args(args);
    REQUIRE_MESSAGE(options, (options ? std::string() : options.error().to_string()));
    CHECK(options->userns.mode == UsernsMode::Auto);
    CHECK(options->userns.size == 4096);
    args = {"--uidmap", "0:200000:100", "--uidmap=100:300000:5", "busybox", "id"};
    options = cli::parse_run_args(args);
    REQUIRE_MESSAGE(options, (options ? std::string() : options.error().to_string()));
    CHECK(options->userns.mode == UsernsMode::Mapped);
    CHECK(options->userns.maps.uids.size() == 2);
    CHECK(options->userns.maps.gids.size() == 2);
    args = {"--userns", "auto", "--rootfs", "/srv/root"};
    options = cli::parse_run_args(args);
    REQUIRE_FALSE(options);
    CHECK(options.error().to_string().find("--userns: needs an image from the store") !=
          std::string::npos);
    args = {"--userns", "bogus", "busybox"};
    options = cli::parse_run_args(args);
    REQUIRE_FALSE(options);
    CHECK(options.error().to_string().find("--userns: unknown mode `bogus`") != std::string::npos);
}

TEST_CASE("a map is written to uid_map as inside, outside and count lines") {
    std::vector<oci::IdMapping> map = {{0, 100000, 65536}, {65536, 5000, 1}};
    CHECK(format_id_map(map) == "0 100000 65536\n65536 5000 1\n");
    CHECK(host_id_of(map, 0) == 100000u);
    CHECK(host_id_of(map, 65535) == 165535u);
    CHECK(host_id_of(map, 65536) == 5000u);
    CHECK_FALSE(host_id_of(map, 65537));
}

TEST_CASE("keel's pool is its lines of /etc/subuid; other users' lines are skipped") {
    Result<std::vector<IdRange>> pool = parse_subid_file(
        "# comment\nalice:100000:65536\n\nkeel:200000:131072\n  keel:500000:1000  \n1000:1:2\n",
        "/etc/subuid", "keel");
    REQUIRE_MESSAGE(pool, (pool ? std::string() : pool.error().to_string()));
    REQUIRE(pool->size() == 2);
    CHECK((*pool)[0].start == 200000);
    CHECK((*pool)[0].size == 131072);
    CHECK((*pool)[1].start == 500000);
    pool = parse_subid_file("alice:100000:65536\n", "/etc/subuid", "keel");
    REQUIRE(pool);
    CHECK(pool->empty());
}

TEST_CASE("a malformed subuid line of keel's is refused naming the file and the line") {
    auto failure = [](std::string_view text) {
        Result<std::vector<IdRange>> pool = parse_subid_file(text, "/etc/subgid", "keel");
        REQUIRE_FALSE(pool);
        return pool.error().to_string();
    };
    CHECK(failure("root:1:1\nkeel:100000\n") ==
          "/etc/subgid, line 2: expected NAME:START:COUNT, got `keel:100000`");
    CHECK(failure("keel:x:5").starts_with("/etc/subgid, line 1: bad START or COUNT"));
    CHECK(failure("keel:5:0").starts_with("/etc/subgid, line 1: bad START or COUNT"));
    CHECK(failure("keel:4294967295:1").find("goes past id") != std::string::npos);
    // Other users' malformed lines are theirs.
    CHECK(parse_subid_file("bob:what\n", "/etc/subuid", "keel"));
}

TEST_CASE("the first free range of the pool is leased, past the ranges taken") {
    std::vector<IdRange> pool = {{100000, 65536 * 4}};
    CHECK(first_free_range(pool, {}, 65536) == 100000u);
    std::vector<IdRange> taken = {{100000, 65536}};
    CHECK(first_free_range(pool, taken, 65536) == 165536u);
    // A freed range in the middle is leased again before the end.
    taken = {{100000, 65536}, {231072, 65536}};
    CHECK(first_free_range(pool, taken, 65536) == 165536u);
    // An explicit map overlapping the pool partly pushes past it.
    taken = {{150000, 10}};
    CHECK(first_free_range(pool, taken, 65536) == 150010u);
    // Out of order, and overlapping each other.
    taken = {{300000, 100}, {100000, 200010}, {200000, 100}};
    CHECK(first_free_range(pool, taken, 1000) == 300100u);
}

TEST_CASE("a full pool leases nothing, and the next range of the pool is tried") {
    std::vector<IdRange> pool = {{100000, 65536}, {500000, 1000}};
    std::vector<IdRange> taken = {{100000, 1}};
    CHECK(first_free_range(pool, taken, 65536) == std::nullopt);
    CHECK(first_free_range(pool, taken, 1000) == 100001u);
    taken = {{100000, 65536}};
    CHECK(first_free_range(pool, taken, 1000) == 500000u);
    CHECK(first_free_range(pool, taken, 1001) == std::nullopt);
    CHECK(first_free_range(pool, {}, 0) == std::nullopt);
}

TEST_CASE("the built-in pool ends below the kernel's invalid id") {
    uint64_t end = uint64_t(kBuiltinIdPool.start) + kBuiltinIdPool.size;
    CHECK(end < 0xffffffffull);
    std::vector<IdRange> pool = {kBuiltinIdPool};
    std::vector<IdRange> taken = {{kBuiltinIdPool.start, kBuiltinIdPool.size - 65536}};
    CHECK(first_free_range(pool, taken, 65536) == uint32_t(end - 65536));
}

TEST_CASE("--userns auto maps container id 0 to the first free uid and gid of the pools") {
    std::vector<IdRange> uid_pool = {{100000, 65536 * 10}};
    std::vector<IdRange> gid_pool = {{700000, 65536 * 10}};
    std::vector<IdMaps> others = {auto_maps(100000, 700000, 65536)};
    Result<IdMaps> maps = choose_auto_maps(uid_pool, gid_pool, others, 65536);
    REQUIRE(maps);
    REQUIRE(maps->uids.size() == 1);
    CHECK(same_mapping(maps->uids[0], {0, 165536, 65536}));
    CHECK(same_mapping(maps->gids[0], {0, 765536, 65536}));
    others.push_back(*maps);
    Result<IdMaps> third = choose_auto_maps(uid_pool, gid_pool, others, 65536);
    REQUIRE(third);
    CHECK(third->uids[0].host_id == 231072);
}

TEST_CASE("--userns auto with every range leased fails with ENOSPC") {
    std::vector<IdRange> pool = {{100000, 65536}};
    std::vector<IdMaps> others = {auto_maps(100000, 100000, 65536)};
    Result<IdMaps> maps = choose_auto_maps(pool, pool, others, 65536);
    REQUIRE_FALSE(maps);
    CHECK(maps.error().code() == ENOSPC);
    CHECK(maps.error().to_string().starts_with("--userns auto: no 65536 uids left"));
}

TEST_CASE("a container record's userns member is read back as it was written") {
    IdMaps maps;
    maps.uids = {{0, 200000, 1000}, {1000, 5000, 1}};
    maps.gids = {{0, 300000, 1000}};
    JsonWriter json;
    json.begin_object().field("id", "x");
    write_userns_record(json, UsernsMode::Mapped, maps);
    json.end_object();
    CHECK(json.text().find(R"("mode":"mapped")") != std::string::npos);
    Result<IdMaps> back = read_userns_record(json.text());
    REQUIRE(back);
    REQUIRE(back->uids.size() == 2);
    CHECK(same_mapping(back->uids[1], {1000, 5000, 1}));
    REQUIRE(back->gids.size() == 1);
    CHECK(same_mapping(back->gids[0], {0, 300000, 1000}));
    Result<IdMaps> none = read_userns_record(R"({"id":"x"})");
    REQUIRE(none);
    CHECK(none->empty());
    CHECK_FALSE(read_userns_record(R"({"userns":{"uidMappings":[{"containerID":0}]}})"));
    CHECK_FALSE(read_userns_record(R"({"userns":5})"));
    CHECK_FALSE(read_userns_record("{"));
}

TEST_CASE("a lease skips the ranges recorded by other containers, and a removed record frees "
          "its range") {
    TempDir root;
    IdPoolFiles files{.subuid = root / "subuid", .subgid = root / "subgid"};
    REQUIRE(write_new_file(files.subuid, "keel:100000:300000\n"));
    REQUIRE(write_new_file(files.subgid, "keel:600000:300000\n"));
    UsernsRequest request{.mode = UsernsMode::Auto};
    Result<UsernsLease> lease = lease_id_maps(root.path(), request, files);
    REQUIRE_MESSAGE(lease, (lease ? std::string() : lease.error().to_string()));
    CHECK(lease->lock);
    CHECK(same_mapping(lease->maps.uids[0], {0, 100000, 65536}));
    CHECK(same_mapping(lease->maps.gids[0], {0, 600000, 65536}));
    record_container(root, "a", lease->maps);
    lease->lock = Fd();
    // A bundle still being written (no record) holds nothing.
    REQUIRE(make_directories(root / "containers/b"));
    lease = lease_id_maps(root.path(), request, files);
    REQUIRE(lease);
    CHECK(lease->maps.uids[0].host_id == 165536);
    CHECK(lease->maps.gids[0].host_id == 665536);
    lease->lock = Fd();
    REQUIRE(::unlink((root / "containers/a/container.json").c_str()) == 0);
    lease = lease_id_maps(root.path(), request, files);
    REQUIRE(lease);
    CHECK(lease->maps.uids[0].host_id == 100000);
}

TEST_CASE("without a subuid line for keel the built-in pool is used") {
    TempDir root;
    IdPoolFiles files{.subuid = root / "none", .subgid = root / "subgid"};
    REQUIRE(write_new_file(files.subgid, "alice:100000:65536\n"));
    Result<UsernsLease> lease = lease_id_maps(root.path(), {.mode = UsernsMode::Auto}, files);
    REQUIRE_MESSAGE(lease, (lease ? std::string() : lease.error().to_string()));
    CHECK(lease->maps.uids[0].host_id == kBuiltinIdPool.start);
    CHECK(lease->maps.gids[0].host_id == kBuiltinIdPool.start);
}

TEST_CASE("a malformed subuid file or container record stops --userns auto") {
    TempDir root;
    IdPoolFiles files{.subuid = root / "subuid", .subgid = root / "subgid"};
    REQUIRE(write_new_file(files.subuid, "keel:1\n"));
    Result<UsernsLease> lease = lease_id_maps(root.path(), {.mode = UsernsMode::Auto}, files);
    REQUIRE_FALSE(lease);
    CHECK(lease.error().to_string().find("subuid, line 1") != std::string::npos);
    REQUIRE(::unlink(files.subuid.c_str()) == 0);
    REQUIRE(make_directories(root / "containers/a"));
    REQUIRE(write_new_file(root / "containers/a/container.json", R"({"userns":[]})"));
    lease = lease_id_maps(root.path(), {.mode = UsernsMode::Auto}, files);
    REQUIRE_FALSE(lease);
    CHECK(lease.error().to_string().find("container.json") != std::string::npos);
}

TEST_CASE("--uidmap's maps are used as given, without a lock or a look at the pool") {
    TempDir root;
    UsernsRequest request{.mode = UsernsMode::Mapped};
    request.maps.uids = {{0, 200000, 10}};
    request.maps.gids = {{0, 200000, 10}};
    Result<UsernsLease> lease = lease_id_maps(root / "missing", request);
    REQUIRE(lease);
    CHECK_FALSE(lease->lock);
    CHECK(same_mapping(lease->maps.uids[0], {0, 200000, 10}));
    CHECK_FALSE(path_exists(root / "missing"));
}

TEST_CASE("a container with maps gets a user namespace with them in its config.json") {
    TempDir dir;
    REQUIRE(make_directories(dir / "rootfs/etc"));
    ContainerPlace place{
        .id = std::string(64, 'a'), .rootfs = dir / "rootfs", .files_dir = dir / "files"};
    place.id_maps = auto_maps(100000, 200000, 65536);
    RunOptions options;
    options.command = {"id"};
    Result<std::string> text = make_spec(options, {}, place);
    REQUIRE_MESSAGE(text, (text ? std::string() : text.error().to_string()));
    Result<oci::Spec> spec = oci::parse_spec(*text);
    REQUIRE_MESSAGE(spec, (spec ? std::string() : spec.error().to_string()));
    CHECK(spec->linux_config.find_namespace(oci::NamespaceType::User));
    CHECK(spec->linux_config.find_namespace(oci::NamespaceType::Network));
    REQUIRE(spec->linux_config.uid_mappings.size() == 1);
    CHECK(same_mapping(spec->linux_config.uid_mappings[0], {0, 100000, 65536}));
    CHECK(same_mapping(spec->linux_config.gid_mappings[0], {0, 200000, 65536}));
    // devpts's gid=5 stays while gid 5 is mapped, and goes when it is not.
    auto devpts_options = [](const oci::Spec& s) {
        for (const oci::Mount& mount : s.mounts)
            if (mount.destination == "/dev/pts")
                return mount.options;
        return std::vector<std::string>{};
    };
    CHECK(std::ranges::count(devpts_options(*spec), "gid=5") == 1);
    place.id_maps.gids = {{0, 200000, 1}};
    spec = oci::parse_spec(make_spec(options, {}, place).value());
    REQUIRE(spec);
    CHECK(std::ranges::count(devpts_options(*spec), "gid=5") == 0);
    place.id_maps = {};
    spec = oci::parse_spec(make_spec(options, {}, place).value());
    REQUIRE(spec);
    CHECK_FALSE(spec->linux_config.find_namespace(oci::NamespaceType::User));
    CHECK(spec->linux_config.uid_mappings.empty());
}
