// Tests for default_seccomp() (containers/default_seccomp.cpp): the profile
// compiled with libseccomp and installed in a forked child, where raw
// syscalls show what it lets through with Docker's capabilities and with
// CAP_SYS_ADMIN; and its allow list against the profile containers-common
// ships, when that file is installed.
#include "containers/run_spec.h"
#include "containers/seccomp.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/seccomp_child.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <functional>
#include <linux/capability.h>
#include <sched.h>
#include <set>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::containers;
using keel::testing::errno_of;
using keel::testing::TempDir;

namespace {

oci::SeccompFilter compiled_default(oci::CapabilityMask capabilities) {
    auto filter = oci::compile_seccomp(default_seccomp(capabilities));
    REQUIRE_MESSAGE(filter, (filter ? std::string() : filter.error().to_string()));
    return std::move(*filter);
}

oci::CapabilityMask with_sys_admin() {
    return default_capabilities() | (oci::CapabilityMask(1) << CAP_SYS_ADMIN);
}

// mount(2) with a type pointer the kernel cannot read: EFAULT once the
// call gets through the filter, before any privilege check, and nothing
// is mounted.
long bad_mount() {
    return ::syscall(SYS_mount, "none", "/keel-no-such-dir", reinterpret_cast<const char*>(1), 0,
                     nullptr);
}

} // namespace

TEST_CASE("without CAP_SYS_ADMIN, unshare(CLONE_NEWUSER) and mount fail with EPERM") {
    oci::SeccompFilter filter = compiled_default(default_capabilities());
    CHECK(errno_of(filter, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }) == EPERM);
    CHECK(errno_of(filter, bad_mount) == EPERM);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_umount2, "/keel-no-such-mount", 0); }) ==
          EPERM);
    CHECK(errno_of(filter, [] {
              return ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
          }) == EPERM);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_sethostname, "x", 1); }) == EPERM);
}

TEST_CASE("with CAP_SYS_ADMIN, unshare and mount get through to the kernel") {
    oci::SeccompFilter filter = compiled_default(with_sys_admin());
    // Flags unshare does not take: EINVAL comes from the kernel, so the
    // filter let the call through.
    CHECK(errno_of(filter, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER | 0x1); }) == EINVAL);
    CHECK(errno_of(filter, bad_mount) == EFAULT);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_clone3, nullptr, 0); }) == EINVAL);
}

TEST_CASE("clone3 is answered with ENOSYS without CAP_SYS_ADMIN, so the C library uses clone") {
    oci::SeccompFilter filter = compiled_default(default_capabilities());
    CHECK(errno_of(filter, [] { return ::syscall(SYS_clone3, nullptr, 0); }) == ENOSYS);
}

TEST_CASE("the default profile keeps ordinary calls working and refuses AF_VSOCK and odd "
          "personalities") {
    oci::SeccompFilter filter = compiled_default(default_capabilities());
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getppid); }) == 0);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }) == 0);
    CHECK(errno_of(filter, [] {
              return ::syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
          }) == EPERM);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_personality, 0xffffffffUL); }) == 0);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_personality, 0x0400000UL); }) == EPERM);
    // A capability's calls: chroot with CAP_SYS_CHROOT (Docker's), reboot
    // without CAP_SYS_BOOT.
    CHECK(errno_of(filter, [] { return ::syscall(SYS_chroot, "/keel-no-such-dir"); }) == ENOENT);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_reboot, 0, 0, 0, nullptr); }) == EPERM);
}

TEST_CASE("the allow list matches containers-common's profile but for known differences") {
    const std::string path = "/usr/share/containers/seccomp.json";
    Result<std::string> text = read_file(path);
    if (!text) {
        MESSAGE("skipped: ", path, " is not installed (golang-github-containers-common)");
        return;
    }
    // Their rules that apply to Docker's capabilities, as `keel run
    // --security-opt seccomp=FILE` reads the file.
    TempDir dir;
    RunOptions options{.seccomp = SeccompChoice::File, .seccomp_profile = *text};
    ContainerPlace place{.id = std::string(64, 'a'), .rootfs = dir.path(), .files_dir = dir / "f"};
    oci::ImageConfig image;
    image.cmd = {"sh"};
    Result<std::string> spec_text = make_spec(options, image, place);
    REQUIRE_MESSAGE(spec_text, (spec_text ? std::string() : spec_text.error().to_string()));
    Result<oci::Spec> spec = oci::parse_spec(*spec_text);
    REQUIRE_MESSAGE(spec, (spec ? std::string() : spec.error().to_string()));
    std::set<std::string> theirs;
    for (const oci::SeccompRule& rule : spec->linux_config.seccomp->syscalls)
        if (rule.action == oci::SeccompAction::Allow)
            theirs.insert(rule.names.begin(), rule.names.end());
    REQUIRE(theirs.size() > 300);

    std::set<std::string> ours;
    for (const std::string& name : default_seccomp_allowed_syscalls())
        ours.insert(name);
    ours.insert("chroot"); // Docker's capabilities include CAP_SYS_CHROOT

    // Calls newer than containers-common 0.50's file, and two it refuses
    // where Docker allows them.
    const std::set<std::string> only_ours = {
        "cachestat",  "fchmodat2",     "futex_requeue",        "futex_wait",       "futex_waitv",
        "futex_wake", "io_pgetevents", "io_pgetevents_time64", "map_shadow_stack", "vmsplice",
    };
    // Podman's additions for rootless containers (mounts and namespaces,
    // which Docker keeps for CAP_SYS_ADMIN), NUMA calls Docker keeps for
    // CAP_SYS_NICE, pidfd_getfd (CAP_SYS_PTRACE), and calls of other
    // architectures.
    const std::set<std::string> only_theirs = {
        "clone3",        "fsconfig",      "fsmount",     "fsopen",     "fspick",
        "get_mempolicy", "keyctl",        "mbind",       "mount",      "mount_setattr",
        "move_mount",    "open_tree",     "pidfd_getfd", "pivot_root", "readdir",
        "reboot",        "set_mempolicy", "setns",       "sigaction",  "signal",
        "sigpending",    "sigsuspend",    "syscall",     "syslog",     "timerfd",
        "umount",        "umount2",       "unshare",
    };
    for (const std::string& name : ours)
        if (!theirs.contains(name))
            CHECK_MESSAGE(only_ours.contains(name), name, " is allowed by keel only");
    for (const std::string& name : theirs)
        if (!ours.contains(name))
            CHECK_MESSAGE(only_theirs.contains(name), name,
                          " is allowed by containers-common only");
}
