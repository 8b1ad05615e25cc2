// Automatic compaction (--auto-compaction-mode, --auto-compaction-retention)
// as etcd 3.4 does it, as a pure policy: the member samples its revision on
// a timer and is told which revision to compact at, if any; the leader
// proposes that as a Compact through the log.
//
// periodic: the retention is a duration ("1h", "30m", "1h30m", or a bare
// number of hours). Every tenth of the period (of an hour at most) the
// revision is sampled; once a period has passed since the start or the last
// compaction (after the first, an hour at most), the store is compacted at
// the oldest sample kept, the revision of about one period ago.
// revision: the retention is a number of revisions N; every 5 minutes the
// store is compacted at (current - N), if that is positive and new.
#pragma once

#include "base/result.h"
#include "kv/server_config.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

namespace keel::kv {

/// How often revision mode compacts (etcd's revInterval).
inline constexpr std::chrono::milliseconds kRevisionCompactionInterval = std::chrono::minutes(5);

/// A retention as given: a duration (periodic) or a revision count.
struct CompactionRetention {
    AutoCompactionMode mode = AutoCompactionMode::Periodic;
    /// Periodic: how much history to keep.
    std::chrono::milliseconds period{0};
    /// Revision: how many revisions to keep.
    int64_t revisions = 0;
};

/// Reads --auto-compaction-retention for `mode` as etcd does: a bare
/// non-negative integer is hours (periodic) or revisions (revision);
/// anything else must be a Go duration ("90s", "1.5h", "1h30m"), which
/// means periodic whatever the mode. nullopt: "0" or a zero duration,
/// compaction off. The error names the flag and the value.
Result<std::optional<CompactionRetention>> parse_compaction_retention(AutoCompactionMode mode,
                                                                      std::string_view text);

/// The policy: call due() every interval(); compact at what it returns,
/// and call compacted() once that compaction applied (or was refused as
/// compacted already).
class AutoCompactor {
public:
    AutoCompactor(CompactionRetention retention, std::chrono::steady_clock::time_point start);

    /// How often due() wants to be called.
    std::chrono::milliseconds interval() const;
    /// Samples `revision` and says whether to compact now, and where.
    std::optional<int64_t> due(std::chrono::steady_clock::time_point now, int64_t revision);
    /// The compaction at `revision` took effect at `now`.
    void compacted(int64_t revision, std::chrono::steady_clock::time_point now);

private:
    CompactionRetention m_retention;
    std::chrono::steady_clock::time_point m_last_success;
    /// Periodic: the first compaction waits a whole period, later ones at
    /// most an hour.
    std::chrono::milliseconds m_wait;
    /// Periodic: the revisions sampled, oldest first, one period's worth.
    std::deque<int64_t> m_samples;
    /// Revision: the last revision compacted at.
    int64_t m_last_revision = 0;
};

} // namespace keel::kv
