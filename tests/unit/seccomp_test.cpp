// Tests for containers/seccomp.h: profiles compiled with libseccomp and
// installed in a forked child (with no_new_privs, as a container's process
// gets them), where raw syscalls show what the filter lets through; the
// errors for profiles that cannot be compiled; and both caches, told apart
// by seccomp_cache_stats() rather than by timing.
#include "containers/seccomp.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/seccomp_child.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::errno_of;
using keel::testing::FakeStorage;
using keel::testing::run_filtered;
using keel::testing::StorageCall;
using keel::testing::TempDir;

namespace {

SeccompFilter compiled(const Seccomp& profile) {
    auto filter = compile_seccomp(profile);
    REQUIRE_MESSAGE(filter, (filter ? std::string() : filter.error().to_string()));
    REQUIRE_FALSE(filter->program.empty());
    return std::move(*filter);
}

std::string compile_error(const Seccomp& profile) {
    auto filter = compile_seccomp(profile);
    REQUIRE_FALSE(filter);
    return filter.error().to_string();
}

SeccompRule rule(std::vector<std::string> names, SeccompAction action,
                 std::optional<uint32_t> errno_ret = std::nullopt,
                 std::vector<SeccompArgument> args = {}) {
    SeccompRule out;
    out.names = std::move(names);
    out.action = action;
    out.errno_ret = errno_ret;
    out.args = std::move(args);
    return out;
}

Seccomp deny_mkdir() {
    Seccomp profile;
    profile.default_action = SeccompAction::Allow;
    profile.syscalls = {rule({"mkdir", "mkdirat"}, SeccompAction::Errno)};
    return profile;
}

// Allows only what the child needs to leave, and `allowed`.
Seccomp allow_list(std::vector<SeccompRule> allowed, uint32_t default_errno) {
    Seccomp profile;
    profile.default_action = SeccompAction::Errno;
    profile.default_errno_ret = default_errno;
    profile.syscalls = {rule({"exit_group", "exit"}, SeccompAction::Allow)};
    for (SeccompRule& one : allowed)
        profile.syscalls.push_back(std::move(one));
    return profile;
}

long raw_personality(unsigned long persona) {
    return ::syscall(SYS_personality, persona);
}

// A representative part of Docker's default profile (moby's
// profiles/seccomp/default.json): allow-list with EPERM by default, the
// three x86 architectures, syscall names this libseccomp may not know,
// personality's argument conditions, clone's masked flags and clone3 as
// ENOSYS so that libcs fall back to clone.
Seccomp docker_like_profile() {
    Seccomp profile;
    profile.default_action = SeccompAction::Errno;
    profile.default_errno_ret = EPERM;
    profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    profile.syscalls = {
        rule({"accept",
              "accept4",
              "access",
              "alarm",
              "bind",
              "brk",
              "capget",
              "capset",
              "chdir",
              "chmod",
              "chown",
              "clock_getres",
              "clock_gettime",
              "clock_nanosleep",
              "close",
              "close_range",
              "connect",
              "dup",
              "dup2",
              "dup3",
              "epoll_create",
              "epoll_create1",
              "epoll_ctl",
              "epoll_pwait",
              "epoll_pwait2",
              "epoll_wait",
              "eventfd2",
              "execve",
              "execveat",
              "exit",
              "exit_group",
              "faccessat",
              "faccessat2",
              "fchdir",
              "fchmod",
              "fchown",
              "fcntl",
              "fstat",
              "fstatfs",
              "futex",
              "futex_waitv",
              "getcwd",
              "getdents64",
              "getegid",
              "geteuid",
              "getgid",
              "getpid",
              "getppid",
              "getrandom",
              "gettid",
              "getuid",
              "ioctl",
              "kill",
              "landlock_create_ruleset",
              "lseek",
              "madvise",
              "memfd_create",
              "mkdir",
              "mkdirat",
              "mmap",
              "mprotect",
              "munmap",
              "nanosleep",
              "newfstatat",
              "open",
              "openat",
              "openat2",
              "pipe2",
              "poll",
              "prctl",
              "pread64",
              "read",
              "readlink",
              "rt_sigaction",
              "rt_sigprocmask",
              "rt_sigreturn",
              "sched_yield",
              "set_robust_list",
              "set_tid_address",
              "socket",
              "stat",
              "statx",
              "uname",
              "unlink",
              "wait4",
              "write",
              "writev",
              "keel_syscall_of_2040"},
             SeccompAction::Allow),
        rule({"personality"}, SeccompAction::Allow, std::nullopt,
             {{0, 0x0, 0, SeccompOperator::Equal}}),
        rule({"personality"}, SeccompAction::Allow, std::nullopt,
             {{0, 0x0008, 0, SeccompOperator::Equal}}),
        rule({"personality"}, SeccompAction::Allow, std::nullopt,
             {{0, 0xffffffff, 0, SeccompOperator::Equal}}),
        // clone without namespace flags (CLONE_NEWNS | ... = 0x7E020000).
        rule({"clone"}, SeccompAction::Allow, std::nullopt,
             {{0, 0x7E020000, 0, SeccompOperator::MaskedEqual}}),
        rule({"clone3"}, SeccompAction::Errno, ENOSYS),
    };
    return profile;
}

bool same_program(const SeccompFilter& a, const SeccompFilter& b) {
    return a.flags == b.flags && a.program.size() == b.program.size() &&
           std::memcmp(a.program.data(), b.program.data(),
                       a.program.size() * sizeof(sock_filter)) == 0;
}

struct stat stat_of(const std::string& path) {
    struct stat info {};
    REQUIRE_MESSAGE(::stat(path.c_str(), &info) == 0, path, ": ", std::strerror(errno));
    return info;
}

std::shared_ptr<const SeccompFilter> cached(const Seccomp& profile, const std::string& directory,
                                            Storage& storage = system_storage()) {
    auto filter = cached_seccomp(profile, directory, storage);
    REQUIRE_MESSAGE(filter, (filter ? std::string() : filter.error().to_string()));
    REQUIRE(*filter);
    return *filter;
}

std::string cache_file(const std::string& directory, const Seccomp& profile) {
    return cat(directory, "/", seccomp_cache_key(profile), ".bpf");
}

// Writes `bytes` into `path` at `offset`.
void overwrite(const std::string& path, long offset, std::string_view bytes) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(::pwrite(fd.get(), bytes.data(), bytes.size(), offset) == long(bytes.size()));
}

// Inverts the byte of `path` at `offset` (negative: from the end).
void invert_byte(const std::string& path, long offset) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(fd);
    if (offset < 0)
        offset += long(stat_of(path).st_size);
    unsigned char byte = 0;
    REQUIRE(::pread(fd.get(), &byte, 1, offset) == 1);
    byte = static_cast<unsigned char>(~byte);
    REQUIRE(::pwrite(fd.get(), &byte, 1, offset) == 1);
}

} // namespace

TEST_CASE("a profile that denies mkdir makes it fail with EPERM and lets other calls through") {
    SeccompFilter filter = compiled(deny_mkdir());
    CHECK(filter.flags == 0);
    TempDir dir;
    std::string path = dir / "made";
    CHECK(errno_of(filter, [&] { return ::syscall(SYS_mkdir, path.c_str(), 0700); }) == EPERM);
    CHECK(errno_of(filter, [&] { return ::syscall(SYS_mkdirat, AT_FDCWD, path.c_str(), 0700); }) ==
          EPERM);
    CHECK_FALSE(path_exists(path));
    REQUIRE(write_new_file(dir / "kept", "")); // so that rmdir fails, and not for the filter
    CHECK(errno_of(filter, [&] { return ::syscall(SYS_rmdir, dir.path().c_str()); }) == ENOTEMPTY);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getppid); }) == 0);
    // Unfiltered, the same call works: the filter made the difference.
    REQUIRE(::syscall(SYS_mkdir, path.c_str(), 0700) == 0);
}

TEST_CASE("an errnoRet replaces EPERM for the rule's calls") {
    Seccomp profile = deny_mkdir();
    profile.syscalls[0].errno_ret = EROFS;
    TempDir dir;
    std::string path = dir / "made";
    CHECK(errno_of(compiled(profile), [&] { return ::syscall(SYS_mkdir, path.c_str(), 0700); }) ==
          EROFS);
}

TEST_CASE("an allow-list profile fails every other call with defaultErrnoRet") {
    Seccomp profile = allow_list(
        {rule({"getppid"}, SeccompAction::Allow), rule({"getuid"}, SeccompAction::Errno, EACCES)},
        ENOSYS);
    SeccompFilter filter = compiled(profile);
    TempDir dir;
    std::string path = dir / "made";
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getppid); }) == 0);
    CHECK(errno_of(filter, [&] { return ::syscall(SYS_mkdir, path.c_str(), 0700); }) == ENOSYS);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getgid); }) == ENOSYS);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getuid); }) == EACCES);

    SUBCASE("without defaultErrnoRet it is EPERM") {
        profile.default_errno_ret.reset();
        CHECK(errno_of(compiled(profile), [] { return ::syscall(SYS_getgid); }) == EPERM);
    }
}

TEST_CASE("argument conditions choose which calls a rule matches") {
    SUBCASE("personality(0xffffffff) is allowed, any other persona refused") {
        SeccompFilter filter =
            compiled(allow_list({rule({"personality"}, SeccompAction::Allow, std::nullopt,
                                      {{0, 0xffffffff, 0, SeccompOperator::Equal}})},
                                EPERM));
        CHECK(errno_of(filter, [] { return raw_personality(0xffffffff); }) == 0);
        CHECK(errno_of(filter, [] { return raw_personality(0x0008); }) == EPERM);
        CHECK(errno_of(filter, [] { return raw_personality(0); }) == EPERM);
    }
    SUBCASE("two conditions on one argument are alternatives") {
        SeccompFilter filter = compiled(allow_list(
            {rule({"personality"}, SeccompAction::Allow, std::nullopt,
                  {{0, 0xffffffff, 0, SeccompOperator::Equal}, {0, 0, 0, SeccompOperator::Equal}})},
            EPERM));
        CHECK(errno_of(filter, [] { return raw_personality(0xffffffff); }) == 0);
        CHECK(errno_of(filter, [] { return raw_personality(0); }) == 0);
        CHECK(errno_of(filter, [] { return raw_personality(0x0008); }) == EPERM);
    }
    SUBCASE("conditions on different arguments must all hold") {
        // kill(pid, 0) probes a process; any real signal is refused.
        SeccompFilter filter = compiled(allow_list(
            {rule({"kill"}, SeccompAction::Allow, std::nullopt,
                  {{0, 1, 0, SeccompOperator::GreaterOrEqual}, {1, 0, 0, SeccompOperator::Equal}})},
            EPERM));
        pid_t parent = ::getpid();
        CHECK(errno_of(filter, [&] { return ::syscall(SYS_kill, parent, 0); }) == 0);
        CHECK(errno_of(filter, [&] { return ::syscall(SYS_kill, parent, SIGCONT); }) == EPERM);
        CHECK(errno_of(filter, [] { return ::syscall(SYS_kill, 0, 0); }) == EPERM);
    }
    SUBCASE("SCMP_CMP_MASKED_EQ compares the masked argument with valueTwo") {
        SeccompFilter filter =
            compiled(allow_list({rule({"personality"}, SeccompAction::Allow, std::nullopt,
                                      {{0, 0xffff0000, 0xffff0000, SeccompOperator::MaskedEqual}})},
                                EPERM));
        CHECK(errno_of(filter, [] { return raw_personality(0xffffffff); }) == 0);
        CHECK(errno_of(filter, [] { return raw_personality(0x0008); }) == EPERM);
    }
}

TEST_CASE("SCMP_ACT_KILL_PROCESS kills the process with SIGSYS") {
    Seccomp profile;
    profile.default_action = SeccompAction::Allow;
    profile.syscalls = {rule({"getppid"}, SeccompAction::KillProcess)};
    int status = run_filtered(compiled(profile), [] { return int(::syscall(SYS_getppid)); });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGSYS);
}

TEST_CASE("syscall names libseccomp does not know are skipped, the others still apply") {
    Seccomp profile = deny_mkdir();
    profile.syscalls[0].names = {"keel_syscall_of_2040", "mkdir"};
    TempDir dir;
    std::string path = dir / "made";
    CHECK(errno_of(compiled(profile), [&] { return ::syscall(SYS_mkdir, path.c_str(), 0700); }) ==
          EPERM);
}

TEST_CASE("a rule with the default action adds nothing") {
    Seccomp profile = deny_mkdir();
    profile.syscalls.push_back(rule({"getppid"}, SeccompAction::Allow));
    CHECK(same_program(compiled(profile), compiled(deny_mkdir())));
}

TEST_CASE("architectures are added; an unknown one is an error naming it") {
    Seccomp profile = deny_mkdir();
    SeccompFilter native = compiled(profile);
    profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    SeccompFilter three = compiled(profile);
    // The program checks for each architecture: it grew.
    CHECK(three.program.size() > native.program.size());

    profile.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"};
    CHECK(compile_error(profile) ==
          "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_PDP11`");
    profile.architectures = {"x86_64"};
    CHECK(compile_error(profile) ==
          "linux.seccomp.architectures[0]: unknown architecture `x86_64`");
}

TEST_CASE("flags become SECCOMP_FILTER_FLAG_* bits; an unknown flag is an error") {
    Seccomp profile = deny_mkdir();
    profile.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
    SeccompFilter filter = compiled(profile);
    CHECK(filter.flags == (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
    TempDir dir;
    std::string path = dir / "made";
    CHECK(errno_of(filter, [&] { return ::syscall(SYS_mkdir, path.c_str(), 0700); }) == EPERM);

    profile.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
    CHECK(compiled(profile).flags == SECCOMP_FILTER_FLAG_TSYNC);

    profile.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"};
    CHECK(compile_error(profile) ==
          "linux.seccomp.flags[1]: unknown flag `SECCOMP_FILTER_FLAG_FAST`");
}

TEST_CASE("a notifying rule asks for a listener; notify as the default action is refused") {
    Seccomp profile = deny_mkdir();
    profile.syscalls.push_back(rule({"getppid"}, SeccompAction::Notify));
    CHECK(compiled(profile).flags == SECCOMP_FILTER_FLAG_NEW_LISTENER);

    profile.default_action = SeccompAction::Notify;
    CHECK(compile_error(profile) ==
          "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
}

TEST_CASE("profiles that cannot be compiled name the field") {
    Seccomp profile = deny_mkdir();
    profile.syscalls.push_back(rule({"personality"}, SeccompAction::Errno, std::nullopt,
                                    {{6, 0, 0, SeccompOperator::Equal}}));
    CHECK(compile_error(profile) == "linux.seccomp.syscalls[1].args[0].index: 6 is not 0 to 5");

    profile = deny_mkdir();
    profile.syscalls[0].errno_ret = 70000;
    CHECK(compile_error(profile) ==
          "linux.seccomp.syscalls[0]: errnoRet: 70000 is above 4095, the largest errno");

    profile = allow_list({}, 5000);
    CHECK(compile_error(profile) ==
          "linux.seccomp: defaultErrnoRet: 5000 is above 4095, the largest errno");
}

TEST_CASE("a Docker-like profile compiles and keeps a container's ordinary calls working") {
    SeccompFilter filter = compiled(docker_like_profile());
    CHECK(errno_of(filter, [] { return ::syscall(SYS_getppid); }) == 0);
    CHECK(errno_of(filter, [] { return raw_personality(0xffffffff); }) == 0);
    CHECK(errno_of(filter, [] { return raw_personality(0x0400000); }) == EPERM);
    CHECK(errno_of(filter, [] { return ::syscall(SYS_clone3, nullptr, 0); }) == ENOSYS);
    // Namespaces are refused: unshare is not listed, clone with CLONE_NEWNS fails
    // the mask (and would need no child: it is refused before the kernel looks).
    CHECK(errno_of(filter, [] { return ::syscall(SYS_unshare, CLONE_NEWNS); }) == EPERM);
    CHECK(errno_of(filter, [] {
              return ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, nullptr, nullptr, nullptr, 0);
          }) == EPERM);
    // (A path that is no mount point: without the filter this is ENOENT, and
    // a broken filter changes nothing on the host.)
    CHECK(errno_of(filter, [] { return ::syscall(SYS_umount2, "/keel-no-such-mount", 0); }) ==
          EPERM);
}

TEST_CASE("the cache key changes with every part of the profile and only with it") {
    Seccomp profile = docker_like_profile();
    std::string key = seccomp_cache_key(profile);
    CHECK(key.size() == 64);
    CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(seccomp_cache_key(docker_like_profile()) == key);

    Seccomp changed = profile;
    changed.default_errno_ret = EACCES;
    CHECK(seccomp_cache_key(changed) != key);
    changed = profile;
    changed.syscalls[1].args[0].value = 1;
    CHECK(seccomp_cache_key(changed) != key);
    changed = profile;
    changed.syscalls[0].names.pop_back();
    CHECK(seccomp_cache_key(changed) != key);
    changed = profile;
    changed.flags = {"SECCOMP_FILTER_FLAG_LOG"};
    CHECK(seccomp_cache_key(changed) != key);
    // Moving a name from one rule to the next is not the same profile.
    changed = deny_mkdir();
    changed.syscalls = {rule({"mkdir"}, SeccompAction::Errno),
                        rule({"mkdirat"}, SeccompAction::Errno)};
    CHECK(seccomp_cache_key(changed) != seccomp_cache_key(deny_mkdir()));
    // The listener does not shape the program.
    changed = profile;
    changed.listener_path = "/run/listener.sock";
    CHECK(seccomp_cache_key(changed) == key);
}

TEST_CASE("a profile is compiled once: then the same filter comes from memory") {
    clear_seccomp_memory_cache();
    TempDir dir;
    std::string directory = dir / "seccomp";
    Seccomp profile = docker_like_profile();
    auto first = cached(profile, directory);
    CHECK(seccomp_cache_stats().compiles == 1);
    CHECK(same_program(*first, compiled(profile)));
    auto second = cached(profile, directory);
    CHECK(second.get() == first.get());
    CHECK(seccomp_cache_stats().memory_hits == 1);
    CHECK(seccomp_cache_stats().compiles == 2); // the direct compile above

    struct stat file = stat_of(cache_file(directory, profile));
    CHECK((file.st_mode & 07777) == 0600);
    CHECK(file.st_uid == ::geteuid());
    CHECK((stat_of(directory).st_mode & 07777) == 0700);
    // Only the cache file is left: no temp file.
    CHECK(*list_directory(directory) ==
          std::vector<std::string>{seccomp_cache_key(profile) + ".bpf"});
    clear_seccomp_memory_cache();
}

TEST_CASE("a new process reads the cache file instead of compiling") {
    clear_seccomp_memory_cache();
    TempDir dir;
    Seccomp profile = docker_like_profile();
    auto written = cached(profile, dir.path());
    struct stat before = stat_of(cache_file(dir.path(), profile));

    clear_seccomp_memory_cache(); // as a new process starts
    auto read = cached(profile, dir.path());
    SeccompCacheStats stats = seccomp_cache_stats();
    CHECK(stats.compiles == 0);
    CHECK(stats.file_hits == 1);
    CHECK(same_program(*read, *written));
    struct stat after = stat_of(cache_file(dir.path(), profile));
    CHECK(after.st_ino == before.st_ino); // not written again
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

    // And what came from the file filters as the compiled program did.
    CHECK(errno_of(*read, [] { return ::syscall(SYS_unshare, CLONE_NEWNS); }) == EPERM);
    CHECK(errno_of(*read, [] { return ::syscall(SYS_getppid); }) == 0);
    clear_seccomp_memory_cache();
}

TEST_CASE("a cache file that is damaged, foreign or not private is compiled again and replaced") {
    TempDir dir;
    Seccomp profile = deny_mkdir();
    std::string path = cache_file(dir.path(), profile);
    clear_seccomp_memory_cache();
    SeccompFilter good = *cached(profile, dir.path());
    const off_t good_size = stat_of(path).st_size;
    std::string reason; // what the warning says is wrong with the file

    SUBCASE("a flipped bit in the program") {
        invert_byte(path, -3);
        reason = "checksum mismatch";
    }
    SUBCASE("a flipped bit in the header's flags") {
        invert_byte(path, 8);
        reason = "checksum mismatch";
    }
    SUBCASE("cut short at an instruction boundary") {
        REQUIRE(::truncate(path.c_str(), good_size - off_t(sizeof(sock_filter))) == 0);
        reason = "instructions in the header";
    }
    SUBCASE("cut short in the middle of an instruction") {
        REQUIRE(::truncate(path.c_str(), good_size - 3) == 0);
        reason = "instructions in the header";
    }
    SUBCASE("an instruction appended") {
        std::string extra(sizeof(sock_filter), '\0');
        overwrite(path, good_size, extra);
        reason = "instructions in the header";
    }
    SUBCASE("empty") {
        REQUIRE(::truncate(path.c_str(), 0) == 0);
        reason = "short: 0 bytes";
    }
    SUBCASE("the file of another profile under this one's name") {
        Seccomp other = deny_mkdir();
        other.syscalls[0].errno_ret = EROFS;
        clear_seccomp_memory_cache();
        cached(other, dir.path());
        REQUIRE(::rename(cache_file(dir.path(), other).c_str(), path.c_str()) == 0);
        reason = "written for another profile";
    }
    SUBCASE("readable by others") {
        REQUIRE(::chmod(path.c_str(), 0644) == 0);
        reason = "with mode 0600";
    }
    SUBCASE("a symbolic link to a good file") {
        std::string elsewhere = dir / "elsewhere";
        REQUIRE(::rename(path.c_str(), elsewhere.c_str()) == 0);
        REQUIRE(::symlink(elsewhere.c_str(), path.c_str()) == 0);
        reason = cat("open ", keel::quoted(path)); // refused: O_NOFOLLOW (ELOOP)
    }

    clear_seccomp_memory_cache();
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel level, std::string_view line) {
        if (level == LogLevel::Warning)
            warnings.emplace_back(line);
    });
    auto again = cached(profile, dir.path());
    set_log_sink({});
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find(path) != std::string::npos);
    CHECK_MESSAGE(warnings[0].find(reason) != std::string::npos, warnings[0]);
    SeccompCacheStats stats = seccomp_cache_stats();
    CHECK(stats.rejected_files == 1);
    CHECK(stats.compiles == 1);
    CHECK(stats.file_hits == 0);
    CHECK(same_program(*again, good));

    // The file was replaced by a good one: the next process reads it.
    clear_seccomp_memory_cache();
    cached(profile, dir.path());
    CHECK(seccomp_cache_stats().file_hits == 1);
    CHECK(seccomp_cache_stats().rejected_files == 0);
    clear_seccomp_memory_cache();
}

TEST_CASE("a cache file that cannot be written leaves no temp file and the filter is returned") {
    clear_seccomp_memory_cache();
    TempDir dir;
    Seccomp profile = deny_mkdir();
    FakeStorage storage;
    SUBCASE("the write fails") {
        storage.fail_next(StorageCall::Write, ENOSPC);
    }
    SUBCASE("the rename fails") {
        storage.fail_next(StorageCall::Rename, EIO);
    }
    auto filter = cached(profile, dir.path(), storage);
    CHECK(same_program(*filter, compiled(profile)));
    CHECK(list_directory(dir.path())->empty());
    clear_seccomp_memory_cache();
}

TEST_CASE("a cache directory others could write to is refused") {
    clear_seccomp_memory_cache();
    TempDir dir;
    REQUIRE(::chmod(dir.path().c_str(), 0777) == 0);
    auto filter = cached_seccomp(deny_mkdir(), dir.path());
    REQUIRE_FALSE(filter);
    CHECK(filter.error().code() == EPERM);
    CHECK(filter.error().to_string().find("writable by group or others") != std::string::npos);
    CHECK(seccomp_cache_stats().compiles == 0);
}

TEST_CASE("install_seccomp_filter refuses an empty or oversized program before the kernel") {
    CHECK(install_seccomp_filter({}, 0).error().code() == EINVAL);
    std::vector<sock_filter> huge(BPF_MAXINSNS + 1, sock_filter{});
    CHECK(install_seccomp_filter(huge, 0).error().code() == EINVAL);
}
