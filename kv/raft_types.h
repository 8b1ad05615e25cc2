// The values Raft and the storage under it share: log entries, the state
// that must be on disk before a message goes out (term, vote, commit), and
// what a snapshot covers. The Raft core (kv/raft.h) produces them; the
// write-ahead log and the snapshot files (kv/wal.h) keep them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keel::kv {

/// A member's id: never 0 (0 means "none", as in HardState::vote).
using NodeId = uint64_t;
/// A Raft term; 0 before the first election.
using Term = uint64_t;
/// A log position; the first entry is 1, 0 means "before the log".
using Index = uint64_t;

/// What an entry's data holds.
enum class EntryType : uint8_t {
    /// An application command (for the KV: a serialized request), or empty:
    /// the entry a new leader appends to commit one of its own term.
    Normal,
    /// A membership change, encoded by the Raft core.
    ConfChange,
};

/// One log entry.
struct Entry {
    Term term = 0;
    Index index = 0;
    EntryType type = EntryType::Normal;
    std::string data;

    bool operator==(const Entry&) const = default;
};

/// What a member must have on disk before it sends a message that depends
/// on it: its term, whom it voted for in that term (0: nobody) and the
/// highest index it knows to be committed.
struct HardState {
    Term term = 0;
    NodeId vote = 0;
    Index commit = 0;

    bool operator==(const HardState&) const = default;
};

/// The membership: voters and learners (non-voting members that receive the
/// log). A member is in at most one of the two lists.
struct ConfState {
    std::vector<NodeId> voters;
    std::vector<NodeId> learners;

    bool operator==(const ConfState&) const = default;
};

/// What a snapshot covers: the log up to and including `index` (whose
/// entry had `term`) and the membership at that point.
struct SnapshotMeta {
    Index index = 0;
    Term term = 0;
    ConfState conf;

    bool operator==(const SnapshotMeta&) const = default;
};

/// A snapshot: its position and the state machine's serialized state.
struct Snapshot {
    SnapshotMeta meta;
    std::string data;

    bool operator==(const Snapshot&) const = default;
};

} // namespace keel::kv
