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
#include "base/spawn.h"

#include "base/fd.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <memory>
#include <mutex>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

// What the child writes into the parent's memory when it fails before exec.
struct ChildFailure {
    int code = 0;
    const char* what = nullptr; // a string literal
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
    std::vector<cap_value_t> named = TRY(capability_values(options.capabilities));
    if (options.capability_mode != CapabilityMode::Keep)
        return options.capability_mode == CapabilityMode::Drop ? named : std::vector<cap_value_t>{};
    std::vector<cap_value_t> drops;
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
        // libseccomp 2.5 exports to an fd only.
        Fd memory(::memfd_create("keel-seccomp", MFD_CLOEXEC));
        if (!memory)
            return errno_error("memfd_create for the seccomp program");
        if (int rc = seccomp_export_bpf(context, memory.get()); rc < 0)
            return errno_error(-rc, "export the seccomp program");
        struct stat info;
        if (::fstat(memory.get(), &info) < 0)
            return errno_error("stat the seccomp program");
        if (info.st_size == 0 || info.st_size % sizeof(sock_filter) != 0)
            return error(cat("seccomp program of ", info.st_size, " bytes"));
        SeccompProgram program;
        program.m_instructions.resize(info.st_size / sizeof(sock_filter));
        if (::pread(memory.get(), program.m_instructions.data(), info.st_size, 0) != info.st_size)
            return errno_error("read the seccomp program");
        program.m_program.len = static_cast<unsigned short>(program.m_instructions.size());
        program.m_program.filter = program.m_instructions.data();
        return program;
    }
    SeccompProgram(SeccompProgram&& other) noexcept { *this = std::move(other); }
    SeccompProgram& operator=(SeccompProgram&& other) noexcept {
        m_instructions = std::move(other.m_instructions);
        m_program = {static_cast<unsigned short>(m_instructions.size()), m_instructions.data()};
        return *this;
    }
    const sock_fprog* program() const { return &m_program; }

private:
    SeccompProgram() = default;
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
    std::optional<SeccompProgram> seccomp;
    bool join_cgroup = false;    // not born in options.cgroup_fd: move there first
    bool born_in_cgroup = false; // clone3 put it there
    ChildFailure failure;
    // 1 until the child has exec'd or exited: the kernel clears it then
    // (CLONE_CHILD_CLEARTID) and the stack may serve another child.
    alignas(4) std::atomic<int> on_stack{1};
    pid_t pid = 0;
    std::optional<ChildStack> stack;
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

// Drops the children that have exec'd; keeps failed ones for their report.
void sweep(PendingChildren& pending) {
    std::erase_if(pending.children, [&](const std::unique_ptr<Child>& child) {
        if (child->on_stack.load(std::memory_order_acquire) != 0 || child->failure.what)
            return false;
        release_stack(pending, *child);
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
    return Error::from_errno(
        child.failure.code, cat("start ", quoted(child.options.argv[0]), ": ", child.failure.what));
}

[[noreturn]] void child_fail(ChildFailure* failure, long result, const char* what) {
    failure->code = result < 0 ? int(-result) : EINVAL;
    failure->what = what;
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

// Runs in the child between clone and exec, on its own stack in the
// parent's memory: system calls only (child_syscall), no allocation, no
// locks, nothing that touches libc state.
[[noreturn]] int child_main(void* argument) {
    Child& child = *static_cast<Child*>(argument); // writes only child.failure
    const SpawnOptions& options = child.options;
    ChildFailure* failure = &child.failure;
    long rc;
    // Join the cgroup (unless born in it) before anything else, so that
    // even a failure below is accounted to (and killable with) the group.
    if (child.join_cgroup) {
        long procs = child_syscall(SYS_openat, options.cgroup_fd, long("cgroup.procs"),
                                   O_WRONLY | O_CLOEXEC);
        if (procs < 0)
            child_fail(failure, procs, "join cgroup");
        if ((rc = child_syscall(SYS_write, procs, long("0"), 1)) != 1)
            child_fail(failure, rc, "join cgroup");
        child_syscall(SYS_close, procs);
    }
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
    int std_fds[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        if (std_fds[target] >= 0 && std_fds[target] != target &&
            (rc = child_syscall(SYS_dup3, std_fds[target], target, 0)) < 0)
            child_fail(failure, rc, "dup2 standard fd");
    }
    for (const ResourceLimit& limit : options.limits) {
        struct rlimit value {
            limit.soft, limit.hard
        };
        if ((rc = child_syscall(SYS_prlimit64, 0, limit.resource, long(&value), 0)) < 0)
            child_fail(failure, rc, "setrlimit");
    }
    const char* directory =
        options.working_directory.empty() ? "/" : options.working_directory.c_str();
    if ((rc = child_syscall(SYS_chdir, long(directory))) < 0)
        child_fail(failure, rc, "change to the working directory");
    for (cap_value_t value : child.drops) {
        rc = child_syscall(SYS_prctl, PR_CAPBSET_DROP, value);
        if (rc < 0 && rc != -EINVAL)
            child_fail(failure, rc, "drop a capability from the bounding set");
    }
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
    if ((options.no_new_privileges || child.seccomp) &&
        (rc = child_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0)
        child_fail(failure, rc, "set no_new_privs");
    if (child.seccomp && (rc = child_syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                                             long(child.seccomp->program()))) < 0)
        child_fail(failure, rc, "load the seccomp filter");
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

} // namespace

Result<void> validate_spawn_options(const SpawnOptions& options) {
    if (options.argv.empty() || options.argv[0].empty())
        return error("no command to run");
    TRY(capability_values(options.capabilities));
    if (!options.denied_syscalls.empty())
        TRY(SeccompProgram::build(options.denied_syscalls));
    return {};
}

Result<pid_t> spawn_process(const SpawnOptions& options) {
    if (options.argv.empty() || options.argv[0].empty())
        return error("no command to run");
    auto child = std::make_unique<Child>();
    child->drops = TRY(bounding_drops(options));
    if (!options.denied_syscalls.empty())
        child->seccomp = TRY(SeccompProgram::build(options.denied_syscalls));
    child->options = options;
    child->program = resolve_program(options.argv[0], options.environment);
    for (std::string& arg : child->options.argv)
        child->argv.push_back(arg.data());
    child->argv.push_back(nullptr);
    for (std::string& entry : child->options.environment)
        child->envp.push_back(entry.data());
    child->envp.push_back(nullptr);
    child->join_cgroup = options.cgroup_fd >= 0;
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
    // An entry for the same pid is an earlier child nobody asked about: the
    // kernel reused its pid, so it was reaped long ago, and its failure must
    // not be taken for this child's.
    std::erase_if(pending.children, [&](const std::unique_ptr<Child>& earlier) {
        if (earlier->pid != pid)
            return false;
        release_stack(pending, *earlier);
        return true;
    });
    if (!wait) {
        pending.children.push_back(std::move(child));
        return pid;
    }
    release_stack(pending, *child);
    if (!child->failure.what)
        return pid; // the child exec'd: the program runs
    lock.unlock();
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
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
    if (!child->failure.what)
        return std::nullopt;
    return failure_of(*child);
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
