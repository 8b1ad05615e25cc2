// containers/userns_setup: the half of `keel run --userns` that touches
// the system (userns.h): the lease of an id range under ROOT/userns.lock,
// read against the pool files and the other containers' records; the
// user namespace made only to carry a mapping for idmapped mounts; and
// the search permission a mapped root needs on the way to its files.
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/container_records.h"
#include "containers/userns.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

// keel's pool in one of the files: its lines for kSubidUser, else the
// built-in pool (no file, or no line for keel).
Result<std::vector<IdRange>> read_pool(const std::string& path) {
    Result<std::string> text = read_file(path);
    if (!text) {
        if (text.error().code() == ENOENT)
            return std::vector<IdRange>{kBuiltinIdPool};
        return std::unexpected(std::move(text).error());
    }
    std::vector<IdRange> pool = TRY(parse_subid_file(*text, path, kSubidUser));
    if (pool.empty())
        pool.push_back(kBuiltinIdPool);
    return pool;
}

// The maps of every container recorded under ROOT/containers: the leases.
Result<std::vector<IdMaps>> leased_maps(const std::string& state_root) {
    std::vector<IdMaps> out;
    std::string directory = containers_directory(state_root);
    if (!path_exists(directory))
        return out;
    for (const std::string& id : TRY(list_directory(directory))) {
        std::string path = cat(directory, "/", id, "/container.json");
        Result<std::string> text = read_file(path);
        if (!text)
            continue; // a bundle still being written has no record, and no lease
        Result<IdMaps> maps = read_userns_record(*text);
        if (!maps) {
            // Its lease cannot be known: refusing beats sharing a range.
            return std::unexpected(std::move(maps).error().wrap(
                cat(path, " (remove the container, or give --uidmap)")));
        }
        if (!maps->empty())
            out.push_back(std::move(*maps));
    }
    return out;
}

// The short-lived child of make_user_namespace(): killed and reaped
// whatever happens.
struct NamespaceChild {
    pid_t pid = -1;
    Fd hold; // its end closed: the child exits
    ~NamespaceChild() {
        if (pid <= 0)
            return;
        hold = Fd();
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
};

Result<void> write_map_file(pid_t pid, std::string_view file, std::span<const oci::IdMapping> map) {
    std::string path = cat("/proc/", pid, "/", file);
    Fd fd = TRY(open_file(path, O_WRONLY | O_CLOEXEC));
    // One write: the kernel takes a map whole or not at all.
    std::string text = format_id_map(map);
    ssize_t wrote = ::write(fd.get(), text.data(), text.size());
    if (wrote < 0 || size_t(wrote) != text.size())
        return errno_error(cat("write ", quoted(path)));
    return {};
}

} // namespace

Result<UsernsLease> lease_id_maps(const std::string& state_root, const UsernsRequest& request,
                                  const IdPoolFiles& files) {
    UsernsLease lease;
    switch (request.mode) {
    case UsernsMode::Host:
        return lease;
    case UsernsMode::Mapped:
        lease.maps = request.maps;
        return lease;
    case UsernsMode::Auto:
        break;
    }
    TRY_CTX(make_directories(state_root, 0700), "--userns auto");
    std::string lock_path = cat(state_root, "/userns.lock");
    lease.lock = TRY_CTX(open_file(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), "--userns auto");
    while (::flock(lease.lock.get(), LOCK_EX) < 0)
        if (errno != EINTR)
            return errno_error(cat("--userns auto: lock ", quoted(lock_path)));
    std::vector<IdRange> uid_pool = TRY_CTX(read_pool(files.subuid), "--userns auto");
    std::vector<IdRange> gid_pool = TRY_CTX(read_pool(files.subgid), "--userns auto");
    std::vector<IdMaps> others = TRY_CTX(leased_maps(state_root), "--userns auto");
    lease.maps = TRY(choose_auto_maps(uid_pool, gid_pool, others, request.size));
    return lease;
}

Result<Fd> make_user_namespace(const IdMaps& maps) {
    int ready_ends[2] = {-1, -1};
    int hold_ends[2] = {-1, -1};
    if (::pipe2(ready_ends, O_CLOEXEC) < 0)
        return errno_error("pipe");
    Fd ready_read(ready_ends[0]);
    Fd ready_write(ready_ends[1]);
    if (::pipe2(hold_ends, O_CLOEXEC) < 0)
        return errno_error("pipe");
    Fd hold_read(hold_ends[0]);
    NamespaceChild child;
    child.hold = Fd(hold_ends[1]);
    child.pid = ::fork();
    if (child.pid < 0)
        return errno_error("fork");
    if (child.pid == 0) {
        // Only async-signal-safe calls here: the parent may have threads.
        char said = ::unshare(CLONE_NEWUSER) == 0 ? 0 : char(errno);
        if (::write(ready_write.get(), &said, 1) == 1 && said == 0) {
            char byte;
            while (::read(hold_read.get(), &byte, 1) < 0 && errno == EINTR) {
            }
        }
        ::_exit(0);
    }
    ready_write = Fd();
    hold_read = Fd();
    char said = 0;
    ssize_t got;
    do
        got = ::read(ready_read.get(), &said, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1)
        return error("make a user namespace: the child ended early");
    if (said != 0)
        return errno_error(said, "make a user namespace (unshare CLONE_NEWUSER)");
    TRY_CTX(write_map_file(child.pid, "uid_map", maps.uids), "the user namespace's uid map");
    TRY_CTX(write_map_file(child.pid, "gid_map", maps.gids), "the user namespace's gid map");
    return TRY(open_file(cat("/proc/", child.pid, "/ns/user"), O_RDONLY | O_CLOEXEC));
}

Result<void> admit_mapped_root(const std::string& top, std::span<const std::string> directories,
                               const IdMaps& maps) {
    if (directories.empty())
        return {};
    const std::string& first = directories.front();
    size_t slash = first.rfind('/');
    std::string parent = slash == std::string::npos || slash == 0 ? "/" : first.substr(0, slash);
    if (!path_is_under(parent, top))
        return error(cat(quoted(first), " is not under ", quoted(top)));
    for (std::string at = parent;;) {
        struct stat st {};
        if (::stat(at.c_str(), &st) < 0)
            return errno_error(cat("stat ", quoted(at)));
        if (S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH) &&
            ::chmod(at.c_str(), (st.st_mode & 07777) | S_IXOTH) < 0)
            return errno_error(cat("let the container's root search ", quoted(at)));
        if (at == top)
            break;
        slash = at.rfind('/');
        if (slash == std::string::npos || slash == 0)
            break;
        at.resize(slash);
    }
    gid_t gid = host_id_of(maps.gids, 0).value_or(0);
    for (const std::string& directory : directories)
        if (::chown(directory.c_str(), uid_t(-1), gid) < 0 || ::chmod(directory.c_str(), 0710) < 0)
            return errno_error(cat("let the container's root search ", quoted(directory)));
    return {};
}

} // namespace keel::containers
