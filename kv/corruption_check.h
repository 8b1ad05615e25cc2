// Data corruption checks between members, as etcd 3.4 makes them
// (--experimental-initial-corrupt-check, --experimental-corrupt-check-time):
// every member applies the same log, so at one revision with the same
// compaction every member's HashKV must be the same; one that differs holds
// data its log never wrote (a disk or a bug that corrupted the store).
//
// - At start (initial check): the member compares its own HashKV with each
//   peer's at its revision and refuses to start on a mismatch.
// - Periodically on the leader: it hashes at its revision, asks every peer
//   for the hash at that revision, hashes again once a linearizable read
//   shows it caught up, and raises the CORRUPT alarm through the log on a
//   mismatch. Writes are then refused ("etcdserver: corrupt cluster") until
//   an operator disarms it.
//
// Peers are asked over the peer protocol (a Hello whose purpose is a HashKV
// query, kv/peer_query.h), as etcd asks over its peer URLs. The comparisons
// are pure functions here; KvServer runs them. Private to kv/.
#pragma once

#include "base/fd.h"
#include "kv/mvcc.h"
#include "kv/raft_codec.h"
#include "kv/server_config.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace keel::kv {

class TlsContext;

/// A peer to ask: its id and peer URLs (tried in order until one answers).
struct PeerToCheck {
    NodeId id = 0;
    std::vector<ServerUrl> urls;
};

/// What asking one peer gave: its answer, or why there is none.
struct PeerHashResult {
    NodeId id = 0;
    std::optional<PeerHashKv> answer;
    std::string failure;
};

/// Asks each peer for its HashKV at `revision`, as member `self` of
/// `cluster_id`, giving each URL `timeout`. Blocks (the leader runs it on
/// a thread of its own; the initial check before the member serves).
std::vector<PeerHashResult> ask_peer_hashes(std::span<const PeerToCheck> peers, uint64_t cluster_id,
                                            NodeId self, int64_t revision,
                                            std::chrono::milliseconds timeout,
                                            const std::shared_ptr<TlsContext>& tls);

/// What a check found: the mismatches (each a sentence naming the member,
/// the hashes and revisions), and peers it could not compare (lagging,
/// compacted further, unreachable), which are no fault.
struct CorruptionFindings {
    std::vector<std::string> mismatches;
    std::vector<std::string> skipped;
};

/// The initial check (etcd's CheckInitialHashKV): `own` is this member's
/// HashKV at its current revision, `peers` the answers at that revision.
/// A peer mismatches when its hash differs at the same compaction.
CorruptionFindings compare_initial_hashes(const HashKv& own, std::span<const PeerHashResult> peers);

/// The leader's periodic check (etcd's checkHashKV): `before` is its
/// HashKV when it asked, `after` once it has caught up with the log. The
/// leader's own store mismatches when its hash changed with neither the
/// revision nor the compaction; a peer when it is ahead of the leader's
/// revision or compaction, or differs at the leader's compaction.
CorruptionFindings compare_leader_hashes(const HashKv& before, const HashKv& after,
                                         std::span<const PeerHashResult> peers);

/// The leader's check while its peers are asked: the thread that asks,
/// the eventfd it signals when done, and what the check compares.
struct RunningCorruptionCheck {
    HashKv before;
    std::vector<PeerToCheck> peers;
    /// Written by the thread before it signals `done`, read after.
    std::vector<PeerHashResult> results;
    Fd done;
    /// Set by the thread with `done`: the next tick of the check's timer
    /// finishes a check whose `done` went unheard.
    std::atomic<bool> answered{false};
    int ticks_answered = 0; // timer ticks that saw `answered` (the loop's)
    std::thread thread;
};

} // namespace keel::kv
