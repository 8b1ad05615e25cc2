// Applying a layer: each tar entry made under its parent, which is opened
// inside the target with RESOLVE_IN_ROOT; whiteouts in either form; the
// directories' modes and mtimes set once everything is in; and unpacking
// into a store through a temporary directory renamed into place.
#include "containers/layer.h"

#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace keel::oci {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
// aufs's own metadata (".wh..wh.plnk", ".wh..wh.aufs"): skipped, as
// Docker and containerd skip it.
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr size_t kFileCopyBuffer = 256 * 1024;
// Directories kept open while their entries are applied: deeper than a
// real tree goes.
constexpr size_t kKeptParents = 48;

// The components of `path` inside a root: empty ones and "." dropped, ".."
// taking one back but never above the root (so "/a/../../b" is "b").
std::vector<std::string> normalise(std::string_view path) {
    std::vector<std::string> parts;
    for (std::string_view part : split(path, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.emplace_back(part);
    }
    return parts;
}

// The first `count` components joined with "/"; "." for none (openat2's
// name for the root itself).
std::string join(const std::vector<std::string>& parts, size_t count) {
    if (count == 0)
        return ".";
    std::string out = parts[0];
    for (size_t i = 1; i < count; ++i)
        out += "/" + parts[i];
    return out;
}

std::string child_path(const std::string& parent, std::string_view name) {
    return parent == "." ? std::string(name) : cat(parent, "/", name);
}

// The names in a directory (an fd that can be read), without "." and "..".
Result<std::vector<std::string>> names_in(int directory) {
    int copy = ::fcntl(directory, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return errno_error("dup");
    DIR* stream = ::fdopendir(copy);
    if (!stream) {
        int saved = errno;
        ::close(copy);
        return errno_error(saved, "read directory");
    }
    ::rewinddir(stream);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* entry = ::readdir(stream)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..")
            names.emplace_back(name);
    }
    int saved = errno;
    ::closedir(stream);
    if (saved)
        return errno_error(saved, "read directory");
    return names;
}

struct timespec entry_time(const TarEntry& entry) {
    return {time_t(entry.mtime), long(entry.mtime_nsec)};
}

// The process's umask, from /proc/self/status (umask(2) cannot read it
// without setting it, which races with other threads); nullopt when
// /proc does not say.
std::optional<uint32_t> current_umask() {
    auto status = read_file("/proc/self/status");
    if (!status)
        return std::nullopt;
    for (std::string_view line : split(*status, '\n')) {
        if (!line.starts_with("Umask:"))
            continue;
        std::string_view digits = trim(line.substr(6));
        uint32_t mask = 0;
        for (char digit : digits) {
            if (digit < '0' || digit > '7')
                return std::nullopt;
            mask = mask * 8 + uint32_t(digit - '0');
        }
        return digits.empty() ? std::nullopt : std::optional(mask & 0777);
    }
    return std::nullopt;
}

// Which lower content a removal spares.
enum class Spare { Nothing, SameLayer };

// Whether what is made in a directory gets exactly the owner (the
// process's) and the mode (asked & ~umask) the call says: not so under a
// setgid directory (the group is the directory's) or one with a default
// ACL (which replaces the umask).
enum class Inherit { Nothing, Something };

class Applier {
public:
    Applier(int root, const LayerOptions& options)
        : m_root(root), m_options(options),
          m_chown(options.ownership == Ownership::Archive && ::geteuid() == 0),
          m_resolve(options.escaping == EscapingNames::Refuse
                        ? kResolveConfined | kResolveNoSymlinks
                        : kResolveConfined),
          m_uid(::geteuid()), m_gid(::getegid()), m_umask(current_umask()),
          m_buffer(new char[kFileCopyBuffer]) {
        m_parents.reserve(kKeptParents);
    }

    Result<void> apply(TarReader& reader, const TarEntry& entry);
    Result<void> finish();

private:
    // A directory kept open as the parent of the entries that follow: a
    // tar lists a directory's entries after it, depth first, so the
    // directories open are the chain from the root to the latest one.
    // Resolving each entry's parent inside the root again was most of an
    // unpack's syscalls.
    struct Parent {
        std::string path;
        Fd fd;
        Inherit inherit = Inherit::Something;
    };

    Result<Fd> open_directory(const std::vector<std::string>& parts, size_t count);
    Result<const Parent*> parent_of(const std::vector<std::string>& parts);
    static Inherit inherit_of(int directory);
    // Anything removed may have been, or led to, a kept parent; they are
    // dropped at the next parent_of(), not now, since the caller may be
    // using one.
    void forget_parents() { m_parents_stale = true; }
    // Keeps `parent`, the child of the last one kept.
    void keep_parent(Parent parent);
    bool needs_chown(const TarEntry& entry, const Parent& parent) const;
    bool needs_chmod(uint32_t mode, const Parent& parent) const;
    Result<bool> make_room(int parent, const std::string& name, bool directory);
    Result<bool> remove_tree(int parent, const std::string& name, const std::string& path,
                             Spare spare);
    Result<void> whiteout(const std::vector<std::string>& parts, std::string_view target);
    Result<void> opaque(const std::vector<std::string>& parts);
    Result<void> regular_file(TarReader& reader, const TarEntry& entry, const Parent& parent,
                              const std::string& name);
    Result<void> directory(const TarEntry& entry, const Parent& parent, const std::string& name,
                           const std::string& path);
    Result<void> hard_link(const TarEntry& entry, int parent, const std::string& name,
                           const std::string& path);
    Result<void> special_file(const TarEntry& entry, const Parent& parent, const std::string& name);
    Result<void> set_xattrs(int fd, const TarEntry& entry);
    uint32_t mode_of(const TarEntry& entry) const;

    // A directory whose mode and mtime are set at the end: the entries
    // made in it later would change its mtime, a read-only mode could stop
    // them. Its inode tells it from a later entry of the same name.
    struct DeferredDirectory {
        std::string path;
        dev_t device;
        ino_t inode;
        uint32_t mode;
        struct timespec mtime;
    };

    int m_root;
    LayerOptions m_options;
    bool m_chown;
    // How parent directories are resolved: with EscapingNames::Refuse, not
    // through symlinks.
    uint64_t m_resolve;
    uid_t m_uid;
    gid_t m_gid;
    std::optional<uint32_t> m_umask;
    std::unique_ptr<char[]> m_buffer;
    std::vector<Parent> m_parents;
    bool m_parents_stale = false;
    // Paths (normalised) this layer made: whiteouts never remove them.
    std::unordered_set<std::string> m_written;
    std::vector<DeferredDirectory> m_directories;
};

uint32_t Applier::mode_of(const TarEntry& entry) const {
    uint32_t mode = entry.mode & 07777;
    if (!m_options.keep_setid)
        mode &= entry.type == TarEntryType::Directory ? ~uint32_t(S_ISUID)
                                                      : ~uint32_t(S_ISUID | S_ISGID);
    return mode;
}

// Opens (O_PATH) the directory made of the first `count` components,
// making what is missing on the way. Each new directory is made by name
// under its opened parent; a name taken by a symlink to nothing is refused
// rather than followed.
Result<Fd> Applier::open_directory(const std::vector<std::string>& parts, size_t count) {
    std::string path = join(parts, count);
    if (auto opened = open_resolved(m_root, path, O_PATH | O_DIRECTORY, m_resolve);
        opened || opened.error().code() != ENOENT)
        return opened;
    for (size_t i = 1; i <= count; ++i) {
        std::string prefix = join(parts, i);
        auto opened = open_resolved(m_root, prefix, O_PATH | O_DIRECTORY, m_resolve);
        if (opened)
            continue;
        if (opened.error().code() != ENOENT)
            return std::unexpected(std::move(opened).error());
        Fd parent = TRY(open_resolved(m_root, join(parts, i - 1), O_PATH | O_DIRECTORY, m_resolve));
        if (::mkdirat(parent.get(), parts[i - 1].c_str(), 0755) < 0) {
            if (errno == EEXIST)
                return error(
                    cat("create directory ", quoted(prefix), ": a symlink to nothing is there"));
            return errno_error(cat("create directory ", quoted(prefix)));
        }
        m_written.insert(prefix);
    }
    return open_resolved(m_root, path, O_PATH | O_DIRECTORY, m_resolve);
}

// Whether `path` is `directory` or inside it.
bool within(std::string_view path, std::string_view directory) {
    return directory == "." || path == directory ||
           (path.starts_with(directory) && path[directory.size()] == '/');
}

// The parent directory of the entry at `parts`, made if missing: a kept
// one when it is the same path and nothing was removed since.
Result<const Applier::Parent*> Applier::parent_of(const std::vector<std::string>& parts) {
    std::string path = join(parts, parts.size() - 1);
    if (m_parents_stale) {
        m_parents.clear();
        m_parents_stale = false;
    }
    while (!m_parents.empty() && !within(path, m_parents.back().path))
        m_parents.pop_back();
    if (!m_parents.empty() && m_parents.back().path == path)
        return &m_parents.back();
    TRY(open_directory(parts, parts.size() - 1));
    // Opened to read (not O_PATH) so its ACL can be asked for; a directory
    // we may not read is still a parent, with nothing assumed about it.
    auto opened = open_resolved(m_root, path, O_RDONLY | O_DIRECTORY, m_resolve);
    if (!opened && opened.error().code() == ENOENT) {
        TRY(open_directory(parts, parts.size() - 1));
        opened = open_resolved(m_root, path, O_RDONLY | O_DIRECTORY, m_resolve);
    }
    Inherit inherit = Inherit::Something;
    if (opened)
        inherit = inherit_of(opened->get());
    else if (opened.error().code() == EACCES)
        opened = open_resolved(m_root, path, O_PATH | O_DIRECTORY, m_resolve);
    keep_parent({.path = std::move(path), .fd = TRY(std::move(opened)), .inherit = inherit});
    return &m_parents.back();
}

void Applier::keep_parent(Parent parent) {
    // Bounded, as the descriptors are; emptied rather than reallocated, so
    // a Parent& given out stays valid until the next parent_of().
    if (m_parents.size() == kKeptParents)
        m_parents_stale = true;
    if (m_parents_stale) {
        m_parents.clear();
        m_parents_stale = false;
    }
    m_parents.push_back(std::move(parent));
}

Inherit Applier::inherit_of(int directory) {
    struct stat st;
    bool setgid = ::fstat(directory, &st) < 0 || (st.st_mode & S_ISGID);
    bool default_acl = ::fgetxattr(directory, "system.posix_acl_default", nullptr, 0) >= 0 ||
                       (errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP);
    return setgid || default_acl ? Inherit::Something : Inherit::Nothing;
}

// Whether a file made under `parent` needs chown to get the entry's owner.
bool Applier::needs_chown(const TarEntry& entry, const Parent& parent) const {
    return m_chown && (parent.inherit == Inherit::Something || uid_t(entry.uid) != m_uid ||
                       gid_t(entry.gid) != m_gid);
}

// Whether a file made under `parent` with `mode` & 0777 needs chmod to get
// `mode`: the set-id and sticky bits are not given by creation, and bits
// the umask takes are given back.
bool Applier::needs_chmod(uint32_t mode, const Parent& parent) const {
    return parent.inherit == Inherit::Something || !m_umask || (mode & ~0777u) != 0 ||
           (mode & *m_umask) != 0;
}

// Makes room for a new entry `name` under `parent` whose creation failed
// with EEXIST: what is there is removed, unless both it and the new entry
// are directories (then they merge). Returns whether a directory stays.
Result<bool> Applier::make_room(int parent, const std::string& name, bool directory) {
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return false;
        return errno_error(cat("stat ", quoted(name)));
    }
    if (S_ISDIR(st.st_mode)) {
        if (directory)
            return true;
        forget_parents();
        TRY(remove_tree(parent, name, name, Spare::Nothing));
        return false;
    }
    forget_parents();
    if (::unlinkat(parent, name.c_str(), 0) < 0)
        return errno_error(cat("remove ", quoted(name)));
    return false;
}

// Removes `name` under `parent` (at `path` in the layer) and everything
// below it, never following a symlink. With Spare::SameLayer what this
// layer made stays, and so does each directory above it. Returns whether
// anything stayed.
Result<bool> Applier::remove_tree(int parent, const std::string& name, const std::string& path,
                                  Spare spare) {
    if (spare == Spare::SameLayer && m_written.contains(path))
        return true;
    forget_parents();
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return false;
        return errno_error(cat("stat ", quoted(path)));
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(parent, name.c_str(), 0) < 0 && errno != ENOENT)
            return errno_error(cat("remove ", quoted(path)));
        return false;
    }
    int opened = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (opened < 0)
        return errno_error(cat("open ", quoted(path)));
    Fd directory(opened);
    bool kept = false;
    for (const std::string& child : TRY_CTX(names_in(directory.get()), quoted(path)))
        kept |= TRY(remove_tree(directory.get(), child, child_path(path, child), spare));
    if (!kept && ::unlinkat(parent, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted(path)));
    return kept;
}

// ".wh.NAME": NAME of the lower layers goes (Apply) or is hidden by a
// 0:0 character device (Overlay).
Result<void> Applier::whiteout(const std::vector<std::string>& parts, std::string_view target) {
    if (target.empty() || target == "." || target == "..")
        return error(cat("whiteout of ", quoted(target), " names no entry"));
    std::string name(target);
    std::string path = child_path(join(parts, parts.size() - 1), name);
    if (m_options.whiteouts == Whiteouts::Apply) {
        auto parent = open_resolved(m_root, join(parts, parts.size() - 1), O_PATH | O_DIRECTORY,
                                    kResolveConfined);
        if (!parent && (parent.error().code() == ENOENT || parent.error().code() == ENOTDIR))
            return {}; // nothing below to hide
        TRY(remove_tree(TRY(std::move(parent)).get(), name, path, Spare::SameLayer));
        return {};
    }
    if (m_written.contains(path))
        return {}; // the layer's own entry of that name stays visible
    int parent = TRY(parent_of(parts))->fd.get();
    auto make = [&] { return ::mknodat(parent, name.c_str(), S_IFCHR | 0, makedev(0, 0)); };
    int made = make();
    if (made < 0 && errno == EEXIST) {
        TRY(make_room(parent, name, false));
        made = make();
    }
    if (made < 0)
        return errno_error(cat("make whiteout device ", quoted(path)));
    return {};
}

// ".wh..wh..opq": the directory's lower content goes (Apply) or is hidden
// by trusted.overlay.opaque=y (Overlay).
Result<void> Applier::opaque(const std::vector<std::string>& parts) {
    std::string path = join(parts, parts.size() - 1);
    if (m_options.whiteouts == Whiteouts::Apply) {
        auto directory = open_resolved(m_root, path, O_RDONLY | O_DIRECTORY, kResolveConfined);
        if (!directory &&
            (directory.error().code() == ENOENT || directory.error().code() == ENOTDIR))
            return {};
        Fd opened = TRY(std::move(directory));
        for (const std::string& child : TRY(names_in(opened.get())))
            TRY(remove_tree(opened.get(), child, child_path(path, child), Spare::SameLayer));
        return {};
    }
    TRY(open_directory(parts, parts.size() - 1));
    Fd directory = TRY(open_resolved(m_root, path, O_RDONLY | O_DIRECTORY, kResolveConfined));
    if (::fsetxattr(directory.get(), "trusted.overlay.opaque", "y", 1, 0) < 0)
        return errno_error(cat("mark ", quoted(path), " opaque"));
    return {};
}

Result<void> Applier::set_xattrs(int fd, const TarEntry& entry) {
    for (const auto& [name, value] : entry.xattrs) {
        // trusted.* and security.* other than file capabilities could forge
        // overlayfs or LSM state; capabilities are privilege, like setuid.
        bool wanted =
            name.starts_with("user.") || (name == "security.capability" && m_options.keep_setid);
        if (!wanted)
            continue;
        if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) < 0 && errno != ENOTSUP)
            return errno_error(cat("set xattr ", quoted(name)));
    }
    return {};
}

Result<void> Applier::regular_file(TarReader& reader, const TarEntry& entry, const Parent& parent,
                                   const std::string& name) {
    uint32_t mode = mode_of(entry);
    // Made with its final permission bits: the descriptor may write even
    // when they say read-only.
    auto create = [&] {
        return ::openat(parent.fd.get(), name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
    };
    int opened = create();
    if (opened < 0 && errno == EEXIST) {
        TRY(make_room(parent.fd.get(), name, false));
        opened = create();
    }
    if (opened < 0)
        return errno_error("create");
    Fd file(opened);
    while (size_t n = TRY(reader.read_data({m_buffer.get(), kFileCopyBuffer})))
        TRY_CTX(write_all(file.get(), {m_buffer.get(), n}), "write");
    // chown first: it clears setuid and setgid bits.
    if (needs_chown(entry, parent) && ::fchown(file.get(), uid_t(entry.uid), gid_t(entry.gid)) < 0)
        return errno_error("chown");
    if (needs_chmod(mode, parent) && ::fchmod(file.get(), mode) < 0)
        return errno_error("chmod");
    TRY(set_xattrs(file.get(), entry));
    struct timespec times[2] = {entry_time(entry), entry_time(entry)};
    if (::futimens(file.get(), times) < 0)
        return errno_error("set mtime");
    return {};
}

Result<void> Applier::directory(const TarEntry& entry, const Parent& parent,
                                const std::string& name, const std::string& path) {
    int fd = parent.fd.get();
    bool made = true;
    if (::mkdirat(fd, name.c_str(), 0700) < 0) {
        if (errno != EEXIST)
            return errno_error("create directory");
        made = !TRY(make_room(fd, name, true));
        if (made && ::mkdirat(fd, name.c_str(), 0700) < 0)
            return errno_error("create directory");
    }
    int opened = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (opened < 0)
        return errno_error("open directory");
    Fd directory(opened);
    if (needs_chown(entry, parent) &&
        ::fchown(directory.get(), uid_t(entry.uid), gid_t(entry.gid)) < 0)
        return errno_error("chown");
    TRY(set_xattrs(directory.get(), entry));
    struct stat st;
    if (::fstat(directory.get(), &st) < 0)
        return errno_error("stat");
    m_directories.push_back({path, st.st_dev, st.st_ino, mode_of(entry), entry_time(entry)});
    // Its entries follow in a tar: it is the next parent. One just made
    // under a parent that passes nothing on passes nothing on either (its
    // own mode, setgid maybe, is set at the end).
    Inherit inherit =
        made && parent.inherit == Inherit::Nothing ? Inherit::Nothing : inherit_of(directory.get());
    keep_parent({.path = path, .fd = std::move(directory), .inherit = inherit});
    return {};
}

Result<void> Applier::hard_link(const TarEntry& entry, int parent, const std::string& name,
                                const std::string& path) {
    std::vector<std::string> target = normalise(entry.link_target);
    if (target.empty())
        return error("hard link to the root directory");
    std::string target_path = join(target, target.size());
    if (target_path == path)
        return {}; // a link to itself: the file is already there
    Fd target_parent = TRY_CTX(
        open_resolved(m_root, join(target, target.size() - 1), O_PATH | O_DIRECTORY, m_resolve),
        cat("hard link target ", quoted(target_path)));
    struct stat st;
    if (::fstatat(target_parent.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno_error(cat("hard link target ", quoted(target_path)));
    if (S_ISDIR(st.st_mode))
        return error(cat("hard link target ", quoted(target_path), " is a directory"));
    // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
    auto link = [&] {
        return ::linkat(target_parent.get(), target.back().c_str(), parent, name.c_str(), 0);
    };
    int linked = link();
    if (linked < 0 && errno == EEXIST) {
        TRY(make_room(parent, name, false));
        linked = link();
    }
    if (linked < 0)
        return errno_error(cat("link to ", quoted(target_path)));
    return {};
}

// Symlinks, devices and fifos: made by name, set by name without following.
Result<void> Applier::special_file(const TarEntry& entry, const Parent& parent_directory,
                                   const std::string& name) {
    int parent = parent_directory.fd.get();
    const char* c_name = name.c_str();
    uint32_t mode = mode_of(entry);
    auto create = [&]() -> Result<int> {
        switch (entry.type) {
        case TarEntryType::Symlink:
            return ::symlinkat(entry.link_target.c_str(), parent, c_name);
        case TarEntryType::CharDevice:
        case TarEntryType::BlockDevice: {
            mode_t kind = entry.type == TarEntryType::CharDevice ? S_IFCHR : S_IFBLK;
            return ::mknodat(parent, c_name, kind | (mode & 0777),
                             makedev(entry.device_major, entry.device_minor));
        }
        case TarEntryType::Fifo:
            return ::mknodat(parent, c_name, S_IFIFO | (mode & 0777), 0);
        default:
            return error("not a special file");
        }
    };
    int made = TRY(create());
    if (made < 0 && errno == EEXIST) {
        TRY(make_room(parent, name, false));
        made = TRY(create());
    }
    if (made < 0)
        return errno_error(cat("create ", kTarEntryTypeNames.name(entry.type)));
    if (needs_chown(entry, parent_directory) &&
        ::fchownat(parent, c_name, uid_t(entry.uid), gid_t(entry.gid), AT_SYMLINK_NOFOLLOW) < 0)
        return errno_error("chown");
    // Just made by this name, so not a symlink here: chmod may follow.
    if (entry.type != TarEntryType::Symlink && needs_chmod(mode, parent_directory) &&
        ::fchmodat(parent, c_name, mode, 0) < 0)
        return errno_error("chmod");
    struct timespec times[2] = {entry_time(entry), entry_time(entry)};
    if (::utimensat(parent, c_name, times, AT_SYMLINK_NOFOLLOW) < 0)
        return errno_error("set mtime");
    return {};
}

// A name that would reach outside the target unless contained: absolute,
// or with a ".." component.
bool escaping_name(std::string_view path) {
    if (path.starts_with('/'))
        return true;
    for (std::string_view part : split(path, '/'))
        if (part == "..")
            return true;
    return false;
}

Result<void> Applier::apply(TarReader& reader, const TarEntry& entry) {
    if (m_options.escaping == EscapingNames::Refuse) {
        if (escaping_name(entry.path))
            return error("an absolute name or one with `..` is refused");
        if (entry.type == TarEntryType::HardLink && escaping_name(entry.link_target))
            return error(cat("hard link target ", quoted(entry.link_target),
                             ": an absolute name or one with `..` is refused"));
    }
    std::vector<std::string> parts = normalise(entry.path);
    if (parts.empty()) {
        // "./": the root's own metadata.
        if (entry.type != TarEntryType::Directory)
            return error(cat("a ", kTarEntryTypeNames.name(entry.type), " cannot be the root"));
        struct stat st;
        if (::fstat(m_root, &st) < 0)
            return errno_error("stat the root");
        if (m_chown) {
            Fd root = TRY(open_resolved(m_root, ".", O_RDONLY | O_DIRECTORY, kResolveConfined));
            if (::fchown(root.get(), uid_t(entry.uid), gid_t(entry.gid)) < 0)
                return errno_error("chown the root");
        }
        m_directories.push_back({".", st.st_dev, st.st_ino, mode_of(entry), entry_time(entry)});
        return {};
    }
    const std::string& name = parts.back();
    for (size_t i = 0; i + 1 < parts.size(); ++i)
        if (parts[i].starts_with(kWhiteoutMetaPrefix))
            return {}; // inside aufs's metadata directories
    if (name.starts_with(kWhiteoutPrefix)) {
        if (name == kOpaqueMarker)
            return opaque(parts);
        if (name.starts_with(kWhiteoutMetaPrefix))
            return {};
        return whiteout(parts, std::string_view(name).substr(kWhiteoutPrefix.size()));
    }
    if ((entry.type == TarEntryType::CharDevice || entry.type == TarEntryType::BlockDevice) &&
        !m_options.allow_devices)
        return error("device nodes are refused (LayerOptions::allow_devices is off)");

    std::string path = join(parts, parts.size());
    const Parent& parent = *TRY_CTX(parent_of(parts), "parent directory");
    switch (entry.type) {
    case TarEntryType::Regular:
        TRY(regular_file(reader, entry, parent, name));
        break;
    case TarEntryType::Directory:
        TRY(directory(entry, parent, name, path));
        break;
    case TarEntryType::HardLink:
        TRY(hard_link(entry, parent.fd.get(), name, path));
        break;
    case TarEntryType::Symlink:
    case TarEntryType::CharDevice:
    case TarEntryType::BlockDevice:
    case TarEntryType::Fifo:
        TRY(special_file(entry, parent, name));
        break;
    }
    m_written.insert(path);
    return {};
}

Result<void> Applier::finish() {
    // Deepest last made first, so no mode set on a directory stops the
    // next from being opened.
    for (auto it = m_directories.rbegin(); it != m_directories.rend(); ++it) {
        auto opened =
            open_resolved(m_root, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, kResolveConfined);
        if (!opened)
            continue; // removed or replaced later in the layer
        struct stat st;
        if (::fstat(opened->get(), &st) < 0)
            return errno_error(cat("stat ", quoted(it->path)));
        if (st.st_dev != it->device || st.st_ino != it->inode)
            continue;
        if (::fchmod(opened->get(), it->mode) < 0)
            return errno_error(cat("chmod ", quoted(it->path)));
        struct timespec times[2] = {it->mtime, it->mtime};
        if (::futimens(opened->get(), times) < 0)
            return errno_error(cat("set mtime of ", quoted(it->path)));
    }
    return {};
}

// A source borrowed by decompressed(), which wants one it owns.
class BorrowedSource final : public ByteSource {
public:
    explicit BorrowedSource(ByteSource& source) : m_source(source) {}
    Result<size_t> read(std::span<char> buffer) override { return m_source.read(buffer); }

private:
    ByteSource& m_source;
};

// Removes a directory tree by path, not following symlinks (best effort:
// for cleaning up after a failure).
void remove_directory_tree(int parent, const std::string& name) {
    int opened = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (opened >= 0) {
        Fd directory(opened);
        if (auto names = names_in(directory.get())) {
            for (const std::string& child : *names) {
                if (::unlinkat(directory.get(), child.c_str(), 0) < 0 &&
                    (errno == EISDIR || errno == EPERM))
                    remove_directory_tree(directory.get(), child);
            }
        }
    }
    ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
}

} // namespace

Result<LayerSummary> apply_layer(ByteSource& layer, int target_directory,
                                 const LayerOptions& options) {
    TarReader reader(layer);
    Applier applier(target_directory, options);
    LayerSummary summary;
    while (auto entry = TRY(reader.next())) {
        auto applied = applier.apply(reader, *entry);
        if (!applied)
            return std::unexpected(std::move(applied).error().wrap(describe_entry(*entry)));
        ++summary.entries;
        summary.bytes += entry->size;
    }
    TRY(applier.finish());
    return summary;
}

Result<LayerSummary> unpack_layer(ByteSource& layer, const std::string& store_directory,
                                  std::string_view name, const LayerOptions& options) {
    std::string context = cat("unpack layer ", quoted(name));
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos)
        return error(cat(context, ": not a plain name"));
    Fd store = TRY_CTX(open_file(store_directory, O_PATH | O_DIRECTORY), context);
    struct stat st;
    if (::fstatat(store.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return errno_error(EEXIST, context);
    std::string temporary = cat(store_directory, "/.", name, "-XXXXXX");
    if (!::mkdtemp(temporary.data()))
        return errno_error(cat(context, ": create a temporary directory"));
    std::string temporary_name = temporary.substr(temporary.rfind('/') + 1);

    auto unpacked = [&]() -> Result<LayerSummary> {
        Fd directory = TRY(open_file(temporary, O_RDONLY | O_DIRECTORY));
        // mkdtemp's 0700 would make a root only root can enter, unless the
        // layer has a "./" entry of its own.
        if (::fchmod(directory.get(), 0755) < 0)
            return errno_error("chmod");
        auto source = TRY(decompressed(std::make_unique<BorrowedSource>(layer)));
        LayerSummary summary = TRY(apply_layer(*source, directory.get(), options));
        // Written through before the name says the layer is complete.
        if (::syncfs(directory.get()) < 0)
            return errno_error("sync");
        TRY(rename_no_replace(store.get(), temporary_name, store.get(), std::string(name)));
        return summary;
    }();
    if (!unpacked) {
        remove_directory_tree(store.get(), temporary_name);
        return std::unexpected(std::move(unpacked).error().wrap(context));
    }
    return unpacked;
}

} // namespace keel::oci
