// The storage seam under the MVCC store: an ordered map of byte strings with
// atomic batched commits. Two implementations: one in memory (unit tests,
// simulation) and one on an LMDB file (the persistent store). The MVCC store
// (kv/mvcc.h) is the only user; it keeps its revision records, its meta
// values and the aux records of the layers above it (leases) here.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keel::kv {

/// One change in a commit.
struct BackendWrite {
    enum class Kind : uint8_t { Put, Delete };
    Kind kind = Kind::Put;
    std::string key;
    /// The value of a Put; empty for a Delete.
    std::string value;
};

/// What a scan's visitor tells the scan.
enum class ScanStep : uint8_t { Continue, Stop };

/// Called with each key and value a scan finds, in ascending key order.
/// The views are valid only during the call.
using ScanVisitor = std::function<ScanStep(std::string_view key, std::string_view value)>;

/// An ordered key/value store with atomic commits. Keys compare as unsigned
/// bytes (memcmp order).
class Backend {
public:
    virtual ~Backend() = default;

    /// The value of `key`, or nullopt when it has none.
    virtual Result<std::optional<std::string>> get(std::string_view key) const = 0;
    /// Visits the keys in [from, to) in ascending order; an empty `to` means
    /// no upper bound.
    virtual Result<void> scan(std::string_view from, std::string_view to,
                              const ScanVisitor& visit) const = 0;
    /// Applies `writes` in order, all or none: after a crash either every
    /// one of them is there or none is. A batching backend may lose the
    /// commits since its last flush() in a crash, in order, never a part of
    /// one; reads see them at once.
    virtual Result<void> commit(std::span<const BackendWrite> writes) = 0;
    /// Makes every commit so far durable (at once for a backend that does
    /// not batch).
    virtual Result<void> flush() { return {}; }
    /// Bytes the data takes now, free pages not counted: what the space
    /// quota measures, and what a compaction brings down (a file's size
    /// would not shrink). A backend that cannot tell says 0.
    virtual Result<uint64_t> size_in_use() const { return uint64_t{0}; }
};

/// A backend in memory: for unit tests and simulations. Starts empty.
std::unique_ptr<Backend> make_memory_backend();

/// How an LMDB commit reaches the disk.
enum class LmdbSync : uint8_t {
    /// fsync on every commit: a commit that returned survives power loss.
    Durable,
    /// fsync the data but not the meta page: a power loss may undo the last
    /// commit, never corrupt the file. Enough under a Raft log that replays
    /// from the store's consistent index.
    NoMetaSync,
};

/// When LMDB commits reach the file.
enum class LmdbCommit : uint8_t {
    /// Each commit() is an LMDB transaction of its own.
    Each,
    /// Commits accumulate in one LMDB transaction until flush(), or every
    /// kLmdbBatchLimit commits: one fsync for many writes. A failed commit
    /// undoes only itself (the batch is begun again from a copy of the
    /// writes it held). A crash loses the commits since the last flush
    /// together with the consistent index they carried, so the Raft log
    /// replays them (etcd's batched backend).
    Batched,
};

/// Batched commits flush on their own after this many.
inline constexpr int kLmdbBatchLimit = 10000;

/// Opens (or creates) the LMDB file `path` (a single file, not a
/// directory; its lock file is `path`-lock). `map_size` bounds the file's
/// size: commits past it fail with ENOSPC. The backend flushes when
/// destroyed.
Result<std::unique_ptr<Backend>> open_lmdb_backend(const std::string& path, uint64_t map_size,
                                                   LmdbSync sync,
                                                   LmdbCommit commits = LmdbCommit::Each);

} // namespace keel::kv
