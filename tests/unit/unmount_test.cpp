// rootfs/unmount.cpp on real mounts: each case runs in a child with a
// mount namespace of its own (tmpfs mounts in a TempDir), and reports what
// it saw to the parent, which checks it. Needs root (CAP_SYS_ADMIN); skips
// with a message without it. Pinning a block-device filesystem runs in QEMU
// (tests/qemu/rootfs_clean_shutdown.sh).
#include "rootfs/rootfs.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/namespace_child.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using keel::testing::in_namespaces;
using keel::testing::skipped;
using keel::testing::TempDir;

namespace {

std::string tmpfs(const std::string& path) {
    auto made = make_directories(path);
    if (made)
        made = mount_filesystem("tmpfs", path, "tmpfs", 0, "size=1m");
    return made ? "" : made.error().to_string();
}

UnmountOptions under(const std::string& directory) {
    UnmountOptions options;
    options.under = directory;
    return options;
}

} // namespace

TEST_CASE("nested, stacked and bound mounts under a directory all go, newest first") {
    TempDir dir;
    std::string said = in_namespaces(0, [&] {
        std::string problem;
        for (const char* path : {"a", "a/b", "a/b"}) // a/b twice: stacked
            problem += tmpfs(dir / path);
        if (problem.empty())
            problem = make_directories(dir / "c") ? "" : "mkdir c";
        if (problem.empty())
            if (auto bound = mount_filesystem(dir / "a/b", dir / "c", "", MS_BIND); !bound)
                problem = bound.error().to_string();
        if (!problem.empty())
            return problem;
        UnmountReport report = unmount_all(under(dir.path()));
        auto left = read_mountinfo();
        size_t below = 0;
        for (const MountEntry& mount : left ? *left : std::vector<MountEntry>{})
            below += path_is_under(mount.point, dir.path());
        return cat("unmounted ", report.unmounted, ", busy ", report.busy.size(), ", left ", below);
    });
    if (skipped(said))
        return;
    CHECK(said == "unmounted 4, busy 0, left 0");
}

TEST_CASE("a mount kept busy by a file open for reading stays, read-only, its holder named") {
    TempDir dir;
    std::string said = in_namespaces(0, [&] {
        if (std::string problem = tmpfs(dir / "a"); !problem.empty())
            return problem;
        if (!write_new_file(dir / "a/held", "x"))
            return std::string("cannot write a/held");
        auto held = open_file(dir / "a/held", O_RDONLY);
        if (!held)
            return held.error().to_string();
        UnmountReport report = unmount_all(under(dir.path()));
        struct stat st {};
        ::stat((dir / "a").c_str(), &st);
        std::vector<MountHolder> holders = find_mount_holders(st.st_dev, dir / "a");
        std::string named;
        for (const MountHolder& holder : holders)
            if (holder.pid == ::getpid() && holder.use == MountHolder::Use::OpenFile &&
                holder.fd == held->get())
                named = describe(holder);
        auto write = write_new_file(dir / "a/new", "y");
        return cat("busy ", report.busy.size(), ", read-only ", report.read_only.size(),
                   ", write: ", write ? "ok" : std::strerror(write.error().code()), ", ", named);
    });
    if (skipped(said))
        return;
    CHECK(said.starts_with("busy 1, read-only 1, write: Read-only file system, pid "));
    CHECK(said.ends_with(
        cat(" has ", dir.path(), "/a/held open (fd ", said.substr(said.rfind(' ') + 1))));
}

TEST_CASE("a mount with a file open for writing stays writable and is reported busy") {
    TempDir dir;
    std::string said = in_namespaces(0, [&] {
        if (std::string problem = tmpfs(dir / "a"); !problem.empty())
            return problem;
        auto held = open_file(dir / "a/log", O_WRONLY | O_CREAT);
        if (!held)
            return held.error().to_string();
        UnmountReport report = unmount_all(under(dir.path()));
        return cat("busy ", report.busy.size(), ", read-only ", report.read_only.size());
    });
    if (skipped(said))
        return;
    CHECK(said == "busy 1, read-only 0");
}

TEST_CASE("kept mount points are left as they are") {
    TempDir dir;
    std::string said = in_namespaces(0, [&] {
        std::string problem = tmpfs(dir / "keep");
        problem += tmpfs(dir / "go");
        if (!problem.empty())
            return problem;
        UnmountOptions options = under(dir.path());
        options.keep = {dir / "keep"};
        UnmountReport report = unmount_all(options);
        auto left = read_mountinfo();
        std::string points;
        for (const MountEntry& mount : left ? *left : std::vector<MountEntry>{})
            if (path_is_under(mount.point, dir.path()))
                points += mount.point.substr(dir.path().size());
        return cat("unmounted ", report.unmounted, ", left ", points);
    });
    if (skipped(said))
        return;
    CHECK(said == "unmounted 1, left /keep");
}

TEST_CASE("holders: a working directory, and a loop device's backing file") {
    TempDir dir;
    REQUIRE(make_directories(dir / "proc/4242/fd"));
    REQUIRE(::symlink((dir / "data").c_str(), (dir / "proc/4242/cwd").c_str()) == 0);
    REQUIRE(::symlink("/", (dir / "proc/4242/root").c_str()) == 0);
    REQUIRE(write_new_file(dir / "proc/4242/comm", "worker\n"));
    REQUIRE(make_directories(dir / "sys/block/loop3/loop"));
    REQUIRE(write_new_file(dir / "sys/block/loop3/loop/backing_file", dir / "data/disk.img\n"));
    REQUIRE(make_directories(dir / "sys/block/vda"));
    std::vector<MountHolder> holders =
        find_mount_holders(makedev(0, 0), dir / "data", dir / "proc", dir / "sys/block");
    std::vector<std::string> described;
    for (const MountHolder& holder : holders)
        described.push_back(describe(holder));
    CHECK(described == std::vector<std::string>{
                           cat("pid 4242 (worker) has its working directory in ", dir / "data"),
                           cat("loop3 is backed by ", dir / "data/disk.img")});
}
