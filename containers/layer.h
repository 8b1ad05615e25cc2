// containers/layer: applying an image layer (a tar stream) to a directory
// so that nothing in it can reach outside that directory, and unpacking a
// layer into a store as a whole or not at all.
//
// Every path is resolved inside the target (openat2 RESOLVE_IN_ROOT): ".."
// and absolute names are normalised inside it, as runtimes do, and a
// symlink an earlier entry made is followed, if at all, only to somewhere
// inside the target. Each entry is made by name under its opened parent
// (O_EXCL, O_NOFOLLOW), replacing what was there per the OCI image layer
// spec (a directory over a directory merges, anything else replaces).
// Whiteouts (".wh.NAME", ".wh..wh..opq") hide lower content, never what
// the same layer wrote, whatever their order in the archive.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "containers/tar.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::oci {

/// What a layer's whiteouts do to the target.
enum class Whiteouts {
    /// Delete in place: ".wh.NAME" removes NAME, ".wh..wh..opq" empties the
    /// directory of what was there before the layer (the target holds the
    /// lower layers' content: a flattened root).
    Apply,
    /// Record them as overlayfs does, for a target that becomes an overlay
    /// lower of its own: NAME becomes a character device 0:0, an opaque
    /// directory gets the xattr trusted.overlay.opaque=y. Needs root.
    Overlay,
};

inline constexpr auto kWhiteoutsNames = name_table<Whiteouts>({
    {Whiteouts::Apply, "apply"},
    {Whiteouts::Overlay, "overlay"},
});

/// Whose the extracted files are.
enum class Ownership {
    /// The uid and gid the archive names, when running as root (otherwise
    /// the caller's: only root may give files away).
    Archive,
    /// The caller's, always.
    Caller,
};

inline constexpr auto kOwnershipNames = name_table<Ownership>({
    {Ownership::Archive, "archive"},
    {Ownership::Caller, "caller"},
});

/// What becomes of names that would reach outside the target.
enum class EscapingNames {
    /// Contained: ".." and absolute names are resolved inside the target,
    /// as runtimes do, and symlinks are followed only to inside it.
    Contain,
    /// Refused: an entry whose name or hard-link target is absolute or has
    /// a ".." component, or whose parent path goes through a symlink, fails
    /// the layer (what an image store wants: no layer tool writes those).
    Refuse,
};

inline constexpr auto kEscapingNamesNames = name_table<EscapingNames>({
    {EscapingNames::Contain, "contain"},
    {EscapingNames::Refuse, "refuse"},
});

struct LayerOptions {
    Whiteouts whiteouts = Whiteouts::Apply;
    EscapingNames escaping = EscapingNames::Contain;
    Ownership ownership = Ownership::Archive;
    /// Character and block devices are made only when set; otherwise a
    /// layer that holds one fails (fifos are always made).
    bool allow_devices = false;
    /// Setuid and setgid bits of files (and security.capability xattrs)
    /// are kept only when set. A directory's setgid bit (group
    /// inheritance, no privilege) is always kept.
    bool keep_setid = false;
};

/// What a layer held.
struct LayerSummary {
    /// Entries read, whiteouts included.
    uint64_t entries = 0;
    /// Bytes of file data written.
    uint64_t bytes = 0;
};

/// Applies the (uncompressed) tar stream `layer` to the directory
/// `target_directory` (an fd; O_PATH is enough). Modes, mtimes (a
/// directory's after its contents) and, per options.ownership, owners are
/// set; user.* xattrs kept. A failure leaves the target partly changed: the
/// error names the entry; use unpack_layer() for all-or-nothing.
Result<LayerSummary> apply_layer(ByteSource& layer, int target_directory,
                                 const LayerOptions& options);

/// Unpacks a layer (gzip, zstd or plain tar, found by magic number) into
/// the new directory STORE/NAME: into a temporary directory STORE/.NAME-*
/// first, synced and renamed into place only once the whole layer applied;
/// on failure the temporary directory is removed, so STORE/NAME either is a
/// complete layer or does not exist. `name` is one path component; EEXIST
/// when STORE/NAME already exists. Returns the summary.
Result<LayerSummary> unpack_layer(ByteSource& layer, const std::string& store_directory,
                                  std::string_view name, const LayerOptions& options);

} // namespace keel::oci
