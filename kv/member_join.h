// Joining a running cluster (--initial-cluster-state existing): what a new
// member learns from the members already running before it starts its
// Raft log, namely the cluster's id and its own member id. etcd fetches
// /members from a peer over HTTP; keel asks over its peer protocol (a
// Hello whose purpose is a members query, kv/raft_codec.h) and the peer
// transport answers. Private to kv/.
#pragma once

#include "base/result.h"
#include "kv/raft_codec.h"
#include "kv/server_config.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace keel::kv {

class TlsContext;

/// Who a member is in the cluster it joins.
struct JoinIdentity {
    uint64_t cluster_id = 0;
    NodeId member_id = 0;
    /// The members as the cluster told them (empty after a restart, when
    /// the member's own store knows them), so a new member can reach them
    /// before its log says who they are.
    std::vector<ClusterMember> members;
};

/// Finds this member (config's --initial-advertise-peer-urls) among
/// `members`: the member whose peer URLs are exactly these. An error
/// naming the member and the cluster's members when none is, which means
/// it was never added (`etcdctl member add`) or was removed.
Result<JoinIdentity> find_joining_member(const ClusterMembers& members, const ServerConfig& config);

/// Asks the members at `peers` in turn for the cluster's id and members,
/// giving each `timeout` to connect and answer (over TLS with `tls`, a
/// client context, kv/peer_query.h); the first answer that lists members
/// wins (a member that has just joined may know none yet). Blocks: it runs
/// once at start, before the member serves anything.
Result<ClusterMembers> query_cluster_members(std::span<const ServerUrl> peers,
                                             std::chrono::milliseconds timeout,
                                             const std::shared_ptr<TlsContext>& tls = nullptr);

/// The identity of a member started with --initial-cluster-state
/// existing: from its log's metadata when its data dir has one (a
/// restart), else asked from the other members of --initial-cluster and
/// found there by its peer URLs.
Result<JoinIdentity> join_identity(const ServerConfig& config);

} // namespace keel::kv
