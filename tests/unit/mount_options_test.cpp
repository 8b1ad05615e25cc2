// Tests for containers/spec.h's mount options: mount(8)'s flags, their
// recursive forms, propagation, keel's own options and the data string.
#include "containers/spec.h"

#include <doctest/doctest.h>

#include <sys/mount.h>
#ifndef MOUNT_ATTR_RDONLY
#include <linux/mount.h> // musl's <sys/mount.h> lacks mount_setattr(2)'s names
#endif

using namespace keel::oci;

namespace {

MountOptions options_of(std::initializer_list<std::string> list) {
    return parse_mount_options(std::vector<std::string>(list));
}

} // namespace

TEST_CASE("no options: no flags, no data, propagation unchanged") {
    MountOptions parsed = options_of({});
    CHECK(parsed.flags == 0);
    CHECK(parsed.cleared == 0);
    CHECK(parsed.recursive_set == 0);
    CHECK(parsed.recursive_clear == 0);
    CHECK(parsed.propagation == Propagation::Unchanged);
    CHECK_FALSE(parsed.propagation_recursive);
    CHECK_FALSE(parsed.copy_up);
    CHECK_FALSE(parsed.idmap);
    CHECK(parsed.data == "");
}

TEST_CASE("each mount(8) flag option sets its MS_ flag, and its opposite clears it") {
    struct Pair {
        const char* set;
        const char* clear;
        unsigned long flag;
    };
    constexpr Pair kPairs[] = {
        {"ro", "rw", MS_RDONLY},
        {"nosuid", "suid", MS_NOSUID},
        {"nodev", "dev", MS_NODEV},
        {"noexec", "exec", MS_NOEXEC},
        {"sync", "async", MS_SYNCHRONOUS},
        {"mand", "nomand", MS_MANDLOCK},
        {"noatime", "atime", MS_NOATIME},
        {"nodiratime", "diratime", MS_NODIRATIME},
        {"relatime", "norelatime", MS_RELATIME},
        {"strictatime", "nostrictatime", MS_STRICTATIME},
        {"lazytime", "nolazytime", MS_LAZYTIME},
        {"iversion", "noiversion", MS_I_VERSION},
        {"silent", "loud", MS_SILENT},
    };
    for (const Pair& pair : kPairs) {
        CAPTURE(pair.set);
        MountOptions set = options_of({pair.set});
        CHECK(set.flags == pair.flag);
        CHECK(set.cleared == 0);
        MountOptions cleared = options_of({pair.clear});
        CHECK(cleared.flags == 0);
        CHECK(cleared.cleared == pair.flag);
        // The later of the two wins, as with mount(8).
        CHECK(options_of({pair.set, pair.clear}).flags == 0);
        CHECK(options_of({pair.set, pair.clear}).cleared == pair.flag);
        CHECK(options_of({pair.clear, pair.set}).flags == pair.flag);
        CHECK(options_of({pair.clear, pair.set}).cleared == 0);
        CHECK(set.data == "");
        CHECK(cleared.data == "");
    }
    CHECK(options_of({"dirsync"}).flags == MS_DIRSYNC);
    CHECK(options_of({"remount", "ro"}).flags == (MS_REMOUNT | MS_RDONLY));
    CHECK(options_of({"defaults"}).flags == 0);
    CHECK(options_of({"defaults"}).data == "");
}

TEST_CASE("bind and rbind are bind mounts, rbind recursively") {
    CHECK(options_of({"bind"}).flags == MS_BIND);
    CHECK(options_of({"rbind"}).flags == (MS_BIND | MS_REC));
    CHECK(options_of({"rbind", "ro", "nosuid"}).flags ==
          (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
}

TEST_CASE("recursive options set and clear MOUNT_ATTR bits for mount_setattr") {
    MountOptions parsed = options_of({"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime"});
    CHECK(parsed.recursive_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                   MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME));
    CHECK(parsed.recursive_clear == 0);
    CHECK(parsed.flags == 0);

    MountOptions opposite = options_of({"rrw", "rsuid", "rdev", "rexec", "rdiratime"});
    CHECK(opposite.recursive_clear == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                       MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME));
    CHECK(opposite.recursive_set == 0);

    MountOptions later_wins = options_of({"rro", "rrw"});
    CHECK(later_wins.recursive_set == 0);
    CHECK(later_wins.recursive_clear == MOUNT_ATTR_RDONLY);

    MountOptions symlinks = options_of({"rnosymfollow"});
    CHECK(symlinks.recursive_set == MOUNT_ATTR_NOSYMFOLLOW);
    CHECK(options_of({"nosymfollow"}).flags == MS_NOSYMFOLLOW);
}

TEST_CASE("recursive access-time options replace the whole atime field") {
    MountOptions noatime = options_of({"rnoatime"});
    CHECK(noatime.recursive_set == MOUNT_ATTR_NOATIME);
    CHECK(noatime.recursive_clear == MOUNT_ATTR__ATIME);

    MountOptions strict = options_of({"rnoatime", "rstrictatime"});
    CHECK(strict.recursive_set == MOUNT_ATTR_STRICTATIME);
    CHECK(strict.recursive_clear == MOUNT_ATTR__ATIME);

    // Turning noatime off falls back to relatime, the kernel's default.
    MountOptions atime = options_of({"rro", "rnoatime", "ratime"});
    CHECK(atime.recursive_set == MOUNT_ATTR_RDONLY);
    CHECK(atime.recursive_clear == MOUNT_ATTR__ATIME);

    MountOptions relatime = options_of({"rrelatime"});
    CHECK(relatime.recursive_set == MOUNT_ATTR_RELATIME);
    CHECK(relatime.recursive_clear == MOUNT_ATTR__ATIME);
}

TEST_CASE("propagation options name the propagation and whether it is recursive") {
    struct Case {
        const char* name;
        Propagation propagation;
        bool recursive;
    };
    constexpr Case kCases[] = {
        {"private", Propagation::Private, false},
        {"rprivate", Propagation::Private, true},
        {"shared", Propagation::Shared, false},
        {"rshared", Propagation::Shared, true},
        {"slave", Propagation::Slave, false},
        {"rslave", Propagation::Slave, true},
        {"unbindable", Propagation::Unbindable, false},
        {"runbindable", Propagation::Unbindable, true},
    };
    for (const Case& c : kCases) {
        CAPTURE(c.name);
        MountOptions parsed = options_of({"bind", c.name});
        CHECK(parsed.propagation == c.propagation);
        CHECK(parsed.propagation_recursive == c.recursive);
        CHECK(parsed.flags == MS_BIND);
        CHECK(parsed.data == "");
        std::optional<PropagationSetting> setting = parse_propagation(c.name);
        REQUIRE(setting);
        CHECK(setting->propagation == c.propagation);
        CHECK(setting->recursive == c.recursive);
    }
    CHECK(options_of({"rshared", "private"}).propagation == Propagation::Private);
    CHECK_FALSE(options_of({"rshared", "private"}).propagation_recursive);
    CHECK_FALSE(parse_propagation("rslavery"));
    CHECK_FALSE(parse_propagation(""));
}

TEST_CASE("tmpcopyup, idmap and ridmap are keel's to act on, not the filesystem's") {
    MountOptions copy = options_of({"tmpcopyup", "mode=755"});
    CHECK(copy.copy_up);
    CHECK(copy.data == "mode=755");

    MountOptions idmap = options_of({"bind", "idmap"});
    CHECK(idmap.idmap);
    CHECK_FALSE(idmap.idmap_recursive);
    MountOptions ridmap = options_of({"rbind", "ridmap"});
    CHECK(ridmap.idmap);
    CHECK(ridmap.idmap_recursive);
    CHECK(ridmap.data == "");
}

TEST_CASE("every other option goes into the data string, comma-joined in order") {
    MountOptions parsed =
        options_of({"nosuid", "newinstance", "ptmxmode=0666", "noexec", "mode=0620", "gid=5"});
    CHECK(parsed.flags == (MS_NOSUID | MS_NOEXEC));
    CHECK(parsed.data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
    // Near misses of known names are data too: the filesystem judges them.
    CHECK(options_of({"RO", "rfoo", "ro "}).data == "RO,rfoo,ro ");
    CHECK(options_of({"RO", "rfoo", "ro "}).flags == 0);
    CHECK(options_of({"", "x", ""}).data == "x");
}
