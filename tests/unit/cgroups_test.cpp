// Tests for cgroups/cgroups.h: the limit parsers (systemd's spellings and
// the messages for bad ones), and the control-file logic against a fake
// cgroup tree of plain files in a temp dir (the API takes its root as a
// parameter for this). Real controllers are exercised in QEMU
// (tests/qemu/cgroups_limits.sh). Also: spawn_process joining a cgroup.
#include "cgroups/cgroups.h"

#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace keel;
using keel::testing::cgroup2_mount;
using keel::testing::TempDir;

namespace {

// (Generic over the result type: deducing T through the Result alias trips
// up GCC 12 in some builds.)
template <typename ParseResult> std::string cgroup_parse_error(const ParseResult& parsed) {
    REQUIRE_FALSE(parsed);
    return parsed.error().to_string();
}

// A parsed limit as text: the number, or "none" for no limit.
template <typename ParseResult> std::string limit_text(const ParseResult& value) {
    REQUIRE_MESSAGE(value, (value ? std::string() : value.error().to_string()));
    return *value ? cat(**value) : std::string("none");
}

void write_control_file(const std::string& path, std::string_view text) {
    REQUIRE(write_new_file(path, text));
}

std::string read_control_file(const std::string& path) {
    auto text = read_file(path);
    REQUIRE_MESSAGE(text, path);
    return *text;
}

// The files a kernel shows in a group with the three controllers enabled.
void make_fake_group(const std::string& path) {
    REQUIRE(make_directories(path));
    write_control_file(path + "/cgroup.controllers", "cpu memory pids\n");
    write_control_file(path + "/cgroup.subtree_control", "");
    write_control_file(path + "/cgroup.procs", "");
    write_control_file(path + "/cgroup.events", "populated 0\nfrozen 0\n");
    write_control_file(path + "/cgroup.freeze", "0\n");
    write_control_file(path + "/memory.max", "max\n");
    write_control_file(path + "/memory.high", "max\n");
    write_control_file(path + "/cpu.max", "max 100000\n");
    write_control_file(path + "/pids.max", "max\n");
}

// A fake hierarchy root (no cgroup.events, as the real root) with keel.slice.
void make_fake_root(const std::string& root, std::string_view controllers =
                                                 "cpuset cpu io memory hugetlb pids rdma misc\n") {
    write_control_file(root + "/cgroup.controllers", controllers);
    write_control_file(root + "/cgroup.subtree_control", "");
    write_control_file(root + "/cgroup.procs", "1\n");
    make_fake_group(root + "/keel.slice");
}

// Spawns, waits, and returns the exit code (-1 when killed by a signal).
int exit_code_of(const SpawnOptions& options) {
    auto pid = spawn_process(options);
    REQUIRE(pid);
    int status = 0;
    REQUIRE(::waitpid(*pid, &status, 0) == *pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

TEST_CASE("MemoryMax takes bytes, K/M/G/T/P/E as powers of 1024, fractions and infinity") {
    CHECK(limit_text(parse_memory_max("100")) == "100");
    CHECK(limit_text(parse_memory_max("100B")) == "100");
    CHECK(limit_text(parse_memory_max("64K")) == "65536");
    CHECK(limit_text(parse_memory_max("512M")) == "536870912");
    CHECK(limit_text(parse_memory_max("32M")) == "33554432");
    CHECK(limit_text(parse_memory_max("1G")) == "1073741824");
    CHECK(limit_text(parse_memory_max("1.5G")) == "1610612736");
    CHECK(limit_text(parse_memory_max("0.5K")) == "512");
    CHECK(limit_text(parse_memory_max("2T")) == "2199023255552");
    CHECK(limit_text(parse_memory_max("15E")) == "17293822569102704640");
    CHECK(limit_text(parse_memory_max("infinity")) == "none");
    CHECK(limit_text(parse_memory_max("")) == "none");
}

TEST_CASE("bad MemoryMax values are errors naming the key and the value") {
    CHECK(cgroup_parse_error(parse_memory_max("abc")) ==
          "MemoryMax=abc: not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
          "infinity)");
    CHECK(cgroup_parse_error(parse_memory_max("-1")) ==
          "MemoryMax=-1: not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
          "infinity)");
    CHECK(cgroup_parse_error(parse_memory_max("1.G")) ==
          "MemoryMax=1.G: not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
          "infinity)");
    CHECK(cgroup_parse_error(parse_memory_max("512m")) ==
          "MemoryMax=512m: unknown suffix `m` (K, M, G, T, P or E: powers of 1024)");
    CHECK(cgroup_parse_error(parse_memory_max("1GB")) ==
          "MemoryMax=1GB: unknown suffix `GB` (K, M, G, T, P or E: powers of 1024)");
    CHECK(cgroup_parse_error(parse_memory_max("1 G")) ==
          "MemoryMax=1 G: unknown suffix ` G` (K, M, G, T, P or E: powers of 1024)");
    CHECK(cgroup_parse_error(parse_memory_max("50%")) ==
          "MemoryMax=50%: a percentage of RAM is not supported; give a size such as 512M");
    CHECK(cgroup_parse_error(parse_memory_max("0")) == "MemoryMax=0: must be at least 1 byte");
    CHECK(cgroup_parse_error(parse_memory_max("0.0001K")) ==
          "MemoryMax=0.0001K: must be at least 1 byte");
    CHECK(cgroup_parse_error(parse_memory_max("1.5")) ==
          "MemoryMax=1.5: a fraction needs a suffix (1.5G)");
    CHECK(cgroup_parse_error(parse_memory_max("16E")) == "MemoryMax=16E: too large");
    CHECK(cgroup_parse_error(parse_memory_max("99999999999999999999")) ==
          "MemoryMax=99999999999999999999: too large");
    CHECK(cgroup_parse_error(parse_memory_max("1.0000000001G")) ==
          "MemoryMax=1.0000000001G: more than 9 decimals");
}

TEST_CASE("MemoryHigh takes the spellings of MemoryMax, and its errors name MemoryHigh") {
    CHECK(limit_text(parse_memory_high("100")) == "100");
    CHECK(limit_text(parse_memory_high("64K")) == "65536");
    CHECK(limit_text(parse_memory_high("24M")) == "25165824");
    CHECK(limit_text(parse_memory_high("1.5G")) == "1610612736");
    CHECK(limit_text(parse_memory_high("15E")) == "17293822569102704640");
    CHECK(limit_text(parse_memory_high("infinity")) == "none");
    CHECK(limit_text(parse_memory_high("")) == "none");
    CHECK(cgroup_parse_error(parse_memory_high("abc")) ==
          "MemoryHigh=abc: not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
          "infinity)");
    CHECK(cgroup_parse_error(parse_memory_high("512m")) ==
          "MemoryHigh=512m: unknown suffix `m` (K, M, G, T, P or E: powers of 1024)");
    CHECK(cgroup_parse_error(parse_memory_high("80%")) ==
          "MemoryHigh=80%: a percentage of RAM is not supported; give a size such as 512M");
    CHECK(cgroup_parse_error(parse_memory_high("0")) == "MemoryHigh=0: must be at least 1 byte");
    CHECK(cgroup_parse_error(parse_memory_high("1.5")) ==
          "MemoryHigh=1.5: a fraction needs a suffix (1.5G)");
    CHECK(cgroup_parse_error(parse_memory_high("16E")) == "MemoryHigh=16E: too large");
    CHECK(cgroup_parse_error(parse_memory_high("max")) ==
          "MemoryHigh=max: not a size (a number of bytes, optionally with K, M, G, T, P or E, or "
          "infinity)");
}

TEST_CASE("CPUQuota is a whole percentage of one CPU") {
    CHECK(limit_text(parse_cpu_quota("50%")) == "50");
    CHECK(limit_text(parse_cpu_quota("20%")) == "20");
    CHECK(limit_text(parse_cpu_quota("150%")) == "150");
    CHECK(limit_text(parse_cpu_quota("")) == "none");
    CHECK(cgroup_parse_error(parse_cpu_quota("50")) ==
          "CPUQuota=50: not a percentage (50% is half a CPU, 150% one and a half)");
    CHECK(cgroup_parse_error(parse_cpu_quota("infinity")) ==
          "CPUQuota=infinity: not a percentage (50% is half a CPU, 150% one and a half)");
    CHECK(cgroup_parse_error(parse_cpu_quota("%")) ==
          "CPUQuota=%: not a percentage (50% is half a CPU, 150% one and a half)");
    CHECK(cgroup_parse_error(parse_cpu_quota("12.5%")) == "CPUQuota=12.5%: whole percentages only");
    CHECK(cgroup_parse_error(parse_cpu_quota("0%")) == "CPUQuota=0%: must be at least 1%");
    CHECK(cgroup_parse_error(parse_cpu_quota("100001%")) ==
          "CPUQuota=100001%: too large (at most 100000%)");
}

TEST_CASE("TasksMax is a number of tasks or infinity") {
    CHECK(limit_text(parse_tasks_max("5")) == "5");
    CHECK(limit_text(parse_tasks_max("4194304")) == "4194304");
    CHECK(limit_text(parse_tasks_max("infinity")) == "none");
    CHECK(limit_text(parse_tasks_max("")) == "none");
    CHECK(cgroup_parse_error(parse_tasks_max("five")) ==
          "TasksMax=five: not a number of tasks (or infinity)");
    CHECK(cgroup_parse_error(parse_tasks_max("-5")) ==
          "TasksMax=-5: not a number of tasks (or infinity)");
    CHECK(cgroup_parse_error(parse_tasks_max("0")) == "TasksMax=0: must be at least 1");
    CHECK(cgroup_parse_error(parse_tasks_max("15%")) ==
          "TasksMax=15%: a percentage of the system's limit is not supported; give a number");
    CHECK(cgroup_parse_error(parse_tasks_max("4194305")) ==
          "TasksMax=4194305: too large (at most 4194304)");
    CHECK(cgroup_parse_error(parse_tasks_max("99999999999999999999")) ==
          "TasksMax=99999999999999999999: too large (at most 4194304)");
}

TEST_CASE("setting up the tree enables memory, cpu, pids and io at the root and in keel.slice") {
    TempDir root;
    make_fake_root(root.path());
    CHECK(cgroup2_available(root.path()));
    REQUIRE(setup_cgroup_tree(root.path()));
    CHECK(read_control_file(root / "cgroup.subtree_control") == "+memory +cpu +pids +io");
    CHECK(read_control_file(root / "keel.slice/cgroup.subtree_control") ==
          "+memory +cpu +pids +io");
    CHECK(read_control_file(root / "cgroup.procs") == "1\n"); // PID 1 stays in the root
    REQUIRE(setup_cgroup_tree(root.path()));                  // again: nothing changes
}

TEST_CASE("a controller the kernel lacks is skipped, and named for a warning") {
    TempDir root;
    make_fake_root(root.path(), "cpu io pids\n");
    REQUIRE(setup_cgroup_tree(root.path()));
    CHECK(read_control_file(root / "cgroup.subtree_control") == "+cpu +pids +io");
    CHECK(read_control_file(root / "keel.slice/cgroup.subtree_control") == "+cpu +pids +io");
    auto missing = missing_cgroup_controllers(root.path());
    REQUIRE(missing);
    CHECK(*missing == std::vector<std::string>{"memory"});

    TempDir full;
    make_fake_root(full.path());
    missing = missing_cgroup_controllers(full.path());
    REQUIRE(missing);
    CHECK(missing->empty());
}

TEST_CASE("without cgroup v2 at the root, setup says so and creates nothing") {
    TempDir root;
    CHECK_FALSE(cgroup2_available(root.path()));
    auto setup = setup_cgroup_tree(root.path());
    REQUIRE_FALSE(setup);
    CHECK(setup.error().to_string() == cat("cgroup v2 is not mounted at ",
                                           keel::quoted(root.path()), " (no cgroup.controllers)"));
    CHECK_FALSE(path_exists(root / "keel.slice"));
}

TEST_CASE("create writes the limits in cgroup v2's terms") {
    TempDir root;
    make_fake_root(root.path());
    make_fake_group(root / "keel.slice/web.service");
    CgroupLimits limits;
    limits.memory_max = 32u << 20;
    limits.memory_high = 24u << 20;
    limits.cpu_quota_percent = 20;
    limits.tasks_max = 5;
    auto group = Cgroup::create("keel.slice/web.service", limits, root.path());
    REQUIRE(group);
    CHECK(group->path() == root / "keel.slice/web.service");
    CHECK(read_control_file(root / "keel.slice/web.service/memory.max") == "33554432");
    CHECK(read_control_file(root / "keel.slice/web.service/memory.high") == "25165824");
    CHECK(read_control_file(root / "keel.slice/web.service/cpu.max") == "20000 100000");
    CHECK(read_control_file(root / "keel.slice/web.service/pids.max") == "5");

    limits.cpu_quota_percent = 150;
    REQUIRE(group->apply(limits));
    CHECK(read_control_file(root / "keel.slice/web.service/cpu.max") == "150000 100000");
    // Applying no limits removes the old ones.
    REQUIRE(group->apply(CgroupLimits{}));
    CHECK(read_control_file(root / "keel.slice/web.service/memory.max") == "max");
    CHECK(read_control_file(root / "keel.slice/web.service/memory.high") == "max");
    CHECK(read_control_file(root / "keel.slice/web.service/cpu.max") == "max 100000");
    CHECK(read_control_file(root / "keel.slice/web.service/pids.max") == "max");
}

TEST_CASE("a limit whose controller is not enabled fails, writes nothing, leaves no group") {
    TempDir root;
    make_fake_root(root.path());
    CgroupLimits limits;
    limits.cpu_quota_percent = 50;
    limits.memory_max = 1u << 30;
    // A fresh directory of a fake tree has no control files at all, like a
    // group whose parent did not enable any controller.
    auto group = Cgroup::create("keel.slice/new.service", limits, root.path());
    REQUIRE_FALSE(group);
    std::string path = root / "keel.slice/new.service";
    CHECK(group.error().to_string() ==
          cat("create cgroup ", keel::quoted(path), ": set memory.max of ", keel::quoted(path),
              ": the memory controller is not enabled for this group"));
    CHECK_FALSE(path_exists(path));

    // An existing group is kept, and its other knobs are untouched.
    make_fake_group(root / "keel.slice/old.service");
    REQUIRE(::unlink((root / "keel.slice/old.service/pids.max").c_str()) == 0);
    limits = {};
    limits.cpu_quota_percent = 50;
    limits.tasks_max = 10;
    auto old = Cgroup::create("keel.slice/old.service", limits, root.path());
    REQUIRE_FALSE(old);
    CHECK(old.error().to_string().ends_with(": the pids controller is not enabled for this group"));
    CHECK(read_control_file(root / "keel.slice/old.service/cpu.max") == "max 100000\n");
    CHECK(path_exists(root / "keel.slice/old.service"));

    // MemoryHigh= alone needs the memory controller as much as MemoryMax=.
    limits = {};
    limits.memory_high = 1u << 20;
    auto high = Cgroup::create("keel.slice/high.service", limits, root.path());
    REQUIRE_FALSE(high);
    path = root / "keel.slice/high.service";
    CHECK(high.error().to_string() == cat("create cgroup ", keel::quoted(path),
                                          ": set memory.high of ", keel::quoted(path),
                                          ": the memory controller is not enabled for this group"));
    CHECK_FALSE(path_exists(path));
}

TEST_CASE("CPUWeight is 1 to 10000") {
    CHECK(limit_text(parse_cpu_weight("20")) == "20");
    CHECK(limit_text(parse_cpu_weight("10000")) == "10000");
    CHECK(limit_text(parse_cpu_weight("")) == "none");
    CHECK(cgroup_parse_error(parse_cpu_weight("0")) ==
          "CPUWeight=0: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_cpu_weight("10001")).starts_with("CPUWeight=10001: "));
    CHECK(cgroup_parse_error(parse_cpu_weight("idle")).starts_with("CPUWeight=idle: "));
}

TEST_CASE("IOWeight is 1 to 10000, or empty for the default") {
    CHECK(limit_text(parse_io_weight("1")) == "1");
    CHECK(limit_text(parse_io_weight("500")) == "500");
    CHECK(limit_text(parse_io_weight("10000")) == "10000");
    CHECK(limit_text(parse_io_weight("")) == "none");
    CHECK(cgroup_parse_error(parse_io_weight("0")) ==
          "IOWeight=0: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_io_weight("10001")) ==
          "IOWeight=10001: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_io_weight("-5")) ==
          "IOWeight=-5: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_io_weight("default 50")) ==
          "IOWeight=default 50: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_io_weight("/dev/vda 50")) ==
          "IOWeight=/dev/vda 50: expected a weight from 1 to 10000 (100 is the default)");
    CHECK(cgroup_parse_error(parse_io_weight("99999999999999999999")) ==
          "IOWeight=99999999999999999999: expected a weight from 1 to 10000 (100 is the default)");
}

TEST_CASE("IO bandwidth limits are a device and bytes per second in powers of 1000") {
    std::vector<IoBandwidthLimit> limits;
    REQUIRE(parse_io_bandwidth("/dev/vda 20M", IoDirection::Write, limits));
    REQUIRE(parse_io_bandwidth("/dev/vda 1G", IoDirection::Read, limits));
    REQUIRE(parse_io_bandwidth("/var/lib 300", IoDirection::Read, limits));
    REQUIRE(limits.size() == 2);
    CHECK(limits[0].write_bytes_per_second == std::optional<uint64_t>(20'000'000));
    CHECK(limits[0].read_bytes_per_second == std::optional<uint64_t>(1'000'000'000));
    CHECK(limits[1].device == "/var/lib");
    CHECK(limits[1].read_bytes_per_second == std::optional<uint64_t>(300));
    std::string_view bad[] = {"20M",         "dev/vda 1M",  "/dev/vda 0",
                              "/dev/vda 1Q", "/dev/vda -1", "/dev/vda 99999999999T"};
    for (std::string_view value : bad) {
        auto parsed = parse_io_bandwidth(value, IoDirection::Write, limits);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().to_string().starts_with(cat("IOWriteBandwidthMax=", value, ": ")));
    }
    CHECK(limits.size() == 2); // a refused value changes nothing
}

TEST_CASE("cpu.weight and io.max are written, and an old disk's io.max line is reset") {
    TempDir root;
    make_fake_root(root.path());
    make_fake_group(root / "keel.slice/update.service");
    write_control_file(root / "keel.slice/update.service/cpu.weight", "100\n");
    write_control_file(root / "keel.slice/update.service/io.max",
                       "8:16 rbps=5 wbps=max riops=max wiops=max\n");
    CgroupLimits limits;
    limits.cpu_weight = 20;
    limits.io_bandwidth.push_back({.device = "/dev/vda",
                                   .read_bytes_per_second = std::nullopt,
                                   .write_bytes_per_second = 1000,
                                   .number = "253:0"});
    limits.io_bandwidth.push_back({.device = "/nowhere",
                                   .read_bytes_per_second = 5,
                                   .write_bytes_per_second = std::nullopt,
                                   .number = ""}); // not found: skipped
    auto group = Cgroup::create("keel.slice/update.service", limits, root.path());
    REQUIRE(group);
    CHECK(read_control_file(root / "keel.slice/update.service/cpu.weight") == "20");
    // A plain file keeps the last write: the old disk's reset came after.
    CHECK(read_control_file(root / "keel.slice/update.service/io.max") ==
          "8:16 rbps=max wbps=max riops=max wiops=max");
    write_control_file(root / "keel.slice/update.service/io.max", "");
    REQUIRE(group->apply(limits));
    CHECK(read_control_file(root / "keel.slice/update.service/io.max") ==
          "253:0 rbps=max wbps=1000");
    REQUIRE(group->apply(CgroupLimits{}));
    CHECK(read_control_file(root / "keel.slice/update.service/cpu.weight") == "100");
}

TEST_CASE("IOWeight is written to io.weight as the default weight, and reset to 100") {
    TempDir root;
    make_fake_root(root.path());
    std::string path = root / "keel.slice/batch.service";
    make_fake_group(path);
    write_control_file(path + "/io.weight", "default 100\n");
    CgroupLimits limits;
    limits.io_weight = 500;
    auto group = Cgroup::create("keel.slice/batch.service", limits, root.path());
    REQUIRE(group);
    CHECK(read_control_file(path + "/io.weight") == "default 500");
    limits.io_weight = 1;
    REQUIRE(group->apply(limits));
    CHECK(read_control_file(path + "/io.weight") == "default 1");
    REQUIRE(group->apply(CgroupLimits{}));
    CHECK(read_control_file(path + "/io.weight") == "default 100");
}

TEST_CASE("without the io controller IOWeight and IO bandwidth limits are skipped, as in systemd") {
    TempDir root;
    make_fake_root(root.path());
    make_fake_group(root / "keel.slice/update.service");
    CgroupLimits limits;
    limits.io_bandwidth.push_back({.device = "/dev/vda",
                                   .read_bytes_per_second = 1,
                                   .write_bytes_per_second = std::nullopt,
                                   .number = "253:0"});
    limits.io_weight = 50;
    CHECK(Cgroup::create("keel.slice/update.service", limits, root.path()));
    CHECK_FALSE(path_exists(root / "keel.slice/update.service/io.max"));
    CHECK_FALSE(path_exists(root / "keel.slice/update.service/io.weight"));
}

TEST_CASE("an IO limit's device is its whole disk, found through sysfs") {
    TempDir dir;
    std::string node = dir / "sda2";
    if (::mknod(node.c_str(), S_IFBLK | 0600, makedev(8, 2)) < 0) {
        MESSAGE("skipped: cannot make a block device node here (", std::strerror(errno), ")");
        return;
    }
    // sysfs: /sys/dev/block/8:2 links to the partition's directory, which
    // sits in its disk's.
    REQUIRE(make_directories(dir / "sys/devices/sda/sda2"));
    write_control_file(dir / "sys/devices/sda/dev", "8:0\n");
    write_control_file(dir / "sys/devices/sda/sda2/partition", "2\n");
    REQUIRE(make_directories(dir / "sys/dev/block"));
    REQUIRE(::symlink("../../devices/sda/sda2", (dir / "sys/dev/block/8:2").c_str()) == 0);
    CgroupLimits limits;
    limits.io_bandwidth = {{.device = node,
                            .read_bytes_per_second = 1,
                            .write_bytes_per_second = std::nullopt,
                            .number = ""},
                           {.device = dir / "missing",
                            .read_bytes_per_second = 1,
                            .write_bytes_per_second = std::nullopt,
                            .number = ""}};
    resolve_io_devices(limits, dir / "sys/dev/block");
    CHECK(limits.io_bandwidth[0].number == "8:0");
    CHECK(limits.io_bandwidth[1].number.empty());
}

TEST_CASE("group names cannot be empty, absolute or climb out of the root") {
    TempDir root;
    make_fake_root(root.path());
    for (std::string_view name : {"", "/etc", "../x", "keel.slice/../../x", "a//b", "a/", "./a"}) {
        auto group = Cgroup::create(std::string(name), {}, root.path());
        REQUIRE_FALSE(group);
        CHECK(group.error().to_string().starts_with("cgroup name "));
    }
    write_control_file(root / "keel.slice/file", "");
    auto file = Cgroup::create("keel.slice/file", {}, root.path());
    REQUIRE_FALSE(file);
    CHECK(file.error().to_string() == cat("create cgroup ", keel::quoted(root / "keel.slice/file"),
                                          ": exists and is not a group"));
    // Missing parents are made; a file in the way is an error naming the group.
    auto nested = Cgroup::create("keel.slice/a.slice/b.service", {}, root.path());
    REQUIRE(nested);
    CHECK(is_directory(root / "keel.slice/a.slice/b.service"));
    auto under_file = Cgroup::create("keel.slice/file/c.service", {}, root.path());
    REQUIRE_FALSE(under_file);
    CHECK(under_file.error().code() == ENOTDIR);
    CHECK(under_file.error().to_string() == cat("create cgroup ",
                                                keel::quoted(root / "keel.slice/file/c.service"),
                                                ": Not a directory"));
    auto missing = Cgroup::open("keel.slice/missing", root.path());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
}

TEST_CASE("stats reads memory, tasks, cpu time and OOM kills") {
    TempDir root;
    make_fake_root(root.path());
    std::string path = root / "keel.slice/web.service";
    make_fake_group(path);
    write_control_file(path + "/memory.current", "1234\n");
    write_control_file(path + "/pids.current", "3\n");
    write_control_file(path + "/cpu.stat", "usage_usec 5678\nuser_usec 5000\nsystem_usec 678\n");
    write_control_file(path + "/memory.events",
                       "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
    auto group = Cgroup::open("keel.slice/web.service", root.path());
    REQUIRE(group);
    auto stats = group->stats();
    REQUIRE(stats);
    CHECK(stats->memory_current == 1234);
    CHECK(stats->tasks_current == 3);
    CHECK(stats->cpu_usage_usec == 5678);
    CHECK(stats->oom_kills == 1);

    write_control_file(path + "/memory.current", "lots\n");
    auto bad = group->stats();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() ==
          cat(keel::quoted(path + "/memory.current"), ": not a number: `lots`"));
}

TEST_CASE("remove_tree removes the child groups deepest first, then the group") {
    TempDir root;
    REQUIRE(make_directories(root / "keel.oci/box/init.scope"));
    REQUIRE(make_directories(root / "keel.oci/box/system.slice/a.service"));
    auto group = Cgroup::open("keel.oci/box", root.path());
    REQUIRE(group);
    REQUIRE(group->remove_tree());
    CHECK_FALSE(path_exists(root / "keel.oci/box"));
    CHECK(path_exists(root / "keel.oci"));
}

TEST_CASE("a group without controllers reads zero counters") {
    TempDir root;
    REQUIRE(make_directories(root / "keel.slice/bare"));
    auto group = Cgroup::open("keel.slice/bare", root.path());
    REQUIRE(group);
    auto stats = group->stats();
    REQUIRE(stats);
    CHECK(stats->memory_current == 0);
    CHECK(stats->tasks_current == 0);
    CHECK(stats->cpu_usage_usec == 0);
    CHECK(stats->oom_kills == 0);
}

TEST_CASE("processes come from cgroup.procs; add_process writes the pid there") {
    TempDir root;
    std::string path = root / "keel.slice/web.service";
    make_fake_group(path);
    auto group = Cgroup::open("keel.slice/web.service", root.path());
    REQUIRE(group);
    write_control_file(path + "/cgroup.procs", "12\n345\n");
    auto listed = group->processes();
    REQUIRE(listed);
    CHECK(*listed == std::vector<pid_t>{12, 345});
    REQUIRE(group->add_process(678));
    CHECK(read_control_file(path + "/cgroup.procs") == "678");
    write_control_file(path + "/cgroup.procs", "12\nx\n");
    auto bad = group->processes();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() == cat(keel::quoted(path + "/cgroup.procs"), ": not a pid: `x`"));
}

TEST_CASE("kill uses cgroup.kill when the kernel has it") {
    TempDir root;
    std::string path = root / "keel.slice/web.service";
    make_fake_group(path);
    write_control_file(path + "/cgroup.kill", "");
    auto group = Cgroup::open("keel.slice/web.service", root.path());
    REQUIRE(group);
    REQUIRE(group->kill());
    CHECK(read_control_file(path + "/cgroup.kill") == "1");
}

TEST_CASE("without cgroup.kill, every process listed in cgroup.procs gets SIGKILL") {
    TempDir root;
    std::string path = root / "keel.slice/old-kernel.service";
    make_fake_group(path);
    pid_t children[2];
    for (pid_t& child : children) {
        child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            for (;;)
                ::pause();
        }
    }
    write_control_file(path + "/cgroup.procs", cat(children[0], "\n", children[1], "\n"));
    auto group = Cgroup::open("keel.slice/old-kernel.service", root.path());
    REQUIRE(group);
    REQUIRE(group->kill());
    for (pid_t child : children) {
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);
    }
}

TEST_CASE("freeze writes cgroup.freeze and waits until cgroup.events agrees") {
    TempDir root;
    std::string path = root / "keel.slice/web.service";
    make_fake_group(path);
    auto group = Cgroup::open("keel.slice/web.service", root.path());
    REQUIRE(group);
    write_control_file(path + "/cgroup.events", "populated 1\nfrozen 1\n");
    REQUIRE(group->freeze());
    CHECK(read_control_file(path + "/cgroup.freeze") == "1");

    // The kernel never confirms: a bounded wait, then an error.
    write_control_file(path + "/cgroup.events", "populated 1\nfrozen 1\n");
    auto start = std::chrono::steady_clock::now();
    auto thawed = group->thaw();
    auto waited = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(thawed);
    CHECK(thawed.error().code() == ETIMEDOUT);
    CHECK(thawed.error().root() ==
          cat("thaw cgroup ", keel::quoted(path), ": not thawed after 1000 ms"));
    CHECK(waited >= std::chrono::milliseconds(900));
    CHECK(waited < std::chrono::milliseconds(3000));
    CHECK(read_control_file(path + "/cgroup.freeze") == "0");

    REQUIRE(::unlink((path + "/cgroup.freeze").c_str()) == 0);
    auto old = group->freeze();
    REQUIRE_FALSE(old);
    CHECK(old.error().to_string() == cat("freeze cgroup ", keel::quoted(path),
                                         ": no cgroup.freeze (the kernel is older than 5.2)"));
}

TEST_CASE("populated follows cgroup.events; remove takes only an empty group") {
    TempDir root;
    std::string path = root / "keel.slice/web.service";
    make_fake_group(path);
    auto group = Cgroup::open("keel.slice/web.service", root.path());
    REQUIRE(group);
    CHECK_FALSE(*group->populated());
    write_control_file(path + "/cgroup.events", "populated 1\nfrozen 0\n");
    CHECK(*group->populated());

    // A fake group's files make rmdir fail as a busy group would.
    auto busy = group->remove();
    REQUIRE_FALSE(busy);
    CHECK(busy.error().root() ==
          cat("remove cgroup ", keel::quoted(path), ": it still has processes or child groups"));
    REQUIRE(make_directories(root / "keel.slice/empty"));
    auto empty = Cgroup::open("keel.slice/empty", root.path());
    REQUIRE(empty);
    REQUIRE(empty->remove());
    CHECK_FALSE(path_exists(root / "keel.slice/empty"));
}

TEST_CASE("a spawned process joins its cgroup before it runs anything") {
    TempDir root;
    std::string path = root / "keel.slice/job.service";
    make_fake_group(path);
    auto group = Cgroup::open("keel.slice/job.service", root.path());
    REQUIRE(group);
    auto directory = group->open_directory();
    REQUIRE(directory);
    SpawnOptions options;
    // The program reads the file its own spawn wrote before exec.
    options.argv = {"sh", "-c", cat("test \"$(cat ", path, "/cgroup.procs)\" = 0")};
    options.environment = {"PATH=/usr/bin:/bin"};
    options.cgroup_fd = directory->get();
    CHECK(exit_code_of(options) == 0);
}

TEST_CASE("a spawn into a real cgroup v2 group starts the child there (CLONE_INTO_CGROUP)") {
    std::string mount = cgroup2_mount();
    std::string relative = cat("keel-spawn-test-", ::getpid());
    std::string path = mount + "/" + relative;
    if (mount.empty() || ::geteuid() != 0 || ::mkdir(path.c_str(), 0755) < 0) {
        MESSAGE("SKIPPED: needs root and a writable cgroup v2 hierarchy (" << mount << ")");
        return;
    }
    auto directory = open_file(path, O_RDONLY | O_DIRECTORY);
    REQUIRE(directory);
    SpawnOptions options;
    // Its own /proc/self/cgroup, read by the program itself.
    options.argv = {"sh", "-c", cat("grep -qx '0::/.*", relative, "' /proc/self/cgroup")};
    options.environment = {"PATH=/usr/bin:/bin"};
    options.cgroup_fd = directory->get();
    CHECK(exit_code_of(options) == 0);
    CHECK(::rmdir(path.c_str()) == 0);
}

TEST_CASE("a spawn whose cgroup cannot be joined fails and leaves no child") {
    TempDir root;
    REQUIRE(make_directories(root / "not-a-group"));
    auto directory = open_file(root / "not-a-group", O_RDONLY | O_DIRECTORY);
    REQUIRE(directory);
    SpawnOptions options;
    options.argv = {"/bin/true"};
    options.cgroup_fd = directory->get();
    auto pid = spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().code() == ENOENT);
    CHECK(pid.error().to_string() == "start `/bin/true`: join cgroup: No such file or directory");
}

// ---- cgroup v1 ------------------------------------------------------------

namespace {

// A fake cgroup v1 host: a hierarchy per directory with a cgroup.procs
// ("cpu,cpuacct" shared), "cpu" a symlink to it, "unified" a hybrid host's
// cgroup2, and a stray directory and file that are no hierarchy.
void make_fake_v1_root(const std::string& root, bool freezer = true) {
    std::vector<std::string> names = {"blkio", "cpu,cpuacct", "memory", "pids", "systemd"};
    if (freezer)
        names.push_back("freezer");
    for (const std::string& name : names) {
        REQUIRE(make_directories(root + "/" + name));
        write_control_file(root + "/" + name + "/cgroup.procs", "1\n");
    }
    REQUIRE(::symlink("cpu,cpuacct", (root + "/cpu").c_str()) == 0);
    REQUIRE(make_directories(root + "/unified"));
    write_control_file(root + "/unified/cgroup.procs", "1\n");
    write_control_file(root + "/unified/cgroup.controllers", "");
    REQUIRE(make_directories(root + "/stray"));
    write_control_file(root + "/README", "");
}

std::vector<std::string> directories_of(const std::vector<CgroupHierarchy>& hierarchies) {
    std::vector<std::string> out;
    for (const CgroupHierarchy& hierarchy : hierarchies)
        out.push_back(hierarchy.directory);
    return out;
}

} // namespace

TEST_CASE("cgroup v1 hierarchies are the groups under the root, named by their controllers") {
    TempDir root;
    make_fake_v1_root(root.path());
    std::vector<CgroupHierarchy> hierarchies = cgroup_v1_hierarchies(root.path());
    // The freezer's first; no symlink, cgroup2 mount or plain directory.
    CHECK(directories_of(hierarchies) ==
          std::vector<std::string>{root / "freezer", root / "blkio", root / "cpu,cpuacct",
                                   root / "memory", root / "pids", root / "systemd"});
    REQUIRE(hierarchies.size() == 6);
    CHECK(hierarchies[2].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(device_cgroup_available(root.path()) == false); // no devices hierarchy
    REQUIRE(make_directories(root / "devices"));
    write_control_file(root / "devices/cgroup.procs", "");
    CHECK(device_cgroup_available(root.path()));

    TempDir v2;
    make_fake_root(v2.path());
    CHECK(cgroup_v1_hierarchies(v2.path()).empty());
    CHECK(device_cgroup_available(v2.path()));
}

TEST_CASE(
    "cgroup v1 hierarchies come from the mount table, whatever their directories are called") {
    // A hybrid host's table, with a hierarchy at a name that is not its
    // controller's, one mounted twice at a place, one deeper down and
    // cgroup2 beside them.
    auto mounts = parse_mountinfo(
        "25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
        "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
        "27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup "
        "rw,xattr,name=systemd\n"
        "28 25 0:25 / /sys/fs/cgroup/mem rw,nosuid shared:12 - cgroup cgroup rw,memory\n"
        "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup "
        "rw,cpu,cpuacct\n"
        "30 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid shared:14 - cgroup cgroup rw,freezer\n"
        "31 30 0:28 / /sys/fs/cgroup/freezer rw,nosuid shared:15 - cgroup cgroup "
        "rw,freezer,release_agent=/bin/x,clone_children\n"
        "32 28 0:29 / /sys/fs/cgroup/mem/inner rw shared:16 - cgroup cgroup rw,pids\n"
        "33 1 0:30 / /elsewhere/pids rw shared:17 - cgroup cgroup rw,pids\n");
    REQUIRE(mounts);
    std::vector<CgroupHierarchy> found = cgroup_v1_mounts(*mounts, "/sys/fs/cgroup/");
    CHECK(directories_of(found) ==
          std::vector<std::string>{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/freezer",
                                   "/sys/fs/cgroup/mem", "/sys/fs/cgroup/systemd"});
    REQUIRE(found.size() == 4);
    CHECK(found[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(found[1].controllers == std::vector<std::string>{"freezer"});
    CHECK(found[2].controllers == std::vector<std::string>{"memory"});
    CHECK(found[3].controllers == std::vector<std::string>{"name=systemd"});
    CHECK(cgroup_v1_mounts(*mounts, "/elsewhere").size() == 1);
    CHECK(cgroup_v1_mounts(*mounts, "/nowhere").empty());
}

TEST_CASE("on cgroup v1 a group is a directory in every hierarchy") {
    TempDir root;
    make_fake_v1_root(root.path());
    auto group = Cgroup::create("keel.oci/box", CgroupLimits{}, root.path());
    REQUIRE_MESSAGE(group, (group ? std::string() : group.error().to_string()));
    CHECK(group->v1());
    for (std::string_view hierarchy : {"freezer", "blkio", "cpu,cpuacct", "memory", "pids"})
        CHECK(is_directory(cat(root.path(), "/", hierarchy, "/keel.oci/box")));
    CHECK(group->path() == root / "freezer/keel.oci/box");
    CHECK(group->directory_of("cpuacct") == root / "cpu,cpuacct/keel.oci/box");
    CHECK(group->directory_of("memory") == root / "memory/keel.oci/box");
    CHECK(group->directory_of("hugetlb") == std::nullopt);
    auto directories = group->open_directories();
    REQUIRE(directories);
    CHECK(directories->size() == 6);

    // The claim of a container's group: one that is there is EEXIST.
    auto again = Cgroup::create("keel.oci/box", CgroupLimits{}, root.path(), IfExists::Fail);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == EEXIST);
    CHECK(again.error().to_string() == "cgroup `keel.oci/box` exists already: File exists");
    REQUIRE(Cgroup::create("keel.oci/box", CgroupLimits{}, root.path()));

    // open finds it; a group in no hierarchy is ENOENT.
    auto opened = Cgroup::open("keel.oci/box", root.path());
    REQUIRE(opened);
    CHECK(opened->directory_of("pids") == root / "pids/keel.oci/box");
    auto missing = Cgroup::open("keel.oci/none", root.path());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);

    // Unit limits are cgroup v2 files: refused, nothing made.
    CgroupLimits limits;
    limits.memory_max = 1 << 20;
    auto limited = Cgroup::create("keel.slice/web.service", limits, root.path());
    REQUIRE_FALSE(limited);
    CHECK(limited.error().to_string() ==
          "create cgroup `keel.slice/web.service`: the host's cgroups are v1, and keel sets a "
          "unit's limits only through cgroup v2");
    CHECK_FALSE(path_exists(root / "memory/keel.slice"));

    // remove_tree takes it out of every hierarchy, children first.
    REQUIRE(make_directories(root / "pids/keel.oci/box/inner"));
    REQUIRE(group->remove_tree());
    for (std::string_view hierarchy : {"freezer", "blkio", "cpu,cpuacct", "memory", "pids"}) {
        CHECK_FALSE(path_exists(cat(root.path(), "/", hierarchy, "/keel.oci/box")));
        CHECK(is_directory(cat(root.path(), "/", hierarchy, "/keel.oci")));
    }
}

TEST_CASE("on cgroup v1 processes, stats, freezing and joining use each controller's hierarchy") {
    TempDir root;
    make_fake_v1_root(root.path());
    auto group = Cgroup::create("keel.oci/box", CgroupLimits{}, root.path());
    REQUIRE(group);
    std::string freezer = root / "freezer/keel.oci/box";
    std::string memory = root / "memory/keel.oci/box";
    for (std::string_view hierarchy :
         {"freezer", "blkio", "cpu,cpuacct", "memory", "pids", "systemd"})
        write_control_file(cat(root.path(), "/", hierarchy, "/keel.oci/box/cgroup.procs"), "");

    // add_process joins every hierarchy; processes and populated read the
    // freezer's.
    REQUIRE(group->add_process(4321));
    CHECK(read_control_file(memory + "/cgroup.procs") == "4321");
    CHECK(read_control_file(root / "systemd/keel.oci/box/cgroup.procs") == "4321");
    write_control_file(freezer + "/cgroup.procs", "7\n8\n");
    CHECK(*group->processes() == std::vector<pid_t>{7, 8});
    CHECK(*group->populated());
    write_control_file(freezer + "/cgroup.procs", "");
    CHECK_FALSE(*group->populated());

    write_control_file(memory + "/memory.usage_in_bytes", "4096\n");
    write_control_file(memory + "/memory.oom_control",
                       "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    write_control_file(root / "pids/keel.oci/box/pids.current", "3\n");
    write_control_file(root / "cpu,cpuacct/keel.oci/box/cpuacct.usage", "5678000\n");
    auto stats = group->stats();
    REQUIRE_MESSAGE(stats, (stats ? std::string() : stats.error().to_string()));
    CHECK(stats->memory_current == 4096);
    CHECK(stats->oom_kills == 2);
    CHECK(stats->tasks_current == 3);
    CHECK(stats->cpu_usage_usec == 5678);

    // freezer.state: a plain file reads back what was written at once.
    write_control_file(freezer + "/freezer.state", "THAWED\n");
    CHECK_FALSE(*group->frozen());
    REQUIRE(group->freeze());
    CHECK(read_control_file(freezer + "/freezer.state") == "FROZEN");
    CHECK(*group->frozen());
    REQUIRE(group->thaw());
    CHECK(read_control_file(freezer + "/freezer.state") == "THAWED");

    TempDir bare;
    make_fake_v1_root(bare.path(), false);
    auto unfrozen = Cgroup::create("keel.oci/box", CgroupLimits{}, bare.path());
    REQUIRE(unfrozen);
    CHECK_FALSE(*unfrozen->frozen());
    auto refused = unfrozen->freeze();
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string() == cat("freeze cgroup ",
                                             keel::quoted(bare / "blkio/keel.oci/box"),
                                             ": the host has no cgroup v1 freezer hierarchy"));
}

TEST_CASE("a spawned process joins every v1 hierarchy's group, in fork mode too") {
    for (bool fork_mode : {false, true}) {
        CAPTURE(fork_mode);
        TempDir root;
        make_fake_v1_root(root.path());
        auto group = Cgroup::create("keel.oci/box", CgroupLimits{}, root.path());
        REQUIRE(group);
        // Joined through each one's `tasks`: one thread's move, which does
        // not wait for the kernel's threadgroup lock.
        std::vector<std::string> procs;
        for (std::string_view hierarchy : {"freezer", "memory", "pids"}) {
            procs.push_back(cat(root.path(), "/", hierarchy, "/keel.oci/box/tasks"));
            write_control_file(procs.back(), "");
        }
        std::vector<Fd> directories;
        SpawnOptions options;
        for (const std::string& file : procs) {
            directories.push_back(
                *open_file(file.substr(0, file.rfind('/')), O_RDONLY | O_DIRECTORY));
            options.more_cgroup_fds.push_back(directories.back().get());
        }
        // The program reads what its own spawn wrote before exec.
        options.argv = {"sh", "-c",
                        cat("for f in ", procs[0], " ", procs[1], " ", procs[2],
                            "; do test \"$(cat $f)\" = 0 || exit 1; done")};
        options.environment = {"PATH=/usr/bin:/bin"};
        if (fork_mode)
            options.child_setup = [] { return Result<void>{}; };
        CHECK(exit_code_of(options) == 0);
    }
}
