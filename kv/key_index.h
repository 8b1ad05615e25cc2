// The MVCC store's in-memory index: for each key, its generations (one per
// life of the key, from creation to the delete that ends it) and the
// revisions at which it changed. The values live in the backend under those
// revisions; the index answers "which revision of this key is visible at
// revision R" and "what does compacting at R drop". Private to kv/mvcc*.cpp.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// A point in the store's history: `main` is the store revision of a write
/// transaction, `sub` the change's position inside it (0, 1, ...).
struct Revision {
    int64_t main = 0;
    int64_t sub = 0;

    auto operator<=>(const Revision&) const = default;
};

/// Whether a change is a put or the delete that ends a key's life.
enum class RecordKind : uint8_t { Put, Tombstone };

/// A change of one key, as compaction reports what it drops.
struct RevisionRecord {
    Revision revision;
    RecordKind kind = RecordKind::Put;
};

/// One life of a key. Its revisions ascend; when the life ended, the last
/// one is the delete (the tombstone).
struct Generation {
    /// The key's create_revision in this life.
    int64_t created = 0;
    /// The key's version at its latest put in this life.
    int64_t version = 0;
    std::vector<Revision> revisions;
};

/// A key's history. The last generation is the current life; an empty last
/// generation means the key does not exist now (it was deleted).
class KeyHistory {
public:
    /// What a key is now, when it exists.
    struct Current {
        Revision revision;
        int64_t created = 0;
        int64_t version = 0;
    };

    /// Records a put at `revision`; `created` and `version` are the key's
    /// create_revision and version after it (a new life starts when the key
    /// does not exist now).
    void put(Revision revision, int64_t created, int64_t version);
    /// Records the delete at `revision` that ends the current life. The key
    /// must exist.
    void tombstone(Revision revision);
    /// The key now, or nullopt when it does not exist.
    std::optional<Current> current() const;
    /// The revision whose value is the key's at store revision `at`, or
    /// nullopt when the key did not exist then.
    std::optional<Revision> visible_at(int64_t at) const;
    /// Compacts at store revision `at` as etcd does: each earlier life whose
    /// delete is at or below `at` goes, and in the life that holds `at` only
    /// the latest revision at or below it stays. Appends the revisions
    /// dropped to `dropped`.
    void compact(int64_t at, std::vector<RevisionRecord>& dropped);
    /// True when nothing is left: the key neither exists now nor has
    /// history a read could reach.
    bool empty() const;
    /// The generations, oldest first.
    const std::vector<Generation>& generations() const { return m_generations; }

private:
    std::vector<Generation> m_generations;
};

/// Every key's history, in key order.
using KeyIndex = std::map<std::string, KeyHistory, std::less<>>;

/// The keys of `index` in the range etcd's (key, range_end) names: an empty
/// `range_end` is `key` alone, "\0" is every key >= `key`, anything else is
/// [key, range_end). Calls `visit(key, history)` in key order.
template <typename Index, typename Visit>
void for_each_in_range(Index& index, std::string_view key, std::string_view range_end,
                       Visit&& visit) {
    if (range_end.empty()) {
        auto found = index.find(key);
        if (found != index.end())
            visit(found->first, found->second);
        return;
    }
    bool unbounded = range_end == std::string_view("\0", 1);
    for (auto it = index.lower_bound(key); it != index.end(); ++it) {
        if (!unbounded && std::string_view(it->first) >= range_end)
            break;
        visit(it->first, it->second);
    }
}

} // namespace keel::kv
