// The leader's view of each member (internal to kv/raft*.cpp): how far its
// log matches, where to send next, the flow-control state (probe,
// pipelined replicate with an inflight window, snapshot), and the quorum
// arithmetic over the voters (commit index, vote tally, recent activity).
#pragma once

#include "kv/raft.h"

#include <cstddef>
#include <deque>
#include <map>

namespace keel::kv {

/// The leader's view of one member.
struct Progress {
    Index match = 0;
    Index next = 1;
    ProgressState state = ProgressState::Probe;
    /// Probe: an Append was sent and nothing heard since (wait for a
    /// response or the next heartbeat response).
    bool probe_sent = false;
    /// Snapshot: the index of the snapshot on its way.
    Index pending_snapshot = 0;
    /// Heard from since the last check-quorum round.
    bool recent_active = false;
    bool learner = false;
    /// Replicate: the last index of each Append in flight, oldest first.
    std::deque<Index> inflights;

    /// Probe from `next` again (after a rejection or an unreachable report).
    void become_probe();
    /// Pipeline from match + 1.
    void become_replicate();
    /// A snapshot at `index` was sent.
    void become_snapshot(Index index);
    /// An acknowledgement up to `index`: returns whether match moved.
    bool maybe_update(Index index);
    /// A rejection of the Append after `rejected`, with the follower's hint
    /// of where to probe next: returns false for a stale rejection.
    bool maybe_decrease(Index rejected, Index probe_at);
    /// An Append whose last entry is `last` (0 entries: `last` is 0) went out.
    void sent_entries(Index last, size_t count);
    /// Whether no Append may go out now (heartbeats still do).
    bool paused(size_t max_inflight) const;
};

/// The members and their progress.
class ProgressTracker {
public:
    /// Makes the membership `conf`, keeping the progress of members that
    /// stay and starting new ones at `next`.
    void set_conf(const ConfState& conf, Index next);
    /// The membership.
    const ConfState& conf() const { return m_conf; }
    bool is_voter(NodeId id) const;
    bool is_learner(NodeId id) const;
    bool is_member(NodeId id) const { return is_voter(id) || is_learner(id); }
    /// The number of votes that make a majority of the voters.
    size_t quorum() const { return m_conf.voters.size() / 2 + 1; }

    /// The progress of `id` (nullptr for a non-member).
    Progress* find(NodeId id);
    const Progress* find(NodeId id) const;
    /// Every member's progress, by id.
    std::map<NodeId, Progress>& all() { return m_progress; }
    const std::map<NodeId, Progress>& all() const { return m_progress; }
    /// Starts every member over (a new leader): match 0, next `next`, probe.
    void reset(Index next);

    /// The highest index a quorum of voters matches.
    Index quorum_match() const;
    /// Whether a quorum of voters was heard from recently (`self` counts).
    bool quorum_active(NodeId self) const;
    /// Clears every recent_active mark except `self`'s.
    void clear_recent_active(NodeId self);

private:
    ConfState m_conf;
    std::map<NodeId, Progress> m_progress;
};

/// The outcome of a vote count.
enum class VoteResult : uint8_t { Pending, Won, Lost };

/// Votes collected in one election.
class VoteTally {
public:
    void clear() { m_votes.clear(); }
    /// Records the first answer of `id` (later ones are ignored).
    void record(NodeId id, bool granted) { m_votes.emplace(id, granted); }
    /// Whether the voters in `conf` decided.
    VoteResult result(const ConfState& conf) const;

private:
    std::map<NodeId, bool> m_votes;
};

} // namespace keel::kv
