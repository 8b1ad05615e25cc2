// spawn_process: fork, set the child up, exec. Everything that can be
// prepared or validated happens before the fork; the child reports a failure
// through a close-on-exec pipe, so the parent learns whether exec happened.
#include "base/spawn.h"

#include "base/fd.h"
#include "base/strings.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <memory>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// What the child writes to the parent when it fails before exec.
struct ChildFailure {
    int code;
    char what[160];
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

// A seccomp filter that allows everything but the named syscalls.
class SeccompFilter {
public:
    ~SeccompFilter() {
        if (m_context)
            seccomp_release(m_context);
    }
    static Result<std::unique_ptr<SeccompFilter>> build(const std::vector<std::string>& names) {
        auto filter = std::unique_ptr<SeccompFilter>(new SeccompFilter);
        filter->m_context = seccomp_init(SCMP_ACT_ALLOW);
        if (!filter->m_context)
            return error("seccomp_init failed");
        for (const std::string& name : names) {
            int number = seccomp_syscall_resolve_name(name.c_str());
            if (number == __NR_SCMP_ERROR)
                return error(cat("unknown system call ", quoted(name)));
            int rc = seccomp_rule_add(filter->m_context, SCMP_ACT_ERRNO(EPERM), number, 0);
            if (rc < 0)
                return errno_error(-rc, cat("seccomp rule for ", quoted(name)));
        }
        return filter;
    }
    scmp_filter_ctx context() const { return m_context; }

private:
    SeccompFilter() = default;
    scmp_filter_ctx m_context = nullptr;
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

[[noreturn]] void child_fail(int pipe_fd, const char* what) {
    ChildFailure failure{};
    failure.code = errno;
    std::strncpy(failure.what, what, sizeof failure.what - 1);
    [[maybe_unused]] ssize_t n = ::write(pipe_fd, &failure, sizeof failure);
    ::_exit(127);
}

// Runs in the child between fork and exec. Only reports through the pipe.
[[noreturn]] void child_main(const SpawnOptions& options, int pipe_fd, const std::string& program,
                             char* const* argv, char* const* envp,
                             const std::vector<cap_value_t>& drops, const SeccompFilter* filter) {
    // Join the cgroup before anything else, so that even a failure below
    // is accounted to (and killable with) the group.
    if (options.cgroup_fd >= 0) {
        int procs = ::openat(options.cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs < 0 || ::write(procs, "0", 1) != 1)
            child_fail(pipe_fd, "join cgroup");
        ::close(procs);
    }
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr); // init blocks signals for its signalfd
    for (int signo = 1; signo < NSIG; ++signo)
        ::signal(signo, SIG_DFL);

    if (options.new_session && ::setsid() < 0)
        child_fail(pipe_fd, "setsid");
    int std_fds[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
    for (int target = 0; target < 3; ++target) {
        if (std_fds[target] >= 0 && std_fds[target] != target &&
            ::dup2(std_fds[target], target) < 0)
            child_fail(pipe_fd, "dup2 standard fd");
    }
    for (const ResourceLimit& limit : options.limits) {
        struct rlimit value {
            limit.soft, limit.hard
        };
        if (::setrlimit(limit.resource, &value) < 0)
            child_fail(pipe_fd, "setrlimit");
    }
    const char* directory =
        options.working_directory.empty() ? "/" : options.working_directory.c_str();
    if (::chdir(directory) < 0)
        child_fail(pipe_fd, "change to the working directory");
    for (cap_value_t value : drops) {
        if (cap_drop_bound(value) < 0 && errno != EINVAL)
            child_fail(pipe_fd, "drop a capability from the bounding set");
    }
    if (options.gid) {
        if (::setgroups(options.supplementary_groups.size(), options.supplementary_groups.data()) <
            0)
            child_fail(pipe_fd, "setgroups");
        if (::setresgid(*options.gid, *options.gid, *options.gid) < 0)
            child_fail(pipe_fd, "setresgid");
    }
    if (options.uid && ::setresuid(*options.uid, *options.uid, *options.uid) < 0)
        child_fail(pipe_fd, "setresuid");
    if ((options.no_new_privileges || filter) && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(pipe_fd, "set no_new_privs");
    if (filter) {
        int rc = seccomp_load(filter->context());
        if (rc < 0) {
            errno = -rc;
            child_fail(pipe_fd, "load the seccomp filter");
        }
    }
    ::execve(program.c_str(), argv, envp);
    child_fail(pipe_fd, "exec");
}

} // namespace

Result<void> validate_spawn_options(const SpawnOptions& options) {
    if (options.argv.empty() || options.argv[0].empty())
        return error("no command to run");
    TRY(capability_values(options.capabilities));
    if (!options.denied_syscalls.empty())
        TRY(SeccompFilter::build(options.denied_syscalls));
    return {};
}

Result<pid_t> spawn_process(const SpawnOptions& options) {
    TRY(validate_spawn_options(options));
    std::vector<cap_value_t> drops = TRY(bounding_drops(options));
    std::unique_ptr<SeccompFilter> filter;
    if (!options.denied_syscalls.empty())
        filter = TRY(SeccompFilter::build(options.denied_syscalls));

    std::string program = resolve_program(options.argv[0], options.environment);
    std::vector<char*> argv, envp;
    for (const std::string& arg : options.argv)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    for (const std::string& entry : options.environment)
        envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0)
        return errno_error("pipe2");
    Fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

    pid_t pid = ::fork();
    if (pid < 0)
        return errno_error(cat("fork for ", quoted(options.argv[0])));
    if (pid == 0)
        child_main(options, write_end.get(), program, argv.data(), envp.data(), drops,
                   filter.get());

    write_end.reset();
    ChildFailure failure{};
    ssize_t n;
    do {
        n = ::read(read_end.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return pid; // the pipe closed on exec: the program runs
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
