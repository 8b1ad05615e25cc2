// containers/userns: `keel run --userns` — a container whose root is an
// unprivileged id range of the host (uid 0 inside = the range's first id
// outside). What the options ask for (--userns host|auto[:size=N],
// --uidmap, --gidmap: podman's spellings), the ranges keel may hand out
// (the `keel` lines of /etc/subuid and /etc/subgid, else a built-in pool)
// and the pure choice of a free one; then, with the system (userns_setup.cpp):
// the lease taken under a lock, the user namespace made to carry a
// mapping for idmapped mounts, and the directories the mapped root must
// be able to pass through. Included through containers/containers.h.
#pragma once

#include "base/fd.h"
#include "base/names.h"
#include "base/result.h"
#include "containers/spec.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel {
class JsonWriter;
}

namespace keel::containers {

/// --userns: whether the container gets a user namespace, and how its ids
/// are chosen.
enum class UsernsMode {
    Host,   ///< none: the container's root is the host's root (Docker's default)
    Auto,   ///< a free range leased from keel's pool
    Mapped, ///< the ranges --uidmap and --gidmap give
};

inline constexpr auto kUsernsModeNames = name_table<UsernsMode>({
    {UsernsMode::Host, "host"},
    {UsernsMode::Auto, "auto"},
    {UsernsMode::Mapped, "mapped"},
});

/// The ids a range of --userns auto spans unless auto:size=N says.
inline constexpr uint32_t kDefaultUsernsSize = 65536;

/// Lines of one id map the kernel takes (since Linux 4.15).
inline constexpr size_t kMaxIdMapLines = 340;

/// A user namespace's uid and gid maps. Both empty: no user namespace.
struct IdMaps {
    std::vector<oci::IdMapping> uids;
    std::vector<oci::IdMapping> gids;

    bool empty() const { return uids.empty() && gids.empty(); }
};

/// What --userns, --uidmap and --gidmap asked for.
struct UsernsRequest {
    UsernsMode mode = UsernsMode::Host;
    /// Auto: how many ids the range spans.
    uint32_t size = kDefaultUsernsSize;
    /// Mapped: the maps as given (a missing --gidmap copies --uidmap).
    IdMaps maps;
};

/// Reads the options: `mode` is --userns's value (none: host, or mapped
/// when maps are given), `uidmaps` and `gidmaps` the --uidmap and --gidmap
/// values ("CONTAINER:HOST:SIZE"). Errors name the option and what is
/// wrong: an unknown mode, a malformed or overlapping mapping, maps with
/// --userns host or auto, a map that leaves container id 0 unmapped (the
/// container's setup runs as its root).
Result<UsernsRequest> parse_userns_options(std::optional<std::string_view> mode,
                                           std::span<const std::string_view> uidmaps,
                                           std::span<const std::string_view> gidmaps);

/// One "CONTAINER:HOST:SIZE" mapping (podman's --uidmap), all three
/// decimal, SIZE at least 1, neither range past 2^32-1.
Result<oci::IdMapping> parse_id_mapping(std::string_view text);

/// Checks one map as the kernel would take it: 1 to kMaxIdMapLines lines,
/// no two overlapping inside or outside, container id 0 mapped.
/// `option` names it in errors.
Result<void> check_id_map(std::span<const oci::IdMapping> map, std::string_view option);

/// The text of /proc/PID/uid_map (gid_map) for `map`: "inside outside
/// count" lines.
std::string format_id_map(std::span<const oci::IdMapping> map);

/// The host id container id `id` maps to; none when unmapped.
std::optional<uint32_t> host_id_of(std::span<const oci::IdMapping> map, uint32_t id);

/// A span of host ids.
struct IdRange {
    uint32_t start = 0;
    uint32_t size = 0;
};

/// The built-in pool, used when /etc/subuid (/etc/subgid) has no line for
/// keel: host ids from 100000 up, room for 65000 ranges of the default
/// size (it ends below 2^32 - 1, the kernel's invalid id).
inline constexpr IdRange kBuiltinIdPool{100000, 65000u * kDefaultUsernsSize};

/// The user whose /etc/subuid and /etc/subgid lines give keel's pool.
inline constexpr std::string_view kSubidUser = "keel";

/// The ranges an /etc/subuid (or /etc/subgid) text gives `user`:
/// "NAME:START:COUNT" lines (blank lines and #-comments skipped; a line
/// naming another user, by name or uid, is skipped). A malformed line of
/// `user`'s is an error naming `filename` and the line.
Result<std::vector<IdRange>> parse_subid_file(std::string_view text, std::string_view filename,
                                              std::string_view user);

/// The first `size` ids of `pool` (first fit, in the order given) that
/// overlap none of `taken`; none when the pool is full.
std::optional<uint32_t> first_free_range(std::span<const IdRange> pool,
                                         std::span<const IdRange> taken, uint32_t size);

/// The host ids `maps`' lines use, as ranges.
std::vector<IdRange> host_ranges(std::span<const oci::IdMapping> map);

/// --userns auto's choice: a range of `size` from `uid_pool` and one from
/// `gid_pool`, each free of what the other containers' maps in `others`
/// use; container id 0 is each range's first id. ENOSPC, naming the pool,
/// when one is full.
Result<IdMaps> choose_auto_maps(std::span<const IdRange> uid_pool,
                                std::span<const IdRange> gid_pool, std::span<const IdMaps> others,
                                uint32_t size);

/// Writes container.json's "userns" member: the mode and the maps
/// (linux.uidMappings' and gidMappings' spelling), which are the lease.
void write_userns_record(JsonWriter& json, UsernsMode mode, const IdMaps& maps);

/// The maps read back from a container.json's "userns" member (none when
/// it has none); malformed: an error.
Result<IdMaps> read_userns_record(std::string_view container_json);

// ---- with the system (userns_setup.cpp) -----------------------------------

/// A container's maps, and the lock that keeps another `keel run --userns
/// auto` from choosing the same range until the container's record
/// (container.json, which names the maps) is written.
struct UsernsLease {
    /// ROOT/userns.lock, held (flock) while it is open; none for host and
    /// mapped.
    Fd lock;
    IdMaps maps;
};

/// Where the pool comes from (a seam for tests).
struct IdPoolFiles {
    std::string subuid = "/etc/subuid";
    std::string subgid = "/etc/subgid";
};

/// The maps `request` means for a container under `state_root`: none for
/// host, the given ones for mapped; for auto a free range of keel's pool
/// (from `files`, else kBuiltinIdPool) not used by any container recorded
/// under ROOT/containers, chosen and returned with ROOT/userns.lock held.
Result<UsernsLease> lease_id_maps(const std::string& state_root, const UsernsRequest& request,
                                  const IdPoolFiles& files = {});

/// A user namespace with `maps`, for idmapped mounts: made by a
/// short-lived child (unshare(CLONE_NEWUSER)) whose maps keel writes; the
/// returned descriptor (its /proc/PID/ns/user) keeps the namespace alive
/// after the child has gone.
Result<Fd> make_user_namespace(const IdMaps& maps);

/// Lets a container's mapped root (an unprivileged id of the host) reach
/// `directories` (each inside the one before it, the first under `top`)
/// without opening them to anyone else: the directories from `top` down to
/// the first one's parent get search permission for others (o+x, never
/// read); each of `directories` gets the group container gid 0 maps to and
/// mode 0710 (its owner stays; the mapped root can pass, not list or
/// change it).
Result<void> admit_mapped_root(const std::string& top, std::span<const std::string> directories,
                               const IdMaps& maps);

} // namespace keel::containers
