// containers/layer.cpp: layers applied to a directory inside a TempDir.
// Each case checks what the layer made and, for the malicious ones, that
// nothing appeared or changed outside the target: the TempDir around it
// holds only what the test put there, and host files keep their content.
// Needs root for owners, devices and trusted.* xattrs.
#include "containers/layer.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/tar_writer.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

using namespace keel;
using namespace keel::oci;
using keel::testing::run_shell;
using keel::testing::TarWriter;
using keel::testing::TempDir;
using keel::testing::TestEntry;

namespace {

// A target directory "root" inside a TempDir, with a file "outside" beside
// it that no layer may reach.
struct Target {
    TempDir dir;
    std::string root = dir / "root";
    Fd fd;
    Target() {
        REQUIRE(make_directories(root).has_value());
        REQUIRE(write_new_file(dir / "outside", "outside\n").has_value());
        fd = open_file(root, O_PATH | O_DIRECTORY).value();
    }
    Result<LayerSummary> apply(const std::string& archive, LayerOptions options = {}) {
        MemorySource source(archive);
        return apply_layer(source, fd.get(), options);
    }
    std::string at(const std::string& path) const { return root + "/" + path; }
    // Nothing but root/ and outside (unchanged) beside the target.
    void check_contained() const {
        CHECK(list_directory(dir.path()).value() == std::vector<std::string>{"outside", "root"});
        CHECK(read_file(dir / "outside").value() == "outside\n");
    }
};

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, path);
    return st;
}

std::string layer_error(const Result<LayerSummary>& result) {
    REQUIRE_FALSE(result.has_value());
    return result.error().to_string();
}

// A name no host has, for the paths a layer tries to escape to.
std::string unique_name(std::string_view what) {
    return cat("keel-layer-test-", what, "-", ::getpid());
}

} // namespace

TEST_CASE("a layer GNU tar wrote is applied with its modes, mtimes, links and data") {
    Target target;
    std::string tree = target.dir / "tree";
    REQUIRE(make_directories(tree + "/etc/ssl").has_value());
    REQUIRE(write_new_file(tree + "/etc/hostname", "box\n", 0640).has_value());
    REQUIRE(write_new_file(tree + "/etc/ssl/cert", std::string(100000, 'c')).has_value());
    REQUIRE(::symlink("ssl/cert", (tree + "/etc/cert").c_str()) == 0);
    REQUIRE(::link((tree + "/etc/hostname").c_str(), (tree + "/etc/hostname2").c_str()) == 0);
    REQUIRE(::mkfifo((tree + "/etc/fifo").c_str(), 0600) == 0);
    run_shell(cat("touch -h -d @1500000000 ", tree, "/etc/* ", tree, "/etc ", tree,
                  "/etc/ssl/cert ", tree, "/etc/ssl"));
    run_shell(cat("tar -C ", tree, " --format=pax -czf ", target.dir / "layer.tgz", " ."));
    Fd archive = open_file(target.dir / "layer.tgz", O_RDONLY).value();
    auto source = decompressed(std::make_unique<FdSource>(archive.get())).value();
    auto summary = apply_layer(*source, target.fd.get(), {});
    INFO((summary ? std::string() : summary.error().to_string()));
    REQUIRE(summary.has_value());
    REQUIRE(::unlink((target.dir / "layer.tgz").c_str()) == 0);
    run_shell(cat("rm -rf ", tree));
    target.check_contained();
    CHECK(summary->bytes == 100000 + 4);
    CHECK(read_file(target.at("etc/hostname")).value() == "box\n");
    CHECK(read_file(target.at("etc/ssl/cert")).value() == std::string(100000, 'c'));
    CHECK((lstat_of(target.at("etc/hostname")).st_mode & 07777) == 0640);
    CHECK(lstat_of(target.at("etc/hostname")).st_ino ==
          lstat_of(target.at("etc/hostname2")).st_ino);
    CHECK(S_ISLNK(lstat_of(target.at("etc/cert")).st_mode));
    CHECK(S_ISFIFO(lstat_of(target.at("etc/fifo")).st_mode));
    // Directories' mtimes hold although entries were made in them later.
    CHECK(lstat_of(target.at("etc")).st_mtime == 1500000000);
    CHECK(lstat_of(target.at("etc/ssl")).st_mtime == 1500000000);
    CHECK(lstat_of(target.at("etc/cert")).st_mtime == 1500000000);
    CHECK(lstat_of(target.at("etc/ssl/cert")).st_mtime == 1500000000);
}

TEST_CASE("'..' and absolute names are normalised inside the target") {
    Target target;
    std::string name = unique_name("dotdot");
    TarWriter tar;
    tar.add({.name = "../../../../tmp/" + name, .data = "dotdot"});
    tar.add({.name = "/abs/" + name, .data = "abs"});
    tar.add({.name = "a/../../" + name, .data = "up"});
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(read_file(target.at("tmp/" + name)).value() == "dotdot");
    CHECK(read_file(target.at("abs/" + name)).value() == "abs");
    CHECK(read_file(target.at(name)).value() == "up");
    CHECK_FALSE(path_exists("/tmp/" + name));
    CHECK_FALSE(path_exists("/abs"));
    target.check_contained();
}

TEST_CASE("a symlink to /etc is followed only to the target's own /etc") {
    std::string passwd = read_file("/etc/passwd").value();
    Target target;
    TarWriter tar;
    tar.add({.name = "etc/", .type = '5', .mode = 0755});
    tar.add({.name = "a", .type = '2', .link = "/etc"});
    tar.add({.name = "a/passwd", .data = "root::0:0::/:/bin/sh\n"});
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(read_file(target.at("etc/passwd")).value() == "root::0:0::/:/bin/sh\n");
    CHECK(read_file("/etc/passwd").value() == passwd);
    target.check_contained();

    // With no /etc in the target, the link leads nowhere and is refused.
    Target bare;
    TarWriter dangling;
    dangling.add({.name = "a", .type = '2', .link = "/etc"});
    dangling.add({.name = "a/" + unique_name("passwd"), .data = "x"});
    CHECK(layer_error(bare.apply(dangling.finish())).find("symlink to nothing") !=
          std::string::npos);
    CHECK_FALSE(path_exists("/etc/" + unique_name("passwd")));
    bare.check_contained();
}

TEST_CASE("a symlink up and out with '..' leads back to the target's root") {
    Target target;
    TarWriter tar;
    tar.add({.name = "a", .type = '2', .link = "../../.."});
    tar.add({.name = "a/x", .data = "inside"});
    tar.add({.name = "b", .type = '2', .link = "../outside"});
    tar.add({.name = "b", .data = "replaced the link"}); // never written through it
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(read_file(target.at("x")).value() == "inside");
    CHECK(S_ISREG(lstat_of(target.at("b")).st_mode));
    target.check_contained();
}

TEST_CASE("hard links reach only files inside the target") {
    Target target;
    TarWriter to_host;
    to_host.add({.name = "p", .type = '1', .link = "/etc/passwd"});
    CHECK(layer_error(target.apply(to_host.finish()))
              .starts_with("entry 1 (`p`) at byte 0: hard link target `etc/passwd`"));
    TarWriter up;
    up.add({.name = "o", .type = '1', .link = "../outside"});
    CHECK(layer_error(target.apply(up.finish())).find("hard link target `outside`") !=
          std::string::npos);
    TarWriter through_link;
    through_link.add({.name = "etc", .type = '2', .link = "/etc"});
    through_link.add({.name = "etc2", .type = '5'});
    through_link.add({.name = "q", .type = '1', .link = "etc/passwd"});
    CHECK_FALSE(target.apply(through_link.finish()).has_value());
    CHECK(lstat_of("/etc/passwd").st_nlink == 1);
    target.check_contained();

    Target inside;
    TarWriter tar;
    tar.add({.name = "etc/passwd", .data = "mine"});
    tar.add({.name = "p", .type = '1', .link = "/etc/passwd"});
    tar.add({.name = "q", .type = '1', .link = "../../etc/passwd"});
    REQUIRE(inside.apply(tar.finish()).has_value());
    CHECK(lstat_of(inside.at("p")).st_ino == lstat_of(inside.at("etc/passwd")).st_ino);
    CHECK(lstat_of(inside.at("q")).st_ino == lstat_of(inside.at("etc/passwd")).st_ino);
    inside.check_contained();
}

TEST_CASE("device nodes are refused unless allowed") {
    Target target;
    TarWriter tar;
    tar.add({.name = "dev/null", .type = '3', .mode = 0666, .major = 1, .minor = 3});
    CHECK(layer_error(target.apply(tar.finish())) ==
          "entry 1 (`dev/null`) at byte 0: device nodes are refused (LayerOptions::allow_devices "
          "is off)");
    CHECK_FALSE(path_exists(target.at("dev/null")));
    if (::geteuid() != 0)
        return;
    REQUIRE(target.apply(tar.finish(), {.allow_devices = true}).has_value());
    struct stat st = lstat_of(target.at("dev/null"));
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(1, 3));
    CHECK((st.st_mode & 07777) == 0666);
}

TEST_CASE("entries after a directory replaced by a symlink go where the symlink leads") {
    // The unpacker keeps the directories it is writing into open; a
    // replaced one must not be written into any more.
    TarWriter tar;
    tar.add({.name = "b/", .type = '5'});
    tar.add({.name = "a/", .type = '5'});
    tar.add({.name = "a/x", .data = "x"});
    tar.add({.name = "a", .type = '2', .link = "b"});
    tar.add({.name = "a/y", .data = "through the link"});
    Target target;
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(S_ISLNK(lstat_of(target.at("a")).st_mode));
    CHECK(read_file(target.at("b/y")).value() == "through the link");
    CHECK_FALSE(path_exists(target.at("b/x")));
    target.check_contained();
    // Refusing symlinks in names, the same layer fails at a/y.
    Target strict;
    std::string message =
        layer_error(strict.apply(tar.finish(), {.escaping = EscapingNames::Refuse}));
    CHECK(message.find("a/y") != std::string::npos);
}

TEST_CASE("files get the archive's modes whatever the umask, and owners under a setgid directory") {
    TarWriter tar;
    tar.add({.name = "d/", .type = '5'});
    tar.add({.name = "d/group-writable", .data = "g", .mode = 0664});
    tar.add({.name = "d/read-only", .data = "r", .mode = 0444});
    tar.add({.name = "d/script", .data = "#!", .mode = 0775});
    tar.add({.name = "d/fifo", .type = '6', .mode = 0660});
    tar.add({.name = "shared/file", .data = "s", .gid = 0});
    Target target;
    REQUIRE(make_directories(target.at("shared")).has_value());
    bool root = ::geteuid() == 0;
    if (root) {
        REQUIRE(::chown(target.at("shared").c_str(), 0, 4321) == 0);
        REQUIRE(::chmod(target.at("shared").c_str(), 02775) == 0);
    }
    mode_t saved = ::umask(027);
    auto applied = target.apply(tar.finish());
    ::umask(saved);
    REQUIRE(applied.has_value());
    CHECK((lstat_of(target.at("d/group-writable")).st_mode & 07777) == 0664);
    CHECK((lstat_of(target.at("d/read-only")).st_mode & 07777) == 0444);
    CHECK(read_file(target.at("d/read-only")).value() == "r");
    CHECK((lstat_of(target.at("d/script")).st_mode & 07777) == 0775);
    CHECK((lstat_of(target.at("d/fifo")).st_mode & 07777) == 0660);
    if (root)
        CHECK(lstat_of(target.at("shared/file")).st_gid == 0);
}

TEST_CASE("setuid and setgid bits of files are kept only when asked") {
    TarWriter tar;
    tar.add({.name = "bin/su", .data = "#!", .mode = 06755});
    tar.add({.name = "shared/", .type = '5', .mode = 02775});
    Target stripped;
    REQUIRE(stripped.apply(tar.finish()).has_value());
    CHECK((lstat_of(stripped.at("bin/su")).st_mode & 07777) == 0755);
    CHECK((lstat_of(stripped.at("shared")).st_mode & 07777) == 02775);
    Target kept;
    REQUIRE(kept.apply(tar.finish(), {.keep_setid = true}).has_value());
    CHECK((lstat_of(kept.at("bin/su")).st_mode & 07777) == 06755);
}

TEST_CASE("owners come from the archive as root, from the caller when asked") {
    if (::geteuid() != 0)
        return;
    TarWriter tar;
    tar.add({.name = "d/", .type = '5', .uid = 1234, .gid = 5678});
    tar.add({.name = "d/f", .uid = 1234, .gid = 5678});
    tar.add({.name = "d/l", .type = '2', .link = "f", .uid = 4321, .gid = 8765});
    Target archive;
    REQUIRE(archive.apply(tar.finish()).has_value());
    CHECK(lstat_of(archive.at("d")).st_uid == 1234);
    CHECK(lstat_of(archive.at("d/f")).st_gid == 5678);
    CHECK(lstat_of(archive.at("d/l")).st_uid == 4321);
    Target caller;
    REQUIRE(caller.apply(tar.finish(), {.ownership = Ownership::Caller}).has_value());
    CHECK(lstat_of(caller.at("d/f")).st_uid == 0);
}

TEST_CASE("a pax header cannot rename an entry out of the target") {
    Target target;
    std::string name = unique_name("pax");
    TarWriter tar;
    tar.pax({{"path", "../../../../../tmp/" + name}, {"linkpath", "/etc/shadow"}});
    tar.add({.name = "harmless", .type = '2', .link = "x"});
    tar.pax({{"path", "../" + name}});
    tar.add({.name = "harmless2", .data = "data"});
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(S_ISLNK(lstat_of(target.at("tmp/" + name)).st_mode));
    CHECK(read_file(target.at(name)).value() == "data");
    CHECK_FALSE(path_exists("/tmp/" + name));
    target.check_contained();
}

TEST_CASE("an existing entry is replaced per the layer spec: a file never written through") {
    Target target;
    REQUIRE(make_directories(target.at("was-dir/sub")).has_value());
    REQUIRE(write_new_file(target.at("was-dir/sub/f"), "old").has_value());
    REQUIRE(write_new_file(target.at("was-file"), "old").has_value());
    REQUIRE(make_directories(target.at("merged")).has_value());
    REQUIRE(write_new_file(target.at("merged/lower"), "lower").has_value());
    REQUIRE(::symlink("../../outside", target.at("link").c_str()) == 0);
    TarWriter tar;
    tar.add({.name = "was-dir", .data = "now a file"});
    tar.add({.name = "was-file/", .type = '5'});
    tar.add({.name = "merged/", .type = '5', .mode = 0700});
    tar.add({.name = "merged/upper", .data = "upper"});
    tar.add({.name = "link", .data = "not through the link"});
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(read_file(target.at("was-dir")).value() == "now a file");
    CHECK(S_ISDIR(lstat_of(target.at("was-file")).st_mode));
    CHECK(read_file(target.at("merged/lower")).value() == "lower");
    CHECK(read_file(target.at("merged/upper")).value() == "upper");
    CHECK((lstat_of(target.at("merged")).st_mode & 07777) == 0700);
    CHECK(read_file(target.at("link")).value() == "not through the link");
    target.check_contained();
}

TEST_CASE("whiteouts applied in place remove lower content, never the layer's own") {
    Target target;
    for (std::string dir : {"a", "d/deep", "o/sub"})
        REQUIRE(make_directories(target.at(dir)).has_value());
    for (std::string file : {"a/keep", "a/gone", "d/x", "d/deep/y", "o/old1", "o/sub/old2"})
        REQUIRE(write_new_file(target.at(file), "lower").has_value());
    TarWriter tar;
    tar.add({.name = "a/.wh.gone"});
    tar.add({.name = ".wh.d"});
    tar.add({.name = "o/new-before", .data = "layer"}); // before the marker: stays
    tar.add({.name = "o/.wh..wh..opq"});
    tar.add({.name = "o/new-after", .data = "layer"});
    tar.add({.name = "n/made", .data = "layer"});
    tar.add({.name = "n/.wh.made"}); // the same layer's file: stays
    tar.add({.name = "a/.wh.never-there"});
    tar.add({.name = "missing/.wh.x"});
    tar.add({.name = ".wh..wh.plnk/1.2"}); // aufs metadata: skipped
    REQUIRE(target.apply(tar.finish()).has_value());
    CHECK(path_exists(target.at("a/keep")));
    CHECK_FALSE(path_exists(target.at("a/gone")));
    CHECK_FALSE(path_exists(target.at("a/.wh.gone")));
    CHECK_FALSE(path_exists(target.at("d")));
    CHECK(list_directory(target.at("o")).value() ==
          std::vector<std::string>{"new-after", "new-before"});
    CHECK(path_exists(target.at("n/made")));
    CHECK_FALSE(path_exists(target.at("missing")));
    CHECK_FALSE(path_exists(target.at(".wh..wh.plnk")));
    target.check_contained();
}

TEST_CASE("whiteouts in overlay form become 0:0 devices and an opaque xattr") {
    if (::geteuid() != 0)
        return;
    Target target;
    TarWriter tar;
    tar.add({.name = "a/.wh.gone"});
    tar.add({.name = "o/.wh..wh..opq"});
    tar.add({.name = "o/", .type = '5', .mode = 0750});
    tar.add({.name = "o/new", .data = "layer"});
    tar.add({.name = ".wh.top"});
    REQUIRE(target.apply(tar.finish(), {.whiteouts = Whiteouts::Overlay}).has_value());
    struct stat gone = lstat_of(target.at("a/gone"));
    CHECK(S_ISCHR(gone.st_mode));
    CHECK(gone.st_rdev == makedev(0, 0));
    CHECK(S_ISCHR(lstat_of(target.at("top")).st_mode));
    char value[8] = {};
    CHECK(::lgetxattr(target.at("o").c_str(), "trusted.overlay.opaque", value, sizeof value) == 1);
    CHECK(value[0] == 'y');
    CHECK(read_file(target.at("o/new")).value() == "layer");
    CHECK((lstat_of(target.at("o")).st_mode & 07777) == 0750);
    // Forged overlay xattrs in the archive are not applied.
    TarWriter forged;
    forged.pax({{"SCHILY.xattr.trusted.overlay.opaque", "y"}, {"SCHILY.xattr.user.ok", "1"}});
    forged.add({.name = "f/", .type = '5'});
    REQUIRE(target.apply(forged.finish(), {.whiteouts = Whiteouts::Overlay}).has_value());
    CHECK(::lgetxattr(target.at("f").c_str(), "trusted.overlay.opaque", value, sizeof value) < 0);
    target.check_contained();
}

TEST_CASE("bad archives fail the layer with the entry named") {
    Target target;
    TarWriter tar;
    tar.add({.name = "fine", .data = "x"});
    std::string bad = TarWriter::header({.name = "etc/passwd"});
    bad[100] = '1';
    tar.raw(bad);
    CHECK(layer_error(target.apply(tar.finish())) ==
          "entry 2 (`etc/passwd`) at byte 1024: header checksum mismatch");
    TarWriter huge;
    huge.add({.name = "big", .size_field = int64_t(1) << 40});
    CHECK(layer_error(target.apply(huge.finish())).find("truncated") != std::string::npos);
    TarWriter long_name;
    long_name.gnu_long('L', std::string(4097, 'n'));
    long_name.add({.name = "x"});
    CHECK(layer_error(target.apply(long_name.finish())).find("exceeds") != std::string::npos);
    TarWriter whiteout_of_dots;
    whiteout_of_dots.add({.name = "a/.wh.."});
    CHECK(layer_error(target.apply(whiteout_of_dots.finish())).find("names no entry") !=
          std::string::npos);
    target.check_contained();
}

TEST_CASE("unpack_layer renames a complete layer into place and leaves nothing of a failed one") {
    TempDir store;
    TarWriter tar;
    tar.add({.name = "bin/", .type = '5', .mode = 0755});
    tar.add({.name = "bin/tool", .data = "tool", .mode = 0755});
    std::string good = tar.finish();
    std::string compressed = store / "layer.gz";
    REQUIRE(write_new_file(compressed + ".in", good).has_value());
    run_shell(cat("gzip -c ", compressed, ".in > ", compressed, " && rm ", compressed, ".in"));
    std::string gz = read_file(compressed).value();
    REQUIRE(::unlink(compressed.c_str()) == 0);

    MemorySource source(gz);
    auto summary = unpack_layer(source, store.path(), "sha256-aa", {});
    REQUIRE(summary.has_value());
    CHECK(summary->entries == 2);
    CHECK(read_file(store / "sha256-aa/bin/tool").value() == "tool");
    CHECK((lstat_of(store / "sha256-aa").st_mode & 07777) == 0755);
    CHECK(list_directory(store.path()).value() == std::vector<std::string>{"sha256-aa"});

    MemorySource again(gz);
    auto twice = unpack_layer(again, store.path(), "sha256-aa", {});
    REQUIRE_FALSE(twice.has_value());
    CHECK(twice.error().code() == EEXIST);

    std::string truncated = good.substr(0, 700);
    MemorySource cut(truncated);
    auto failed = unpack_layer(cut, store.path(), "sha256-bb", {});
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().to_string().starts_with("unpack layer `sha256-bb`: entry 2"));
    CHECK(list_directory(store.path()).value() == std::vector<std::string>{"sha256-aa"});

    MemorySource any(good);
    CHECK_FALSE(unpack_layer(any, store.path(), "../escape", {}).has_value());
}

TEST_CASE(
    "with escaping names refused, '..', absolute names and symlinked parents fail the layer") {
    LayerOptions strict{.escaping = EscapingNames::Refuse};
    auto refused = [&](const std::vector<TestEntry>& entries) {
        Target target;
        TarWriter tar;
        for (const TestEntry& entry : entries)
            tar.add(entry);
        std::string message = layer_error(target.apply(tar.finish(), strict));
        target.check_contained();
        return message;
    };
    CHECK(refused({{.name = "a/../../x", .data = "up"}}).starts_with("entry 1 (`a/../../x`)"));
    CHECK(refused({{.name = "/etc/x", .data = "abs"}}).starts_with("entry 1 (`/etc/x`)"));
    CHECK(refused({{.name = "f", .data = "x"}, {.name = "l", .type = '1', .link = "/etc/passwd"}})
              .starts_with("entry 2 (`l`)"));
    CHECK(refused({{.name = "etc/", .type = '5', .mode = 0755},
                   {.name = "a", .type = '2', .link = "/etc"},
                   {.name = "a/passwd", .data = "x"}})
              .starts_with("entry 3 (`a/passwd`)"));

    // What layer tools write still applies: absolute symlink targets,
    // relative hard links, "./" prefixes.
    Target target;
    TarWriter tar;
    tar.add({.name = "./bin/", .type = '5', .mode = 0755});
    tar.add({.name = "./bin/busybox", .data = "elf"});
    tar.add({.name = "./bin/sh", .type = '2', .link = "/bin/busybox"});
    tar.add({.name = "./bin/ls", .type = '1', .link = "./bin/busybox"});
    REQUIRE(target.apply(tar.finish(), strict).has_value());
    CHECK(read_file(target.at("bin/ls")).value() == "elf");
}
