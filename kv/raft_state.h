// The state behind RaftNode (internal to kv/raft*.cpp), and the functions
// the files of the core share: raft.cpp (construction, ticks, the Ready
// cycle, the public calls), raft_election.cpp (terms, roles, votes),
// raft_replication.cpp (appends, heartbeats, snapshots, commit),
// raft_read_index.cpp (linearizable reads), raft_membership.cpp
// (membership changes, leadership transfer) and raft_messages.cpp (what
// makes a message from the network acceptable).
#pragma once

#include "kv/progress.h"
#include "kv/raft.h"
#include "kv/raft_log.h"

#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace keel::kv {

/// A read waiting for a quorum to confirm the leader still leads.
struct PendingRead {
    Index index = 0;
    NodeId from = 0;
    std::set<NodeId> acks;
    std::string context;
};

struct RaftNode::State {
    RaftConfig config;
    RaftLog log;
    /// The membership (on every member) and, on the leader, the progress.
    ProgressTracker tracker;

    Term term = 0;
    NodeId vote = 0;
    NodeId leader = 0;
    Role role = Role::Follower;
    int election_elapsed = 0;
    int heartbeat_elapsed = 0;
    int randomized_election_timeout = 0;
    uint64_t rng = 0;
    VoteTally votes;
    /// Leader: the transfer target (0: none).
    NodeId transferee = 0;
    /// Leader: the index of the last membership change proposed.
    Index pending_conf_index = 0;

    /// Memberships after the snapshot: (index of the change, membership
    /// after it), oldest first; the snapshot's membership comes first at
    /// the snapshot's index.
    std::vector<std::pair<Index, ConfState>> conf_history;
    /// The last snapshot the application made (with the data it gave
    /// compact()) or the leader sent (its position only), sent to followers
    /// that need compacted entries; one without data is the application's
    /// to fill before it goes out.
    std::optional<Snapshot> snapshot;
    /// A received snapshot not handed out yet.
    std::optional<Snapshot> snapshot_to_hand_out;

    std::vector<Message> messages;
    std::vector<Message> messages_after_persist;
    /// Leader: entries were proposed since the last Ready. They go to the
    /// followers when the Ready is made, one Append each for all of them,
    /// not one per proposal.
    bool append_pending = false;
    std::vector<ReadState> read_states;
    std::deque<PendingRead> pending_reads;
    /// Leader: reads that arrived before it committed an entry of its term.
    std::vector<Message> reads_waiting_for_commit;

    /// Why the entry source last failed, until the driver takes it.
    std::optional<Error> entry_source_error;

    HardState handed_out_hard;
    NodeId handed_out_leader = 0;
    Role handed_out_role = Role::Follower;

    // raft.cpp
    HardState hard_state() const { return {term, vote, log.committed()}; }
    bool promotable() const { return tracker.is_voter(config.id); }
    /// Queues a message (from and term filled in), before or after persist.
    void send(Message message);
    uint64_t next_random();
    void reset_randomized_election_timeout();

    // raft_election.cpp
    void become_follower(Term new_term, NodeId new_leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    /// Starts an election (a pre-vote round first when configured, unless
    /// `kind` is a transfer).
    void campaign(CampaignKind kind);
    /// The vote round of an election (after a won pre-vote round, or
    /// directly).
    void campaign_vote(CampaignKind kind);
    void tick_election();
    void tick_heartbeat();
    /// The term rules every message goes through first; returns false
    /// when the message is to be dropped.
    bool step_term(const Message& message);
    void handle_vote_request(const Message& message);
    void handle_vote_response(const Message& message);
    void abort_leader_transfer() { transferee = 0; }

    // raft_replication.cpp
    /// Sends an Append (or a snapshot) to `to` if flow control allows;
    /// with `send_if_empty`, also when there are no entries (to carry the
    /// commit index). Returns whether something went out.
    bool maybe_send_append(NodeId to, bool send_if_empty);
    void broadcast_append();
    /// Sends what append_pending holds back (nothing once the leader
    /// stepped down: the new leader's log decides).
    void send_pending_appends();
    void send_heartbeat(NodeId to, const std::string& context);
    void broadcast_heartbeat(const std::string& context);
    /// Appends entries the leader created for `data` (term and index set).
    void append_entries(std::vector<Entry> entries);
    /// Leader: raises the commit index to what a quorum matches (entries
    /// of the current term only). Returns whether it moved.
    bool maybe_commit();
    /// Leader: the commit index moved: tell the followers, serve reads
    /// that waited, and step down if the membership no longer has us.
    void leader_committed();
    /// Raises the commit index and applies the membership changes it
    /// covers.
    void commit_to(Index index);
    void handle_append(const Message& message);
    void handle_heartbeat(const Message& message);
    void handle_snapshot(const Message& message);
    void handle_append_response(const Message& message, Progress& progress);
    void handle_heartbeat_response(const Message& message, Progress& progress);
    /// Leader: its own entries reached the disk.
    void self_persisted();

    // raft_read_index.cpp
    /// A read from the application (from == own id) or a follower.
    void handle_read_index(const Message& message);
    void handle_read_index_response(const Message& message);
    /// A heartbeat response carried a read context: count the ack.
    void ack_read(NodeId from, const std::string& context);
    /// The leader committed an entry of its term: serve waiting reads.
    void release_reads_waiting_for_commit();
    bool committed_current_term() const;

    // raft_membership.cpp
    /// Applies the membership changes in (`from`, `to`] (committed).
    void apply_conf_changes(Index from, Index to);
    /// Sets the membership (tracker, history).
    void set_conf(const ConfState& conf, Index index);
    /// Leader: sends the member whose removal just committed the commit
    /// index, before it is no longer sent anything.
    void tell_removed_member(NodeId id);
    /// Leader: whether learner `id`'s log reaches far enough for it to be
    /// promoted.
    bool learner_in_sync(NodeId id) const;
    /// The membership in effect at `index` (>= the snapshot's index).
    ConfState conf_at(Index index) const;
    /// Leader: a proposal (local or forwarded); returns an error to give
    /// the local caller.
    Result<void> leader_propose(std::vector<Entry> entries);
    Result<void> handle_transfer(NodeId target);
    void handle_timeout_now(const Message& message);
};

/// Checks what the network cannot be trusted with: a message for someone
/// else, from nobody, of an unknown type, or with entries that are not
/// contiguous. Facts about the local log are checked where they are used.
Result<void> validate_message(const Message& message, NodeId self);

} // namespace keel::kv
