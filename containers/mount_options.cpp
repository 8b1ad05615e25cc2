// mounts[].options as mount(8) and runc spell them, split into what
// mount(2) and mount_setattr(2) take: MS_* flags set and cleared, recursive
// MOUNT_ATTR_* bits, a propagation, keel's own tmpcopyup and idmap, and the
// filesystem's data string made of everything else.
//
// Later options win over earlier ones ("ro,rw" is read-write), as with
// mount(8). Nothing is refused: an option this table does not know is the
// filesystem's to judge, so it goes into the data string.
#include "containers/spec.h"

#include <sys/mount.h>

// musl's <sys/mount.h> lacks the newest flag; the kernel's value.
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

namespace keel::oci {

namespace {

// The kernel's MOUNT_ATTR_* values (<linux/mount.h>, which clashes with
// <sys/mount.h> on older glibc and which musl's headers may lack).
constexpr uint64_t kAttrReadOnly = 0x1;
constexpr uint64_t kAttrNoSuid = 0x2;
constexpr uint64_t kAttrNoDev = 0x4;
constexpr uint64_t kAttrNoExec = 0x8;
constexpr uint64_t kAttrAtimeMask = 0x70;
constexpr uint64_t kAttrRelatime = 0x0;
constexpr uint64_t kAttrNoAtime = 0x10;
constexpr uint64_t kAttrStrictAtime = 0x20;
constexpr uint64_t kAttrNoDirAtime = 0x80;
constexpr uint64_t kAttrNoSymFollow = 0x200000;

enum class Effect { Set, Clear };

struct FlagOption {
    std::string_view name;
    Effect effect;
    unsigned long flags;
};
// mount(8)'s flag options (runc's table): each sets or clears MS_* flags.
constexpr FlagOption kFlagOptions[] = {
    {"defaults", Effect::Set, 0},
    {"ro", Effect::Set, MS_RDONLY},
    {"rw", Effect::Clear, MS_RDONLY},
    {"nosuid", Effect::Set, MS_NOSUID},
    {"suid", Effect::Clear, MS_NOSUID},
    {"nodev", Effect::Set, MS_NODEV},
    {"dev", Effect::Clear, MS_NODEV},
    {"noexec", Effect::Set, MS_NOEXEC},
    {"exec", Effect::Clear, MS_NOEXEC},
    {"sync", Effect::Set, MS_SYNCHRONOUS},
    {"async", Effect::Clear, MS_SYNCHRONOUS},
    {"dirsync", Effect::Set, MS_DIRSYNC},
    {"remount", Effect::Set, MS_REMOUNT},
    {"mand", Effect::Set, MS_MANDLOCK},
    {"nomand", Effect::Clear, MS_MANDLOCK},
    {"noatime", Effect::Set, MS_NOATIME},
    {"atime", Effect::Clear, MS_NOATIME},
    {"nodiratime", Effect::Set, MS_NODIRATIME},
    {"diratime", Effect::Clear, MS_NODIRATIME},
    {"relatime", Effect::Set, MS_RELATIME},
    {"norelatime", Effect::Clear, MS_RELATIME},
    {"strictatime", Effect::Set, MS_STRICTATIME},
    {"nostrictatime", Effect::Clear, MS_STRICTATIME},
    {"lazytime", Effect::Set, MS_LAZYTIME},
    {"nolazytime", Effect::Clear, MS_LAZYTIME},
    {"iversion", Effect::Set, MS_I_VERSION},
    {"noiversion", Effect::Clear, MS_I_VERSION},
    {"nosymfollow", Effect::Set, MS_NOSYMFOLLOW},
    {"symfollow", Effect::Clear, MS_NOSYMFOLLOW},
    {"silent", Effect::Set, MS_SILENT},
    {"loud", Effect::Clear, MS_SILENT},
    {"bind", Effect::Set, MS_BIND},
    {"rbind", Effect::Set, MS_BIND | MS_REC},
};

struct RecursiveOption {
    std::string_view name;
    Effect effect;
    uint64_t attr;
};
// The recursive forms, for mount_setattr(2) with AT_RECURSIVE.
constexpr RecursiveOption kRecursiveOptions[] = {
    {"rro", Effect::Set, kAttrReadOnly},
    {"rrw", Effect::Clear, kAttrReadOnly},
    {"rnosuid", Effect::Set, kAttrNoSuid},
    {"rsuid", Effect::Clear, kAttrNoSuid},
    {"rnodev", Effect::Set, kAttrNoDev},
    {"rdev", Effect::Clear, kAttrNoDev},
    {"rnoexec", Effect::Set, kAttrNoExec},
    {"rexec", Effect::Clear, kAttrNoExec},
    {"rnodiratime", Effect::Set, kAttrNoDirAtime},
    {"rdiratime", Effect::Clear, kAttrNoDirAtime},
    {"rnosymfollow", Effect::Set, kAttrNoSymFollow},
    {"rsymfollow", Effect::Clear, kAttrNoSymFollow},
};

struct AtimeOption {
    std::string_view name;
    uint64_t mode;
};
// The access-time modes are one field, not bits: mount_setattr(2) takes a
// new mode only with the whole field in attr_clr. Turning one off ("ratime")
// goes back to relatime, the kernel's default: there is no fourth mode.
constexpr AtimeOption kAtimeOptions[] = {
    {"rrelatime", kAttrRelatime},       {"rnorelatime", kAttrRelatime},
    {"rnoatime", kAttrNoAtime},         {"ratime", kAttrRelatime},
    {"rstrictatime", kAttrStrictAtime}, {"rnostrictatime", kAttrRelatime},
};

struct PropagationOption {
    std::string_view name;
    Propagation propagation;
    bool recursive;
};
constexpr PropagationOption kPropagationOptions[] = {
    {"private", Propagation::Private, false},       {"rprivate", Propagation::Private, true},
    {"shared", Propagation::Shared, false},         {"rshared", Propagation::Shared, true},
    {"slave", Propagation::Slave, false},           {"rslave", Propagation::Slave, true},
    {"unbindable", Propagation::Unbindable, false}, {"runbindable", Propagation::Unbindable, true},
};

const PropagationOption* find_propagation(std::string_view name) {
    for (const PropagationOption& option : kPropagationOptions)
        if (option.name == name)
            return &option;
    return nullptr;
}

// Applies one option; false when it is none of the known ones.
bool apply_mount_option(MountOptions& out, std::string_view name) {
    for (const FlagOption& option : kFlagOptions) {
        if (option.name != name)
            continue;
        if (option.effect == Effect::Set) {
            out.flags |= option.flags;
            out.cleared &= ~option.flags;
        } else {
            out.cleared |= option.flags;
            out.flags &= ~option.flags;
        }
        return true;
    }
    for (const RecursiveOption& option : kRecursiveOptions) {
        if (option.name != name)
            continue;
        if (option.effect == Effect::Set) {
            out.recursive_set |= option.attr;
            out.recursive_clear &= ~option.attr;
        } else {
            out.recursive_clear |= option.attr;
            out.recursive_set &= ~option.attr;
        }
        return true;
    }
    for (const AtimeOption& option : kAtimeOptions) {
        if (option.name != name)
            continue;
        out.recursive_set = (out.recursive_set & ~kAttrAtimeMask) | option.mode;
        out.recursive_clear |= kAttrAtimeMask;
        return true;
    }
    if (const PropagationOption* option = find_propagation(name)) {
        out.propagation = option->propagation;
        out.propagation_recursive = option->recursive;
        return true;
    }
    if (name == "tmpcopyup") {
        out.copy_up = true;
        return true;
    }
    if (name == "idmap" || name == "ridmap") {
        out.idmap = true;
        out.idmap_recursive = name == "ridmap";
        return true;
    }
    return false;
}

} // namespace

MountOptions parse_mount_options(const std::vector<std::string>& options) {
    MountOptions out;
    for (const std::string& option : options) {
        if (option.empty() || apply_mount_option(out, option))
            continue;
        if (!out.data.empty())
            out.data += ',';
        out.data += option;
    }
    return out;
}

std::optional<PropagationSetting> parse_propagation(std::string_view name) {
    for (const PropagationOption& option : kPropagationOptions)
        if (option.name == name)
            return PropagationSetting{option.propagation, option.recursive};
    return std::nullopt;
}

} // namespace keel::oci
