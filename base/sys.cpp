// Syscall wrappers. Every error names the path or object involved.
#include "base/sys.h"

#include "base/strings.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <linux/bpf.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

namespace keel {

Result<Fd> open_file(const std::string& path, int flags, mode_t mode) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno_error(cat("open ", quoted(path)));
    return Fd(fd);
}

Result<off_t> start_of_last_lines(int fd, off_t size, uint32_t lines) {
    constexpr off_t kBlock = 64 * 1024;
    lines = std::max<uint32_t>(lines, 1);
    uint32_t seen = 0;
    std::string block;
    for (off_t end = size; end > 0;) {
        off_t begin = std::max<off_t>(0, end - kBlock);
        block.resize(size_t(end - begin));
        ssize_t got = ::pread(fd, block.data(), block.size(), begin);
        if (got < 0)
            return errno_error("read the file's end");
        if (got != ssize_t(block.size()))
            return error(cat("read the file's end: it ends at ", begin + got, ", not ", end));
        for (size_t i = block.size(); i-- > 0;) {
            // The last line's own newline does not start a line.
            if (block[i] != '\n' || begin + off_t(i) == size - 1)
                continue;
            if (++seen == lines)
                return begin + off_t(i) + 1;
        }
        end = begin;
    }
    return 0;
}

Result<std::string> read_all(int fd) {
    std::string out;
    char buffer[16384];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("read");
        if (n == 0)
            return out;
        out.append(buffer, size_t(n));
    }
}

Result<std::string> read_file(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    return TRY_CTX(read_all(fd.get()), cat("read ", quoted(path)));
}

Result<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error("write");
        data.remove_prefix(size_t(n));
    }
    return {};
}

Result<void> write_existing_file(const std::string& path, std::string_view data) {
    Fd fd = TRY(open_file(path, O_WRONLY));
    TRY_CTX(write_all(fd.get(), data), cat("write ", quoted(path)));
    return {};
}

Result<void> write_new_file(const std::string& path, std::string_view data, mode_t mode) {
    Fd fd = TRY(open_file(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
    TRY_CTX(write_all(fd.get(), data), cat("write ", quoted(path)));
    return {};
}

Result<void> make_directories(const std::string& path, mode_t mode) {
    std::string partial;
    for (std::string_view part : split(path, '/')) {
        if (part.empty())
            continue;
        partial += '/';
        partial += part;
        if (::mkdir(partial.c_str(), mode) < 0 && errno != EEXIST)
            return errno_error(cat("create directory ", quoted(partial)));
    }
    return {};
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

AllSignalsBlocked::AllSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &m_previous);
}

AllSignalsBlocked::~AllSignalsBlocked() {
    ::pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
}

bool is_directory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// The names in the directory `path` that `keep(directory fd, entry)` takes,
// without "." and "..", sorted.
template <typename Keep>
Result<std::vector<std::string>> directory_names(const std::string& path, Keep keep) {
    DIR* dir = ::opendir(path.c_str());
    if (!dir)
        return errno_error(cat("open directory ", quoted(path)));
    std::vector<std::string> names;
    while (struct dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != ".." && keep(::dirfd(dir), *entry))
            names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

Result<std::vector<std::string>> list_directory(const std::string& path) {
    return directory_names(path, [](int, const dirent&) { return true; });
}

Result<std::vector<std::string>> list_subdirectories(const std::string& path) {
    return directory_names(path, [](int directory, const dirent& entry) {
        if (entry.d_type != DT_UNKNOWN)
            return entry.d_type == DT_DIR;
        struct stat st {};
        return ::fstatat(directory, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
    });
}

Result<void> mount_filesystem(const std::string& source, const std::string& target,
                              const std::string& type, unsigned long flags,
                              const std::string& data) {
    if (::mount(source.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        return errno_error(cat("mount ", type.empty() ? source : type, " on ", quoted(target)));
    return {};
}

namespace {

// Syscall numbers from Linux 5.1 on are the same on every architecture.
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

// struct open_how and struct mount_attr of <linux/openat2.h> and
// <linux/mount.h>, and the flags of the calls below.
struct OpenHow {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
struct MountAttr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
constexpr unsigned kAtEmptyPath = 0x1000;
constexpr unsigned kAtRecursive = 0x8000;
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kMoveMountFromEmptyPath = 0x04;
constexpr unsigned kMoveMountToEmptyPath = 0x40;
constexpr unsigned kFsopenCloexec = 1;
constexpr unsigned kFsconfigSetFlag = 0;
constexpr unsigned kFsconfigSetString = 1;
constexpr unsigned kFsconfigCreate = 6;
constexpr unsigned kFsmountCloexec = 1;

unsigned recursion_flag(Submounts submounts) {
    return submounts == Submounts::Included ? kAtRecursive : 0;
}

// The kernel's own words on why an fsconfig step failed ("e tmpfs: Bad
// value for 'mode'"), read from the filesystem context, or "".
std::string filesystem_context_message(int context) {
    char buffer[512];
    ssize_t n = ::read(context, buffer, sizeof buffer - 1);
    if (n <= 2 || buffer[0] != 'e' || buffer[1] != ' ')
        return {};
    return std::string(buffer + 2, size_t(n - 2));
}

} // namespace

Result<Fd> open_resolved(int directory, const std::string& path, int flags, uint64_t resolve,
                         mode_t mode) {
    OpenHow how{uint64_t(flags | O_CLOEXEC), mode, resolve};
    long fd;
    int races = 0;
    do {
        fd = ::syscall(SYS_openat2, directory, path.c_str(), &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++races < 64)));
    if (fd < 0)
        return errno_error(cat("open ", quoted(path)));
    return Fd(int(fd));
}

Result<void> set_mount_attributes(int mount_root, const MountAttributes& attributes,
                                  Submounts submounts) {
    uint64_t user_namespace =
        attributes.user_namespace < 0 ? 0 : uint64_t(attributes.user_namespace);
    MountAttr attr{attributes.set, attributes.clear, attributes.propagation, user_namespace};
    if (::syscall(SYS_mount_setattr, mount_root, "", kAtEmptyPath | recursion_flag(submounts),
                  &attr, sizeof attr) < 0)
        return errno_error("set mount attributes");
    return {};
}

Result<Fd> clone_mount(int fd, Submounts submounts) {
    long tree = ::syscall(SYS_open_tree, fd, "",
                          kOpenTreeClone | O_CLOEXEC | kAtEmptyPath | recursion_flag(submounts));
    if (tree < 0)
        return errno_error("clone mount");
    return Fd(int(tree));
}

Result<void> move_mount(int from, int to) {
    if (::syscall(SYS_move_mount, from, "", to, "",
                  kMoveMountFromEmptyPath | kMoveMountToEmptyPath) < 0)
        return errno_error("move mount");
    return {};
}

Result<Fd> new_detached_filesystem(const std::string& type, std::string_view options,
                                   uint64_t attributes) {
    Fd context(int(::syscall(SYS_fsopen, type.c_str(), kFsopenCloexec)));
    if (!context)
        return errno_error(cat("open a ", type, " filesystem context"));
    for (std::string_view option : split(options, ',')) {
        if (option.empty())
            continue;
        size_t equals = option.find('=');
        std::string key(option.substr(0, equals));
        std::string value(equals == option.npos ? "" : option.substr(equals + 1));
        long done =
            equals == option.npos
                ? ::syscall(SYS_fsconfig, context.get(), kFsconfigSetFlag, key.c_str(), nullptr, 0)
                : ::syscall(SYS_fsconfig, context.get(), kFsconfigSetString, key.c_str(),
                            value.c_str(), 0);
        if (done < 0) {
            int code = errno;
            std::string said = filesystem_context_message(context.get());
            return errno_error(code, cat(type, " option ", quoted(option), said.empty() ? "" : " (",
                                         said, said.empty() ? "" : ")"));
        }
    }
    if (::syscall(SYS_fsconfig, context.get(), kFsconfigCreate, nullptr, nullptr, 0) < 0) {
        int code = errno;
        std::string said = filesystem_context_message(context.get());
        return errno_error(code, cat("create a ", type, " filesystem", said.empty() ? "" : " (",
                                     said, said.empty() ? "" : ")"));
    }
    long mount = ::syscall(SYS_fsmount, context.get(), kFsmountCloexec, attributes);
    if (mount < 0)
        return errno_error(cat("mount a ", type, " filesystem"));
    return Fd(int(mount));
}

Result<void> rename_no_replace(int from_directory, const std::string& from, int to_directory,
                               const std::string& to) {
    constexpr unsigned kRenameNoReplace = 1; // RENAME_NOREPLACE, absent from musl's headers
    if (::syscall(SYS_renameat2, from_directory, from.c_str(), to_directory, to.c_str(),
                  kRenameNoReplace) < 0)
        return errno_error(cat("rename ", quoted(from), " to ", quoted(to)));
    return {};
}

Result<Fd> load_bpf_program(uint32_t type, const void* instructions, size_t count,
                            std::string& log) {
    static const char kLicense[] = "Apache-2.0";
    auto load = [&](char* buffer, uint32_t size) {
        bpf_attr attr{};
        attr.prog_type = type;
        attr.insns = uint64_t(uintptr_t(instructions));
        attr.insn_cnt = uint32_t(count);
        attr.license = uint64_t(uintptr_t(kLicense));
        attr.log_buf = uint64_t(uintptr_t(buffer));
        attr.log_size = size;
        attr.log_level = buffer ? 1 : 0;
        return ::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    };
    long fd = load(nullptr, 0);
    if (fd >= 0)
        return Fd(int(fd));
    int code = errno;
    // Refused: once more with the verifier's log, to say why.
    std::vector<char> buffer(64 * 1024);
    if (load(buffer.data(), uint32_t(buffer.size())) < 0)
        log = std::string(
            trim(std::string_view(buffer.data(), ::strnlen(buffer.data(), buffer.size()))));
    return errno_error(code, "bpf(BPF_PROG_LOAD)");
}

Result<void> attach_bpf_program(int target, int program, uint32_t attach_type, uint32_t flags) {
    bpf_attr attr{};
    attr.target_fd = uint32_t(target);
    attr.attach_bpf_fd = uint32_t(program);
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) != 0)
        return errno_error("bpf(BPF_PROG_ATTACH)");
    return {};
}

Result<void> pivot_root(const std::string& new_root, const std::string& put_old) {
    if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) < 0)
        return errno_error(cat("pivot_root to ", quoted(new_root)));
    return {};
}

Result<void> exec_file(int fd, char* const* argv, char* const* envp) {
    ::syscall(SYS_execveat, fd, "", argv, envp, kAtEmptyPath);
    return errno_error("execveat");
}

Result<void> finit_module(int fd, const std::string& params, int flags) {
    if (::syscall(SYS_finit_module, fd, params.c_str(), flags) < 0)
        return errno_error("finit_module");
    return {};
}

Result<void> init_module(std::string_view image, const std::string& params) {
    if (::syscall(SYS_init_module, image.data(), image.size(), params.c_str()) < 0)
        return errno_error("init_module");
    return {};
}

namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
        return error(cat("socket path ", quoted(path), " is too long"));
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

} // namespace

Result<Fd> unix_listen(const std::string& path, int type, mode_t mode) {
    sockaddr_un address = TRY(unix_address(path));
    Fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error("socket");
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0)
        return errno_error(cat("bind ", quoted(path)));
    if (::chmod(path.c_str(), mode) < 0)
        return errno_error(cat("chmod ", quoted(path)));
    if (::listen(fd.get(), 64) < 0)
        return errno_error(cat("listen on ", quoted(path)));
    return fd;
}

Result<Fd> unix_connect(const std::string& path, int type) {
    sockaddr_un address = TRY(unix_address(path));
    Fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!fd)
        return errno_error("socket");
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return errno_error(cat("connect to ", quoted(path)));
    return fd;
}

Result<struct ucred> peer_credentials(int fd) {
    struct ucred credentials {};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0)
        return errno_error("read peer credentials");
    return credentials;
}

Result<void> send_with_fd(int socket, std::string_view data, int fd) {
    char control[CMSG_SPACE(sizeof(int))] = {};
    iovec vector{.iov_base = const_cast<char*>(data.data()), .iov_len = data.size()};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    if (fd >= 0) {
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        cmsghdr* header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    }
    ssize_t sent;
    do
        sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return errno_error("sendmsg");
    for (size_t done = size_t(sent); done < data.size();) {
        ssize_t more = ::send(socket, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (more < 0 && errno == EINTR)
            continue;
        if (more < 0)
            return errno_error("send");
        done += size_t(more);
    }
    return {};
}

Result<MessageWithFd> receive_with_fd(int socket, size_t max, int flags) {
    MessageWithFd received;
    received.data.resize(max);
    char control[CMSG_SPACE(sizeof(int))] = {};
    iovec vector{.iov_base = received.data.data(), .iov_len = max};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t got;
    do
        got = ::recvmsg(socket, &message, flags | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno_error("recvmsg");
    // One descriptor in one header is all there is room for (musl's
    // CMSG_NXTHDR does not compile warning-free, and nothing needs it).
    if (cmsghdr* header = CMSG_FIRSTHDR(&message); header && header->cmsg_level == SOL_SOCKET &&
                                                   header->cmsg_type == SCM_RIGHTS &&
                                                   header->cmsg_len == CMSG_LEN(sizeof(int))) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
        received.fd = Fd(fd);
    }
    received.size = size_t(got);
    received.data.resize(std::min(max, size_t(got)));
    return received;
}

Result<Fd> pidfd_open(pid_t pid) {
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno_error(cat("pidfd_open ", pid));
    return Fd(int(fd));
}

Result<void> pidfd_send_signal(int pidfd, int signal) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0)
        return errno_error(cat("pidfd_send_signal ", signal));
    return {};
}

namespace {
uint64_t clock_usec(clockid_t clock) {
    struct timespec ts {};
    ::clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}
} // namespace

uint64_t boottime_usec() {
    return clock_usec(CLOCK_BOOTTIME);
}
uint64_t monotonic_usec() {
    return clock_usec(CLOCK_MONOTONIC);
}

Result<ThreadScheduling> thread_scheduling(pid_t thread) {
    long policy = ::syscall(SYS_sched_getscheduler, thread);
    if (policy < 0)
        return errno_error(cat("read the scheduling policy of thread ", thread));
    struct sched_param param {};
    if (::syscall(SYS_sched_getparam, thread, &param) < 0)
        return errno_error(cat("read the scheduling priority of thread ", thread));
    return ThreadScheduling{int(policy), param.sched_priority};
}

Result<void> set_thread_scheduling(ThreadScheduling scheduling) {
    struct sched_param param {};
    param.sched_priority = scheduling.priority;
    if (::syscall(SYS_sched_setscheduler, 0, scheduling.policy, &param) < 0)
        return errno_error(
            cat("set scheduling policy ", scheduling.policy, " priority ", scheduling.priority));
    return {};
}

Result<void> delete_module(const std::string& name, int flags) {
    if (::syscall(SYS_delete_module, name.c_str(), flags) < 0)
        return errno_error(cat("remove module ", quoted(name)));
    return {};
}

Result<Fd> install_seccomp_filter(const std::vector<sock_filter>& program, unsigned flags) {
    if (program.empty() || program.size() > BPF_MAXINSNS)
        return errno_error(EINVAL, cat("install a seccomp filter of ", program.size(),
                                       " instructions (1 to ", BPF_MAXINSNS, " fit)"));
    sock_fprog fprog{static_cast<unsigned short>(program.size()),
                     const_cast<sock_filter*>(program.data())};
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (rc < 0)
        return errno_error("install the seccomp filter");
    // With TSYNC (and no TSYNC_ESRCH), a positive result is the id of a
    // thread that could not take the filter, and nothing was installed.
    if (rc > 0 && (flags & SECCOMP_FILTER_FLAG_TSYNC) &&
        !(flags & (SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH)))
        return errno_error(
            EBUSY, cat("install the seccomp filter: thread ", rc, " cannot take it (TSYNC)"));
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        return Fd(int(rc));
    return Fd();
}

namespace {

// linux/kexec.h's flags of kexec_file_load(2).
constexpr unsigned long kKexecFileUnload = 0x1;
constexpr unsigned long kKexecFileNoInitramfs = 0x4;

long kexec_file_load_call(int kernel_fd, int initrd_fd, const std::string& command_line,
                          unsigned long flags) {
#ifdef SYS_kexec_file_load
    // The length counts the terminating NUL; an empty line is length 0.
    unsigned long length = command_line.empty() ? 0 : command_line.size() + 1;
    return ::syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, length,
                     command_line.empty() ? nullptr : command_line.c_str(), flags);
#else
    (void)kernel_fd, (void)initrd_fd, (void)command_line, (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

} // namespace

Result<void> kexec_file_load(int kernel_fd, int initrd_fd, const std::string& command_line) {
    unsigned long flags = initrd_fd < 0 ? kKexecFileNoInitramfs : 0;
    if (kexec_file_load_call(kernel_fd, initrd_fd, command_line, flags) < 0)
        return errno_error("kexec_file_load");
    return {};
}

Result<void> kexec_file_unload() {
    if (kexec_file_load_call(-1, -1, "", kKexecFileUnload) < 0)
        return errno_error("kexec_file_load (unload)");
    return {};
}

} // namespace keel
