// Thin wrappers over the syscalls keel uses: each returns Result and names
// what it was doing in the error. Syscalls musl does not wrap are reached
// through syscall(SYS_...) here and nowhere else.
#pragma once

#include "base/fd.h"
#include "base/result.h"

#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

namespace keel {

/// Blocks every signal in the calling thread while it lives, then restores
/// the mask: around a clone, so that no handler runs in a child on the
/// parent's memory, and around starting a thread, which inherits the mask
/// (init's signals then wait for its signalfd instead of going to the
/// thread).
class AllSignalsBlocked {
public:
    AllSignalsBlocked();
    ~AllSignalsBlocked();
    AllSignalsBlocked(const AllSignalsBlocked&) = delete;
    AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

private:
    sigset_t m_previous;
};

/// open(2) with O_CLOEXEC added.
Result<Fd> open_file(const std::string& path, int flags, mode_t mode = 0644);
/// Reads a whole file (also /proc and /sys files, whose size is unknown).
Result<std::string> read_file(const std::string& path);
/// Writes `data` to an existing file (for /proc and /sys knobs).
Result<void> write_existing_file(const std::string& path, std::string_view data);
/// Creates or truncates `path` and writes `data` to it.
Result<void> write_new_file(const std::string& path, std::string_view data, mode_t mode = 0644);
/// Writes all of `data`, retrying short writes and EINTR.
Result<void> write_all(int fd, std::string_view data);
/// Reads all of fd until end of file.
Result<std::string> read_all(int fd);
/// The offset where the last `lines` lines (at least 1) of `fd`'s first
/// `size` bytes begin, read backwards a block at a time: a log's tail
/// without reading all of it. A last line without its newline counts.
Result<off_t> start_of_last_lines(int fd, off_t size, uint32_t lines);
/// mkdir -p; existing directories are fine.
Result<void> make_directories(const std::string& path, mode_t mode = 0755);
/// True when `path` exists (lstat succeeds).
bool path_exists(const std::string& path);
/// True when `path` is a directory (following links).
bool is_directory(const std::string& path);
/// Names in a directory, without "." and "..", sorted.
Result<std::vector<std::string>> list_directory(const std::string& path);
/// The names of a directory's subdirectories (not following links), sorted:
/// the entries' types as readdir gives them, a stat only where it gives none.
Result<std::vector<std::string>> list_subdirectories(const std::string& path);

/// mount(2); the error names the filesystem type and target.
Result<void> mount_filesystem(const std::string& source, const std::string& target,
                              const std::string& type, unsigned long flags,
                              const std::string& data = {});

// Paths resolved inside a directory (openat2, Linux 5.6) and the new mount
// API (mount_setattr, Linux 5.12). Their constants are spelled out here:
// musl's headers lack them and <linux/mount.h> clashes with glibc's
// <sys/mount.h>; the values are the kernel's ABI.

/// openat2(2)'s RESOLVE_* bits.
inline constexpr uint64_t kResolveNoXdev = 0x01;
inline constexpr uint64_t kResolveNoMagicLinks = 0x02;
inline constexpr uint64_t kResolveNoSymlinks = 0x04;
inline constexpr uint64_t kResolveBeneath = 0x08;
inline constexpr uint64_t kResolveInRoot = 0x10;
/// Resolution confined to a container's rootfs: "/" and ".." stop at its
/// root, and no /proc magic link (/proc/self/root...) leads out of it.
inline constexpr uint64_t kResolveConfined = kResolveInRoot | kResolveNoMagicLinks;

/// openat2(2): opens `path` relative to the directory `directory`, resolved
/// as `resolve` (kResolve* bits) says; O_CLOEXEC is added. With
/// kResolveInRoot, `directory` acts as "/" for the lookup: ".." and absolute
/// symlinks cannot leave it. Retried (a few dozen times) on EAGAIN (a rename
/// or mount raced the lookup).
Result<Fd> open_resolved(int directory, const std::string& path, int flags, uint64_t resolve,
                         mode_t mode = 0);

/// mount_setattr(2)'s MOUNT_ATTR_* bits (and fsmount(2)'s attributes).
inline constexpr uint64_t kMountAttrReadOnly = 0x01;
inline constexpr uint64_t kMountAttrNoSuid = 0x02;
inline constexpr uint64_t kMountAttrNoDev = 0x04;
inline constexpr uint64_t kMountAttrNoExec = 0x08;
/// The access-time field: one of the three values below (relatime is 0).
inline constexpr uint64_t kMountAttrAtimeMask = 0x70;
inline constexpr uint64_t kMountAttrRelatime = 0x00;
inline constexpr uint64_t kMountAttrNoAtime = 0x10;
inline constexpr uint64_t kMountAttrStrictAtime = 0x20;
inline constexpr uint64_t kMountAttrNoDirAtime = 0x80;
inline constexpr uint64_t kMountAttrNoSymlinkFollow = 0x200000;
/// The mount shows its files' owners through a user namespace's mapping
/// (MountAttributes::user_namespace; Linux 5.12, on a detached mount only).
inline constexpr uint64_t kMountAttrIdmap = 0x100000;

/// Whether a mount operation reaches the mounts below the one named too.
enum class Submounts { Excluded, Included };

/// What mount_setattr(2) changes: attribute bits to set and to clear, and
/// the propagation (MS_PRIVATE, MS_SHARED, MS_SLAVE, MS_UNBINDABLE; 0 keeps it).
struct MountAttributes {
    uint64_t set = 0;
    uint64_t clear = 0;
    unsigned long propagation = 0;
    /// With kMountAttrIdmap in `set`: the user namespace (an fd of
    /// /proc/PID/ns/user) whose mapping the mount takes.
    int user_namespace = -1;
};

/// mount_setattr(2) on the mount whose root `mount_root` is (an fd, attached
/// or detached).
Result<void> set_mount_attributes(int mount_root, const MountAttributes& attributes,
                                  Submounts submounts);
/// open_tree(2) with OPEN_TREE_CLONE: a detached bind mount of what `fd`
/// names (a file or a directory), not visible anywhere until move_mount().
Result<Fd> clone_mount(int fd, Submounts submounts);
/// move_mount(2): attaches the detached mount `from` (or moves an attached
/// one) onto the file or directory `to`.
Result<void> move_mount(int from, int to);
/// fsopen(2), fsconfig(2) and fsmount(2): a new, detached `type` filesystem.
/// `options` is mount(2)'s data form ("mode=755,size=64k"; a word with no
/// '=' is a flag); `attributes` are kMountAttr* bits of the mount.
Result<Fd> new_detached_filesystem(const std::string& type, std::string_view options,
                                   uint64_t attributes);

/// renameat2(2) with RENAME_NOREPLACE: EEXIST instead of replacing `to`.
Result<void> rename_no_replace(int from_directory, const std::string& from, int to_directory,
                               const std::string& to);

/// bpf(BPF_PROG_LOAD) of `count` instructions (struct bpf_insn) as a
/// program of `type` (BPF_PROG_TYPE_*); the verifier's complaint, if any,
/// goes into `log`.
Result<Fd> load_bpf_program(uint32_t type, const void* instructions, size_t count,
                            std::string& log);
/// bpf(BPF_PROG_ATTACH): `program` attached to `target` (a cgroup's
/// directory) as `attach_type` (BPF_CGROUP_*) with `flags` (BPF_F_*).
Result<void> attach_bpf_program(int target, int program, uint32_t attach_type, uint32_t flags);
/// pivot_root(2).
Result<void> pivot_root(const std::string& new_root, const std::string& put_old);
/// execveat(2) of the file `fd` names (AT_EMPTY_PATH): returns only on
/// failure. `argv` and `envp` end with a null pointer.
Result<void> exec_file(int fd, char* const* argv, char* const* envp);

/// finit_module(2): loads a module from an open file.
Result<void> finit_module(int fd, const std::string& params, int flags = 0);
/// init_module(2): loads a module image from memory.
Result<void> init_module(std::string_view image, const std::string& params);

/// A bound, listening AF_UNIX socket at `path` (an old socket file is replaced).
Result<Fd> unix_listen(const std::string& path, int type, mode_t mode = 0600);
/// A socket connected to the AF_UNIX socket at `path`.
Result<Fd> unix_connect(const std::string& path, int type);
/// SO_PEERCRED of a connected AF_UNIX socket.
Result<struct ucred> peer_credentials(int fd);

/// Sends `data` over an AF_UNIX socket in one sendmsg(2), with `fd` as
/// SCM_RIGHTS when it is not -1 (MSG_NOSIGNAL: a closed peer is EPIPE). A
/// stream socket's short send is finished with plain sends.
Result<void> send_with_fd(int socket, std::string_view data, int fd = -1);
/// A message received with receive_with_fd().
struct MessageWithFd {
    Fd fd;            // the descriptor sent with it (SCM_RIGHTS), if any
    std::string data; // at most the size asked for
    size_t size = 0;  // the message's whole size (a datagram may be longer than data)
    // (The fd first: last, its tail padding would hold Result's flag in
    // libc++ 16, which base/result.h refuses.)
};
/// One recvmsg(2) of at most `max` bytes and one descriptor, received
/// close-on-exec (any more are closed by the kernel). A datagram's full
/// size is reported (MSG_TRUNC); size 0 on a stream is the peer's end.
Result<MessageWithFd> receive_with_fd(int socket, size_t max, int flags = 0);

/// pidfd_open(2): a descriptor that names process `pid` for as long as it
/// is open (a later process given the same number is another); readable
/// once the process has exited. ESRCH: there is no such process.
Result<Fd> pidfd_open(pid_t pid);
/// pidfd_send_signal(2).
Result<void> pidfd_send_signal(int pidfd, int signal);

/// Seconds-with-fraction since the kernel started, in microseconds (CLOCK_BOOTTIME).
uint64_t boottime_usec();
/// CLOCK_MONOTONIC in microseconds.
uint64_t monotonic_usec();

/// A scheduling policy (SCHED_OTHER, SCHED_FIFO, ..., with
/// SCHED_RESET_ON_FORK or'd in when set) and its real-time priority.
struct ThreadScheduling {
    int policy = SCHED_OTHER;
    int priority = 0;
};
/// A thread's scheduling (0: the calling thread's), and setting the
/// calling thread's. Through the kernel directly: musl's
/// sched_getscheduler and sched_setscheduler only return ENOSYS.
Result<ThreadScheduling> thread_scheduling(pid_t thread = 0);
Result<void> set_thread_scheduling(ThreadScheduling scheduling);

/// delete_module(2): removes a loaded module. `flags` O_NONBLOCK (the default)
/// fails with EWOULDBLOCK instead of waiting while the module is in use.
Result<void> delete_module(const std::string& name, int flags = O_NONBLOCK);

/// seccomp(2) SECCOMP_SET_MODE_FILTER: installs `program` (classic BPF) on
/// the calling thread, or on all of the process's threads with
/// SECCOMP_FILTER_FLAG_TSYNC. `flags` are SECCOMP_FILTER_FLAG_*. The caller
/// needs no_new_privs or CAP_SYS_ADMIN. With SECCOMP_FILTER_FLAG_NEW_LISTENER
/// the result is the notification listener; otherwise no fd.
Result<Fd> install_seccomp_filter(const std::vector<sock_filter>& program, unsigned flags);

/// kexec_file_load(2): loads the kernel `kernel_fd` (with the initramfs
/// `initrd_fd`, or none when it is -1) to be started by
/// reboot(LINUX_REBOOT_CMD_KEXEC), with `command_line` as its command
/// line. The kernel checks the image (a bad one is ENOEXEC or EINVAL);
/// needs CAP_SYS_BOOT. A later load replaces an earlier one.
Result<void> kexec_file_load(int kernel_fd, int initrd_fd, const std::string& command_line);
/// kexec_file_load(2) with KEXEC_FILE_UNLOAD: forgets a loaded kernel.
Result<void> kexec_file_unload();

} // namespace keel
