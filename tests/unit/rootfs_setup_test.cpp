// containers/rootfs_setup.cpp on real mounts: each case builds a small
// rootfs in a TempDir, and a child in a mount namespace of its own (made
// private first, so nothing reaches the host) prepares, enters and finishes
// it, then looks around from inside and reports what it saw through a pipe.
// Needs root (CAP_SYS_ADMIN); skips with a message without it.
#include "containers/rootfs_setup.h"

#include "base/strings.h"
#include "base/sys.h"
#include "rootfs/rootfs.h"
#include "tests/unit/namespace_child.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::in_namespaces;
using keel::testing::skipped;
using keel::testing::TempDir;

namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr long kDevptsMagic = 0x1cd1;
constexpr long kProcMagic = 0x9fa0;

std::string describe_error(const Error& error) {
    return error.to_string();
}

// prepare, enter (pivot_root) and finish; "" when all went well.
std::string set_up(const Spec& spec, const std::string& rootfs, const std::string& bundle,
                   RootEntry entry = RootEntry::PivotRoot) {
    if (auto prepared = prepare_rootfs(spec, rootfs, bundle, {}); !prepared)
        return "prepare: " + describe_error(prepared.error());
    std::string path = rootfs.starts_with('/') ? rootfs : bundle + "/" + rootfs;
    if (auto entered = enter_rootfs(path, entry); !entered)
        return "enter: " + describe_error(entered.error());
    if (auto finished = finish_rootfs(spec); !finished)
        return "finish: " + describe_error(finished.error());
    return "";
}

// mounts[] as config.json writes them, options read by the spec's parser.
Mount spec_mount(std::string destination, std::string type, std::string source,
                 std::vector<std::string> options = {}) {
    Mount entry;
    entry.destination = std::move(destination);
    entry.type = std::move(type);
    entry.source = std::move(source);
    entry.parsed = parse_mount_options(options);
    entry.options = std::move(options);
    return entry;
}

// "c 1:3 666", "dir", "fifo", "file", "link -> target" or the errno's text.
std::string node(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0)
        return std::strerror(errno);
    if (S_ISCHR(st.st_mode))
        return cat("c ", major(st.st_rdev), ":", minor(st.st_rdev), " ",
                   cat((st.st_mode >> 6) & 7, (st.st_mode >> 3) & 7, st.st_mode & 7));
    if (S_ISDIR(st.st_mode))
        return "dir";
    if (S_ISFIFO(st.st_mode))
        return "fifo";
    if (S_ISLNK(st.st_mode)) {
        char target[256] = {};
        ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
        return cat("link -> ", std::string_view(target, n > 0 ? size_t(n) : 0));
    }
    return "file";
}

std::string filesystem(const std::string& path) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) < 0)
        return std::strerror(errno);
    switch (st.f_type) {
    case kTmpfsMagic:
        return "tmpfs";
    case kDevptsMagic:
        return "devpts";
    case kProcMagic:
        return "proc";
    default:
        return "other";
    }
}

// The file's text, or the errno's when it cannot be read.
std::string contents_or_errno(const std::string& path) {
    auto text = read_file(path);
    return text ? *text : std::string(std::strerror(text.error().code()));
}

// What creating `path` says: "ok" or the errno's text.
std::string create(const std::string& path) {
    auto written = write_new_file(path, "x");
    return written ? "ok" : std::strerror(written.error().code());
}

// A rootfs with /etc/marker, and the bundle directory around it.
struct Bundle {
    TempDir dir;
    std::string rootfs = dir / "rootfs";

    Bundle() {
        REQUIRE(make_directories(rootfs + "/etc"));
        REQUIRE(write_new_file(rootfs + "/etc/marker", "inside"));
    }
    std::string in_rootfs(const std::string& path) const { return rootfs + "/" + path; }
};

} // namespace

TEST_CASE("a container gets the spec's mounts, a /dev of its own and a new root") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "data"));
    REQUIRE(write_new_file(bundle.dir / "data/hello", "hi"));
    REQUIRE(write_new_file(bundle.dir / "hosts", "127.0.0.1 localhost\n"));
    Spec spec;
    spec.mounts = {
        spec_mount("/proc", "proc", "proc"),
        spec_mount("/tmp", "tmpfs", "tmpfs", {"nosuid", "size=1m", "shared"}),
        spec_mount("/srv/data", "bind", "data", {"bind", "ro", "noexec"}), // relative to the bundle
        spec_mount("/etc/hosts", "bind", bundle.dir / "hosts", {"bind"}),
        spec_mount("/sys", "sysfs", "sysfs", {"ro", "nosuid", "noexec", "nodev"}),
    };
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, "rootfs", bundle.dir.path()); !failed.empty())
            return failed;
        std::string points;
        auto mounts = read_mountinfo();
        if (!mounts)
            return describe_error(mounts.error());
        std::vector<std::string> sorted;
        std::string options;
        for (const MountEntry& entry : *mounts) {
            if (entry.point == "/srv/data" || entry.point == "/sys" || entry.point == "/tmp")
                options += cat(entry.point, " ", entry.options, ", ");
            sorted.push_back(
                entry.point == "/"
                    ? cat("/ from ...", entry.root.ends_with("/rootfs") ? "/rootfs" : entry.root)
                    : entry.point);
        }
        std::string table = contents_or_errno("/proc/self/mountinfo");
        size_t tmp_line = table.find(" / /tmp ");
        bool tmp_shared =
            tmp_line != table.npos &&
            table.substr(tmp_line, table.find(" - ", tmp_line) - tmp_line).find(" shared:") !=
                std::string::npos;
        std::sort(sorted.begin(), sorted.end());
        for (const std::string& point : sorted)
            points += point + " ";
        return cat("marker ", contents_or_errno("/etc/marker"), "\n",                  //
                   "null ", node("/dev/null"), ", zero ", node("/dev/zero"),           //
                   ", full ", node("/dev/full"), ", random ", node("/dev/random"),     //
                   ", urandom ", node("/dev/urandom"), ", tty ", node("/dev/tty"),     //
                   "\nfd ", node("/dev/fd"), ", stdin ", node("/dev/stdin"),           //
                   ", stdout ", node("/dev/stdout"), ", stderr ", node("/dev/stderr"), //
                   ", ptmx ", node("/dev/ptmx"), "\n",                                 //
                   "/dev ", filesystem("/dev"), ", /dev/pts ", filesystem("/dev/pts"),
                   ", /dev/shm ", filesystem("/dev/shm"), ", /tmp ", filesystem("/tmp"), ", /proc ",
                   filesystem("/proc"), "\n", //
                   "data ", contents_or_errno("/srv/data/hello"),
                   ", write: ", create("/srv/data/new"), "\nhosts ",
                   contents_or_errno("/etc/hosts"),                           //
                   options, "/tmp shared: ", tmp_shared ? "yes" : "no", "\n", //
                   "mounts ", points);
    });
    if (skipped(said))
        return;
    CHECK(said == "marker inside\n"
                  "null c 1:3 666, zero c 1:5 666, full c 1:7 666, random c 1:8 666, "
                  "urandom c 1:9 666, tty c 5:0 666\n"
                  "fd link -> /proc/self/fd, stdin link -> /proc/self/fd/0, "
                  "stdout link -> /proc/self/fd/1, stderr link -> /proc/self/fd/2, "
                  "ptmx link -> pts/ptmx\n"
                  "/dev tmpfs, /dev/pts devpts, /dev/shm tmpfs, /tmp tmpfs, /proc proc\n"
                  "data hi, write: Read-only file system\n"
                  "hosts 127.0.0.1 localhost\n"
                  "/tmp rw,nosuid,relatime, /srv/data ro,noexec,relatime, "
                  "/sys ro,nosuid,nodev,noexec,relatime, /tmp shared: yes\n"
                  "mounts / from .../rootfs /dev /dev/pts /dev/shm /etc/hosts /proc /srv/data "
                  "/sys /tmp ");
    // The targets were made in the rootfs, the bundle's files left alone.
    CHECK(node(bundle.in_rootfs("srv/data")) == "dir");
    CHECK(node(bundle.in_rootfs("etc/hosts")) == "file");
    CHECK(contents_or_errno(bundle.in_rootfs("etc/hosts")).empty());
    CHECK(node(bundle.dir / "data/new") == "No such file or directory");
}

TEST_CASE("a /dev and /dev/pts from the spec are used as they are and get the devices") {
    Bundle bundle;
    Spec spec;
    spec.mounts = {
        spec_mount("/proc", "proc", "proc"),
        spec_mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=711", "size=64k"}),
        spec_mount("/dev/pts", "devpts", "devpts",
                   {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
    };
    spec.linux_config.devices = {
        {'c', "/dev/net/tun", 10, 200, 0600, 1000, 1000},
        {'p', "/dev/pipe", 0, 0, std::nullopt, std::nullopt, std::nullopt},
    };
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        auto mounts = read_mountinfo();
        if (!mounts)
            return describe_error(mounts.error());
        std::string dev;
        for (const MountEntry& entry : *mounts)
            if (entry.point.starts_with("/dev"))
                dev += cat(entry.point, " ", entry.type, ", ");
        struct stat st {};
        ::stat("/dev", &st);
        struct stat tun {};
        ::stat("/dev/net/tun", &tun);
        return cat(dev, "/dev mode ", st.st_mode & 0777, ", null ", node("/dev/null"), ", tun ",
                   node("/dev/net/tun"), " owner ", tun.st_uid, ", pipe ", node("/dev/pipe"));
    });
    if (skipped(said))
        return;
    CHECK(said == cat("/dev tmpfs, /dev/pts devpts, /dev/shm tmpfs, /dev mode ", 0711,
                      ", null c 1:3 666, tun c 10:200 600 owner 1000, pipe fifo"));
}

TEST_CASE("a read-only cgroup mount shows the host's kind of hierarchy, read-only throughout") {
    Bundle bundle;
    struct statfs host {};
    REQUIRE(::statfs("/sys/fs/cgroup", &host) == 0);
    Spec spec;
    spec.mounts = {
        spec_mount("/sys", "sysfs", "sysfs", {"ro", "nosuid", "noexec", "nodev"}),
        spec_mount("/sys/fs/cgroup", "cgroup", "cgroup",
                   {"ro", "nosuid", "noexec", "nodev", "relatime"}),
        spec_mount("/proc", "proc", "proc"),
    };
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        struct statfs inside {};
        if (::statfs("/sys/fs/cgroup", &inside) < 0)
            return std::string(std::strerror(errno));
        auto mounts = read_mountinfo();
        if (!mounts)
            return describe_error(mounts.error());
        size_t count = 0;
        size_t writable = 0;
        for (const MountEntry& entry : *mounts) {
            if (!path_is_under(entry.point, "/sys/fs/cgroup"))
                continue;
            ++count;
            writable += !entry.read_only();
        }
        return cat(inside.f_type == host.f_type ? "same kind" : "another kind", ", ",
                   count > 0 ? "mounted" : "not mounted", ", writable ", writable);
    });
    if (skipped(said))
        return;
    CHECK(said == "same kind, mounted, writable 0");
}

TEST_CASE("mount destinations through symlinks to /.., /etc or ../.. stay inside the rootfs") {
    Bundle bundle;
    std::string name = "keel-escape-" + bundle.dir.path().substr(bundle.dir.path().rfind('-') + 1);
    REQUIRE(::symlink("/..", bundle.in_rootfs("up").c_str()) == 0);
    REQUIRE(::symlink("/etc", bundle.in_rootfs("etc-link").c_str()) == 0);
    REQUIRE(::symlink("../../../../../../..", bundle.in_rootfs("etc/dotdot").c_str()) == 0);
    REQUIRE(write_new_file(bundle.dir / "file", "bound"));
    std::vector<std::string> host_root_before = *list_directory("/");
    std::vector<std::string> host_etc_before = *list_directory("/etc");
    Spec spec;
    spec.mounts = {
        spec_mount("/up/" + name, "tmpfs", "tmpfs"),
        spec_mount("/etc-link/" + name + "/deeper", "tmpfs", "tmpfs"),
        spec_mount("/etc/dotdot/etc/" + name + "-dotdot", "tmpfs", "tmpfs"),
        spec_mount("/up/../etc-link/" + name + "-file", "", bundle.dir / "file", {"rbind"}),
    };
    std::string said = in_namespaces(0, [&] {
        if (auto prepared = prepare_rootfs(spec, bundle.rootfs, "", {}); !prepared)
            return describe_error(prepared.error());
        return cat(filesystem(bundle.in_rootfs(name)), " ",
                   filesystem(bundle.in_rootfs("etc/" + name + "/deeper")), " ",
                   filesystem(bundle.in_rootfs("etc/" + name + "-dotdot")), " ",
                   contents_or_errno(bundle.in_rootfs("etc/" + name + "-file")),
                   ", host: ", node("/" + name), ", ", node("/etc/" + name), ", ",
                   node("/etc/" + name + "-file"));
    });
    if (skipped(said))
        return;
    CHECK(said == "tmpfs tmpfs tmpfs bound, host: No such file or directory, No such file or "
                  "directory, No such file or directory");
    CHECK(*list_directory("/") == host_root_before);
    CHECK(*list_directory("/etc") == host_etc_before);
    CHECK(node(bundle.in_rootfs("etc/" + name)) == "dir");
}

TEST_CASE("a mount through a symlink to nothing is refused and makes nothing on the host") {
    Bundle bundle;
    std::string name =
        "keel-dangling-" + bundle.dir.path().substr(bundle.dir.path().rfind('-') + 1);
    REQUIRE(::symlink(("/" + name).c_str(), bundle.in_rootfs("dangling").c_str()) == 0);
    Spec spec;
    spec.mounts = {spec_mount("/dangling/sub", "tmpfs", "tmpfs")};
    std::string said = in_namespaces(0, [&] {
        auto prepared = prepare_rootfs(spec, bundle.rootfs, "", {});
        return prepared ? "prepared" : describe_error(prepared.error());
    });
    if (skipped(said))
        return;
    CHECK(said == "mounts[0] (/dangling/sub): create `/dangling`: a symlink to nothing is there");
    CHECK(!path_exists("/" + name));
    CHECK(!path_exists(bundle.in_rootfs(name)));
}

TEST_CASE("proc is not mounted where the image put a symlink") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.in_rootfs("elsewhere")));
    REQUIRE(::symlink("/elsewhere", bundle.in_rootfs("proc").c_str()) == 0);
    Spec spec;
    spec.mounts = {spec_mount("/proc", "proc", "proc")};
    std::string said = in_namespaces(0, [&] {
        auto prepared = prepare_rootfs(spec, bundle.rootfs, "", {});
        if (prepared)
            return cat("prepared, /elsewhere is ", filesystem(bundle.in_rootfs("elsewhere")));
        return cat(prepared.error().code() == ELOOP ? "ELOOP: " : "other: ",
                   describe_error(prepared.error()));
    });
    if (skipped(said))
        return;
    CHECK(said.starts_with("ELOOP: mounts[0] (/proc): open `proc`"));
}

TEST_CASE("a failed mount is named by its place in the spec, its destination and its type") {
    Bundle bundle;
    Spec spec;
    spec.mounts = {spec_mount("/tmp", "tmpfs", "tmpfs"), spec_mount("/x", "keelnosuchfs", "none")};
    std::string said = in_namespaces(0, [&] {
        auto prepared = prepare_rootfs(spec, bundle.rootfs, "", {});
        return prepared ? "prepared"
                        : cat(prepared.error().code(), " ", describe_error(prepared.error()));
    });
    if (skipped(said))
        return;
    CHECK(said == cat(ENODEV, " mounts[1] (/x): mount keelnosuchfs: ", std::strerror(ENODEV)));
}

TEST_CASE("an idmapped bind mount shows its source's files under the mapping's owners") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "data"));
    REQUIRE(write_new_file(bundle.dir / "data/root-file", "r"));
    REQUIRE(write_new_file(bundle.dir / "data/user-file", "u"));
    REQUIRE(::chown((bundle.dir / "data/user-file").c_str(), 1000, 1000) == 0);
    Spec spec;
    Mount data = spec_mount("/data", "bind", bundle.dir / "data", {"rbind", "idmap"});
    data.uid_mappings = {{.container_id = 0, .host_id = 100000, .size = 65536}};
    data.gid_mappings = {{.container_id = 0, .host_id = 200000, .size = 65536}};
    spec.mounts = {data};
    auto trees = prepare_idmapped_mounts(spec, "");
    if (!trees && (trees.error().code() == EINVAL || trees.error().code() == ENOSYS)) {
        MESSAGE("SKIP: this kernel or filesystem refuses idmapped mounts: "
                << trees.error().to_string());
        return;
    }
    REQUIRE_MESSAGE(trees, (trees ? "" : trees.error().to_string()));
    REQUIRE(trees->size() == 1);
    std::string said = in_namespaces(0, [&] {
        if (auto prepared = prepare_rootfs(spec, bundle.rootfs, "", *trees); !prepared)
            return describe_error(prepared.error());
        struct stat root_file {
        }, user_file{};
        if (::stat(bundle.in_rootfs("data/root-file").c_str(), &root_file) < 0 ||
            ::stat(bundle.in_rootfs("data/user-file").c_str(), &user_file) < 0)
            return std::string(std::strerror(errno));
        return cat(root_file.st_uid, ":", root_file.st_gid, " ", user_file.st_uid, ":",
                   user_file.st_gid);
    });
    if (skipped(said))
        return;
    CHECK(said == "100000:200000 101000:201000");
    // The source itself keeps its owners.
    struct stat source {};
    REQUIRE(::stat((bundle.dir / "data/root-file").c_str(), &source) == 0);
    CHECK(source.st_uid == 0);
}

TEST_CASE("idmapped mounts that cannot be made as asked are refused before anything is made") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "data"));
    IdMapping map{.container_id = 0, .host_id = 100000, .size = 65536};
    struct Case {
        Mount mount;
        std::string said;
    };
    Mount tmpfs = spec_mount("/t", "tmpfs", "tmpfs", {"idmap"});
    Mount uids_only = spec_mount("/data", "bind", bundle.dir / "data", {"bind", "idmap"});
    uids_only.uid_mappings = {map};
    Mount without_option = spec_mount("/data", "bind", bundle.dir / "data", {"bind"});
    without_option.uid_mappings = {map};
    without_option.gid_mappings = {map};
    Mount no_maps = spec_mount("/data", "bind", bundle.dir / "data", {"bind", "idmap"});
    for (const Case& c :
         {Case{tmpfs, "mounts[0] (/t): idmap and ridmap are for bind mounts, not `tmpfs`"},
          Case{uids_only, "mounts[0] (/data): uidMappings and gidMappings go together"},
          Case{without_option,
               "mounts[0] (/data): uidMappings and gidMappings need the idmap or ridmap option"},
          Case{no_maps, "mounts[0] (/data): idmap without uidMappings and gidMappings takes the "
                        "container's, and it has no user namespace of its own with mappings"}}) {
        Spec spec;
        spec.mounts = {c.mount};
        auto trees = prepare_idmapped_mounts(spec, "");
        REQUIRE_FALSE(trees);
        CHECK(trees.error().to_string() == c.said);
    }
}

TEST_CASE("masked paths read empty, read-only paths and a read-only root refuse writes") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.in_rootfs("secret/dir")));
    REQUIRE(write_new_file(bundle.in_rootfs("secret/file"), "password"));
    REQUIRE(write_new_file(bundle.in_rootfs("secret/dir/inner"), "x"));
    REQUIRE(make_directories(bundle.in_rootfs("ro")));
    REQUIRE(write_new_file(bundle.in_rootfs("ro/file"), "data"));
    Spec spec;
    spec.root.readonly = true;
    spec.mounts = {spec_mount("/proc", "proc", "proc"), spec_mount("/run", "tmpfs", "tmpfs")};
    spec.linux_config.masked_paths = {"/secret/file", "/secret/dir", "/missing/path"};
    spec.linux_config.readonly_paths = {"/ro", "/missing-too"};
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        auto listed = list_directory("/secret/dir");
        return cat("file `", contents_or_errno("/secret/file"), "`, dir ",
                   listed ? cat(listed->size(), " entries") : "unreadable",
                   ", write in it: ", create("/secret/dir/new"), "\nro/file ",
                   contents_or_errno("/ro/file"), ", write: ", create("/ro/file"),
                   ", new: ", create("/ro/new"), "\nroot: ", create("/new"),
                   ", /run: ", create("/run/new"), ", /dev/shm: ", create("/dev/shm/new"));
    });
    if (skipped(said))
        return;
    CHECK(said == "file ``, dir 0 entries, write in it: Read-only file system\n"
                  "ro/file data, write: Read-only file system, new: Read-only file system\n"
                  "root: Read-only file system, /run: ok, /dev/shm: ok");
    CHECK(contents_or_errno(bundle.in_rootfs("secret/file")) == "password");
    CHECK(!path_exists(bundle.in_rootfs("missing")));
}

namespace {

// What masking a file says when the spec binds /dev from `dev` (a directory
// of the bundle the test filled), and what the masked file reads after.
std::string mask_with_dev_from(Bundle& bundle) {
    REQUIRE(write_new_file(bundle.in_rootfs("etc/shadow"), "secret"));
    Spec spec;
    spec.mounts = {spec_mount("/dev", "bind", "dev", {"rbind"})};
    spec.linux_config.masked_paths = {"/etc/shadow"};
    std::string said = in_namespaces(0, [&] {
        std::string failed = set_up(spec, bundle.rootfs, bundle.dir.path());
        return cat(failed.empty() ? "masked" : failed,
                   "; shadow: ", contents_or_errno("/etc/shadow"));
    });
    return said;
}

} // namespace

TEST_CASE("a regular file at /dev/null is refused for masks") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "dev"));
    REQUIRE(write_new_file(bundle.dir / "dev/null", "not null"));
    std::string said = mask_with_dev_from(bundle);
    if (skipped(said))
        return;
    CHECK(said == "finish: linux.maskedPaths[0] (/etc/shadow): /dev/null is not the null device "
                  "(1:3), refusing to mask with it; shadow: secret");
}

TEST_CASE("a symlink at /dev/null is refused for masks, even to the real device") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "dev"));
    REQUIRE(make_directories(bundle.in_rootfs("real")));
    REQUIRE(::mknod(bundle.in_rootfs("real/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    REQUIRE(::symlink("/real/null", (bundle.dir / "dev/null").c_str()) == 0);
    std::string said = mask_with_dev_from(bundle);
    if (skipped(said))
        return;
    CHECK(said.starts_with("finish: linux.maskedPaths[0] (/etc/shadow): /dev/null is not the null "
                           "device, refusing to mask: open `dev/null`: "));
    CHECK(said.ends_with("; shadow: secret"));
}

TEST_CASE("another device at /dev/null is refused for masks") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "dev"));
    REQUIRE(::mknod((bundle.dir / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0);
    std::string said = mask_with_dev_from(bundle);
    if (skipped(said))
        return;
    CHECK(said == "finish: linux.maskedPaths[0] (/etc/shadow): /dev/null is not the null device "
                  "(1:3), refusing to mask with it; shadow: secret");
}

TEST_CASE("a /dev bound from the bundle is left as it is, and a real null device there masks") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.dir / "dev"));
    REQUIRE(::mknod((bundle.dir / "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    std::string said = mask_with_dev_from(bundle);
    if (skipped(said))
        return;
    CHECK(said == "masked; shadow: ");
    // Nothing was added to the bound directory.
    CHECK(*list_directory(bundle.dir / "dev") == std::vector<std::string>{"null"});
}

TEST_CASE("sysctls are written into the container's own namespaces") {
    Bundle bundle;
    std::string host_ttl = contents_or_errno("/proc/sys/net/ipv4/ip_default_ttl");
    std::string wanted = host_ttl == "99\n" ? "98" : "99";
    Spec spec;
    spec.mounts = {spec_mount("/proc", "proc", "proc")};
    spec.linux_config.namespaces = {{NamespaceType::Network, ""}};
    spec.linux_config.sysctl = {{"net.ipv4.ip_default_ttl", wanted}};
    REQUIRE(check_sysctls(spec));
    std::string said = in_namespaces(CLONE_NEWNET, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        return contents_or_errno("/proc/sys/net/ipv4/ip_default_ttl");
    });
    if (skipped(said))
        return;
    CHECK(said == wanted + "\n");
    CHECK(contents_or_errno("/proc/sys/net/ipv4/ip_default_ttl") == host_ttl);
}

TEST_CASE("sysctls are refused when /proc/sys is the image's, not a proc filesystem") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.in_rootfs("proc/sys/net/ipv4")));
    REQUIRE(write_new_file(bundle.in_rootfs("proc/sys/net/ipv4/ip_forward"), "0\n"));
    Spec spec;
    spec.linux_config.namespaces = {{NamespaceType::Network, ""}};
    spec.linux_config.sysctl = {{"net.ipv4.ip_forward", "1"}};
    std::string said = in_namespaces(CLONE_NEWNET, [&] { return set_up(spec, bundle.rootfs, ""); });
    if (skipped(said))
        return;
    CHECK(said == "finish: linux.sysctl: /proc/sys is not a proc filesystem (no proc mount in the "
                  "spec?)");
    CHECK(contents_or_errno(bundle.in_rootfs("proc/sys/net/ipv4/ip_forward")) == "0\n");
}

TEST_CASE("sysctls are allowed only for the namespaces the container has of its own") {
    auto check = [](std::vector<Namespace> namespaces, std::string key, std::string hostname = {}) {
        Spec spec;
        spec.hostname = std::move(hostname);
        spec.linux_config.namespaces = std::move(namespaces);
        spec.linux_config.sysctl = {{key, "1"}};
        auto checked = check_sysctls(spec);
        return checked ? std::string("ok") : checked.error().to_string();
    };
    Namespace ipc{NamespaceType::Ipc, ""};
    Namespace net{NamespaceType::Network, ""};
    Namespace uts{NamespaceType::Uts, ""};
    CHECK(check({ipc}, "kernel.shmmax") == "ok");
    CHECK(check({ipc}, "kernel.shm_rmid_forced") == "ok");
    CHECK(check({ipc}, "kernel.msgmnb") == "ok");
    CHECK(check({ipc}, "kernel.sem") == "ok");
    CHECK(check({ipc}, "fs.mqueue.msg_max") == "ok");
    CHECK(check({net}, "kernel.shmmax") ==
          "linux.sysctl `kernel.shmmax`: needs an ipc namespace of the container's own");
    CHECK(check({}, "fs.mqueue.queues_max") ==
          "linux.sysctl `fs.mqueue.queues_max`: needs an ipc namespace of the container's own");
    CHECK(check({net}, "net.ipv4.ip_forward") == "ok");
    CHECK(check({ipc, uts}, "net.core.somaxconn") ==
          "linux.sysctl `net.core.somaxconn`: needs a network namespace of the container's own");
    CHECK(check({uts}, "kernel.domainname") == "ok");
    CHECK(check({uts}, "kernel.hostname") == "ok");
    CHECK(check({uts}, "kernel.hostname", "web") ==
          "linux.sysctl `kernel.hostname`: conflicts with `hostname`, which sets it too");
    CHECK(check({net}, "kernel.domainname") ==
          "linux.sysctl `kernel.domainname`: needs a uts namespace of the container's own");
    CHECK(check({ipc, net, uts}, "kernel.pid_max") ==
          "linux.sysctl `kernel.pid_max`: not isolated by any namespace, so it would change the "
          "host");
    CHECK(check({ipc, net, uts}, "vm.overcommit_memory") ==
          "linux.sysctl `vm.overcommit_memory`: not isolated by any namespace, so it would change "
          "the host");
    CHECK(check({ipc}, "kernel.shmmax/../../vm/drop_caches") ==
          "linux.sysctl `kernel.shmmax/../../vm/drop_caches`: not a sysctl name");
    // Joining the runtime's own namespace by path isolates nothing.
    CHECK(check({{NamespaceType::Network, "/proc/self/ns/net"}}, "net.ipv4.ip_forward") ==
          "linux.sysctl `net.ipv4.ip_forward`: needs a network namespace of the container's own");
    CHECK(check({}, "kernel.shmmax") != "ok");
}

TEST_CASE("moving the rootfs onto / and chrooting also enters it") {
    Bundle bundle;
    Spec spec;
    spec.mounts = {spec_mount("/proc", "proc", "proc")};
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, "", RootEntry::MoveAndChroot);
            !failed.empty())
            return failed;
        char cwd[256] = {};
        return cat(contents_or_errno("/etc/marker"), " in ", ::getcwd(cwd, sizeof cwd) ? cwd : "?",
                   ", null ", node("/dev/null"), ", host's tmp: ", node(bundle.dir.path()));
    });
    if (skipped(said))
        return;
    CHECK(said == "inside in /, null c 1:3 666, host's tmp: No such file or directory");
}

TEST_CASE("a shared rootfs propagation still lets pivot_root enter the rootfs") {
    Bundle bundle;
    Spec spec;
    spec.linux_config.rootfs_propagation = Propagation::Shared;
    spec.linux_config.rootfs_propagation_recursive = true;
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        return contents_or_errno("/etc/marker");
    });
    if (skipped(said))
        return;
    CHECK(said == "inside");
}

TEST_CASE("tmpcopyup fills a tmpfs with what was below it") {
    Bundle bundle;
    REQUIRE(make_directories(bundle.in_rootfs("opt/sub")));
    REQUIRE(write_new_file(bundle.in_rootfs("opt/sub/kept"), "kept", 0640));
    REQUIRE(::symlink("sub/kept", bundle.in_rootfs("opt/link").c_str()) == 0);
    REQUIRE(::chmod(bundle.in_rootfs("opt").c_str(), 0710) == 0);
    Spec spec;
    spec.mounts = {spec_mount("/opt", "tmpfs", "tmpfs", {"tmpcopyup"})};
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        struct stat file {};
        struct stat top {};
        ::stat("/opt/sub/kept", &file);
        ::stat("/opt", &top);
        return cat(filesystem("/opt"), " ", contents_or_errno("/opt/link"), " ", node("/opt/link"),
                   " ", file.st_mode & 0777, " ", top.st_mode & 0777);
    });
    if (skipped(said))
        return;
    CHECK(said == cat("tmpfs kept link -> sub/kept ", 0640, " ", 0710));
}

TEST_CASE("in a user namespace, where mknod is refused, /dev's devices are bound from the host") {
    Bundle bundle;
    std::string said = in_namespaces(CLONE_NEWUSER, [&] {
        for (auto [file, text] :
             {std::pair{"/proc/self/setgroups", "deny"}, std::pair{"/proc/self/uid_map", "0 0 1"},
              std::pair{"/proc/self/gid_map", "0 0 1"}})
            if (auto written = write_existing_file(file, text); !written)
                return "skip: " + describe_error(written.error());
        if (auto prepared = prepare_rootfs(Spec{}, bundle.rootfs, "", {}); !prepared)
            return "prepare: " + describe_error(prepared.error());
        return cat(node(bundle.in_rootfs("dev/null")), ", ", node(bundle.in_rootfs("dev/tty")),
                   ", ", filesystem(bundle.in_rootfs("dev/pts")));
    });
    if (skipped(said))
        return;
    CHECK(said == "c 1:3 666, c 5:0 666, devpts");
}

TEST_CASE("a static busybox copied into the rootfs runs in it and sees the container's /dev") {
    Bundle bundle;
    auto busybox = read_file("/bin/busybox");
    if (!busybox) {
        MESSAGE("no /bin/busybox: ", busybox.error().to_string());
        return;
    }
    REQUIRE(make_directories(bundle.in_rootfs("bin")));
    REQUIRE(write_new_file(bundle.in_rootfs("bin/busybox"), *busybox, 0755));
    Spec spec;
    spec.mounts = {spec_mount("/proc", "proc", "proc")};
    std::string said = in_namespaces(0, [&] {
        if (std::string failed = set_up(spec, bundle.rootfs, ""); !failed.empty())
            return failed;
        int out[2];
        if (::pipe(out) < 0)
            return std::string("pipe");
        pid_t shell = ::fork();
        if (shell == 0) {
            ::dup2(out[1], 1);
            ::execl("/bin/busybox", "sh", "-c", "cat /etc/marker; echo; ls /dev | tr '\\n' ' '",
                    nullptr);
            ::_exit(127);
        }
        ::close(out[1]);
        Fd reader(out[0]);
        auto output = read_all(reader.get());
        int status = 0;
        ::waitpid(shell, &status, 0);
        return cat(output ? *output : "unreadable", "status ", status);
    });
    if (skipped(said))
        return;
    CHECK(said == "inside\nfd full null ptmx pts random shm stderr stdin stdout tty urandom zero "
                  "status 0");
}
