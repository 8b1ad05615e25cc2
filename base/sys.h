// Thin wrappers over the syscalls keel uses: each returns Result and names
// what it was doing in the error. Syscalls musl does not wrap are reached
// through syscall(SYS_...) here and nowhere else.
#pragma once

#include "base/fd.h"
#include "base/result.h"

#include <csignal>
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
/// mkdir -p; existing directories are fine.
Result<void> make_directories(const std::string& path, mode_t mode = 0755);
/// True when `path` exists (lstat succeeds).
bool path_exists(const std::string& path);
/// True when `path` is a directory (following links).
bool is_directory(const std::string& path);
/// Names in a directory, without "." and "..", sorted.
Result<std::vector<std::string>> list_directory(const std::string& path);

/// mount(2); the error names the filesystem type and target.
Result<void> mount_filesystem(const std::string& source, const std::string& target,
                              const std::string& type, unsigned long flags,
                              const std::string& data = {});

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

} // namespace keel
