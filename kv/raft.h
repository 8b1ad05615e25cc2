// The Raft core: a pure state machine in the style of etcd's raft package.
//
// Messages (step), ticks (tick) and client requests (propose, read_index,
// propose_conf_change, transfer_leadership) go in; Ready batches come out:
// state and entries to persist, messages to send, committed entries to
// apply, read states to answer. No sockets, files, threads or clocks in
// here: the caller owns the disk, the network and the clock, which is what
// lets tests/sim drive a whole cluster from one seeded PRNG.
//
// The Ready contract (see docs/kv.md):
//   1. send `messages` (they may go out before anything is on disk: the
//      leader replicates while its own disk write runs);
//   2. persist `snapshot`, `entries` and `hard_state` (one atomic write);
//   3. send `messages_after_persist` (votes and acknowledgements that
//      promise what step 2 wrote);
//   4. apply `snapshot`, then `committed` in order, answer `read_states`;
//   5. call advance(ready) before the next ready().
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "kv/raft_types.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace keel::kv {

class RaftLog;
class ProgressTracker;

/// A member's role.
enum class Role : uint8_t {
    Follower,
    /// Asking for pre-votes: the term is not raised until a quorum says it
    /// would vote, so a partitioned member cannot disrupt the cluster.
    PreCandidate,
    Candidate,
    Leader,
};
inline constexpr auto kRoleNames = name_table<Role>({
    {Role::Follower, "follower"},
    {Role::PreCandidate, "pre-candidate"},
    {Role::Candidate, "candidate"},
    {Role::Leader, "leader"},
});

/// What a message is.
enum class MessageType : uint8_t {
    PreVote,
    PreVoteResponse,
    Vote,
    VoteResponse,
    /// Entries from the leader (possibly none: a commit update or a probe).
    Append,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    /// The leader's snapshot, for a follower whose next entry was compacted.
    Snapshot,
    /// A proposal a follower forwards to its leader (term 0: not part of
    /// any term's traffic).
    Propose,
    /// A read a follower forwards to its leader (term 0).
    ReadIndex,
    ReadIndexResponse,
    /// "Campaign now": the last step of a leadership transfer.
    TimeoutNow,
};
inline constexpr auto kMessageTypeNames = name_table<MessageType>({
    {MessageType::PreVote, "pre-vote"},
    {MessageType::PreVoteResponse, "pre-vote-response"},
    {MessageType::Vote, "vote"},
    {MessageType::VoteResponse, "vote-response"},
    {MessageType::Append, "append"},
    {MessageType::AppendResponse, "append-response"},
    {MessageType::Heartbeat, "heartbeat"},
    {MessageType::HeartbeatResponse, "heartbeat-response"},
    {MessageType::Snapshot, "snapshot"},
    {MessageType::Propose, "propose"},
    {MessageType::ReadIndex, "read-index"},
    {MessageType::ReadIndexResponse, "read-index-response"},
    {MessageType::TimeoutNow, "timeout-now"},
});

/// Why a vote or pre-vote is asked for.
enum class CampaignKind : uint8_t {
    /// The election timeout ran out: members that heard from a leader
    /// recently ignore the request (check-quorum's lease).
    Election,
    /// The leader asked this member to take over (TimeoutNow): the lease
    /// does not apply.
    Transfer,
};
inline constexpr auto kCampaignKindNames = name_table<CampaignKind>({
    {CampaignKind::Election, "election"},
    {CampaignKind::Transfer, "transfer"},
});

/// One Raft message. Which fields matter depends on `type`.
struct Message {
    MessageType type = MessageType::Append;
    NodeId from = 0;
    NodeId to = 0;
    /// The sender's term (0 for Propose and ReadIndex).
    Term term = 0;
    /// Append: the term of the entry at `index`. Vote/PreVote: the term of
    /// the candidate's last entry. AppendResponse (reject): the term of the
    /// entry at `reject_hint` in the follower's log.
    Term log_term = 0;
    /// Append: the index before `entries`. Vote/PreVote: the candidate's
    /// last index. AppendResponse: the last index the follower now matches
    /// (accepted) or the index it rejected. ReadIndexResponse: the read index.
    Index index = 0;
    /// Append: the leader's commit index. Heartbeat: what the follower may
    /// commit (no more than it is known to hold).
    Index commit = 0;
    /// AppendResponse (reject): where the leader should probe next: the
    /// follower's last index with a term <= `log_term` of the request.
    Index reject_hint = 0;
    /// Responses: the request was refused.
    bool reject = false;
    /// Vote and PreVote: why (the lease is ignored for a transfer).
    CampaignKind campaign = CampaignKind::Election;
    /// Append and Propose.
    std::vector<Entry> entries;
    /// Snapshot.
    Snapshot snapshot;
    /// Heartbeat, HeartbeatResponse, ReadIndex, ReadIndexResponse: the read
    /// request's context, chosen by the application (unique per read).
    std::string context;
};

/// An answered linearizable read: once the application has applied up to
/// `index`, a read that carried `context` may be served from local state.
struct ReadState {
    Index index = 0;
    std::string context;
};

/// The result of a snapshot transfer, as the transport saw it.
enum class SnapshotStatus : uint8_t {
    Finish,
    Failure,
};

/// A single-server membership change.
enum class ConfChangeType : uint8_t {
    AddVoter,
    AddLearner,
    RemoveNode,
    /// A learner becomes a voter.
    PromoteLearner,
    /// A promotion the leader refused because the learner's log was not
    /// in sync with its own (a follower's promotion reaches the leader as
    /// a forwarded proposal; this entry brings the refusal back to it).
    /// It changes nothing; its proposer hears ErrorCode::LearnerNotReady.
    RefusedPromotion,
};
inline constexpr auto kConfChangeTypeNames = name_table<ConfChangeType>({
    {ConfChangeType::AddVoter, "add-voter"},
    {ConfChangeType::AddLearner, "add-learner"},
    {ConfChangeType::RemoveNode, "remove-node"},
    {ConfChangeType::PromoteLearner, "promote-learner"},
    {ConfChangeType::RefusedPromotion, "refused-promotion"},
});

/// A membership change, stored in an Entry of type ConfChange.
struct ConfChange {
    ConfChangeType type = ConfChangeType::AddVoter;
    NodeId node = 0;
    /// Opaque to Raft (the KV stores the member's URLs here).
    std::string context;
};

/// Encodes a membership change as an entry's data.
std::string encode_conf_change(const ConfChange& change);
/// Decodes an entry's data; an error for data that is no membership change.
Result<ConfChange> decode_conf_change(std::string_view data);
/// The membership after `change`, or an error saying why it cannot apply
/// (adding a voter twice, removing a member that is not one, removing the
/// last voter, promoting a non-learner).
Result<ConfState> apply_conf_change(const ConfState& conf, const ConfChange& change);

/// Where the core reads log entries it no longer holds in memory (in the
/// style of etcd's raft.Storage.Entries): the persisted log. The core keeps
/// only a window of recent entries in memory once they are persisted and
/// applied, and asks for older ones when a follower that lags needs them.
class RaftEntrySource {
public:
    virtual ~RaftEntrySource() = default;
    /// The persisted entries from `low` to `high` inclusive, stopping once
    /// their data exceeds `max_bytes` (at least one entry). Fewer than asked
    /// is fine; none, or damaged ones, is an error the core passes on
    /// (RaftNode::take_entry_source_error).
    virtual Result<std::vector<Entry>> entries(Index low, Index high, size_t max_bytes) = 0;
};

/// How a member behaves.
struct RaftConfig {
    /// This member's id (never 0).
    NodeId id = 0;
    /// Ticks without hearing from a leader before campaigning; the actual
    /// timeout is random in [election_ticks, 2 * election_ticks).
    int election_ticks = 10;
    /// Ticks between a leader's heartbeats.
    int heartbeat_ticks = 1;
    /// Ask for pre-votes before raising the term.
    bool pre_vote = true;
    /// A leader without a quorum of recent contacts steps down, and a
    /// member that heard from a leader recently ignores vote requests.
    bool check_quorum = true;
    /// The most bytes of entry data in one Append (at least one entry goes).
    size_t max_size_per_msg = 1 << 20;
    /// The most Appends in flight to one follower (flow control).
    size_t max_inflight_msgs = 256;
    /// Seeds the PRNG behind the randomized election timeout (mixed with
    /// `id`), so a run replays exactly.
    uint64_t seed = 0;
    /// Where entries released from memory are read back (it must outlive
    /// the node). Null: every entry since the last snapshot stays in
    /// memory.
    RaftEntrySource* entry_source = nullptr;
    /// With an entry source: persisted and applied entries leave memory
    /// once more than this many are held, or more than max_bytes_in_memory
    /// of entry data (the newest stay; one batch of unapplied or unpersisted
    /// entries may hold more).
    size_t max_entries_in_memory = 4096;
    size_t max_bytes_in_memory = 8u << 20;
};

/// What a member finds on its disk when it starts, or what a new cluster's
/// member starts from.
struct RestoreState {
    HardState hard;
    /// The last snapshot (the leader sends it to followers that need
    /// entries it covers).
    std::optional<Snapshot> snapshot;
    /// The persisted entries after the snapshot, in order.
    std::vector<Entry> entries;
    /// The highest index the application had applied before it stopped (0:
    /// the snapshot's index); committed entries after it are handed out again.
    Index applied = 0;
    /// For a member of a NEW cluster with nothing on disk: the initial
    /// voters. The core writes them to the log as entries 1..n (committed,
    /// term 1), so a member added later learns them from the log. Empty for
    /// a member that joins a running cluster or restarts.
    ConfState initial;
    /// The context each initial member's entry carries (the KV puts the
    /// member's name and URLs there); members without one get none.
    std::map<NodeId, std::string> initial_contexts;
};

/// What the application must do next (see the contract at the top).
struct Ready {
    /// Persist (changed since the last Ready).
    std::optional<HardState> hard_state;
    /// Append to the log on disk (replacing any entries at those indexes
    /// and after).
    std::vector<Entry> entries;
    /// A snapshot received from the leader: persist it (dropping the log
    /// on disk), then apply it.
    std::optional<Snapshot> snapshot;
    /// May be sent before the write of this Ready is durable.
    std::vector<Message> messages;
    /// Only after the write of this Ready is durable.
    std::vector<Message> messages_after_persist;
    /// Apply in order (after `entries` are persisted).
    std::vector<Entry> committed;
    /// Answered reads.
    std::vector<ReadState> read_states;
    /// Soft state: who leads as far as this member knows (0: nobody).
    NodeId leader = 0;
    /// Soft state: this member's role.
    Role role = Role::Follower;
};

/// How the leader replicates to one follower.
enum class ProgressState : uint8_t {
    /// One Append per heartbeat until the follower's position is found.
    Probe,
    /// Appends pipelined up to the inflight window.
    Replicate,
    /// A snapshot is on its way; nothing else is sent.
    Snapshot,
};
inline constexpr auto kProgressStateNames = name_table<ProgressState>({
    {ProgressState::Probe, "probe"},
    {ProgressState::Replicate, "replicate"},
    {ProgressState::Snapshot, "snapshot"},
});

/// The leader's view of one member.
struct PeerStatus {
    NodeId id = 0;
    Index match = 0;
    Index next = 0;
    ProgressState state = ProgressState::Probe;
    bool learner = false;
    bool recent_active = false;
    size_t inflight = 0;
};

/// A member's state for status output and tests.
struct RaftStatus {
    NodeId id = 0;
    Term term = 0;
    NodeId vote = 0;
    Role role = Role::Follower;
    NodeId leader = 0;
    Index commit = 0;
    Index applied = 0;
    Index first_index = 0;
    Index last_index = 0;
    /// The first entry held in memory (older ones are read from the entry
    /// source); last_index + 1 when none is.
    Index first_in_memory = 0;
    /// The leader's transfer target (0: none).
    NodeId transferee = 0;
    ConfState conf;
    /// Filled on the leader only.
    std::vector<PeerStatus> peers;
};

/// One Raft member: the pure state machine.
class RaftNode {
public:
    /// A member that starts from `restore` (see RestoreState).
    RaftNode(RaftConfig config, RestoreState restore);
    ~RaftNode();
    RaftNode(RaftNode&&) noexcept;
    RaftNode& operator=(RaftNode&&) noexcept;

    /// One unit of logical time: drives election timeouts and heartbeats.
    void tick();
    /// Feeds a message from the network. A malformed or impossible message
    /// is an error (the state is unchanged), never a crash.
    Result<void> step(const Message& message);
    /// Proposes a command. A follower forwards it to its leader; with no
    /// leader known: ErrorCode::NoLeader; during a leadership transfer:
    /// ErrorCode::ProposalDropped. Success means accepted for replication,
    /// not committed.
    Result<void> propose(std::string data);
    /// Proposes a membership change (forwarded like propose). The leader
    /// refuses (ErrorCode::ProposalDropped) while another change is
    /// uncommitted or before it committed an entry of its own term.
    Result<void> propose_conf_change(const ConfChange& change);
    /// Asks for a linearizable read: a ReadState with `context` comes out
    /// in a later Ready once the leader confirmed it still leads.
    Result<void> read_index(std::string context);
    /// Leader only: hands leadership to the voter `target`.
    Result<void> transfer_leadership(NodeId target);

    /// Whether ready() has anything.
    bool has_ready() const;
    /// The next batch of work (see the contract at the top).
    Ready ready();
    /// The application finished `ready` (persisted, sent, applied).
    void advance(const Ready& ready);

    /// The transport could not reach `peer`: the leader probes it again.
    void report_unreachable(NodeId peer);
    /// The transport finished (or failed) sending a snapshot to `peer`.
    void report_snapshot(NodeId peer, SnapshotStatus status);
    /// The application saved a snapshot of its state up to `index` (applied
    /// already): the in-memory log before it is dropped, and the leader
    /// sends this snapshot to followers that need entries before it.
    /// Returns the snapshot's meta (term and membership at `index`), which
    /// the application stores with `data`. The core keeps `data` to send;
    /// given none (and for a snapshot received from a leader, whose data
    /// it hands out once), its Snapshot messages carry none, and the
    /// application fills them in from what it stored before it sends them.
    Result<SnapshotMeta> compact(Index index, std::string data);

    /// Term, role, leader, commit, applied and the leader's view of peers.
    RaftStatus status() const;
    /// The entries held in memory (from status().first_in_memory), for
    /// tests.
    std::vector<Entry> log_entries() const;
    /// The term of the entry at `index`, held in memory or not; nullopt
    /// before the snapshot or beyond the last entry.
    std::optional<Term> log_term(Index index) const;
    /// Why the entry source last failed (and forgets it): the entries it
    /// could not read were not sent. The driver stops the member on it.
    std::optional<Error> take_entry_source_error();
    /// This member's id.
    NodeId id() const;

    /// The state behind the node: internal to kv/raft*.cpp (raft_state.h).
    struct State;

private:
    std::unique_ptr<State> m_state;
};

} // namespace keel::kv
