// One KV member: the Raft driver over the KV state machine, the peer
// transport, the etcd v3 gRPC services and the timers that belong to a
// member (lease expiry on the leader, publishing its own attributes), all
// on one Reactor. Private to kv/: kv/kv.h's serve_kv() runs it.
#pragma once

#include "base/reactor.h"
#include "base/result.h"
#include "kv/auto_compaction.h"
#include "kv/corruption_check.h"
#include "kv/etcd_convert.h"
#include "kv/kv_state_machine.h"
#include "kv/peer_transport.h"
#include "kv/raft_driver.h"
#include "kv/server_config.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace etcdserverpb {
class ResponseHeader;
}

namespace keel::kv {

class GrpcServer;
class InternalRequest;

/// A running member.
class KvServer {
public:
    /// Opens (or creates) the member's data dir and starts serving clients
    /// and peers on `reactor`.
    static Result<std::unique_ptr<KvServer>> start(Reactor& reactor, const ServerConfig& config);
    ~KvServer();
    KvServer(const KvServer&) = delete;
    KvServer& operator=(const KvServer&) = delete;

    /// Stops serving: pending requests fail with ServerStopped.
    void stop();
    /// Why the member stopped on its own (its disk or store failed), if it
    /// did: it then stopped the reactor too.
    const std::optional<Error>& failure() const { return m_failure; }

    /// Proposes `request` through Raft; `done` gets the etcd response
    /// message the state machine answered (serialized), or the error
    /// (the refusal, NoLeader, RequestTimedOut, ...).
    void propose(const InternalRequest& request, std::function<void(Result<std::string>)> done);
    /// `done` once a linearizable read may be served from the local store.
    void read_barrier(std::function<void(Result<void>)> done);
    /// Fills a response header: cluster, member, Raft term and `revision`
    /// (0: the store's current revision).
    void fill_header(etcdserverpb::ResponseHeader& header, int64_t revision = 0) const;
    /// A new lease id no lease has (positive, random).
    int64_t new_lease_id();
    /// The shortest TTL a grant gets (etcd's: 1.5 election timeouts,
    /// rounded up to seconds).
    int64_t minimum_lease_ttl() const;
    /// The request limits clients are held to (--max-txn-ops, ...).
    Limits limits() const;

    const ServerConfig& config() const { return m_config; }
    /// The loop the member runs on (for the services' timers).
    Reactor& reactor() { return m_reactor; }
    uint64_t cluster_id() const { return m_cluster_id; }
    NodeId member_id() const { return m_member_id; }
    KvStateMachine& machine() { return *m_machine; }
    RaftDriver& driver() { return *m_driver; }
    /// The client address the gRPC server listens on (the first URL's).
    uint16_t client_port() const;
    /// Bytes the store's file takes on disk.
    int64_t db_size() const;
    /// Bytes the store's data takes (free pages not counted): what the
    /// space quota is measured against.
    int64_t db_size_in_use() const;
    /// Whether the store has room for a write estimated at `cost` bytes
    /// (kv/space_quota.h) under --quota-backend-bytes. When it has not,
    /// raises the NOSPACE alarm through the log and answers etcd's
    /// "etcdserver: mvcc: database space exceeded" (ResourceExhausted).
    GrpcStatus check_space_quota(int64_t cost);
    /// The cluster's id and members, as a joining member is told them.
    ClusterMembers cluster_members() const;
    /// Since when this member's connection to peer `id` is up (nullopt:
    /// it is not).
    std::optional<std::chrono::steady_clock::time_point> peer_connected_since(NodeId id) const {
        return m_transport->connected_since(id);
    }
    /// True while this member is a learner (it does not vote, and serves
    /// clients only serializable reads and status).
    bool is_learner() const;

private:
    KvServer(Reactor& reactor, ServerConfig config);
    /// Tells the peer transport where every other member is.
    void connect_members();
    void expire_leases();
    void publish_attributes();
    /// Checks the quota (a warning above etcd's recommended maximum) and
    /// starts the automatic compaction timer when a retention is set
    /// (kv/kv_server_upkeep.cpp).
    Result<void> start_upkeep();
    /// The timer's turn: the leader proposes the compaction that is due.
    void compact_automatically();
    /// The corruption checks (kv/kv_server_corruption.cpp). The initial
    /// one, before the member serves: an error when a peer's hash differs.
    Result<void> check_initial_corruption(const std::vector<ClusterMember>& joined);
    /// The timer's turn: the leader hashes its store and asks its peers on
    /// a thread; finish_corruption_check() compares once they answered.
    void start_corruption_check();
    void finish_corruption_check();
    /// Waits for a check's thread (at stop).
    void abandon_corruption_check();
    /// Every other member and its peer URLs: from the store, else from
    /// `joined` and --initial-cluster (a member not started yet).
    std::vector<PeerToCheck> peers_to_check(const std::vector<ClusterMember>& joined) const;
    /// This member's answer to a peer's HashKV query.
    PeerHashKv answer_hash_kv(int64_t revision) const;

    Reactor& m_reactor;
    ServerConfig m_config;
    uint64_t m_cluster_id = 0;
    NodeId m_member_id = 0;
    std::string m_db_path;
    std::unique_ptr<KvStateMachine> m_machine;
    std::unique_ptr<PeerTransport> m_transport;
    std::unique_ptr<RaftDriver> m_driver;
    std::vector<std::unique_ptr<GrpcServer>> m_clients;
    /// Leases whose revoke the leader has proposed and not seen applied.
    std::set<int64_t> m_revoking;
    bool m_published = false;
    std::optional<Error> m_failure;
    std::mt19937_64 m_lease_ids;
    Reactor::TimerId m_lease_timer = 0;
    std::optional<AutoCompactor> m_compactor;
    Reactor::TimerId m_compaction_timer = 0;
    /// A compaction or a NOSPACE alarm proposed and not answered yet.
    bool m_compacting = false;
    bool m_raising_no_space = false;
    Reactor::TimerId m_corruption_timer = 0;
    std::unique_ptr<RunningCorruptionCheck> m_corruption_check;
    /// The peers the last check could not compare with (logged once).
    std::set<std::string> m_corruption_skipped;
    bool m_raising_corrupt = false;
};

} // namespace keel::kv
