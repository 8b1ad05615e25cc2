// spawn_process: start a child with clone3(CLONE_VM), set it up, exec.
// Everything that can be prepared or validated happens before the clone, in
// the parent; the child only makes system calls. Sharing the parent's
// memory instead of copying it (fork) matters for PID 1: copying its page
// tables and taking copy-on-write faults afterwards was most of the cost of
// starting a service. The child runs on a stack of its own (guarded, kept
// for reuse) and reads a copy of the options, so the parent may either
// sleep until the child has exec'd or exited (CLONE_VFORK: a failure is
// the call's error) or go on at once (the exec then overlaps with the
// parent's next steps; the kernel clears a word when the child is off its
// stack, and a failure is kept for take_spawn_failure). A child bound for a
// cgroup is born in it (CLONE_INTO_CGROUP) rather than moved there, which
// spares a migration per service (the first one waits for an RCU grace
// period).
//
// Fork mode (namespaces or setup callbacks: the container runtime) runs the
// same steps in a child that has its own memory, since the callbacks run
// arbitrary code. It is made in two steps: fork() makes a copy of the
// caller in which malloc and stdio are usable whatever other threads were
// doing (libc takes their locks around the copy; a bare clone cannot), and
// that copy clones the child proper with CLONE_PARENT, into its namespaces
// and cgroup at once, then exits. The child's pid and any failure come back
// through a shared page; a close-on-exec pipe tells when it has exec'd.
#include "base/spawn.h"

#include "base/fd.h"
#include "base/seccomp_bpf.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <memory>
#include <mutex>
#include <new>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#if defined(__x86_64__)
// clone3 with a function to run on the child's stack, as clone(2)'s libc
// wrapper does for clone: the child returns from the system call on its
// new stack, where no C frame exists, so that step needs assembly.
//   long keel_clone3_call(clone_args* args, size_t size, int (*fn)(void*), void* arg)
// Returns what the parent gets from clone3 (a pid or -errno); the child
// calls fn(arg) and exits with its result.
extern "C" long keel_clone3_call(clone_args*, size_t, int (*)(void*), void*);
asm(R"(
    .text
    .globl keel_clone3_call
    .type keel_clone3_call, @function
keel_clone3_call:
    mov %rdx, %r8
    mov %rcx, %r9
    mov $435, %eax
    syscall
    test %rax, %rax
    jnz 1f
    xor %ebp, %ebp
    mov %r9, %rdi
    call *%r8
    mov %eax, %edi
    mov $60, %eax
    syscall
    hlt
1:  ret
    .size keel_clone3_call, .-keel_clone3_call
    .section .note.GNU-stack, "", @progbits
    .text
)");
#endif

namespace keel {

namespace {

constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The last capability number keel knows (CAP_CHECKPOINT_RESTORE): bits above
// it in a CapabilitySets are refused rather than silently ignored.
constexpr int kLastCapability = 40;

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;

// Failure steps that are not a plain "<step>: <errno text>".
constexpr char kCallbackFailed[] = "callback";      // ChildFailure::message says what
constexpr char kOutsideRoot[] = "outside the root"; // the working directory check

// What the child writes where the parent can read it when it fails before
// exec: in the parent's memory (shared until exec) or, in fork mode, in a
// page shared with the parent.
struct ChildFailure {
    int code = 0;
    // The step that failed: a string literal (at the same address in every
    // copy of the program), or one of the k* markers above; null: none.
    const char* what = nullptr;
    // kCallbackFailed: the callback's error, its context without errno text.
    char message[2048] = {};
};

// Fork mode's shared page.
struct ForkReport {
    ChildFailure failure;
    pid_t pid = 0; // the child's, as the intermediate process got it from clone
};

// A ForkReport mapped MAP_SHARED, so that it stays shared across fork.
class SharedReport {
public:
    static Result<SharedReport> map() {
        void* memory = ::mmap(nullptr, sizeof(ForkReport), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED)
            return errno_error("map a page shared with the child");
        return SharedReport(new (memory) ForkReport);
    }
    SharedReport(SharedReport&& other) noexcept
        : m_report(std::exchange(other.m_report, nullptr)) {}
    SharedReport& operator=(SharedReport&& other) noexcept {
        std::swap(m_report, other.m_report);
        return *this;
    }
    ~SharedReport() {
        if (m_report) {
            m_report->~ForkReport();
            ::munmap(m_report, sizeof(ForkReport));
        }
    }
    ForkReport& operator*() const { return *m_report; }

private:
    explicit SharedReport(ForkReport* report) : m_report(report) {}
    ForkReport* m_report = nullptr;
};

Result<std::vector<cap_value_t>> capability_values(const std::vector<std::string>& names) {
    std::vector<cap_value_t> values;
    for (const std::string& name : names) {
        cap_value_t value;
        if (cap_from_name(name.c_str(), &value) != 0)
            return error(cat("unknown capability ", quoted(name)));
        values.push_back(value);
    }
    return values;
}

// The capabilities to drop from the bounding set.
Result<std::vector<cap_value_t>> bounding_drops(const SpawnOptions& options) {
    std::vector<cap_value_t> drops;
    if (options.capability_sets) {
        for (cap_value_t value = 0; value <= cap_max_bits() - 1; ++value)
            if ((options.capability_sets->bounding >> value & 1) == 0)
                drops.push_back(value);
        return drops;
    }
    std::vector<cap_value_t> named = TRY(capability_values(options.capabilities));
    if (options.capability_mode != CapabilityMode::Keep)
        return options.capability_mode == CapabilityMode::Drop ? named : std::vector<cap_value_t>{};
    for (cap_value_t value = 0; value <= cap_max_bits() - 1; ++value) {
        bool keep = false;
        for (cap_value_t kept : named)
            keep = keep || kept == value;
        if (!keep)
            drops.push_back(value);
    }
    return drops;
}

// A seccomp filter that allows everything but the named syscalls, compiled
// to the BPF program the child installs with one prctl.
class SeccompProgram {
public:
    static Result<SeccompProgram> build(const std::vector<std::string>& names) {
        scmp_filter_ctx context = seccomp_init(SCMP_ACT_ALLOW);
        if (!context)
            return error("seccomp_init failed");
        std::unique_ptr<void, void (*)(void*)> release(context, seccomp_release);
        for (const std::string& name : names) {
            int number = seccomp_syscall_resolve_name(name.c_str());
            if (number == __NR_SCMP_ERROR)
                return error(cat("unknown system call ", quoted(name)));
            int rc = seccomp_rule_add(context, SCMP_ACT_ERRNO(EPERM), number, 0);
            if (rc < 0)
                return errno_error(-rc, cat("seccomp rule for ", quoted(name)));
        }
        std::vector<sock_filter> instructions = TRY(export_seccomp_program(context));
        return SeccompProgram(std::move(instructions));
    }
    explicit SeccompProgram(std::vector<sock_filter> instructions)
        : m_instructions(std::move(instructions)) {
        m_program = {static_cast<unsigned short>(m_instructions.size()), m_instructions.data()};
    }
    SeccompProgram(SeccompProgram&& other) noexcept { *this = std::move(other); }
    SeccompProgram& operator=(SeccompProgram&& other) noexcept {
        m_instructions = std::move(other.m_instructions);
        m_program = {static_cast<unsigned short>(m_instructions.size()), m_instructions.data()};
        return *this;
    }
    const sock_fprog* program() const { return &m_program; }

private:
    std::vector<sock_filter> m_instructions;
    sock_fprog m_program{};
};

// Finds `program` in PATH (from the child's environment) unless it has a slash.
std::string resolve_program(const std::string& program,
                            const std::vector<std::string>& environment) {
    if (program.find('/') != std::string::npos)
        return program;
    std::string_view path = kDefaultPath;
    for (const std::string& entry : environment)
        if (starts_with(entry, "PATH="))
            path = std::string_view(entry).substr(5);
    for (std::string_view dir : split(path, ':')) {
        std::string candidate = cat(dir.empty() ? "." : dir, "/", program);
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return program; // execve will report ENOENT with the name
}

// System calls for the child. It runs on the parent's memory, and when the
// parent does not wait for its exec, at the same time as the parent: it
// must not write errno (the parent thread's) or take any of libc's locks,
// so it talks to the kernel itself. Returns -errno on failure.
long child_syscall(long number, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
#if defined(__x86_64__)
    long result;
    register long r10 asm("r10") = d;
    register long r8 asm("r8") = e;
    asm volatile("syscall"
                 : "=a"(result)
                 : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                 : "rcx", "r11", "memory");
    return result;
#else
    // Other architectures always start children with CLONE_VFORK: the
    // parent sleeps meanwhile, so errno is the child's to use.
    long result = ::syscall(number, a, b, c, d, e);
    return result < 0 ? -errno : result;
#endif
}

// A child's stack: 64 KiB mapped with a guard page below it, so that an
// overflow faults instead of writing into the parent's memory. Kept for the
// next child (mapping and unmapping is the slow part under emulation).
class ChildStack {
public:
    static constexpr size_t kSize = 64 * 1024;
    static constexpr size_t kGuard = 4096;

    static Result<ChildStack> allocate() {
        void* base = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base == MAP_FAILED)
            return errno_error("map a stack for the child");
        ChildStack stack(static_cast<char*>(base));
        if (::mprotect(base, kGuard, PROT_NONE) < 0)
            return errno_error("guard the child's stack");
        return stack;
    }
    ChildStack(ChildStack&& other) noexcept : m_base(std::exchange(other.m_base, nullptr)) {}
    ChildStack& operator=(ChildStack&& other) noexcept {
        std::swap(m_base, other.m_base);
        return *this;
    }
    ~ChildStack() {
        if (m_base)
            ::munmap(m_base, kSize);
    }
    char* bottom() const { return m_base + kGuard; }
    size_t size() const { return kSize - kGuard; }

private:
    explicit ChildStack(char* base) : m_base(base) {}
    char* m_base = nullptr;
};

// Everything the child reads, owned here rather than by the caller: a child
// the caller does not wait for may still be reading it after spawn_process
// returned.
struct Child {
    SpawnOptions options;
    std::string program;
    std::vector<char*> argv, envp; // into options
    std::vector<cap_value_t> drops;
    std::optional<SeccompProgram> seccomp;          // denied_syscalls
    std::optional<SeccompProgram> seccomp_program;  // a copy of options.seccomp_program
    __user_cap_data_struct capability_data[2] = {}; // capability_sets, as capset takes them
    std::string oom_score_adj;                      // the text to write
    bool fork_mode = false;
    // fds above 2 are closed before the working directory is entered, but
    // for kept_fds (sorted); fd_limit bounds the loop where there is no
    // close_range.
    bool closes_fds = false;
    std::vector<int> kept_fds;
    int fd_limit = 0;
    bool join_cgroup = false;    // not born in options.cgroup_fd: move there first
    bool born_in_cgroup = false; // clone3 put it there
    ChildFailure own_failure;
    ChildFailure* failure = &own_failure; // or the shared report's, in fork mode
    // 1 until the child has exec'd or exited: the kernel clears it then
    // (CLONE_CHILD_CLEARTID) and the stack may serve another child.
    alignas(4) std::atomic<int> on_stack{1};
    pid_t pid = 0;
    std::optional<ChildStack> stack;
    // Fork mode: the shared report, and the read end of a pipe whose write
    // end only the child holds, close-on-exec: end of file once it exec'd
    // or died.
    std::optional<SharedReport> report;
    Fd exec_pipe;
};

// Children started without waiting for their exec, until they have exec'd
// (or, after a failure, until take_spawn_failure), and stacks to reuse.
struct PendingChildren {
    std::mutex mutex;
    std::vector<std::unique_ptr<Child>> children;
    std::vector<ChildStack> spare_stacks;
};
PendingChildren& pending_children() {
    static PendingChildren* pending = new PendingChildren; // never destroyed: children outlive exit
    return *pending;
}
constexpr size_t kSpareStacks = 4;

void release_stack(PendingChildren& pending, Child& child) {
    if (child.stack && pending.spare_stacks.size() < kSpareStacks)
        pending.spare_stacks.push_back(std::move(*child.stack));
    child.stack.reset();
}

// Whether the child has exec'd (or died) without a failure to report.
bool exec_done(const Child& child) {
    bool done;
    if (child.fork_mode) {
        pollfd hangup{child.exec_pipe.get(), POLLIN, 0};
        done = ::poll(&hangup, 1, 0) == 1 && (hangup.revents & POLLHUP);
    } else {
        done = child.on_stack.load(std::memory_order_acquire) == 0;
    }
    return done && !child.failure->what;
}

// Drops the children that have exec'd; keeps failed ones for their report.
void sweep(PendingChildren& pending) {
    std::erase_if(pending.children, [&](const std::unique_ptr<Child>& child) {
        if (!exec_done(*child))
            return false;
        release_stack(pending, *child);
        return true;
    });
}

// An entry for the same pid is an earlier child nobody asked about: the
// kernel reused its pid, so it was reaped long ago, and its failure must
// not be taken for this child's.
void forget_earlier(PendingChildren& pending, pid_t pid) {
    std::erase_if(pending.children, [&](const std::unique_ptr<Child>& earlier) {
        if (earlier->pid != pid)
            return false;
        release_stack(pending, *earlier);
        return true;
    });
}

Result<ChildStack> take_stack(PendingChildren& pending) {
    if (pending.spare_stacks.empty())
        return ChildStack::allocate();
    ChildStack stack = std::move(pending.spare_stacks.back());
    pending.spare_stacks.pop_back();
    return stack;
}

// What a child that failed before exec reports, as the parent says it.
Error failure_of(const Child& child) {
    const ChildFailure& failure = *child.failure;
    std::string start = cat("start ", quoted(child.options.argv[0]));
    if (failure.what == kCallbackFailed)
        return Error::from_errno(failure.code, failure.message).wrap(start);
    if (failure.what == kOutsideRoot)
        return Error::message(cat("working directory ", quoted(child.options.working_directory),
                                  ": outside the container's root"))
            .wrap(start);
    return Error::from_errno(failure.code, cat(start, ": ", failure.what));
}

// Records what failed, for the parent, and exits with status 127.
[[noreturn]] void child_fail(ChildFailure* failure, long result, const char* what) {
    failure->code = result < 0 ? int(-result) : EINVAL;
    failure->what = what;
    child_syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

// Runs a setup callback in a fork mode child (its own memory: it may
// allocate); an error or exception fails the spawn with its message.
void run_callback(Child& child, const std::function<Result<void>()>& callback) {
    Result<void> result;
    try {
        result = callback();
    } catch (const std::exception& exception) {
        result = error(cat("exception: ", exception.what()));
    } catch (...) {
        result = error("unknown exception");
    }
    if (result)
        return;
    const Error& failure = result.error();
    // The context alone: the parent adds the errno text back from the code.
    std::string text = failure.to_string();
    if (failure.code() > 0) {
        std::string errno_text = cat(": ", std::strerror(failure.code()));
        if (text.ends_with(errno_text))
            text.resize(text.size() - errno_text.size());
    }
    ChildFailure* report = child.failure;
    size_t length = std::min(text.size(), sizeof report->message - 1);
    std::memcpy(report->message, text.data(), length);
    report->message[length] = '\0';
    report->code = failure.code(); // may be 0 or one of keel's own (negative) codes
    report->what = kCallbackFailed;
    child_syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

// The kernel's struct sigaction for rt_sigaction (not libc's).
struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    unsigned long mask;
};

// Moves the calling process into the cgroup directory `cgroup_fd` by
// writing "0" to its `file`. On cgroup v1 that file is `tasks`, and it
// moves only the calling thread, which here is the whole process: the
// same move as through cgroup.procs without its cost. Moving a whole
// thread group takes the kernel's threadgroup lock for writing, which
// waits out an RCU grace period unless a move did so just before
// (measured here: 13 ms for six hierarchies, 3 ms through `tasks`).
void join_cgroup(int cgroup_fd, ChildFailure* failure, const char* file = "cgroup.procs") {
    long procs = child_syscall(SYS_openat, cgroup_fd, long(file), O_WRONLY | O_CLOEXEC);
    if (procs < 0)
        child_fail(failure, procs, "join cgroup");
    if (long rc = child_syscall(SYS_write, procs, long("0"), 1); rc != 1)
        child_fail(failure, rc, "join cgroup");
    child_syscall(SYS_close, procs);
}

void write_oom_score_adj(const Child& child) {
    long file =
        child_syscall(SYS_openat, AT_FDCWD, long("/proc/self/oom_score_adj"), O_WRONLY | O_CLOEXEC);
    if (file < 0)
        child_fail(child.failure, file, "write /proc/self/oom_score_adj");
    long length = long(child.oom_score_adj.size());
    if (long rc = child_syscall(SYS_write, file, long(child.oom_score_adj.data()), length);
        rc != length)
        child_fail(child.failure, rc, "write /proc/self/oom_score_adj");
    child_syscall(SYS_close, file);
}

// Fork mode's intermediate process: a new time namespace for its children
// (it stays in its own), with the offsets written while nobody lives there.
void set_time_offsets(const Child& child) {
    const std::string& offsets = child.options.time_offsets;
    if (long rc = child_syscall(SYS_unshare, CLONE_NEWTIME); rc < 0)
        child_fail(child.failure, rc, "a new time namespace");
    long file = child_syscall(SYS_openat, AT_FDCWD, long("/proc/self/timens_offsets"),
                              O_WRONLY | O_CLOEXEC);
    if (file < 0)
        child_fail(child.failure, file, "write /proc/self/timens_offsets");
    long length = long(offsets.size());
    if (long rc = child_syscall(SYS_write, file, long(offsets.data()), length); rc != length)
        child_fail(child.failure, rc, "write /proc/self/timens_offsets");
    child_syscall(SYS_close, file);
}

// Closes (or with CLOSE_RANGE_CLOEXEC, marks) fds first..last (inclusive).
long close_fds(const Child& child, unsigned first, unsigned last, unsigned flags) {
    if (first > last)
        return 0;
    long rc = child_syscall(SYS_close_range, first, last, flags);
    if (rc != -ENOSYS && rc != -EINVAL)
        return rc;
    // Before Linux 5.9 (5.11 for CLOSE_RANGE_CLOEXEC): one by one.
    for (unsigned fd = first; fd <= last && fd < unsigned(child.fd_limit); ++fd) {
        if (flags & CLOSE_RANGE_CLOEXEC)
            child_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
        else
            child_syscall(SYS_close, fd);
    }
    return 0;
}

// Closes every fd above 2 but the kept ones, so that none of the caller's
// can serve as the working directory (a leaked directory fd outside the
// container's root, entered through /proc/self/fd: CVE-2024-21626). The
// preserved fds stay across exec; keep_fds only until exec.
void close_inherited_fds(const Child& child) {
    const SpawnOptions& options = child.options;
    unsigned next = 3;
    long rc;
    for (int fd : child.kept_fds) {
        if ((rc = close_fds(child, next, unsigned(fd) - 1, 0)) < 0)
            child_fail(child.failure, rc, "close inherited fds");
        next = std::max(next, unsigned(fd) + 1);
    }
    if ((rc = close_fds(child, next, ~0U, 0)) < 0)
        child_fail(child.failure, rc, "close inherited fds");
    for (int fd = 3; fd < 3 + options.preserve_fds; ++fd)
        child_syscall(SYS_fcntl, fd, F_SETFD, 0);
    for (int fd : options.keep_fds)
        if (fd >= 3 + options.preserve_fds)
            child_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
}

// Enters the working directory and makes sure it is inside the root: a
// directory outside it (entered through a /proc/self/fd link after a
// pivot_root or chroot) has no path from there, and getcwd says so with
// "(unreachable)" in place of the leading slash.
void enter_working_directory(const Child& child) {
    const SpawnOptions& options = child.options;
    const char* directory =
        options.working_directory.empty() ? "/" : options.working_directory.c_str();
    long rc;
    if ((rc = child_syscall(SYS_chdir, long(directory))) < 0)
        child_fail(child.failure, rc, "change to the working directory");
    char path[PATH_MAX];
    if ((rc = child_syscall(SYS_getcwd, long(path), sizeof path)) < 0)
        child_fail(child.failure, rc, "read the working directory back");
    if (path[0] != '/')
        child_fail(child.failure, 0, kOutsideRoot);
}

// options.seccomp_program; a listener goes to options.seccomp_listener
// (fork mode: the callback may allocate).
void load_seccomp_program(Child& child) {
    long rc = child_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, child.options.seccomp_flags,
                            long(child.seccomp_program->program()));
    if (rc < 0)
        child_fail(child.failure, rc, "load the seccomp program");
    if (child.options.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        int listener = int(rc);
        run_callback(child, [&] { return child.options.seccomp_listener(listener); });
        child_syscall(SYS_close, listener);
    }
}

// capability_sets after the uid change: effective, permitted and
// inheritable at once, then the ambient set from scratch.
void set_capabilities(const Child& child) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    long rc = child_syscall(SYS_capset, long(&header), long(child.capability_data));
    if (rc < 0)
        child_fail(child.failure, rc, "set the capability sets");
    // The kernel raises an ambient capability only when it is permitted and
    // inheritable; others are left out, as runc and crun do (runc's
    // default spec asks for ambient ones without an inheritable set).
    const CapabilitySets& sets = *child.options.capability_sets;
    uint64_t ambient = sets.ambient & sets.permitted & sets.inheritable;
    rc = child_syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (rc < 0 && (rc != -EINVAL || ambient != 0)) // EINVAL: no ambient set before Linux 4.3
        child_fail(child.failure, rc, "clear the ambient capabilities");
    for (long value = 0; value <= kLastCapability; ++value) {
        if ((ambient >> value & 1) &&
            (rc = child_syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, value, 0, 0)) < 0)
            child_fail(child.failure, rc, "raise an ambient capability");
    }
}

// Runs in the child between clone and exec. In the fast path it runs on
// its own stack in the parent's memory: system calls only (child_syscall),
// no allocation, no locks, nothing that touches libc state. In fork mode
// it has its own memory, and only the callbacks and the program's lookup
// (which may allocate) are told apart by child.fork_mode.
[[noreturn]] int child_main(void* argument) {
    Child& child = *static_cast<Child*>(argument); // writes only *child.failure
    const SpawnOptions& options = child.options;
    ChildFailure* failure = child.failure;
    long rc;
    // Join the cgroup (unless born in it) before anything else, so that
    // even a failure below is accounted to (and killable with) the group.
    if (child.join_cgroup)
        join_cgroup(options.cgroup_fd, failure);
    if (!child.fork_mode) // (fork mode's intermediate joined them)
        for (int fd : options.more_cgroup_fds)
            join_cgroup(fd, failure, "tasks");
    // Until exec, other processes of the container must not open
    // /proc/PID/exe (the runtime's binary) or attach to it; exec resets
    // the flag. Fork mode only: a fast path child shares the caller's mm,
    // whose flag this is.
    if (child.fork_mode && (rc = child_syscall(SYS_prctl, PR_SET_DUMPABLE, 0)) < 0)
        child_fail(failure, rc, "make the child undumpable");
    // The parent blocked every signal around clone; handlers go back to
    // their defaults before the mask opens (a handler must never run on
    // the parent's memory).
    KernelSigaction default_action{};
    for (long signo = 1; signo < NSIG; ++signo)
        child_syscall(SYS_rt_sigaction, signo, long(&default_action), 0, sizeof(unsigned long));
    unsigned long none = 0;
    child_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&none), 0, sizeof none);

    if (options.new_session && (rc = child_syscall(SYS_setsid)) < 0)
        child_fail(failure, rc, "setsid");
    if (options.oom_score_adj && !child.fork_mode) // fork mode: set before the clone
        write_oom_score_adj(child);
    if (options.child_setup)
        run_callback(child, options.child_setup);
    for (const ResourceLimit& limit : options.limits) {
        struct rlimit value {
            limit.soft, limit.hard
        };
        if ((rc = child_syscall(SYS_prlimit64, 0, limit.resource, long(&value), 0)) < 0)
            child_fail(failure, rc, "setrlimit");
    }
    int std_fds[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        if (std_fds[target] >= 0 && std_fds[target] != target &&
            (rc = child_syscall(SYS_dup3, std_fds[target], target, 0)) < 0)
            child_fail(failure, rc, "dup2 standard fd");
    }
    if (child.closes_fds)
        close_inherited_fds(child);
    enter_working_directory(child);
    // Without no_new_privs, loading a filter takes CAP_SYS_ADMIN, which the
    // uid and capability changes below may take away: load it now, as runc
    // does (what follows must then be allowed by it).
    bool program_first = child.seccomp_program && !options.no_new_privileges;
    if (program_first)
        load_seccomp_program(child);
    for (cap_value_t value : child.drops) {
        rc = child_syscall(SYS_prctl, PR_CAPBSET_DROP, value);
        if (rc < 0 && rc != -EINVAL)
            child_fail(failure, rc, "drop a capability from the bounding set");
    }
    // The permitted set survives the change to a non-zero uid only so.
    if (options.capability_sets && options.uid &&
        (rc = child_syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0)) < 0)
        child_fail(failure, rc, "keep capabilities across setuid");
    if (options.gid) {
        if ((rc = child_syscall(SYS_setgroups, long(options.supplementary_groups.size()),
                                long(options.supplementary_groups.data()))) < 0)
            child_fail(failure, rc, "setgroups");
        if ((rc = child_syscall(SYS_setresgid, *options.gid, *options.gid, *options.gid)) < 0)
            child_fail(failure, rc, "setresgid");
    }
    if (options.uid &&
        (rc = child_syscall(SYS_setresuid, *options.uid, *options.uid, *options.uid)) < 0)
        child_fail(failure, rc, "setresuid");
    if (options.capability_sets)
        set_capabilities(child);
    if (options.umask)
        child_syscall(SYS_umask, *options.umask);
    // A listener is handed on before before_exec, while the caller's
    // parent may still be listening (the container runtime's create).
    bool listener_first = child.seccomp_program && !program_first &&
                          (options.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener_first) {
        if ((rc = child_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0)
            child_fail(failure, rc, "set no_new_privs");
        load_seccomp_program(child);
    }
    if (options.before_exec) {
        run_callback(child, options.before_exec);
        // What before_exec opened goes at exec too.
        if (child.closes_fds &&
            (rc = close_fds(child, 3 + options.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC)) < 0)
            child_fail(failure, rc, "close inherited fds");
    }
    // The root and the user may have changed since the parent looked.
    if (child.fork_mode)
        child.program = resolve_program(options.argv[0], options.environment);
    if ((options.no_new_privileges || child.seccomp) &&
        (rc = child_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0)
        child_fail(failure, rc, "set no_new_privs");
    if (child.seccomp && (rc = child_syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                                             long(child.seccomp->program()))) < 0)
        child_fail(failure, rc, "load the seccomp filter");
    if (child.seccomp_program && !program_first && !listener_first)
        load_seccomp_program(child);
    rc = child_syscall(SYS_execve, long(child.program.c_str()), long(child.argv.data()),
                       long(child.envp.data()));
    child_fail(failure, rc, "exec");
}

// Whether `fd` is a directory of the cgroup v2 hierarchy (what
// CLONE_INTO_CGROUP takes).
bool is_cgroup2(int fd) {
    struct statfs info;
    return ::fstatfs(fd, &info) == 0 && info.f_type == CGROUP2_SUPER_MAGIC;
}

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps per-thread state that a child running beside its parent would
// share; instrumented builds always wait for the exec.
constexpr bool kCanSkipExecWait = false;
#elif defined(__x86_64__)
constexpr bool kCanSkipExecWait = true;
#else
constexpr bool kCanSkipExecWait = false;
#endif

// Starts child_main(child) on its stack: clone3 into its cgroup where the
// kernel can, clone(2) otherwise (kernels before 5.7, other architectures,
// a group outside cgroup2). With `wait`, returns once the child has exec'd
// or exited (CLONE_VFORK); without, at once, unless only clone(2) is there:
// then `wait` becomes true.
pid_t start_child(Child& child, bool& wait) {
    char* stack = child.stack->bottom();
    size_t size = child.stack->size();
#if defined(__SANITIZE_ADDRESS__)
    // An earlier child's frames may have left parts of the stack poisoned.
    __asan_unpoison_memory_region(stack, size);
#endif
#if defined(__x86_64__)
    static std::atomic<bool> have_clone3{true};
    if (have_clone3.load(std::memory_order_relaxed)) {
        clone_args args{};
        args.flags = CLONE_VM | (wait ? CLONE_VFORK : CLONE_CHILD_CLEARTID);
        args.child_tid = reinterpret_cast<uintptr_t>(&child.on_stack);
        args.exit_signal = SIGCHLD;
        args.stack = reinterpret_cast<uintptr_t>(stack);
        args.stack_size = size;
        if (child.join_cgroup && is_cgroup2(child.options.cgroup_fd)) {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = static_cast<uint64_t>(child.options.cgroup_fd);
            child.join_cgroup = false;
            child.born_in_cgroup = true;
        }
        long rc = keel_clone3_call(&args, sizeof args, child_main, &child);
        if (rc >= 0)
            return static_cast<pid_t>(rc);
        // ENOSYS: no clone3 (before 5.3); E2BIG: no cgroup field (before 5.7).
        if (rc != -ENOSYS && rc != -E2BIG) {
            errno = static_cast<int>(-rc);
            return -1;
        }
        have_clone3.store(false, std::memory_order_relaxed);
        child.join_cgroup = child.options.cgroup_fd >= 0;
        child.born_in_cgroup = false;
    }
#endif
    wait = true;
    return ::clone(child_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
}

// Fork mode's intermediate process, a fork()ed copy of the caller: sets
// what needs the caller's privileges (oom_score_adj may only be lowered
// outside a new user namespace), clones the child proper as the caller's
// child (CLONE_PARENT) into its namespaces and cgroup, reports its pid and
// exits.
[[noreturn]] void fork_intermediate(Child& child) {
    const SpawnOptions& options = child.options;
    ForkReport& report = **child.report;
    if (options.oom_score_adj)
        write_oom_score_adj(child);
    for (const NamespaceJoin& join : options.join_namespaces)
        if (long rc = child_syscall(SYS_setns, join.fd, join.type); rc < 0)
            child_fail(&report.failure, rc, join.name);
    // A new cgroup namespace is rooted where the child is born: the kernel
    // sees to that with CLONE_INTO_CGROUP, and without it this process
    // joins the group first.
    uint64_t flags = CLONE_PARENT | options.new_namespaces;
    if ((flags & CLONE_NEWTIME) && !options.time_offsets.empty()) {
        set_time_offsets(child);
        flags &= ~uint64_t(CLONE_NEWTIME); // the child is born in it anyway
    }
    for (int fd : options.more_cgroup_fds)
        join_cgroup(fd, &report.failure, "tasks");
    long pid = -ENOSYS;
    bool into_cgroup = options.cgroup_fd >= 0 && is_cgroup2(options.cgroup_fd);
    if (into_cgroup) {
        clone_args args{};
        args.flags = flags | CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(options.cgroup_fd);
        pid = child_syscall(SYS_clone3, long(&args), sizeof args);
    }
    // ENOSYS: no clone3 (before 5.3); E2BIG: no cgroup field (before 5.7).
    // Then this process joins the group, and the child is born in it.
    if (pid == -ENOSYS || pid == -E2BIG) {
        into_cgroup = false;
        if (options.cgroup_fd >= 0)
            join_cgroup(options.cgroup_fd, &report.failure);
        clone_args args{};
        args.flags = flags;
        pid = child_syscall(SYS_clone3, long(&args), sizeof args);
        // CLONE_NEWTIME shares its bit with clone(2)'s exit signal.
        if (pid == -ENOSYS && !(flags & CLONE_NEWTIME) && flags <= 0xffffffffu)
            pid = child_syscall(SYS_clone, long(flags), 0, 0, 0, 0);
    }
    if (pid == 0)
        child_main(&child);
    if (pid < 0) {
        const char* what[2][2] = {
            {"clone", "clone into new namespaces"},
            {"clone into the cgroup", "clone into the cgroup and new namespaces"}};
        child_fail(&report.failure, pid, what[into_cgroup][options.new_namespaces != 0]);
    }
    report.pid = pid_t(pid);
    child_syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}

// Waits for a child of ours to exit (EINTR is no reason to stop).
int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Fork mode, in the parent: forks the intermediate process and waits for
// it (it only clones), then, with wait_for_exec, for the child's exec.
Result<pid_t> spawn_forked(std::unique_ptr<Child> child) {
    const SpawnOptions& options = child->options;
    std::string start = cat("start ", quoted(options.argv[0]));
    child->report = TRY_CTX(SharedReport::map(), start);
    child->failure = &(**child->report).failure;
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) < 0)
        return errno_error(cat(start, ": make a pipe"));
    child->exec_pipe = Fd(ends[0]);
    Fd exec_write(ends[1]);
    child->kept_fds.insert(
        std::upper_bound(child->kept_fds.begin(), child->kept_fds.end(), exec_write.get()),
        exec_write.get());

    pid_t intermediate;
    int fork_errno;
    {
        AllSignalsBlocked blocked;
        intermediate = ::fork();
        if (intermediate == 0)
            fork_intermediate(*child);
        fork_errno = errno;
    }
    exec_write.reset();
    if (intermediate < 0)
        return errno_error(fork_errno, cat(start, ": fork"));
    int status = reap(intermediate);
    pid_t pid = (**child->report).pid;
    if (pid <= 0) {
        if (!child->failure->what)
            return error(
                cat(start, ": the process that clones the child ", describe_wait_status(status)));
        return std::unexpected(failure_of(*child));
    }
    child->pid = pid;
    if (!options.wait_for_exec) {
        PendingChildren& pending = pending_children();
        std::lock_guard lock(pending.mutex);
        sweep(pending);
        forget_earlier(pending, pid);
        pending.children.push_back(std::move(child));
        return pid;
    }
    char byte;
    ssize_t n;
    do {
        n = ::read(child->exec_pipe.get(), &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (!child->failure->what)
        return pid; // the child exec'd: the program runs
    reap(pid);
    return std::unexpected(failure_of(*child));
}

// What spawn_process can check without the kernel, beyond the names.
Result<void> check_options(const SpawnOptions& options) {
    if (options.argv.empty() || options.argv[0].empty())
        return error("no command to run");
    if (uint64_t unknown = options.new_namespaces & ~kNamespaceFlags) {
        char hex[16];
        auto [end, ec] = std::to_chars(hex, hex + sizeof hex, unknown & -unknown, 16);
        return error(
            cat("new_namespaces: flag 0x", std::string_view(hex, end), " is no CLONE_NEW* flag"));
    }
    if (!options.time_offsets.empty() && !(options.new_namespaces & CLONE_NEWTIME))
        return error("time_offsets: set without a new time namespace");
    for (const NamespaceJoin& join : options.join_namespaces)
        if (join.fd < 0 || std::popcount(uint64_t(join.type)) != 1 ||
            (uint64_t(join.type) & ~kNamespaceFlags) || !join.name)
            return error(cat("join_namespaces: `", join.name ? join.name : "",
                             "` needs an open fd and one CLONE_NEW* flag"));
    if (options.capability_sets) {
        const CapabilitySets& sets = *options.capability_sets;
        std::pair<std::string_view, uint64_t> named[] = {{"bounding", sets.bounding},
                                                         {"effective", sets.effective},
                                                         {"permitted", sets.permitted},
                                                         {"inheritable", sets.inheritable},
                                                         {"ambient", sets.ambient}};
        for (auto [name, set] : named)
            if (uint64_t beyond = set >> (kLastCapability + 1))
                return error(cat(name, " capability set: capability ",
                                 kLastCapability + 1 + std::countr_zero(beyond),
                                 " does not exist (the last is ", kLastCapability, ")"));
    }
    if (options.seccomp_program &&
        (options.seccomp_program->empty() || options.seccomp_program->size() > BPF_MAXINSNS))
        return error(cat("a seccomp program of ", options.seccomp_program->size(),
                         " instructions (1 to ", BPF_MAXINSNS, " are possible)"));
    if (options.oom_score_adj && (*options.oom_score_adj < -1000 || *options.oom_score_adj > 1000))
        return error(cat("oom_score_adj ", *options.oom_score_adj, " is outside -1000..1000"));
    if (options.umask && *options.umask > 0777)
        return error(cat("umask ", *options.umask, " has bits beyond 0777"));
    if (options.preserve_fds < 0)
        return error(cat("preserve_fds ", options.preserve_fds, " is negative"));
    for (int fd : options.keep_fds)
        if (fd < 0)
            return error(cat("keep_fds: ", fd, " is no fd"));
    // The listener would otherwise stay open in the program, or be lost.
    bool listener =
        options.seccomp_program && (options.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener != bool(options.seccomp_listener))
        return error(listener ? "a seccomp program with a listener needs someone to hand it to"
                              : "seccomp_listener without a program that makes a listener");
    return {};
}

// Everything the child will read, prepared in the parent.
Result<std::unique_ptr<Child>> prepare_child(const SpawnOptions& options) {
    TRY(check_options(options));
    auto child = std::make_unique<Child>();
    child->drops = TRY(bounding_drops(options));
    if (!options.denied_syscalls.empty())
        child->seccomp = TRY(SeccompProgram::build(options.denied_syscalls));
    child->options = options;
    // The caller's program may be gone while a child not waited for runs.
    child->options.seccomp_program = nullptr;
    if (options.seccomp_program)
        child->seccomp_program.emplace(*options.seccomp_program);
    if (options.capability_sets) {
        const CapabilitySets& sets = *options.capability_sets;
        for (int half = 0; half < 2; ++half) {
            child->capability_data[half].effective = uint32_t(sets.effective >> (32 * half));
            child->capability_data[half].permitted = uint32_t(sets.permitted >> (32 * half));
            child->capability_data[half].inheritable = uint32_t(sets.inheritable >> (32 * half));
        }
    }
    if (options.oom_score_adj)
        child->oom_score_adj = cat(*options.oom_score_adj);
    child->fork_mode = options.new_namespaces || options.child_setup || options.before_exec ||
                       options.seccomp_listener || !options.join_namespaces.empty();
    child->closes_fds = child->fork_mode || options.preserve_fds > 0;
    if (child->closes_fds) {
        for (int fd = 3; fd < 3 + options.preserve_fds; ++fd)
            child->kept_fds.push_back(fd);
        for (int fd : options.keep_fds)
            if (fd >= 3)
                child->kept_fds.push_back(fd);
        std::sort(child->kept_fds.begin(), child->kept_fds.end());
        child->kept_fds.erase(std::unique(child->kept_fds.begin(), child->kept_fds.end()),
                              child->kept_fds.end());
        struct rlimit files {};
        ::getrlimit(RLIMIT_NOFILE, &files);
        child->fd_limit = int(std::min<rlim_t>(files.rlim_cur, 1 << 20));
    }
    if (!child->fork_mode) // fork mode looks in the child, from its final root
        child->program = resolve_program(options.argv[0], options.environment);
    for (std::string& arg : child->options.argv)
        child->argv.push_back(arg.data());
    child->argv.push_back(nullptr);
    for (std::string& entry : child->options.environment)
        child->envp.push_back(entry.data());
    child->envp.push_back(nullptr);
    child->join_cgroup = options.cgroup_fd >= 0 && !child->fork_mode;
    return child;
}

} // namespace

Result<void> validate_spawn_options(const SpawnOptions& options) {
    TRY(check_options(options));
    TRY(capability_values(options.capabilities));
    if (!options.denied_syscalls.empty())
        TRY(SeccompProgram::build(options.denied_syscalls));
    return {};
}

Result<pid_t> spawn_process(const SpawnOptions& options) {
    std::unique_ptr<Child> child = TRY(prepare_child(options));
    if (child->fork_mode)
        return spawn_forked(std::move(child));
    // The clone3 path is the only one that can leave the exec to the child.
    bool wait = options.wait_for_exec || !kCanSkipExecWait;

    PendingChildren& pending = pending_children();
    std::unique_lock lock(pending.mutex);
    sweep(pending);
    child->stack = TRY(take_stack(pending));

    pid_t pid;
    int clone_errno;
    {
        AllSignalsBlocked blocked;
        int saved_errno = errno;
        pid = start_child(*child, wait);
        clone_errno = errno;
        errno = saved_errno;
    }
    if (pid < 0) {
        release_stack(pending, *child);
        return errno_error(clone_errno,
                           cat("start ", quoted(options.argv[0]), ": ",
                               child->born_in_cgroup ? "clone into the cgroup" : "clone"));
    }
    child->pid = pid;
    forget_earlier(pending, pid);
    if (!wait) {
        pending.children.push_back(std::move(child));
        return pid;
    }
    release_stack(pending, *child);
    if (!child->failure->what)
        return pid; // the child exec'd: the program runs
    lock.unlock();
    reap(pid);
    return std::unexpected(failure_of(*child));
}

std::optional<Error> take_spawn_failure(pid_t pid) {
    PendingChildren& pending = pending_children();
    std::lock_guard lock(pending.mutex);
    auto it = std::find_if(pending.children.begin(), pending.children.end(),
                           [&](const std::unique_ptr<Child>& child) { return child->pid == pid; });
    if (it == pending.children.end())
        return std::nullopt;
    std::unique_ptr<Child> child = std::move(*it);
    pending.children.erase(it);
    release_stack(pending, *child); // reaped: it is off the stack, whatever on_stack says
    if (!child->failure->what)
        return std::nullopt;
    return failure_of(*child);
}

int shell_exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status))
        return cat("exited with status ", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        static constexpr std::pair<int, std::string_view> names[] = {
            {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
            {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"},
            {SIGSEGV, "SIGSEGV"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
            {SIGSYS, "SIGSYS"},   {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}};
        int signo = WTERMSIG(status);
        std::string out = cat("killed by signal ", signo);
        for (auto [number, name] : names)
            if (number == signo)
                out += cat(" (", name, ")");
        if (WCOREDUMP(status))
            out += ", core dumped";
        return out;
    }
    return cat("changed state (wait status ", status, ")");
}

} // namespace keel
