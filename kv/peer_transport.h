// The Raft transport between KV members over TCP, plaintext or TLS (mutual
// when the accepting side requires client certificates; kv/tls_stream.h):
// kv/state_machine.h's RaftTransport on base/reactor.h.
//
// Each member keeps one outgoing connection per peer and sends on it only;
// it receives on the connections its peers open. A connection starts with a
// Hello frame (kv/raft_codec.h) naming the cluster and both members, then
// carries length-prefixed RaftMessage frames back to back (base/framing.h).
// A Hello whose purpose is a query is answered instead with one frame and
// the connection closed: a members query with the cluster and its members
// (how a joining member learns them), a HashKV query from a member of the
// cluster with the store's hash (the corruption check).
// Messages are queued per peer while it connects and written in batches;
// a dropped connection is reopened with backoff. Raft tolerates loss, so a
// message that does not fit the peer's queue is dropped and the driver
// told the peer is unreachable.
#pragma once

#include "base/reactor.h"
#include "base/result.h"
#include "kv/raft.h"
#include "kv/raft_codec.h"
#include "kv/state_machine.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace keel::kv {

class TlsContext;

/// How a PeerTransport listens and sends.
struct PeerTransportOptions {
    /// The cluster's id; connections from another cluster are refused.
    uint64_t cluster_id = 0;
    /// This member's id.
    NodeId self = 0;
    /// Where peers connect: "127.0.0.1:2380", "[::1]:2380" (numeric; port 0
    /// picks a free one, see port()).
    std::string listen;
    /// The largest frame read or written (snapshots can be big).
    size_t max_frame = 64 << 20;
    /// Bytes of messages queued for one peer before further ones are dropped.
    size_t max_queued_bytes_per_peer = 16 << 20;
    /// The first wait before reconnecting to a peer; doubled on each failed
    /// attempt up to reconnect_max.
    std::chrono::milliseconds reconnect_min{100};
    /// The longest wait between attempts.
    std::chrono::milliseconds reconnect_max{2000};
    /// How long a connection a peer opens has to send its Hello (TLS
    /// handshake included); one that has not by then is closed, so
    /// connections that open and say nothing cannot pile up.
    std::chrono::milliseconds hello_timeout{5000};
    /// How long a connection may go without an answer from the other end
    /// (written data unacknowledged, or TCP keepalive probes unanswered
    /// on an idle one) before it is given up as dead: a peer whose machine
    /// vanished without closing its connections (TCP_USER_TIMEOUT and
    /// keepalive; 0: the kernel's defaults, minutes).
    std::chrono::milliseconds dead_peer_timeout{10000};
    /// TLS for the connections peers open to this member (a server
    /// context); null: plaintext. A handshake that fails closes that
    /// connection only, logged with the reason.
    std::shared_ptr<TlsContext> accept_tls;
    /// TLS for the connections this member opens to every peer (a client
    /// context carrying this member's certificate); null: plaintext.
    std::shared_ptr<TlsContext> connect_tls;
    /// Answers a joining member's members query (a Hello whose purpose is
    /// HelloPurpose::Members) with the cluster's id and members; unset,
    /// such queries are refused.
    std::function<ClusterMembers()> members;
    /// Answers a HashKV query from a member of this cluster (the
    /// corruption check): the store's HashKV at the revision asked for (0:
    /// the newest). Unset, such queries are refused.
    std::function<PeerHashKv(int64_t revision)> hash_kv;
};

/// Makes the kernel give up on TCP socket `fd` once its other end has not
/// answered for about `timeout` (at least 2 s): data written and never
/// acknowledged (TCP_USER_TIMEOUT), or, on an idle connection, keepalive
/// probes once a second from half of it on. 0: nothing is changed.
Result<void> set_dead_peer_timeout(int fd, std::chrono::milliseconds timeout);

/// Sends Raft messages to peers and hands up what peers send to this member.
class PeerTransport : public RaftTransport {
public:
    /// Called with every valid message from a peer of this cluster
    /// addressed to this member.
    using ReceiveCallback = std::function<void(Message)>;
    /// Called when a peer cannot be reached, or messages to it were dropped
    /// (the driver calls RaftNode::report_unreachable).
    using UnreachableCallback = std::function<void(NodeId)>;
    /// Called when a Snapshot message to a peer was written out (Finish) or
    /// lost (Failure).
    using SnapshotSentCallback = std::function<void(NodeId, SnapshotStatus)>;

    /// Listens on `options.listen`. The callbacks run on the reactor's
    /// thread, never from inside send().
    static Result<std::unique_ptr<PeerTransport>>
    listen(Reactor& reactor, PeerTransportOptions options, ReceiveCallback receive,
           UnreachableCallback unreachable, SnapshotSentCallback snapshot_sent);
    ~PeerTransport() override;
    PeerTransport(const PeerTransport&) = delete;
    PeerTransport& operator=(const PeerTransport&) = delete;

    /// Adds a peer, or moves one to a new address ("127.0.0.1:2380",
    /// "[::1]:2380"); connecting starts right away. An address that does
    /// not parse is logged and the peer treated as unreachable.
    void set_peer(NodeId id, std::string address);
    /// Forgets a peer: closes its connection and drops what was queued.
    void remove_peer(NodeId id);
    /// Queues `messages` for their `to` members, in order per member.
    void send(std::vector<Message> messages) override;
    /// Since when this member's connection to `id` has been up (nullopt:
    /// not connected now, or no such peer): etcd's ActiveSince, which its
    /// membership changes check before they could cost the quorum.
    std::optional<std::chrono::steady_clock::time_point> connected_since(NodeId id) const;
    /// The port listened on (the one picked when options.listen said 0).
    uint16_t port() const { return m_port; }

private:
    struct Peer;
    struct Inbound;

    PeerTransport(Reactor& reactor, PeerTransportOptions options);
    void connect(Peer& peer);
    void on_peer_event(NodeId id, uint32_t events);
    void flush(Peer& peer);
    void drop_connection(Peer& peer, std::string_view why);
    void schedule_flush(Peer& peer);
    void update_peer_events(Peer& peer);
    void accept_connections();
    void on_inbound_event(int fd);
    void close_inbound(int fd);
    /// Closes inbound connection `serial` (on `fd`) if it has not sent its
    /// Hello yet.
    void expire_silent_inbound(int fd, uint64_t serial);
    /// flush() over a TLS session: frames go through the stream one by one.
    void flush_stream(Peer& peer);
    /// The queue's first frame has gone out whole: drops it, counts it out
    /// of the queued bytes, and reports a finished snapshot.
    void pop_sent_frame(Peer& peer);
    /// Reads the inbound connection through its stream (plain or TLS);
    /// nullopt when nothing is there now, 0 when the peer closed.
    Result<std::optional<size_t>> read_inbound(Inbound& inbound, char* buffer, size_t size);
    /// Writes the answer to a query (members, HashKV) on an inbound
    /// connection.
    void answer_query(Inbound& inbound, const PeerHello& hello);
    void notify_unreachable(NodeId id);
    void notify_snapshot(NodeId id, SnapshotStatus status);

    Reactor& m_reactor;
    PeerTransportOptions m_options;
    ReceiveCallback m_receive;
    UnreachableCallback m_unreachable;
    SnapshotSentCallback m_snapshot_sent;
    Fd m_listener;
    uint16_t m_port = 0;
    std::map<NodeId, std::unique_ptr<Peer>> m_peers;
    std::map<int, std::unique_ptr<Inbound>> m_inbound;
    /// Numbers inbound connections: an fd number is reused, a serial not.
    uint64_t m_next_inbound_serial = 1;
    /// Deferred work and timers hold a weak_ptr to this, so they do nothing
    /// once the transport is gone.
    std::shared_ptr<PeerTransport*> m_self;
};

} // namespace keel::kv
