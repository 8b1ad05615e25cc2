// The Raft core's in-memory log (internal to kv/raft*.cpp): the positions
// of the entries after the last snapshot, a window of the newest entries
// themselves, and the four positions in the log that the Ready contract
// moves: committed, handed out to apply, applied, and persisted (with how
// far entries were handed out to persist).
//
// Entries that are persisted and applied leave memory once more than a
// window of them is held (release()): a lagging follower's are read back
// from the entry source (the persisted log, kv/raft.h's RaftEntrySource).
// Their terms stay, as runs of one term each, which is what matches() and
// find_conflict_by_term() need: a few runs for the whole log.
#pragma once

#include "base/result.h"
#include "kv/raft_types.h"

#include <cassert>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace keel::kv {

class RaftEntrySource;

class RaftLog {
public:
    /// An empty log (nothing on disk).
    RaftLog() = default;

    /// The log found on disk: a snapshot position and the entries after it,
    /// all persisted. `commit` is clamped to what the log holds.
    void restore(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries, Index commit,
                 Index applied);
    /// Where entries released from memory are read back (null: none are
    /// released).
    void set_entry_source(RaftEntrySource* source) { m_source = source; }

    /// The index of the first entry of the log (the one after the snapshot).
    Index first_index() const { return m_snapshot_index + 1; }
    /// The index of the last entry (the snapshot's index when none is held).
    Index last_index() const { return m_last_index; }
    /// The first entry held in memory (last_index() + 1 when none is).
    Index first_in_memory() const { return m_memory_from; }
    /// The term of the last entry.
    Term last_term() const;
    /// The snapshot's position (0, 0 when none).
    Index snapshot_index() const { return m_snapshot_index; }
    Term snapshot_term() const { return m_snapshot_term; }
    /// The term of the entry at `index`; nullopt when it was compacted away
    /// or is beyond the end. Index 0 has term 0.
    std::optional<Term> term(Index index) const;
    /// Whether the entry at `index` has `term`.
    bool matches(Index index, Term term) const;
    /// Whether a log ending at (`last_index`, `last_term`) is at least as
    /// up to date as this one (Raft §5.4.1).
    bool is_up_to_date(Index last_index, Term last_term) const;
    /// The largest index <= `index` whose term is <= `term` (fast
    /// backtracking), and that entry's term; stops at the snapshot.
    std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;

    /// The entries held in memory.
    const std::deque<Entry>& entries() const { return m_entries; }
    /// The entry at `index` (which must be held in memory).
    const Entry& at(Index index) const {
        assert(index >= m_memory_from && index - m_memory_from < m_entries.size());
        return m_entries[index - m_memory_from];
    }
    /// Entries from `low` to `high` inclusive (all in the log), stopping
    /// once their data exceeds `max_bytes` (at least one is returned).
    /// Entries no longer in memory come from the entry source (fewer may
    /// come back then); its failure, or entries that are not the log's, is
    /// an error.
    Result<std::vector<Entry>> slice(Index low, Index high, size_t max_bytes) const;

    /// Appends entries the leader created (their indexes follow the last).
    void append(std::vector<Entry> entries);
    /// A follower's append after a matching (index, term): entries it
    /// already has are skipped, the first conflicting one and everything
    /// after it are replaced. Returns the index of the last entry of the
    /// message. The caller checked matches(prev_index, prev_term).
    Index append_after(Index prev_index, const std::vector<Entry>& entries);
    /// Replaces the log by a snapshot position (a received snapshot).
    void reset_to_snapshot(Index index, Term term);
    /// Drops the entries up to and including `index` (which must be
    /// applied).
    void compact(Index index, Term term);
    /// With an entry source: drops from memory the oldest entries that are
    /// persisted and applied while more than `max_entries` are held or
    /// their data exceeds `max_bytes`.
    void release(size_t max_entries, size_t max_bytes);

    /// The commit index.
    Index committed() const { return m_committed; }
    /// Raises the commit index (never lowers it; capped at last_index).
    /// Returns whether it moved.
    bool commit_to(Index index);
    /// The last index handed out for applying.
    Index applying() const { return m_applying; }
    /// The last index the application said it applied.
    Index applied() const { return m_applied; }
    /// Committed entries not handed out yet.
    bool has_committed_to_hand_out() const { return m_committed > m_applying; }
    /// Hands out the committed entries not handed out yet (those still held).
    std::vector<Entry> hand_out_committed();
    /// The application applied up to `index`.
    void applied_to(Index index);

    /// The last index known to be on disk.
    Index persisted() const { return m_persisted; }
    /// Entries not handed out yet for persisting.
    bool has_unstable() const { return m_unstable_from <= last_index(); }
    /// Hands out the entries to persist.
    std::vector<Entry> hand_out_unstable();
    /// The application persisted entries up to (`index`, `term`): if the log
    /// still has that entry, everything up to it is on disk.
    void persisted_to(Index index, Term term);
    /// The application persisted a snapshot at `index`.
    void snapshot_persisted(Index index);

private:
    // Entries first..(the next run's first - 1) have `term`.
    struct TermRun {
        Index first = 0;
        Term term = 0;
    };
    // The run that holds `index` (in the log, after the snapshot).
    std::vector<TermRun>::const_iterator run_of(Index index) const;
    void push_entry(Entry entry);
    // Forgets the entries from `index` on (a conflicting suffix).
    void truncate_from(Index index);

    RaftEntrySource* m_source = nullptr;
    Index m_snapshot_index = 0;
    Term m_snapshot_term = 0;
    Index m_last_index = 0;
    std::vector<TermRun> m_terms; // the whole log after the snapshot
    std::deque<Entry> m_entries;  // indexes m_memory_from ... m_last_index
    Index m_memory_from = 1;
    size_t m_memory_bytes = 0; // entry data held in m_entries
    Index m_committed = 0;
    Index m_applying = 0;
    Index m_applied = 0;
    Index m_persisted = 0;
    Index m_unstable_from = 1; // first index not yet handed out to persist
};

} // namespace keel::kv
