// spawn_process: the one path that starts children.
#include "base/spawn.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

using keel::Result;
using keel::SpawnOptions;
using keel::testing::cgroup2_mount;

namespace {

// Runs the options to completion and returns the wait status.
int run_spawned(const SpawnOptions& options) {
    auto pid = keel::spawn_process(options);
    REQUIRE(pid);
    int status = 0;
    REQUIRE(waitpid(*pid, &status, 0) == *pid);
    return status;
}

// A temp file for the child's output.
struct Output {
    std::string path;
    keel::Fd fd;
    Output() {
        char name[] = "/tmp/keel-spawn-XXXXXX";
        fd = keel::Fd(mkstemp(name));
        path = name;
    }
    ~Output() { unlink(path.c_str()); }
    std::string text() const { return *keel::read_file(path); }
};

SpawnOptions shell(std::string script) {
    SpawnOptions options;
    options.argv = {"sh", "-c", std::move(script)};
    options.environment = {"PATH=/usr/bin:/bin"};
    return options;
}

// A child that prints "one hello /tmp 123" to `out` (its argument, its
// environment, its working directory and its open file limit), then exits
// with `status`.
SpawnOptions greeting(const Output& out, int status) {
    SpawnOptions options =
        shell(keel::cat("echo \"$1 $GREETING $(pwd) $(ulimit -n)\"; exit ", status));
    options.argv.push_back("zero");
    options.argv.push_back("one");
    options.environment.push_back("GREETING=hello");
    options.working_directory = "/tmp";
    options.limits.push_back({RLIMIT_NOFILE, 123, 123});
    options.stdout_fd = out.fd.get();
    return options;
}

} // namespace

TEST_CASE("a child gets its argv, environment, working directory and stdout") {
    Output out;
    int status = run_spawned(greeting(out, 0));
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out.text() == "one hello /tmp 123\n");
}

TEST_CASE("a missing program is an error from spawn, and no child is left") {
    SpawnOptions options;
    options.argv = {"/nonexistent/program"};
    auto pid = keel::spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().code() == ENOENT);
    CHECK(pid.error().to_string() ==
          "start `/nonexistent/program`: exec: No such file or directory");
    CHECK(waitpid(-1, nullptr, WNOHANG) == -1); // ECHILD: nothing to reap
}

TEST_CASE("a bad working directory fails before exec with the reason") {
    SpawnOptions options = shell("true");
    options.working_directory = "/nonexistent";
    auto pid = keel::spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().to_string() ==
          "start `sh`: change to the working directory: No such file or directory");
}

TEST_CASE("resource limits apply to the child") {
    Output out;
    SpawnOptions options = shell("ulimit -n");
    options.limits.push_back({RLIMIT_NOFILE, 123, 123});
    options.stdout_fd = out.fd.get();
    run_spawned(options);
    CHECK(out.text() == "123\n");
}

TEST_CASE("denied system calls fail with EPERM in the child only") {
    Output out;
    char dir[] = "/tmp/keel-seccomp-XXXXXX";
    REQUIRE(mkdtemp(dir));
    SpawnOptions options =
        shell(std::string("mkdir ") + dir + "/sub 2>/dev/null && echo made || echo denied");
    options.denied_syscalls = {"mkdir", "mkdirat"};
    options.stdout_fd = out.fd.get();
    run_spawned(options);
    CHECK(out.text() == "denied\n");
    CHECK_FALSE(keel::path_exists(std::string(dir) + "/sub"));
    rmdir(dir);
}

TEST_CASE("a capability dropped from the bounding set is gone in the child") {
    Output out;
    SpawnOptions options = shell("grep CapBnd /proc/self/status");
    options.capability_mode = keel::CapabilityMode::Drop;
    options.capabilities = {"cap_net_raw"};
    options.stdout_fd = out.fd.get();
    run_spawned(options);
    std::string line = out.text();
    REQUIRE(line.starts_with("CapBnd:"));
    unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
    CHECK((mask >> 13 & 1) == 0); // CAP_NET_RAW
    CHECK((mask >> 12 & 1) == 1); // CAP_NET_ADMIN stays
}

TEST_CASE("unknown capability and system call names are refused before forking") {
    SpawnOptions options = shell("true");
    options.capabilities = {"CAP_FLY"};
    options.capability_mode = keel::CapabilityMode::Keep;
    auto bad_cap = keel::validate_spawn_options(options);
    REQUIRE_FALSE(bad_cap);
    CHECK(bad_cap.error().to_string() == "unknown capability `CAP_FLY`");
    options.capabilities.clear();
    options.denied_syscalls = {"teleport"};
    auto bad_call = keel::spawn_process(options);
    REQUIRE_FALSE(bad_call);
    CHECK(bad_call.error().to_string() == "unknown system call `teleport`");
}

TEST_CASE("wait statuses are described for people") {
    CHECK(keel::describe_wait_status(3 << 8) == "exited with status 3");
    CHECK(keel::describe_wait_status(SIGKILL) == "killed by signal 9 (SIGKILL)");
}

TEST_CASE("without waiting for exec, the child runs from its own copy of the options") {
    Output out;
    pid_t pid;
    {
        SpawnOptions options = greeting(out, 7);
        options.wait_for_exec = false;
        auto started = keel::spawn_process(options);
        REQUIRE(started);
        pid = *started;
        // The caller's options go at once, the child may not have read them yet.
        options.argv.assign(3, std::string(64, 'x'));
        options.environment.clear();
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(!keel::take_spawn_failure(pid));
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 7);
    CHECK(out.text() == "one hello /tmp 123\n");
}

TEST_CASE(
    "without waiting for exec, a failure shows as status 127 and take_spawn_failure says why") {
    SpawnOptions options;
    options.argv = {"/nonexistent/program"};
    options.wait_for_exec = false;
    auto pid = keel::spawn_process(options);
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
    REQUIRE(pid);
    int status = 0;
    REQUIRE(waitpid(*pid, &status, 0) == *pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 127);
    auto failure = keel::take_spawn_failure(*pid);
    REQUIRE(failure);
    CHECK(failure->to_string() == "start `/nonexistent/program`: exec: No such file or directory");
    CHECK(!keel::take_spawn_failure(*pid)); // told once
#else
    MESSAGE("this build always waits for exec: the failure comes from spawn_process");
    REQUIRE(!pid);
    CHECK(pid.error().to_string() ==
          "start `/nonexistent/program`: exec: No such file or directory");
#endif
}

TEST_CASE("many children started without waiting share a few stacks and all run") {
    constexpr int kChildren = 40;
    std::vector<pid_t> pids;
    for (int i = 0; i < kChildren; ++i) {
        SpawnOptions options = shell(keel::cat("exit ", i));
        options.wait_for_exec = false;
        auto pid = keel::spawn_process(options);
        REQUIRE(pid);
        pids.push_back(*pid);
    }
    for (int i = 0; i < kChildren; ++i) {
        int status = 0;
        REQUIRE(waitpid(pids[size_t(i)], &status, 0) == pids[size_t(i)]);
        CHECK(!keel::take_spawn_failure(pids[size_t(i)]));
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == i);
    }
}

// Fork mode: namespaces, setup callbacks, exact capability sets, a compiled
// seccomp program, the fds a container keeps. These need root.

namespace {

// A pipe whose read end the test keeps and whose write end a child gets.
struct Pipe {
    keel::Fd read, write;
    Pipe() {
        int ends[2];
        REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
        read = keel::Fd(ends[0]);
        write = keel::Fd(ends[1]);
    }
    // What was written, once every write end is closed.
    std::string text() {
        write.reset();
        auto all = keel::read_all(read.get());
        REQUIRE(all);
        return *all;
    }
};

// Writes `text` to `fd` from inside a callback.
Result<void> put_text(int fd, const std::string& text) {
    return keel::write_all(fd, text);
}

// For the length of a test, `fd` also sits at `target` in this process
// (close-on-exec or not, as asked); whatever was there comes back after.
class FdAt {
public:
    FdAt(int fd, int target, int flags) : m_target(target) {
        m_saved = ::fcntl(target, F_DUPFD_CLOEXEC, 100);
        REQUIRE(::dup3(fd, target, flags) == target);
    }
    ~FdAt() {
        if (m_saved >= 0) {
            ::dup3(m_saved, m_target, 0);
            ::close(m_saved);
        } else {
            ::close(m_target);
        }
    }
    FdAt(const FdAt&) = delete;
    FdAt& operator=(const FdAt&) = delete;

private:
    int m_target;
    int m_saved;
};

// The status line `name` ("CapEff") of /proc/self/status text, as a number.
uint64_t capability_line(const std::string& status, std::string_view name) {
    for (std::string_view line : keel::split(status, '\n'))
        if (line.starts_with(name) && line.size() > name.size() && line[name.size()] == ':')
            return std::stoull(std::string(keel::trim(line.substr(name.size() + 1))), nullptr, 16);
    FAIL("no ", name, " in /proc/self/status");
    return 0;
}

constexpr uint64_t capability_bit(int capability) {
    return uint64_t(1) << capability;
}

} // namespace

TEST_CASE("a child born in new pid, uts and mount namespaces is pid 1 there") {
    Output out;
    SpawnOptions options = shell("echo $$");
    options.new_namespaces = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNS;
    options.stdout_fd = out.fd.get();
    int status = run_spawned(options);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out.text() == "1\n");
}

TEST_CASE("a child born in a new time namespace sees its offsets; the caller's clocks stay") {
    Output out;
    SpawnOptions options = shell("cat /proc/uptime; cat /proc/self/timens_offsets");
    options.new_namespaces = CLONE_NEWTIME;
    options.time_offsets = "boottime 5000000 0\nmonotonic 7 25\n";
    options.stdout_fd = out.fd.get();
    int status = run_spawned(options);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    double own_uptime = std::stod(keel::read_file("/proc/uptime").value());
    std::string text = out.text();
    double uptime = std::stod(text);
    CHECK(uptime >= own_uptime + 5000000 - 60);
    CHECK(uptime <= own_uptime + 5000000 + 1);
    CHECK(text.find("monotonic") != std::string::npos);
    // The caller's own children stay in its time namespace.
    struct stat own_namespace {
    }, children_namespace{};
    REQUIRE(::stat("/proc/self/ns/time", &own_namespace) == 0);
    REQUIRE(::stat("/proc/self/ns/time_for_children", &children_namespace) == 0);
    CHECK(own_namespace.st_ino == children_namespace.st_ino);
}

TEST_CASE("time offsets without a new time namespace are refused before anything runs") {
    SpawnOptions options = shell("true");
    options.time_offsets = "monotonic 1 0\n";
    auto refused = keel::spawn_process(options);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("time_offsets: set without a new time namespace") !=
          std::string::npos);
}

TEST_CASE("child_setup runs in the child's namespaces: the hostname it sets is the program's") {
    char before[256] = {};
    REQUIRE(::gethostname(before, sizeof before) == 0);
    Output out;
    SpawnOptions options = shell("uname -n");
    options.new_namespaces = CLONE_NEWUTS;
    options.child_setup = []() -> Result<void> {
        if (::sethostname("keel-spawn-test", 15) < 0)
            return keel::errno_error("sethostname");
        return {};
    };
    options.stdout_fd = out.fd.get();
    run_spawned(options);
    CHECK(out.text() == "keel-spawn-test\n");
    char after[256] = {};
    REQUIRE(::gethostname(after, sizeof after) == 0);
    CHECK(std::string(after) == before);
}

TEST_CASE("a child_setup error is the spawn's error, with its message and code") {
    SpawnOptions options = shell("echo ran");
    options.child_setup = []() -> Result<void> {
        return keel::errno_error(EACCES, "mount the container's root");
    };
    auto failed = keel::spawn_process(options);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code() == EACCES);
    CHECK(failed.error().to_string() ==
          "start `sh`: mount the container's root: Permission denied");
    CHECK(waitpid(-1, nullptr, WNOHANG) == -1); // ECHILD: nothing to reap

    options.child_setup = []() -> Result<void> { return keel::error("the runtime hung up"); };
    auto plain = keel::spawn_process(options);
    REQUIRE_FALSE(plain);
    CHECK(plain.error().code() == 0);
    CHECK(plain.error().to_string() == "start `sh`: the runtime hung up");

    options.child_setup = nullptr;
    options.before_exec = []() -> Result<void> { throw std::runtime_error("boom"); };
    auto thrown = keel::spawn_process(options);
    REQUIRE_FALSE(thrown);
    CHECK(thrown.error().to_string() == "start `sh`: exception: boom");
}

TEST_CASE("before_exec runs with the target credentials, and keep_fds close at exec") {
    Pipe seen;
    Output out;
    int kept = seen.write.get();
    REQUIRE(::fcntl(kept, F_SETFD, 0) == 0); // as an fd the caller left open by mistake
    SpawnOptions options =
        shell(keel::cat("test -e /proc/self/fd/", kept, " && echo open || echo closed"));
    options.uid = 1000;
    options.gid = 1000;
    options.keep_fds = {kept};
    options.before_exec = [kept]() -> Result<void> {
        return put_text(kept, keel::cat(::geteuid(), " ", ::getegid(), " ", ::getuid()));
    };
    options.stdout_fd = out.fd.get();
    int status = run_spawned(options);
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(seen.text() == "1000 1000 1000");
    CHECK(out.text() == "closed\n");
}

TEST_CASE("in fork mode without waiting for exec, a failure shows as 127 and take_spawn_failure "
          "says why") {
    SpawnOptions options = shell("exit 3");
    options.wait_for_exec = false;
    options.new_namespaces = CLONE_NEWUTS;
    auto fine = keel::spawn_process(options);
    REQUIRE(fine);
    int status = 0;
    REQUIRE(waitpid(*fine, &status, 0) == *fine);
    CHECK(WEXITSTATUS(status) == 3);
    CHECK(!keel::take_spawn_failure(*fine));

    options.child_setup = []() -> Result<void> {
        return keel::errno_error(ENOENT, "pivot_root to `/rootfs`");
    };
    auto pid = keel::spawn_process(options);
    REQUIRE(pid);
    REQUIRE(waitpid(*pid, &status, 0) == *pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 127);
    auto failure = keel::take_spawn_failure(*pid);
    REQUIRE(failure);
    CHECK(failure->code() == ENOENT);
    CHECK(failure->to_string() == "start `sh`: pivot_root to `/rootfs`: No such file or directory");
    CHECK(!keel::take_spawn_failure(*pid)); // told once
}

TEST_CASE("the child is not dumpable while child_setup runs") {
    Pipe seen;
    int kept = seen.write.get();
    SpawnOptions options = shell("true");
    options.keep_fds = {kept};
    options.child_setup = [kept]() -> Result<void> {
        return put_text(kept, keel::cat(::prctl(PR_GET_DUMPABLE)));
    };
    run_spawned(options);
    CHECK(seen.text() == "0");
}

TEST_CASE("capability sets are set exactly, and ambient ones reach a non-root program") {
    keel::CapabilitySets sets;
    sets.bounding =
        capability_bit(CAP_CHOWN) | capability_bit(CAP_KILL) | capability_bit(CAP_NET_BIND_SERVICE);
    sets.permitted = sets.bounding;
    sets.effective = capability_bit(CAP_CHOWN) | capability_bit(CAP_NET_BIND_SERVICE);
    sets.inheritable = capability_bit(CAP_KILL) | capability_bit(CAP_NET_BIND_SERVICE);
    sets.ambient = capability_bit(CAP_NET_BIND_SERVICE);
    bool fork_mode = false;
    SUBCASE("in fork mode") {
        fork_mode = true;
    }
    SUBCASE("sharing the caller's memory") {}
    Pipe before;
    int kept = before.write.get();
    Output out;
    SpawnOptions options;
    options.argv = {"/bin/cat", "/proc/self/status"};
    options.uid = 1000;
    options.gid = 1000;
    options.capability_sets = sets;
    options.capability_mode = keel::CapabilityMode::Drop; // overridden by the sets
    options.capabilities = {"CAP_NET_BIND_SERVICE"};
    options.stdout_fd = out.fd.get();
    if (fork_mode) {
        options.keep_fds = {kept};
        options.before_exec = [kept]() -> Result<void> {
            return put_text(kept, TRY(keel::read_file("/proc/self/status")));
        };
    }
    int status = run_spawned(options);
    CHECK(WEXITSTATUS(status) == 0);
    std::string after = out.text();
    CHECK(capability_line(after, "CapBnd") == sets.bounding);
    CHECK(capability_line(after, "CapInh") == sets.inheritable);
    // A non-root program without file capabilities gets the ambient ones.
    CHECK(capability_line(after, "CapPrm") == sets.ambient);
    CHECK(capability_line(after, "CapEff") == sets.ambient);
    CHECK(capability_line(after, "CapAmb") == sets.ambient);
    if (fork_mode) {
        std::string setup = before.text();
        CHECK(capability_line(setup, "CapBnd") == sets.bounding);
        CHECK(capability_line(setup, "CapPrm") == sets.permitted);
        CHECK(capability_line(setup, "CapEff") == sets.effective);
        CHECK(capability_line(setup, "CapInh") == sets.inheritable);
        CHECK(capability_line(setup, "CapAmb") == sets.ambient);
    }
}

TEST_CASE("ambient capabilities that are not also inheritable are left out, not an error") {
    // runc's default spec asks for ambient capabilities with no inheritable
    // set; the kernel refuses to raise those, and runtimes skip them.
    keel::CapabilitySets sets;
    sets.bounding = capability_bit(CAP_KILL) | capability_bit(CAP_NET_BIND_SERVICE);
    sets.permitted = sets.bounding;
    sets.effective = sets.bounding;
    sets.inheritable = capability_bit(CAP_KILL);
    sets.ambient = capability_bit(CAP_KILL) | capability_bit(CAP_NET_BIND_SERVICE);
    Output out;
    SpawnOptions options;
    options.argv = {"/bin/cat", "/proc/self/status"};
    options.capability_sets = sets;
    options.stdout_fd = out.fd.get();
    int status = run_spawned(options);
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(capability_line(out.text(), "CapAmb") == capability_bit(CAP_KILL));
}

namespace {
// A seccomp program for this architecture: mkdir and mkdirat fail with
// EPERM, all else runs.
// mkdir and mkdirat get `action`, everything else is allowed.
std::vector<sock_filter> mkdir_program(uint32_t action) {
#if defined(__x86_64__)
    constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#endif
    return {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
#if defined(__NR_mkdir)
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 2, 0),
#else
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 2, 0),
#endif
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), BPF_STMT(BPF_RET | BPF_K, action),
    };
}

std::vector<sock_filter> mkdir_denied_program() {
    return mkdir_program(SECCOMP_RET_ERRNO | EPERM);
}
} // namespace

TEST_CASE("a program that makes a listener hands it to seccomp_listener, before before_exec, and "
          "the notified system calls wait for the answer") {
    bool no_new_privileges = false;
    SUBCASE("loaded last, with no_new_privs") {
        no_new_privileges = true;
    }
    SUBCASE("loaded before the credentials change, without no_new_privs") {}
    std::vector<sock_filter> program = mkdir_program(SECCOMP_RET_USER_NOTIF);
    keel::testing::TempDir dir;
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
    keel::Fd ours(pair[0]), theirs(pair[1]);
    Output out;
    SpawnOptions options =
        shell(keel::cat("mkdir ", dir / "sub", " 2>/dev/null && echo made || echo answered"));
    options.seccomp_program = &program;
    options.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    options.no_new_privileges = no_new_privileges;
    options.stdout_fd = out.fd.get();
    options.keep_fds = {theirs.get()};
    int socket = theirs.get();
    bool handed = false;
    options.seccomp_listener = [socket, &handed](int listener) {
        handed = true;
        return keel::send_with_fd(socket, "listener", listener);
    };
    // Runs in the child after the hand-over (fork mode: `handed` is the
    // child's copy).
    options.before_exec = [&handed]() -> Result<void> {
        if (!handed)
            return keel::error("before_exec ran before the listener was handed over");
        return {};
    };
    auto pid = keel::spawn_process(options);
    REQUIRE(pid);
    theirs.reset();
    auto message = keel::receive_with_fd(ours.get(), 64, MSG_DONTWAIT);
    REQUIRE(message);
    CHECK(message->data == "listener");
    REQUIRE(message->fd);
    // The shell's mkdir waits for this answer: ENOTBLK, and nothing made.
    seccomp_notif notification{};
    REQUIRE(::ioctl(message->fd.get(), SECCOMP_IOCTL_NOTIF_RECV, &notification) == 0);
    CHECK((notification.data.nr == __NR_mkdirat
#if defined(__NR_mkdir)
           || notification.data.nr == __NR_mkdir
#endif
           ));
    seccomp_notif_resp response{.id = notification.id, .val = 0, .error = -ENOTBLK, .flags = 0};
    REQUIRE(::ioctl(message->fd.get(), SECCOMP_IOCTL_NOTIF_SEND, &response) == 0);
    int status = 0;
    REQUIRE(waitpid(*pid, &status, 0) == *pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out.text() == "answered\n");
    CHECK_FALSE(keel::path_exists(dir / "sub"));
}

TEST_CASE("a listener without seccomp_listener, or seccomp_listener without one, is refused "
          "before anything runs") {
    std::vector<sock_filter> program = mkdir_program(SECCOMP_RET_USER_NOTIF);
    SpawnOptions options = shell("true");
    options.seccomp_program = &program;
    options.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    auto refused = keel::spawn_process(options);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string() ==
          "a seccomp program with a listener needs someone to hand it to");
    options.seccomp_flags = 0;
    options.seccomp_listener = [](int) -> Result<void> { return {}; };
    refused = keel::spawn_process(options);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string() ==
          "seccomp_listener without a program that makes a listener");
}

TEST_CASE("without no_new_privs, a seccomp program is loaded before the uid and capabilities "
          "change, which would take away the right to load it") {
    std::vector<sock_filter> program = mkdir_denied_program();
    keel::testing::TempDir dir; // root's, mode 0700: uid 1000 gets EACCES there
    Output out;
    SpawnOptions options =
        shell(keel::cat("mkdir ", dir / "sub", " 2>/dev/null && echo made || echo denied"));
    options.uid = 1000;
    options.gid = 1000;
    options.capability_sets = keel::CapabilitySets{};
    options.seccomp_program = &program;
    options.stdout_fd = out.fd.get();
    std::string early = dir / "early";
    // Under the filter already: EPERM from seccomp, not EACCES from the
    // directory's mode.
    options.before_exec = [early]() -> Result<void> {
        if (::mkdir(early.c_str(), 0755) == 0 || errno != EPERM)
            return keel::errno_error("mkdir before exec was not filtered");
        return {};
    };
    int status = run_spawned(options);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out.text() == "denied\n");
}

TEST_CASE("a compiled seccomp program fails its system calls with EPERM, loaded after "
          "before_exec with no_new_privs") {
    std::vector<sock_filter> program = mkdir_denied_program();
    keel::testing::TempDir dir;
    bool fork_mode = false;
    SUBCASE("in fork mode") {
        fork_mode = true;
    }
    SUBCASE("sharing the caller's memory") {}
    Output out;
    SpawnOptions options =
        shell(keel::cat("mkdir ", dir / "sub", " 2>/dev/null && echo made || echo denied"));
    options.seccomp_program = &program;
    options.no_new_privileges = true;
    options.stdout_fd = out.fd.get();
    if (fork_mode) {
        std::string early = dir / "early";
        options.before_exec = [early]() -> Result<void> {
            if (::mkdir(early.c_str(), 0755) < 0)
                return keel::errno_error("mkdir before exec");
            return {};
        };
    }
    // The vector is read by spawn_process only.
    std::vector<sock_filter> copy = program;
    options.seccomp_program = &copy;
    auto pid = keel::spawn_process(options);
    copy.assign(copy.size(), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    REQUIRE(pid);
    int status = 0;
    REQUIRE(waitpid(*pid, &status, 0) == *pid);
    CHECK(WIFEXITED(status));
    CHECK(out.text() == "denied\n");
    CHECK_FALSE(keel::path_exists(dir / "sub"));
    CHECK(keel::path_exists(dir / "early") == fork_mode);
}

TEST_CASE("preserve_fds keeps fd 3 across exec and closes fd 4") {
    bool fork_mode = false;
    SUBCASE("in fork mode") {
        fork_mode = true;
    }
    SUBCASE("sharing the caller's memory") {}
    Pipe preserved;
    Output out;
    {
        // fd 3 close-on-exec as PID 1's fds are: preserving clears that.
        FdAt three(preserved.write.get(), 3, O_CLOEXEC);
        FdAt four(out.fd.get(), 4, 0);
        SpawnOptions options = shell("echo kept >&3; test -e /proc/self/fd/4 && echo 4 open || "
                                     "echo 4 closed");
        options.preserve_fds = 1;
        options.stdout_fd = out.fd.get();
        if (fork_mode)
            options.new_namespaces = CLONE_NEWUTS;
        run_spawned(options);
    }
    CHECK(preserved.text() == "kept\n");
    CHECK(out.text() == "4 closed\n");
}

TEST_CASE("a working directory through /proc/self/fd of an fd that is not kept fails "
          "(CVE-2024-21626)") {
    // A directory fd left open without O_CLOEXEC, as runc leaked one.
    keel::Fd leaked(::open("/tmp", O_RDONLY | O_DIRECTORY));
    REQUIRE(leaked);
    SpawnOptions options = shell("pwd");
    options.working_directory = keel::cat("/proc/self/fd/", leaked.get());
    options.new_namespaces = CLONE_NEWNS;
    auto pid = keel::spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().to_string() ==
          "start `sh`: change to the working directory: No such file or directory");
}

TEST_CASE("a working directory outside the container's root is refused") {
    keel::testing::TempDir root;
    REQUIRE(keel::make_directories(root / "proc"));
    keel::Fd outside(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(outside);
    SpawnOptions options;
    options.argv = {"/bin/true"};
    options.working_directory = keel::cat("/proc/self/fd/", outside.get());
    options.keep_fds = {outside.get()};
    options.new_namespaces = CLONE_NEWNS;
    std::string path = root.path();
    // The mounts live in the child's own mount namespace, made private first.
    options.child_setup = [path]() -> Result<void> {
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
            return keel::errno_error("make mounts private");
        TRY(keel::mount_filesystem("proc", path + "/proc", "proc", 0));
        if (::chroot(path.c_str()) < 0 || ::chdir("/") < 0)
            return keel::errno_error("chroot");
        return {};
    };
    auto pid = keel::spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().to_string() ==
          keel::cat("start `/bin/true`: working directory `/proc/self/fd/", outside.get(),
                    "`: outside the container's root"));
}

TEST_CASE("oom_score_adj and umask are applied to the child") {
    bool fork_mode = false;
    SUBCASE("in fork mode") {
        fork_mode = true;
    }
    SUBCASE("sharing the caller's memory") {}
    Output out;
    SpawnOptions options = shell("cat /proc/self/oom_score_adj; umask");
    options.oom_score_adj = 500;
    options.umask = 027;
    options.stdout_fd = out.fd.get();
    if (fork_mode)
        options.new_namespaces = CLONE_NEWUSER; // still set: it is written before the clone
    run_spawned(options);
    CHECK(out.text() == "500\n0027\n");
    auto own = keel::read_file("/proc/self/oom_score_adj");
    REQUIRE(own);
    CHECK(*own != "500\n");
}

TEST_CASE("a new cgroup namespace is rooted at the cgroup the child was born in") {
    std::string mount = cgroup2_mount();
    std::string relative = keel::cat("keel-spawn-ns-test-", ::getpid());
    std::string path = mount + "/" + relative;
    if (mount.empty() || ::mkdir(path.c_str(), 0755) < 0) {
        MESSAGE("SKIPPED: needs root and a writable cgroup v2 hierarchy (" << mount << ")");
        return;
    }
    {
        auto directory = keel::open_file(path, O_RDONLY | O_DIRECTORY);
        REQUIRE(directory);
        Output inside, outside;
        SpawnOptions options = shell("cat /proc/self/cgroup");
        options.cgroup_fd = directory->get();
        options.new_namespaces = CLONE_NEWCGROUP;
        options.stdout_fd = inside.fd.get();
        run_spawned(options);
        CHECK(inside.text().find("0::/\n") != std::string::npos);
        options.new_namespaces = CLONE_NEWUTS; // fork mode, same group, the host's view
        options.stdout_fd = outside.fd.get();
        run_spawned(options);
        CHECK(outside.text().find(keel::cat("0::/", relative, "\n")) != std::string::npos);
    }
    CHECK(::rmdir(path.c_str()) == 0);
}

TEST_CASE("in fork mode, a cgroup that cannot be joined fails the spawn") {
    keel::testing::TempDir root;
    auto directory = keel::open_file(root.path(), O_RDONLY | O_DIRECTORY);
    REQUIRE(directory);
    SpawnOptions options;
    options.argv = {"/bin/true"};
    options.cgroup_fd = directory->get();
    options.new_namespaces = CLONE_NEWUTS;
    auto pid = keel::spawn_process(options);
    REQUIRE_FALSE(pid);
    CHECK(pid.error().code() == ENOENT);
    CHECK(pid.error().to_string() == "start `/bin/true`: join cgroup: No such file or directory");
    CHECK(waitpid(-1, nullptr, WNOHANG) == -1);
}

TEST_CASE("capability bits beyond the last, unknown namespace flags and bad ranges are refused "
          "before forking") {
    auto refused = [](const SpawnOptions& options) {
        auto checked = keel::validate_spawn_options(options);
        REQUIRE_FALSE(checked);
        auto spawned = keel::spawn_process(options);
        REQUIRE_FALSE(spawned);
        CHECK(spawned.error().to_string() == checked.error().to_string());
        return checked.error().to_string();
    };
    SpawnOptions options = shell("true");
    options.capability_sets = keel::CapabilitySets{};
    options.capability_sets->ambient = capability_bit(41) | capability_bit(50);
    CHECK(refused(options) ==
          "ambient capability set: capability 41 does not exist (the last is 40)");
    options.capability_sets->ambient = capability_bit(40);
    CHECK(keel::validate_spawn_options(options));

    options = shell("true");
    options.new_namespaces = CLONE_NEWNET | CLONE_VM;
    CHECK(refused(options) == "new_namespaces: flag 0x100 is no CLONE_NEW* flag");

    options = shell("true");
    options.oom_score_adj = 1001;
    CHECK(refused(options) == "oom_score_adj 1001 is outside -1000..1000");

    options = shell("true");
    std::vector<sock_filter> empty;
    options.seccomp_program = &empty;
    CHECK(refused(options) == "a seccomp program of 0 instructions (1 to 4096 are possible)");
}

TEST_CASE("callbacks may allocate while another thread of the caller allocates") {
    // One malloc arena (musl has one lock anyway), and blocks too big for
    // the thread's cache: the other thread holds the lock the child's
    // allocations take much of the time. A copy of the caller made while it
    // did would keep it held for good (as a bare clone makes it; fork()
    // takes the lock around the copy).
#if defined(__SANITIZE_ADDRESS__)
    // ASan's allocator replaces libc's, and GCC 12's runtime takes none of
    // its locks around fork(): under it, the copy can hang however keel
    // spawns. keel_spawn_tests runs this case on the musl build.
    MESSAGE("skipped under ASan: its allocator is not locked around fork(); "
            "keel_spawn_tests (musl, no ASan) runs this case");
    return;
#endif
#if defined(__GLIBC__)
    ::mallopt(M_ARENA_MAX, 1);
#endif
    std::atomic<bool> stop{false};
    std::thread churn([&] {
        while (!stop.load())
            std::string(5000, 'x');
    });
    for (int i = 0; i < 20; ++i) {
        SpawnOptions options = shell("exit 0");
        options.wait_for_exec = false;
        options.child_setup = []() -> Result<void> {
            std::vector<std::string> strings(1000, std::string(1000, 'y'));
            return strings.back().size() == 1000 ? Result<void>{} : keel::error("lost memory");
        };
        auto pid = keel::spawn_process(options);
        REQUIRE(pid);
        // A child stuck on a lock that the other thread held when the caller
        // was copied would never exit: give it 10 s.
        int status = 0;
        bool exited = false;
        for (int tries = 0; tries < 1000 && !exited; ++tries) {
            exited = waitpid(*pid, &status, WNOHANG) == *pid;
            if (!exited)
                ::usleep(10000);
        }
        if (!exited) {
            ::kill(*pid, SIGKILL);
            waitpid(*pid, &status, 0);
        }
        CHECK(exited);
        CHECK(!keel::take_spawn_failure(*pid));
        CHECK(WEXITSTATUS(status) == 0);
    }
    stop = true;
    churn.join();
}
