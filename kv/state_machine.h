// The two seams of the Raft driver (kv/raft_driver.h): the state machine it
// applies committed entries to (the KV: MVCC store and leases) and the
// transport it sends Raft messages over (kv/peer_transport.h on TCP; an
// in-memory one in tests). The driver owns neither; both run on the
// driver's reactor thread.
#pragma once

#include "base/result.h"
#include "kv/raft.h"
#include "kv/raft_types.h"

#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// What committed entries are applied to. Every member applies the same
/// entries in the same order and must end in the same state: apply() may
/// not look at clocks, randomness or anything outside its state and the
/// entry.
class StateMachine {
public:
    virtual ~StateMachine() = default;

    /// The index of the last entry whose effects are durable in the state
    /// machine's own storage (the MVCC store's consistent index). At start
    /// the driver hands out again the committed entries after it.
    virtual Index applied_index() const = 0;
    /// Applies one committed Normal entry's command (the bytes the proposer
    /// passed to RaftDriver::propose) at log index `index`, returning the
    /// response for the proposer: the driver hands it to the proposal's
    /// callback when the proposal was made on this member, and drops it
    /// otherwise. A command the state machine refuses (a txn on a
    /// compacted revision, say) is answered, not failed: the refusal goes
    /// into the response, and every member refuses it alike. An Error
    /// return means the state machine cannot go on (its storage failed):
    /// the driver stops.
    virtual Result<std::string> apply(Index index, std::string_view command) = 0;
    /// Records an entry that carries no command (a new leader's empty
    /// entry, a membership change) as applied.
    virtual Result<void> apply_empty(Index index) = 0;
    /// A membership change committed at `index`; `conf` is the membership
    /// after it. The change's context carries the member's details.
    virtual Result<void> apply_conf_change(Index index, const ConfChange& change,
                                           const ConfState& conf) = 0;
    /// The whole state as bytes, for a Raft snapshot at applied_index().
    virtual Result<std::string> snapshot() = 0;
    /// Replaces the whole state with a snapshot's data (from the leader, or
    /// from the data dir at start), checked before anything changes.
    virtual Result<void> restore(const Snapshot& snapshot) = 0;
    /// Makes every apply so far durable (the driver calls it before it
    /// releases the log entries the state machine's storage covers).
    virtual Result<void> flush() = 0;
};

/// Sends Raft messages to the other members. Sending is asynchronous and
/// unreliable (Raft retries): a message to an unreachable member is dropped
/// and the driver told through RaftDriver::report_unreachable.
class RaftTransport {
public:
    virtual ~RaftTransport() = default;

    /// Queues `messages` for their `to` members, in order per member.
    virtual void send(std::vector<Message> messages) = 0;
};

} // namespace keel::kv
