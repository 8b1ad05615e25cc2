// Tests for containers/cgroup_resources.h: each conversion of
// linux.resources to cgroup v2 files and the errors for values v2 cannot
// take (pure), and apply_cgroup_writes against a temp directory of plain
// files standing in for a group (it only opens and writes files relative
// to the directory fd).
#include "containers/cgroup_resources.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::TempDir;

namespace {

using Writes = std::vector<CgroupWrite>;

Writes writes_of(const Resources& resources) {
    auto writes = cgroup_v2_writes(resources);
    REQUIRE_MESSAGE(writes, (writes ? std::string() : writes.error().to_string()));
    return *writes;
}

std::string resources_error(const Resources& resources) {
    auto writes = cgroup_v2_writes(resources);
    REQUIRE_FALSE(writes);
    return writes.error().to_string();
}

Resources memory(std::optional<int64_t> limit, std::optional<int64_t> swap = std::nullopt,
                 std::optional<int64_t> reservation = std::nullopt) {
    Resources resources;
    resources.memory = MemoryResources{};
    resources.memory->limit = limit;
    resources.memory->swap = swap;
    resources.memory->reservation = reservation;
    return resources;
}

Resources cpu(CpuResources values) {
    Resources resources;
    resources.cpu = std::move(values);
    return resources;
}

Resources block_io(BlockIoResources values) {
    Resources resources;
    resources.block_io = std::move(values);
    return resources;
}

std::string cpu_weight(uint64_t shares) {
    CpuResources values;
    values.shares = shares;
    Writes writes = writes_of(cpu(values));
    REQUIRE(writes.size() == 1);
    CHECK(writes[0].file == "cpu.weight");
    return writes[0].value;
}

// A fake group: a directory with the named control files, empty.
struct FakeGroup {
    TempDir dir;
    Fd fd;
    explicit FakeGroup(std::initializer_list<std::string> files) {
        for (const std::string& file : files)
            REQUIRE(write_new_file(dir / file, ""));
        fd = *open_file(dir.path(), O_RDONLY | O_DIRECTORY);
    }
    std::string read(const std::string& file) const { return *read_file(dir / file); }
};

} // namespace

TEST_CASE("no resources, no writes") {
    CHECK(writes_of(Resources{}).empty());
    CHECK(controllers_needed({}).empty());
}

TEST_CASE("memory: limit to memory.max, reservation to memory.low, -1 to max") {
    CHECK(writes_of(memory(536870912)) == Writes{{"memory.max", "536870912"}});
    CHECK(writes_of(memory(-1)) == Writes{{"memory.max", "max"}});
    CHECK(writes_of(memory(std::nullopt, std::nullopt, 1048576)) ==
          Writes{{"memory.low", "1048576"}});
    CHECK(writes_of(memory(std::nullopt, std::nullopt, -1)) == Writes{{"memory.low", "max"}});
    // 0 is "unset", as runc reads the v1-era structure.
    CHECK(writes_of(memory(0, 0, 0)).empty());
    CHECK(resources_error(memory(-2)) ==
          "linux.resources.memory.limit: -2 is negative (only -1, unlimited, is)");
}

TEST_CASE("memory: swap counts memory and swap together in the spec, swap alone in v2") {
    CHECK(writes_of(memory(1000000, 3000000)) ==
          Writes{{"memory.max", "1000000"}, {"memory.swap.max", "2000000"}});
    // swap == limit: no swap at all.
    CHECK(writes_of(memory(1000000, 1000000)) ==
          Writes{{"memory.max", "1000000"}, {"memory.swap.max", "0"}});
    CHECK(writes_of(memory(1000000, -1)) ==
          Writes{{"memory.max", "1000000"}, {"memory.swap.max", "max"}});
    // Unlimited memory with swap unset: both unlimited (v1's reading).
    CHECK(writes_of(memory(-1, 0)) == Writes{{"memory.max", "max"}, {"memory.swap.max", "max"}});
    CHECK(writes_of(memory(1000000, 0)) == Writes{{"memory.max", "1000000"}});

    CHECK(resources_error(memory(1000000, 999999)) ==
          "linux.resources.memory.swap: less than memory.limit");
    CHECK(resources_error(memory(std::nullopt, 1000000)) ==
          "linux.resources.memory.swap: needs a memory.limit (swap counts memory and swap)");
    CHECK(resources_error(memory(-1, 1000000)) ==
          "linux.resources.memory.swap: needs a memory.limit (swap counts memory and swap)");
    CHECK(resources_error(memory(1000000, -5)) ==
          "linux.resources.memory.swap: -5 is negative (only -1, unlimited, is)");
}

TEST_CASE("memory: v1-only settings are refused, not dropped") {
    Resources resources = memory(1000000);
    resources.memory->swappiness = 60;
    CHECK(resources_error(resources) ==
          "linux.resources.memory.swappiness: cgroup v2 has no per-group swappiness");
    resources = memory(1000000);
    resources.memory->disable_oom_killer = true;
    CHECK(resources_error(resources) ==
          "linux.resources.memory.disableOOMKiller: cgroup v2 cannot turn the OOM killer off");
    resources = memory(1000000);
    resources.memory->use_hierarchy = true;
    CHECK(writes_of(resources) == Writes{{"memory.max", "1000000"}});
}

TEST_CASE("cpu: shares become cpu.weight by crun's formula") {
    CHECK(cpu_weight(2) == "1");
    CHECK(cpu_weight(1024) == "39"); // v1's default share, as crun and runc convert it
    CHECK(cpu_weight(512) == "20");
    CHECK(cpu_weight(262144) == "10000");
    // Outside v1's range the kernel clamped; so does the conversion.
    CHECK(cpu_weight(1) == "1");
    CHECK(cpu_weight(1000000) == "10000");
    CpuResources unset;
    unset.shares = 0;
    CHECK(writes_of(cpu(unset)).empty());
}

TEST_CASE("cpu: quota and period become cpu.max") {
    CpuResources values;
    values.quota = 50000;
    values.period = 100000;
    CHECK(writes_of(cpu(values)) == Writes{{"cpu.max", "50000 100000"}});
    values.period.reset();
    CHECK(writes_of(cpu(values)) == Writes{{"cpu.max", "50000"}});
    values.quota = -1;
    values.period = 250000;
    CHECK(writes_of(cpu(values)) == Writes{{"cpu.max", "max 250000"}});
    values.quota.reset();
    CHECK(writes_of(cpu(values)) == Writes{{"cpu.max", "max 250000"}});

    values.quota = 500;
    CHECK(resources_error(cpu(values)) ==
          "linux.resources.cpu.quota: 500 is below 1000 microseconds");
    values.quota = -3;
    CHECK(resources_error(cpu(values)) ==
          "linux.resources.cpu.quota: -3 is negative (only -1, unlimited, is)");
    values.quota = 20000;
    values.period = 2000000;
    CHECK(resources_error(cpu(values)) ==
          "linux.resources.cpu.period: 2000000 is not 1000 to 1000000 microseconds");
}

TEST_CASE("cpu: burst, idle, cpuset lists; real-time is refused") {
    CpuResources values;
    values.quota = 20000;
    values.burst = 10000;
    values.idle = 1;
    values.cpus = "0-3,7";
    values.mems = "0";
    CHECK(writes_of(cpu(values)) == Writes{{"cpuset.cpus", "0-3,7"},
                                           {"cpuset.mems", "0"},
                                           {"cpu.max", "20000"},
                                           {"cpu.max.burst", "10000"},
                                           {"cpu.idle", "1"}});

    CpuResources bad = values;
    bad.burst = 30000;
    CHECK(resources_error(cpu(bad)) == "linux.resources.cpu.burst: 30000 is above cpu.quota");
    bad = values;
    bad.idle = 2;
    CHECK(resources_error(cpu(bad)) == "linux.resources.cpu.idle: 2 is not 0 or 1");
    bad = values;
    bad.cpus = "0-3;7";
    CHECK(resources_error(cpu(bad)) ==
          "linux.resources.cpu.cpus: `0-3;7` is not a CPU list like `0-3,7`");
    bad = values;
    bad.mems = "0-";
    CHECK(resources_error(cpu(bad)) ==
          "linux.resources.cpu.mems: `0-` is not a memory node list like `0-1`");
    bad = values;
    bad.realtime_runtime = 950000;
    CHECK(resources_error(cpu(bad)) ==
          "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time groups");
}

TEST_CASE("pids: a limit to pids.max, 0 or below to max") {
    Resources resources;
    resources.pids_limit = 100;
    CHECK(writes_of(resources) == Writes{{"pids.max", "100"}});
    resources.pids_limit = 0;
    CHECK(writes_of(resources) == Writes{{"pids.max", "max"}});
    resources.pids_limit = -1;
    CHECK(writes_of(resources) == Writes{{"pids.max", "max"}});
}

TEST_CASE("blockIO: weights go to io.bfq.weight, falling back to a scaled io.weight") {
    BlockIoResources values;
    values.weight = 500;
    values.weight_devices = {{8, 0, 100, std::nullopt}, {8, 16, std::nullopt, std::nullopt}};
    CHECK(writes_of(block_io(values)) ==
          Writes{{"io.bfq.weight", "500", IfMissing::UseFallback, "io.weight", "4950"},
                 {"io.bfq.weight", "8:0 100", IfMissing::UseFallback, "io.weight", "8:0 910"}});
    values.weight_devices.clear();
    values.weight = 10;
    CHECK(writes_of(block_io(values))[0].fallback_value == "1");
    values.weight = 1000;
    CHECK(writes_of(block_io(values))[0].fallback_value == "10000");

    values.weight = 5;
    CHECK(resources_error(block_io(values)) ==
          "linux.resources.blockIO.weight: 5 is not 10 to 1000");
    values.weight = 100;
    values.leaf_weight = 100;
    CHECK(resources_error(block_io(values)) ==
          "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights");
    values.leaf_weight.reset();
    values.weight_devices = {{-1, 0, 100, std::nullopt}};
    CHECK(resources_error(block_io(values)) ==
          "linux.resources.blockIO.weightDevice[0]: no device -1:0");
}

TEST_CASE("blockIO: throttles become one io.max line per device") {
    BlockIoResources values;
    values.throttle_read_bps = {{8, 0, 1048576}, {8, 16, 2097152}};
    values.throttle_write_bps = {{8, 0, 0}};
    values.throttle_read_iops = {{8, 16, 100}};
    values.throttle_write_iops = {{8, 0, 50}};
    CHECK(writes_of(block_io(values)) == Writes{{"io.max", "8:0 rbps=1048576 wbps=max wiops=50"},
                                                {"io.max", "8:16 rbps=2097152 riops=100"}});
    values.throttle_read_iops = {{8, -16, 100}};
    CHECK(resources_error(block_io(values)) ==
          "linux.resources.blockIO.throttleReadIOPSDevice[0]: no device 8:-16");
}

TEST_CASE("hugepage limits go to hugetlb.<size>.max and, where there is one, .rsvd.max") {
    Resources resources;
    resources.hugepage_limits = {{"2MB", 209715200}, {"1GB", 0}};
    CHECK(writes_of(resources) == Writes{{"hugetlb.2MB.max", "209715200"},
                                         {"hugetlb.2MB.rsvd.max", "209715200", IfMissing::Skip},
                                         {"hugetlb.1GB.max", "0"},
                                         {"hugetlb.1GB.rsvd.max", "0", IfMissing::Skip}});
    for (std::string size : {"2M", "MB", "2mb", "2TB", "../2MB", "0MB"}) {
        resources.hugepage_limits = {{"1GB", 0}, {size, 1}};
        CHECK(resources_error(resources) ==
              cat("linux.resources.hugepageLimits[1].pageSize: ", keel::quoted(size),
                  " is not a page size like `2MB`"));
    }
}

TEST_CASE("unified entries are written last, verbatim, and override the conversions") {
    Resources resources = memory(1000000);
    resources.unified = {{"memory.high", "900000"}, {"memory.max", "2000000"}, {"misc.max", "x 1"}};
    CHECK(writes_of(resources) == Writes{{"memory.max", "1000000"},
                                         {"memory.high", "900000"},
                                         {"memory.max", "2000000"},
                                         {"misc.max", "x 1"}});
    for (std::string key : {"memory", "../memory.max", "memory/max", "memory..max", ".max",
                            "memory.", "memory.max\n", ""}) {
        resources.unified = {{key, "1"}};
        CHECK(resources_error(resources) == cat("linux.resources.unified[", keel::quoted(key),
                                                "]: not a file name like `memory.high`"));
    }
    resources.unified = {{"cgroup.procs", "1"}};
    CHECK(resources_error(resources) ==
          "linux.resources.unified[`cgroup.procs`]: moves processes, sets no limit");
}

TEST_CASE("the writes come in a fixed order and name the controllers they need") {
    Resources resources = memory(1000000);
    resources.pids_limit = 10;
    resources.cpu = CpuResources{};
    resources.cpu->shares = 1024;
    resources.cpu->cpus = "0";
    resources.block_io = BlockIoResources{};
    resources.block_io->weight = 100;
    resources.hugepage_limits = {{"2MB", 0}};
    resources.unified = {{"cgroup.max.depth", "3"}, {"misc.max", "res_a 1"}};
    Writes writes = writes_of(resources);
    std::vector<std::string> files;
    for (const CgroupWrite& write : writes)
        files.push_back(write.file);
    CHECK(files == std::vector<std::string>{
                       "cpuset.cpus", "memory.max", "cpu.weight", "pids.max", "io.bfq.weight",
                       "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "cgroup.max.depth", "misc.max"});
    CHECK(controllers_needed(writes) ==
          std::vector<std::string>{"cpuset", "memory", "cpu", "pids", "io", "hugetlb", "misc"});
}

TEST_CASE("apply_cgroup_writes writes each value into its file") {
    FakeGroup group({"memory.max", "memory.swap.max", "pids.max", "io.weight", "hugetlb.2MB.max"});
    Resources resources = memory(1000000, 3000000);
    resources.pids_limit = 64;
    resources.block_io = BlockIoResources{};
    resources.block_io->weight = 1000;
    resources.hugepage_limits = {{"2MB", 4194304}};
    REQUIRE(apply_cgroup_writes(group.fd.get(), writes_of(resources)));
    CHECK(group.read("memory.max") == "1000000");
    CHECK(group.read("memory.swap.max") == "2000000");
    CHECK(group.read("pids.max") == "64");
    // No BFQ: the scaled weight went to io.weight.
    CHECK(group.read("io.weight") == "10000");
    CHECK(group.read("hugetlb.2MB.max") == "4194304");
    // The optional reservation file was not made.
    CHECK_FALSE(path_exists(group.dir / "hugetlb.2MB.rsvd.max"));
}

TEST_CASE("apply_cgroup_writes prefers the primary file when it exists") {
    FakeGroup group({"io.bfq.weight", "io.weight", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"});
    REQUIRE(apply_cgroup_writes(
        group.fd.get(), {{"io.bfq.weight", "500", IfMissing::UseFallback, "io.weight", "4950"},
                         {"hugetlb.2MB.max", "7"},
                         {"hugetlb.2MB.rsvd.max", "7", IfMissing::Skip}}));
    CHECK(group.read("io.bfq.weight") == "500");
    CHECK(group.read("io.weight") == "");
    CHECK(group.read("hugetlb.2MB.rsvd.max") == "7");
}

TEST_CASE("a missing control file names the controller, and nothing is written") {
    FakeGroup group({"memory.max", "io.weight"});
    auto applied =
        apply_cgroup_writes(group.fd.get(), {{"memory.max", "1000000"}, {"hugetlb.3MB.max", "1"}});
    REQUIRE_FALSE(applied);
    CHECK(applied.error().code() == ENOENT);
    CHECK(applied.error().root() == "hugetlb.3MB.max: no such limit in this cgroup (controller "
                                    "hugetlb not enabled or size unsupported)");
    CHECK(group.read("memory.max") == "");

    applied = apply_cgroup_writes(group.fd.get(), {{"pids.max", "5"}});
    CHECK(applied.error().root() ==
          "pids.max: no such limit in this cgroup (controller pids not enabled)");
    applied = apply_cgroup_writes(group.fd.get(), {{"memory.swap.max", "5"}});
    CHECK(applied.error().root() == "memory.swap.max: no such limit in this cgroup (controller "
                                    "memory not enabled or swap accounting off)");
    // Neither BFQ nor the io cost model: the fallback is named.
    FakeGroup bare({});
    applied = apply_cgroup_writes(
        bare.fd.get(), {{"io.bfq.weight", "500", IfMissing::UseFallback, "io.weight", "4950"}});
    CHECK(applied.error().root() == "io.weight: no such limit in this cgroup (controller io not "
                                    "enabled or no io cost model in the kernel)");
}

TEST_CASE("a value that cannot be written is reported with file and value") {
    FakeGroup group({"memory.max"});
    // /dev/full's node where pids.max should be: its write fails (ENOSPC) as
    // a value cgroupfs refuses fails (EINVAL), after the open succeeded.
    if (::mknod((group.dir / "pids.max").c_str(), S_IFCHR | 0600, makedev(1, 7)) != 0 ||
        ::access((group.dir / "pids.max").c_str(), W_OK) != 0)
        return; // no device nodes here (nodev, or not root): nothing to test
    auto applied = apply_cgroup_writes(group.fd.get(), {{"memory.max", "12"}, {"pids.max", "3"}});
    REQUIRE_FALSE(applied);
    CHECK(applied.error().code() == ENOSPC);
    CHECK(applied.error().to_string() == "pids.max = 3: No space left on device");
    // What came before the failure stays written.
    CHECK(group.read("memory.max") == "12");
}

TEST_CASE("a control file that is not a file cannot be opened for writing") {
    FakeGroup group({});
    REQUIRE(::mkdir((group.dir / "pids.max").c_str(), 0700) == 0);
    auto applied = apply_cgroup_writes(group.fd.get(), {{"pids.max", "3"}});
    REQUIRE_FALSE(applied);
    CHECK(applied.error().code() == EISDIR);
    CHECK(applied.error().to_string() == "open `pids.max`: Is a directory");
}

TEST_CASE("systemd's slice:prefix:name is the scope under its slices, as systemd places it") {
    CHECK(*oci::systemd_cgroup_path("system.slice:docker:abc") == "system.slice/docker-abc.scope");
    CHECK(*oci::systemd_cgroup_path("kubepods-burstable-pod12.slice:cri-containerd:f00") ==
          "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/"
          "cri-containerd-f00.scope");
    CHECK(*oci::systemd_cgroup_path(":podman:web") == "system.slice/podman-web.scope");
    CHECK(*oci::systemd_cgroup_path("-.slice:keel:web") == "keel-web.scope");
    CHECK(*oci::systemd_cgroup_path("machine.slice::web") == "machine.slice/web.scope");
}

TEST_CASE("malformed systemd cgroup paths say which part is wrong") {
    auto refusal = [](std::string_view path) {
        auto result = oci::systemd_cgroup_path(path);
        REQUIRE_FALSE(result);
        return result.error().to_string();
    };
    CHECK(refusal("/keel/web") == "expected systemd's form slice:prefix:name, got `/keel/web`");
    CHECK(refusal("a.slice:b") == "expected systemd's form slice:prefix:name, got `a.slice:b`");
    CHECK(refusal("a.slice:b:c:d") ==
          "expected systemd's form slice:prefix:name, got `a.slice:b:c:d`");
    CHECK(refusal("system.slice:docker:") == "`system.slice:docker:`: the name is empty");
    CHECK(refusal("system.slice:x/y:web") == "`system.slice:x/y:web`: systemd's form has no /");
    CHECK(refusal("system.slice:keel:pod.slice") ==
          "`system.slice:keel:pod.slice`: the name is a slice; keel makes a scope for a container");
    CHECK(refusal("system:docker:abc") == "slice `system`: a slice's name ends with .slice");
    CHECK(refusal("a--b.slice:docker:abc") ==
          "slice `a--b.slice`: a dash may not start or end it, nor follow another");
    CHECK(refusal("-a.slice:docker:abc") ==
          "slice `-a.slice`: a dash may not start or end it, nor follow another");
    CHECK(refusal("a b.slice:docker:abc") ==
          "slice `a b.slice`: not a unit name (letters, digits and :_.\\- only)");
    CHECK(refusal("system.slice:do cker:abc") ==
          "scope `do cker-abc.scope`: not a unit name (letters, digits and :_.\\- only)");
}

// ---- cgroup v1 ------------------------------------------------------------

namespace {

Writes v1_writes_of(const Resources& resources) {
    auto writes = cgroup_v1_writes(resources);
    REQUIRE_MESSAGE(writes, (writes ? std::string() : writes.error().to_string()));
    return *writes;
}

std::string v1_error(const Resources& resources) {
    auto writes = cgroup_v1_writes(resources);
    REQUIRE_FALSE(writes);
    return writes.error().to_string();
}

} // namespace

TEST_CASE("v1: memory values go to v1's files as they are, swap as memory+swap") {
    CHECK(v1_writes_of(memory(1048576, 2097152, 524288)) ==
          Writes{{"memory.soft_limit_in_bytes", "524288"},
                 {"memory.limit_in_bytes", "1048576"},
                 {"memory.memsw.limit_in_bytes", "2097152"}});
    CHECK(v1_writes_of(memory(-1)) ==
          Writes{{"memory.limit_in_bytes", "-1"},
                 {"memory.memsw.limit_in_bytes", "-1", IfMissing::Skip}});
    CHECK(v1_writes_of(memory(-1, 0)) ==
          Writes{{"memory.limit_in_bytes", "-1"}, {"memory.memsw.limit_in_bytes", "-1"}});
    CHECK(v1_writes_of(memory(0, 0, 0)).empty());
    CHECK(v1_error(memory(1048576, 524288)) ==
          "linux.resources.memory.swap: less than memory.limit");
    CHECK(v1_error(memory(-2)) ==
          "linux.resources.memory.limit: -2 is negative (only -1, unlimited, is)");
    // What cgroup v2 refuses, v1 has.
    Resources resources = memory(std::nullopt);
    resources.memory->swappiness = 10;
    resources.memory->disable_oom_killer = true;
    CHECK(v1_writes_of(resources) ==
          Writes{{"memory.swappiness", "10"}, {"memory.oom_control", "1"}});
    resources.memory->swappiness = 101;
    CHECK(v1_error(resources) == "linux.resources.memory.swappiness: 101 is not 0 to 100");
}

TEST_CASE("v1: cpu shares as they are, the period before the quota, real-time groups") {
    CpuResources values;
    values.shares = 1;
    values.quota = 20000;
    values.period = 100000;
    values.realtime_runtime = 950000;
    values.realtime_period = 1000000;
    values.cpus = "0-1";
    CHECK(v1_writes_of(cpu(values)) == Writes{{"cpuset.cpus", "0-1"},
                                              {"cpu.shares", "2"}, // clamped to v1's least
                                              {"cpu.cfs_period_us", "100000"},
                                              {"cpu.cfs_quota_us", "20000"},
                                              {"cpu.rt_period_us", "1000000"},
                                              {"cpu.rt_runtime_us", "950000"}});
    values = CpuResources{};
    values.quota = -1;
    CHECK(v1_writes_of(cpu(values)) == Writes{{"cpu.cfs_quota_us", "-1"}});
    values.quota = 500;
    CHECK(v1_error(cpu(values)) == "linux.resources.cpu.quota: 500 is below 1000 microseconds");
}

TEST_CASE("v1: blkio weights fall back to BFQ's, throttles are one write per device") {
    BlockIoResources values;
    values.weight = 500;
    values.weight_devices = {{8, 0, 300, std::nullopt}};
    values.throttle_read_bps = {{8, 0, 1048576}};
    values.throttle_write_iops = {{8, 16, 0}};
    CHECK(v1_writes_of(block_io(values)) ==
          Writes{{"blkio.weight", "500", IfMissing::UseFallback, "blkio.bfq.weight", "500"},
                 {"blkio.weight_device", "8:0 300", IfMissing::UseFallback,
                  "blkio.bfq.weight_device", "8:0 300"},
                 {"blkio.throttle.read_bps_device", "8:0 1048576"},
                 {"blkio.throttle.write_iops_device", "8:16 0"}});
    values.weight = 5;
    CHECK(v1_error(block_io(values)) == "linux.resources.blockIO.weight: 5 is not 10 to 1000");
}

TEST_CASE("v1: pids and hugepages; unified cgroup v2 files are refused") {
    Resources resources;
    resources.pids_limit = 0;
    resources.hugepage_limits = {{"2MB", 2097152}};
    CHECK(v1_writes_of(resources) ==
          Writes{{"pids.max", "max"},
                 {"hugetlb.2MB.limit_in_bytes", "2097152"},
                 {"hugetlb.2MB.rsvd.limit_in_bytes", "2097152", IfMissing::Skip}});
    resources.unified = {{"memory.high", "1G"}};
    CHECK(v1_error(resources) == "linux.resources.unified: cgroup v2 files (`memory.high`) "
                                 "cannot be written: the host's cgroups are v1");
}

TEST_CASE("v1: writes go to their controller's hierarchy; a missing one fails them all") {
    TempDir root;
    for (std::string_view hierarchy : {"memory", "pids"}) {
        REQUIRE(make_directories(cat(root.path(), "/", hierarchy)));
        REQUIRE(write_new_file(cat(root.path(), "/", hierarchy, "/cgroup.procs"), ""));
    }
    auto group = Cgroup::create("keel.oci/box", CgroupLimits{}, root.path());
    REQUIRE(group);
    std::string memory = root / "memory/keel.oci/box";
    std::string pids = root / "pids/keel.oci/box";
    for (const std::string& file : {memory + "/memory.limit_in_bytes",
                                    memory + "/memory.memsw.limit_in_bytes", pids + "/pids.max"})
        REQUIRE(write_new_file(file, ""));
    REQUIRE(apply_cgroup_writes(*group, Writes{{"memory.limit_in_bytes", "1048576"},
                                               {"pids.max", "9"},
                                               {"memory.memsw.limit_in_bytes", "2097152"}}));
    CHECK(*read_file(memory + "/memory.limit_in_bytes") == "1048576");
    CHECK(*read_file(memory + "/memory.memsw.limit_in_bytes") == "2097152");
    CHECK(*read_file(pids + "/pids.max") == "9");

    // A file one hierarchy lacks fails the set before the others are written.
    REQUIRE(::unlink((memory + "/memory.memsw.limit_in_bytes").c_str()) == 0);
    auto no_swap = apply_cgroup_writes(
        *group, Writes{{"pids.max", "5"}, {"memory.memsw.limit_in_bytes", "4194304"}});
    REQUIRE_FALSE(no_swap);
    CHECK(no_swap.error().to_string() ==
          "memory.memsw.limit_in_bytes: no such limit in this cgroup (controller memory not "
          "enabled or swap accounting off): No such file or directory");
    CHECK(*read_file(pids + "/pids.max") == "9");

    auto missing = apply_cgroup_writes(*group, Writes{{"pids.max", "5"}, {"cpu.shares", "512"}});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
    CHECK(missing.error().to_string() ==
          "cpu.shares: the host mounts no cgroup v1 cpu hierarchy: No such file or directory");
    CHECK(*read_file(pids + "/pids.max") == "9");
}
