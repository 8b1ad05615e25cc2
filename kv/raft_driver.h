// The Raft driver: runs one member of the KV's Raft group on a Reactor. It
// joins the pure Raft core (kv/raft.h) to the member's disk (the
// write-ahead log and snapshot files of kv/wal.h, kv/snapshot_file.h), to
// the state machine committed entries are applied to and to the transport
// that carries messages to the other members (kv/state_machine.h), and
// turns the core's Ready batches into disk writes, sends and applies.
//
// Everything one loop iteration brings in (messages, proposals, ticks) is
// handled as one Ready from one deferred call, so the log is synced once
// for all of it (group commit). Proposals carry an 8-byte request id in
// front of the command, so that the member that proposed an entry can hand
// the state machine's response to the waiting caller when it applies it;
// callers hear back exactly once, never before their call returns: the
// response, or NoLeader, ProposalDropped, RequestTimedOut or ServerStopped.
// Every snapshot_count applied entries the state machine's state is saved
// as a snapshot file and the log before it released; every tick, what was
// applied since the last is flushed to the state machine's store.
#pragma once

#include "base/reactor.h"
#include "base/result.h"
#include "base/storage.h"
#include "kv/raft.h"
#include "kv/raft_types.h"
#include "kv/state_machine.h"
#include "kv/wal.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keel::kv {

/// How a member runs.
struct RaftDriverOptions {
    /// The member's data dir: the log in wal/, snapshot files in snap/.
    std::string data_dir;
    /// The cluster and member id the data dir must belong to.
    WalMetadata metadata;
    /// A new cluster with nothing on disk: the initial voters. Empty to
    /// restart from the data dir or to join a running cluster.
    ConfState initial;
    /// The context each initial member's membership entry carries (the
    /// KV puts the member's name and peer URLs there).
    std::map<NodeId, std::string> initial_contexts;
    /// One Raft tick (etcd's --heartbeat-interval).
    std::chrono::milliseconds tick{100};
    /// Ticks without a leader before campaigning (etcd's
    /// --election-timeout divided by the tick).
    int election_ticks = 10;
    /// Applied entries between snapshots (etcd's --snapshot-count).
    uint64_t snapshot_count = 100000;
    /// A proposal, membership change or read not answered in this time
    /// fails with ErrorCode::RequestTimedOut.
    std::chrono::milliseconds request_timeout{7000};
    /// Every file operation goes through this; it must outlive the driver.
    Storage* storage = &system_storage();
    /// Seeds the Raft core's randomized election timeouts.
    uint64_t seed = 0;
    /// The size of the log's segment files (tests make them small).
    uint64_t wal_segment_bytes = 64u << 20;
    /// The Raft log held in memory: entries that are synced and applied
    /// leave it once more than this many are held, or more than
    /// log_memory_bytes of entry data; a follower that lags further is sent
    /// older ones read back from the log's files (and the snapshot only
    /// when it lags behind that).
    size_t log_memory_entries = 4096;
    size_t log_memory_bytes = 8u << 20;
};

/// Gets the state machine's response to a proposal once it is applied on
/// this member, or why it was not.
using ProposeCallback = std::function<void(Result<std::string> response)>;
/// Gets the outcome of a read barrier or a membership change.
using DoneCallback = std::function<void(Result<void> outcome)>;
/// Told who leads (0: nobody known) in which term.
using LeaderCallback = std::function<void(NodeId leader, Term term)>;
/// Told why the driver stopped itself (its disk or state machine failed).
using FatalCallback = std::function<void(const Error& error)>;

/// How many snapshot files a member keeps (the newest).
inline constexpr size_t kSnapshotFilesKept = 5;

/// One running member. Not copyable or movable: callbacks it hands to the
/// reactor point at it. All calls on the reactor's thread.
class RaftDriver {
public:
    /// Opens the data dir (its log, checked against options.metadata, and
    /// the newest usable snapshot file) or creates it, restores the state
    /// machine from the snapshot when it is behind it, builds the Raft core
    /// and starts ticking. Entries the state machine has applied already
    /// (StateMachine::applied_index()) are not applied again.
    static Result<std::unique_ptr<RaftDriver>> open(Reactor& reactor, RaftDriverOptions options,
                                                    StateMachine& machine,
                                                    RaftTransport& transport);
    /// Stops (see stop()).
    ~RaftDriver();
    RaftDriver(const RaftDriver&) = delete;
    RaftDriver& operator=(const RaftDriver&) = delete;

    /// Feeds a message from the transport. A malformed message is logged
    /// and dropped.
    void step(const Message& message);
    /// The transport could not reach `peer`.
    void report_unreachable(NodeId peer);
    /// The transport finished (or failed) sending a snapshot to `peer`.
    void report_snapshot(NodeId peer, SnapshotStatus status);

    /// Proposes `command`. `done` gets StateMachine::apply's response once
    /// the entry is applied on this member, or an error with code NoLeader,
    /// ProposalDropped, RequestTimedOut or ServerStopped; exactly once, and
    /// never before propose() returns.
    void propose(std::string command, ProposeCallback done);
    /// A linearizable read barrier: `done` gets success once this member has
    /// applied everything the leader had committed when the read began (the
    /// leader confirmed its leadership: ReadIndex), or an error as for
    /// propose(). Reads issued in one loop iteration share one round.
    void read_barrier(DoneCallback done);
    /// Proposes a membership change; `done` once it is applied on this
    /// member (an error when it could not apply, e.g. adding a member
    /// twice), or an error as for propose(). change.context reaches
    /// StateMachine::apply_conf_change as given.
    void propose_conf_change(ConfChange change, DoneCallback done);
    /// Leader only: hands leadership to the voter `target` (NoLeader on a
    /// member that does not lead).
    Result<void> transfer_leadership(NodeId target);

    /// The Raft core's state (term, role, commit, the leader's view of
    /// its peers).
    RaftStatus status() const;
    /// The leader as of the last Ready handled (0: none known).
    NodeId leader() const { return m_leader; }
    /// The term as of the last Ready handled.
    Term term() const { return m_term; }
    /// The index of the last entry applied to the state machine.
    Index applied_index() const { return m_applied; }
    /// The index the newest snapshot covers (0: none taken or received).
    Index snapshot_index() const { return m_snapshot_index; }
    /// How many times the log was synced: once per Ready that needs it
    /// (new entries, a new term or vote, a snapshot) and once per snapshot
    /// taken.
    uint64_t wal_syncs() const { return m_wal_syncs; }
    /// True once stop() was called or the driver stopped itself.
    bool stopped() const { return m_stopped; }

    /// Calls `callback` (from the reactor, after the change was handled)
    /// when the leader or term this member knows changes and when a
    /// membership change was applied. Replaces any earlier one.
    void on_leader_change(LeaderCallback callback);
    /// Calls `callback` once if the driver stops itself because a disk
    /// write or the state machine failed (after failing every waiting
    /// caller with ServerStopped).
    void on_fatal(FatalCallback callback);
    /// Stops ticking and handling anything; every waiting caller gets
    /// ServerStopped. Idempotent.
    void stop();

private:
    // A proposal or membership change waiting to be applied.
    struct Waiter {
        ProposeCallback proposal;
        DoneCallback conf_change;
    };
    // The reads that share one ReadIndex round; its context is the
    // round's request id, by which m_reads finds it.
    struct ReadRound {
        std::vector<DoneCallback> waiting;
        // The read index the leader answered with, once it did.
        std::optional<Index> index;
        std::chrono::steady_clock::time_point sent;
        std::string context;
    };
    // The Raft core's entry source: the log's files.
    struct WalEntries : RaftEntrySource {
        explicit WalEntries(RaftDriver& driver) : driver(driver) {}
        Result<std::vector<Entry>> entries(Index low, Index high, size_t max_bytes) override;
        RaftDriver& driver;
    };
    // When the request (a Waiter or a ReadRound) with this id times out.
    using Deadline = std::pair<std::chrono::steady_clock::time_point, uint64_t>;

    RaftDriver(Reactor& reactor, RaftDriverOptions options, StateMachine& machine,
               RaftTransport& transport);
    Result<void> start(); // opens the data dir and builds the core

    // The Ready cycle (raft_driver.cpp).
    void schedule();
    void process_ready();
    Result<void> handle_ready(Ready& ready);
    Result<void> persist(const Ready& ready);
    Result<void> install_snapshot(const Snapshot& snapshot);
    // The core holds no snapshot data: Snapshot messages get the file's.
    void fill_snapshot_data(std::vector<Message>& messages);
    Result<void> apply_entry(const Entry& entry);
    Result<void> apply_conf_change_entry(const Entry& entry);
    Result<void> maybe_take_snapshot();
    Result<void> release_to_leader_snapshot(Index index); // after install_snapshot
    void note_leader(NodeId leader, Term term);
    // Stops the member if the entry source failed: its log is damaged.
    void check_entry_source();
    void fail(const Error& error);

    // Callers waiting for answers (raft_driver_requests.cpp).
    uint64_t next_request_id();
    void tick();
    void expire_requests();
    void send_read_round();
    void answer_read_states(const std::vector<ReadState>& states);
    void answer_applied_reads();
    void finish_proposal(uint64_t id, Result<std::string> response);
    void finish_conf_change(uint64_t id, Result<void> outcome);
    void fail_all(const Error& error);
    void defer_alive(std::function<void()> callback);

    Reactor& m_reactor;
    RaftDriverOptions m_options;
    StateMachine& m_machine;
    RaftTransport& m_transport;
    std::optional<Wal> m_wal;
    WalEntries m_wal_entries{*this};
    std::optional<RaftNode> m_node;
    // Captured weakly by deferred work, which may outlive the driver.
    std::shared_ptr<RaftDriver*> m_self;
    std::optional<Reactor::TimerId> m_tick_timer;
    bool m_scheduled = false;
    bool m_stopped = false;

    Index m_applied = 0;
    Index m_flushed = 0; // applied and flushed by the last tick
    Index m_snapshot_index = 0;
    ConfState m_conf; // after the last applied entry
    NodeId m_leader = 0;
    Term m_term = 0;
    HardState m_synced_hard; // the term and vote last made durable
    uint64_t m_wal_syncs = 0;

    uint64_t m_next_request = 0;
    std::map<uint64_t, Waiter> m_waiters;
    std::vector<DoneCallback> m_unsent_reads;
    std::map<uint64_t, ReadRound> m_reads;
    std::deque<Deadline> m_deadlines; // in order: one timeout for all
    LeaderCallback m_on_leader_change;
    FatalCallback m_on_fatal;
    std::string m_snap_dir;
};

} // namespace keel::kv
