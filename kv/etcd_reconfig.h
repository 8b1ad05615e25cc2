// etcd's strict reconfiguration check (--strict-reconfig-check, on by
// default): a member refuses a membership change that could leave the
// cluster without a quorum of voters it is connected to, with "etcdserver:
// unhealthy cluster". What counts as connected is the member's own view:
// its connection to each peer, up for at least kReconfigHealthInterval.
#pragma once

#include "kv/raft_types.h"

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace keel::kv {

/// How long a peer must have been connected to count (etcd's
/// HealthInterval).
inline constexpr std::chrono::seconds kReconfigHealthInterval{5};

/// What the member asked for a change knows of the voters.
struct ReconfigView {
    /// The member asked.
    NodeId self = 0;
    /// Every voting member (learners do not count), self included.
    std::vector<NodeId> voters;
    /// Since when this member's connection to a peer is up (nullopt: it
    /// is not).
    std::function<std::optional<std::chrono::steady_clock::time_point>(NodeId)> connected_since;
    std::chrono::steady_clock::time_point now;
};

/// Whether a voter may be added: this member has been connected to every
/// other voter for the health interval (etcd's isConnectedFullySince).
bool may_add_voter(const ReconfigView& view);
/// Whether the voter `removed` may be removed: a peer that is not
/// connected may always go (it is no part of the active quorum); else the
/// voters connected for the health interval, less the one removed, must
/// still be a quorum of the voters.
bool may_remove_voter(const ReconfigView& view, NodeId removed);

} // namespace keel::kv
