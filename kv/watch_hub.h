// The watch hub: fans the events of applied writes out to watchers with
// etcd's guarantees. Ordered (a watcher's events come in revision order),
// unique (no event twice), atomic (one revision's events in one delivery),
// reliable (no gap), resumable (a watcher may start at a past revision and
// catches up from the store) and bookmarkable (no event at or below a
// reported progress revision comes later).
//
// A pure core: no sockets, clocks or threads. Output goes to WatchSinks
// (one per gRPC Watch stream); a sink that falls behind (too many bytes
// queued) stops getting live events, its watchers remember the next
// revision each needs and catch up from the store when the sink drains, so
// memory stays bounded however slow a client is.
//
// Matching: watchers of one key sit in a hash map by key, prefix watchers
// in a hash map by prefix (probed at each prefix length in use), watchers
// of every key from some key on in an ordered map by that key, and other
// ranges in an interval tree. A put costs the matching watchers plus a few
// lookups, not a pass over every watcher.
#pragma once

#include "base/result.h"
#include "kv/mvcc.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace keel::kv {

/// A watcher's id within its sink (etcd's watch_id, per stream).
using WatchId = int64_t;

/// What a watcher watches (etcd's WatchCreateRequest).
struct WatchSpec {
    /// The key, or the first key of the range (range_end as in
    /// RangeRequest: empty = the key alone, "\0" = every key from `key`).
    std::string key;
    std::string range_end;
    /// The first revision to report; 0: the next one.
    int64_t start_revision = 0;
    /// The id to give the watcher; 0: the sink's next free one (etcd's
    /// AutoWatchID).
    WatchId id = 0;
    PrevKv prev_kv = PrevKv::Omit;
    /// Filters: leave out puts, or deletes.
    bool no_put = false;
    bool no_delete = false;
};

/// Where a watcher's output goes (one per gRPC Watch stream). The hub calls
/// it from inside its own calls: a sink must not call back into the hub
/// from these.
class WatchSink {
public:
    virtual ~WatchSink() = default;
    /// Events of consecutive revisions for watcher `id`, whole revisions,
    /// oldest first; `revision` = the header revision to report.
    virtual void deliver(WatchId id, std::vector<Event> events, int64_t revision) = 0;
    /// The watcher is cancelled (and already gone from the hub) because the
    /// revision it needs next fell below the compaction: etcd answers
    /// compact_revision and canceled=true.
    virtual void compacted(WatchId id, int64_t compact_revision) = 0;
    /// Bytes the sink has queued but not yet written (the slow consumer
    /// check).
    virtual size_t pending_bytes() const = 0;
};

/// The watchers of every sink over one MVCC store.
class WatchHub {
public:
    /// Watches `store`, whose current revision counts as notified. A sink
    /// with more than `max_pending_bytes` queued gets no live events.
    explicit WatchHub(const MvccStore& store, size_t max_pending_bytes = 4 << 20);
    ~WatchHub();
    WatchHub(const WatchHub&) = delete;
    WatchHub& operator=(const WatchHub&) = delete;

    /// Adds a watcher to `sink`. It delivers nothing itself: a watcher that
    /// starts at or before the last notified revision catches up from the
    /// store in resume(sink), which the caller calls once it has answered
    /// the create (etcd sends "created" before any event); one that starts
    /// later gets live events from its start on. Errors: a requested id
    /// the sink already has (etcd's "mvcc: duplicate watch ID provided on
    /// the WatchStream").
    Result<WatchId> add(WatchSink& sink, WatchSpec spec);
    /// Removes watcher `id` of `sink` (nothing when there is none).
    void cancel(WatchSink& sink, WatchId id);
    /// Removes every watcher of `sink` (its stream ended).
    void remove_sink(WatchSink& sink);

    /// The events of one applied revision (already in the store, in the
    /// order they were made). Called once per revision, in order.
    void notify(std::span<const Event> events, int64_t revision);
    /// Catches up the watchers of `sink` that are behind (new ones with a
    /// past start, or left behind while the sink was slow) from the store,
    /// a bounded stretch of revisions per delivery, until they are live or
    /// the sink is full again; one whose next revision was compacted away
    /// is cancelled with compacted(). Error: a failed store read (the
    /// watcher stays behind; a later resume tries again).
    Result<void> resume(WatchSink& sink);
    /// After MvccStore::restore (a snapshot): every watcher continues from
    /// the next revision it needs, caught up from the store by resume().
    void restored();

    /// The revision every watcher of `sink` has been given all events up
    /// to, for a progress notify; nullopt while one is catching up (etcd
    /// sends no progress then).
    std::optional<int64_t> progress(const WatchSink& sink) const;
    /// The same for one watcher; nullopt for an unknown one or one that is
    /// catching up.
    std::optional<int64_t> progress(const WatchSink& sink, WatchId id) const;
    /// Watchers in the hub (all sinks).
    size_t size() const { return m_watcher_count; }
    /// The watchers of `sink` that are catching up.
    size_t behind(const WatchSink& sink) const;

private:
    struct Watcher;
    struct SinkWatchers;
    struct Index;

    /// Takes `watcher` out of the matching index.
    void unindex(Watcher& watcher);
    /// Marks every live watcher of `sink` as behind from `revision` on.
    void fall_behind(SinkWatchers& sink, int64_t revision);
    /// Catches one watcher up; false when the sink filled up first.
    Result<bool> catch_up(SinkWatchers& sink, Watcher& watcher);

    const MvccStore& m_store;
    size_t m_max_pending_bytes;
    /// The last revision notify() was given (or the store's at the start).
    int64_t m_notified = 0;
    size_t m_watcher_count = 0;
    std::unordered_map<const WatchSink*, std::unique_ptr<SinkWatchers>> m_sinks;
    std::unique_ptr<Index> m_index;
};

} // namespace keel::kv
