// Docker's default seccomp profile's behaviour, as keel's own data (see
// default_seccomp() in run_spec.h): everything fails with EPERM but an allow
// list of the calls ordinary programs make; the calls a capability stands
// for are allowed only to a container that has it; clone may not make
// namespaces and clone3 answers ENOSYS (so the C library falls back to
// clone, whose flags a filter can see) without CAP_SYS_ADMIN; socket may
// not open AF_VSOCK; personality may only pick the Linux domain, its
// 26-version emulation and query.
#include "containers/run_spec.h"

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <linux/capability.h>
#include <string_view>

namespace keel::containers {

namespace {

// Allowed to every container. Names some architectures or kernels lack are
// skipped when the profile is compiled.
// clang-format off
constexpr std::string_view kAllowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
    "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
    "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr",
    "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier",
    "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
    "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
    // Since Linux 4.8 a filter cannot be bypassed through ptrace, so Docker
    // allows it (and the calls that read another process's memory).
    "process_vm_readv", "process_vm_writev", "ptrace",
};
// clang-format on

// The architecture's own calls.
#if defined(__x86_64__)
constexpr std::string_view kArchAllowed[] = {"arch_prctl", "modify_ldt"};
constexpr std::string_view kArchitectures[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                               "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
constexpr std::string_view kArchAllowed[] = {"arm_fadvise64_64", "arm_sync_file_range",
                                             "breakpoint",       "cacheflush",
                                             "set_tls",          "sync_file_range2"};
constexpr std::string_view kArchitectures[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#else
constexpr std::string_view kArchAllowed[] = {"sync_file_range2"};
constexpr std::string_view kArchitectures[] = {"SCMP_ARCH_NATIVE"};
#endif

// Linux 5.8's capabilities, which older headers lack.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

// The calls a capability stands for: allowed only with it.
struct CapabilityRule {
    int capability;
    std::initializer_list<std::string_view> names;
};

const CapabilityRule kCapabilityRules[] = {
    {CAP_DAC_READ_SEARCH, {"open_by_handle_at"}},
    {CAP_SYS_ADMIN, {"bpf",           "clone",       "fanotify_init",   "fsconfig", "fsmount",
                     "fsopen",        "fspick",      "lookup_dcookie",  "mount",    "mount_setattr",
                     "move_mount",    "open_tree",   "perf_event_open", "quotactl", "quotactl_fd",
                     "setdomainname", "sethostname", "setns",           "syslog",   "umount",
                     "umount2",       "unshare"}},
    {CAP_SYS_BOOT, {"reboot"}},
    {CAP_SYS_CHROOT, {"chroot"}},
    {CAP_SYS_MODULE, {"delete_module", "init_module", "finit_module"}},
    {CAP_SYS_PACCT, {"acct"}},
    {CAP_SYS_PTRACE, {"kcmp", "pidfd_getfd", "process_madvise"}},
    {CAP_SYS_RAWIO, {"iopl", "ioperm"}},
    {CAP_SYS_TIME, {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
    {CAP_SYS_TTY_CONFIG, {"vhangup"}},
    {CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
    {CAP_SYSLOG, {"syslog"}},
    {kCapBpf, {"bpf"}},
    {kCapPerfmon, {"perf_event_open"}},
};

// clone's flags that make namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS,
// NEWIPC, NEWUSER, NEWPID, NEWNET (and the unused 0x02000000).
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;
// socket's AF_VSOCK.
constexpr uint64_t kAfVsock = 40;
// personality(2)'s domains Docker allows: PER_LINUX, PER_LINUX32,
// UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query).
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

bool has(oci::CapabilityMask capabilities, int capability) {
    return capabilities & (oci::CapabilityMask(1) << capability);
}

oci::SeccompRule allow(std::vector<std::string> names,
                       std::vector<oci::SeccompArgument> args = {}) {
    oci::SeccompRule rule;
    rule.names = std::move(names);
    rule.action = oci::SeccompAction::Allow;
    rule.args = std::move(args);
    return rule;
}

} // namespace

oci::Seccomp default_seccomp(oci::CapabilityMask capabilities) {
    oci::Seccomp out;
    out.default_action = oci::SeccompAction::Errno;
    out.default_errno_ret = EPERM;
    out.architectures.assign(std::begin(kArchitectures), std::end(kArchitectures));

    std::vector<std::string> names(std::begin(kAllowed), std::end(kAllowed));
    names.insert(names.end(), std::begin(kArchAllowed), std::end(kArchAllowed));
    for (const CapabilityRule& rule : kCapabilityRules)
        if (has(capabilities, rule.capability))
            for (std::string_view name : rule.names)
                if (std::ranges::find(names, name) == names.end())
                    names.emplace_back(name);
    out.syscalls.push_back(allow(std::move(names)));

    for (uint64_t personality : kPersonalities)
        out.syscalls.push_back(allow({"personality"}, {{.index = 0, .value = personality}}));
    if (!has(capabilities, CAP_SYS_ADMIN)) {
        // clone's flags are its first argument (the second on s390).
        out.syscalls.push_back(allow({"clone"}, {{.index = 0,
                                                  .value = kCloneNamespaceFlags,
                                                  .value_two = 0,
                                                  .op = oci::SeccompOperator::MaskedEqual}}));
        // clone3's flags are in memory a filter cannot read: ENOSYS makes
        // the C library use clone instead.
        oci::SeccompRule clone3;
        clone3.names = {"clone3"};
        clone3.action = oci::SeccompAction::Errno;
        clone3.errno_ret = ENOSYS;
        out.syscalls.push_back(std::move(clone3));
    } else {
        out.syscalls.push_back(allow({"clone3"}));
    }
    out.syscalls.push_back(
        allow({"socket"}, {{.index = 0, .value = kAfVsock, .op = oci::SeccompOperator::NotEqual}}));
    return out;
}

std::vector<std::string> default_seccomp_allowed_syscalls() {
    std::vector<std::string> out(std::begin(kAllowed), std::end(kAllowed));
    out.insert(out.end(), std::begin(kArchAllowed), std::end(kArchAllowed));
    out.insert(out.end(), {"clone", "personality", "socket"});
    std::ranges::sort(out);
    auto [first, last] = std::ranges::unique(out);
    out.erase(first, last);
    return out;
}

} // namespace keel::containers
