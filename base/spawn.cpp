// spawn_process: start a child with clone3(CLONE_VM | CLONE_VFORK), set it
// up, exec. Everything that can be prepared or validated happens before the
// clone, in the parent; the child only makes system calls. Sharing the
// parent's memory instead of copying it (fork) matters for PID 1: copying
// its page tables and taking copy-on-write faults afterwards was most of
// the cost of starting a service. The parent sleeps until the child has
// exec'd or exited, so the child writes a failure straight into the
// parent's memory and the parent learns whether exec happened. A child
// bound for a cgroup is born in it (CLONE_INTO_CGROUP) rather than moved
// there, which spares a migration per service (the first one waits for an
// RCU grace period).
#include "base/spawn.h"

#include "base/fd.h"
#include "base/strings.h"

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

// Everything the child needs, prepared by the parent.
struct ChildPlan {
    const SpawnOptions* options;
    bool join_cgroup;            // not born in options->cgroup_fd: move there first
    bool born_in_cgroup = false; // clone3 put it there
    const char* program;
    char* const* argv;
    char* const* envp;
    const std::vector<cap_value_t>* drops;
    const sock_fprog* seccomp; // null: no filter
    ChildFailure* failure;     // in the parent's memory
};

[[noreturn]] void child_fail(ChildFailure* failure, const char* what) {
    failure->code = errno ? errno : EINVAL;
    failure->what = what;
    ::_exit(127);
}

// Runs in the child between clone and exec, on a stack inside the parent's
// frame and in the parent's memory: system calls only, no allocation, no
// locks, nothing that touches libc state (credentials through raw system
// calls, so libc does not try to apply them to the parent's threads).
[[noreturn]] int child_main(void* argument) {
    const ChildPlan& plan = *static_cast<const ChildPlan*>(argument);
    const SpawnOptions& options = *plan.options;
    ChildFailure* failure = plan.failure;
    // Join the cgroup (unless born in it) before anything else, so that
    // even a failure below is accounted to (and killable with) the group.
    if (plan.join_cgroup) {
        int procs = ::openat(options.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs < 0 || ::write(procs, "0", 1) != 1)
            child_fail(failure, "join cgroup");
        ::close(procs);
    }
    // The parent blocked every signal around clone; handlers go back to
    // their defaults before the mask opens (init blocks signals for its
    // signalfd, and a handler must never run on the parent's memory).
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signo = 1; signo < NSIG; ++signo)
        ::sigaction(signo, &default_action, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    if (options.new_session && ::setsid() < 0)
        child_fail(failure, "setsid");
    int std_fds[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        if (std_fds[target] >= 0 && std_fds[target] != target &&
            ::dup2(std_fds[target], target) < 0)
            child_fail(failure, "dup2 standard fd");
    }
    for (const ResourceLimit& limit : options.limits) {
        struct rlimit value {
            limit.soft, limit.hard
        };
        if (::setrlimit(limit.resource, &value) < 0)
            child_fail(failure, "setrlimit");
    }
    const char* directory =
        options.working_directory.empty() ? "/" : options.working_directory.c_str();
    if (::chdir(directory) < 0)
        child_fail(failure, "change to the working directory");
    for (cap_value_t value : *plan.drops) {
        if (::prctl(PR_CAPBSET_DROP, value, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(failure, "drop a capability from the bounding set");
    }
    if (options.gid) {
        if (::syscall(SYS_setgroups, options.supplementary_groups.size(),
                      options.supplementary_groups.data()) < 0)
            child_fail(failure, "setgroups");
        if (::syscall(SYS_setresgid, *options.gid, *options.gid, *options.gid) < 0)
            child_fail(failure, "setresgid");
    }
    if (options.uid && ::syscall(SYS_setresuid, *options.uid, *options.uid, *options.uid) < 0)
        child_fail(failure, "setresuid");
    if ((options.no_new_privileges || plan.seccomp) && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(failure, "set no_new_privs");
    if (plan.seccomp && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan.seccomp, 0, 0) < 0)
        child_fail(failure, "load the seccomp filter");
    ::execve(plan.program, plan.argv, plan.envp);
    child_fail(failure, "exec");
}

// Whether `fd` is a directory of the cgroup v2 hierarchy (what
// CLONE_INTO_CGROUP takes).
bool is_cgroup2(int fd) {
    struct statfs info;
    return ::fstatfs(fd, &info) == 0 && info.f_type == CGROUP2_SUPER_MAGIC;
}

// Starts child_main(plan) on `stack` and returns once it has exec'd or
// exited: clone3 into its cgroup where the kernel can, clone(2) otherwise
// (kernels before 5.7, other architectures, a group outside cgroup2).
pid_t start_child(ChildPlan& plan, char* stack, size_t size) {
#if defined(__x86_64__)
    static std::atomic<bool> have_clone3{true};
    if (have_clone3.load(std::memory_order_relaxed)) {
        clone_args args{};
        args.flags = CLONE_VM | CLONE_VFORK;
        args.exit_signal = SIGCHLD;
        args.stack = reinterpret_cast<uintptr_t>(stack);
        args.stack_size = size;
        if (plan.join_cgroup && is_cgroup2(plan.options->cgroup_fd)) {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = static_cast<uint64_t>(plan.options->cgroup_fd);
            plan.join_cgroup = false;
            plan.born_in_cgroup = true;
        }
        long rc = keel_clone3_call(&args, sizeof args, child_main, &plan);
        if (rc >= 0)
            return static_cast<pid_t>(rc);
        // ENOSYS: no clone3 (before 5.3); E2BIG: no cgroup field (before 5.7).
        if (rc != -ENOSYS && rc != -E2BIG) {
            errno = static_cast<int>(-rc);
            return -1;
        }
        have_clone3.store(false, std::memory_order_relaxed);
        plan.join_cgroup = plan.options->cgroup_fd >= 0;
        plan.born_in_cgroup = false;
    }
#endif
    return ::clone(child_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
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
    std::vector<cap_value_t> drops = TRY(bounding_drops(options));
    std::optional<SeccompProgram> seccomp;
    if (!options.denied_syscalls.empty())
        seccomp = TRY(SeccompProgram::build(options.denied_syscalls));

    std::string program = resolve_program(options.argv[0], options.environment);
    std::vector<char*> argv, envp;
    for (const std::string& arg : options.argv)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    for (const std::string& entry : options.environment)
        envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);

    ChildFailure failure;
    ChildPlan plan{.options = &options,
                   .join_cgroup = options.cgroup_fd >= 0,
                   .program = program.c_str(),
                   .argv = argv.data(),
                   .envp = envp.data(),
                   .drops = &drops,
                   .seccomp = seccomp ? seccomp->program() : nullptr,
                   .failure = &failure};
    // The child's stack: part of this frame, unused by us while we sleep.
    alignas(64) char stack[32 * 1024];

    sigset_t all, previous;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &previous);
    int saved_errno = errno;
    pid_t pid = start_child(plan, stack, sizeof stack);
    int clone_errno = errno;
    errno = saved_errno;
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
#if defined(__SANITIZE_ADDRESS__)
    // The child's frames poisoned parts of `stack` and never returned.
    __asan_unpoison_memory_region(stack, sizeof stack);
#endif
    if (pid < 0)
        return errno_error(clone_errno,
                           cat("start ", quoted(options.argv[0]), ": ",
                               plan.born_in_cgroup ? "clone into the cgroup" : "clone"));
    if (!failure.what)
        return pid; // the child exec'd: the program runs
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return errno_error(failure.code, cat("start ", quoted(options.argv[0]), ": ", failure.what));
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
