// Raft messages on the wire between members: kv/raft.h's Message and the
// Hello that opens a peer connection, as the protobuf messages of
// proto/kv/peer.proto. The wire format is written and read here directly
// (it is small and fixed), so the decoder refuses what the schema alone
// would let through (an unknown message type, a member id of 0) and the
// fuzz build, which links no protobuf library, can exercise it.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "kv/raft.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

/// The peer protocol's version, sent in every Hello; a member refuses a
/// connection that speaks another.
inline constexpr uint32_t kPeerProtocolVersion = 1;

/// Why a peer connection was opened (peer.proto's HelloPurpose). Full
/// width because it ends PeerHello (a Result's value must not end in
/// padding with libc++ 16).
enum class HelloPurpose : uint64_t {
    /// Raft messages follow; nothing is written back.
    Raft,
    /// A joining member asks for the cluster id and the member list; the
    /// answer is one ClusterMembers frame.
    Members,
    /// A member of the same cluster asks for the HashKV at
    /// PeerHello::revision (the corruption check); the answer is one
    /// PeerHashKv frame.
    HashKv,
};
inline constexpr auto kHelloPurposeNames = name_table<HelloPurpose>({
    {HelloPurpose::Raft, "raft"},
    {HelloPurpose::Members, "members"},
    {HelloPurpose::HashKv, "hash"},
});

/// The first frame on a peer connection: who calls whom, in which cluster.
struct PeerHello {
    uint64_t cluster_id = 0;
    NodeId from = 0;
    NodeId to = 0;
    uint64_t protocol_version = kPeerProtocolVersion;
    /// HelloPurpose::HashKv: the revision to hash up to (0: the newest).
    int64_t revision = 0;
    HelloPurpose purpose = HelloPurpose::Raft;
};

/// One member in the answer to a members query.
struct ClusterMember {
    NodeId id = 0;
    bool is_learner = false;
    std::string name;
    std::vector<std::string> peer_urls;
    std::vector<std::string> client_urls;
};

/// The answer to a members query: the cluster and who is in it.
struct ClusterMembers {
    uint64_t cluster_id = 0;
    std::vector<ClusterMember> members;
};

/// A Hello as peer.proto's Hello bytes.
std::string encode_hello(const PeerHello& hello);
/// Reads a Hello; an error naming the field for malformed bytes, a cluster
/// or member id of 0 (a members query may leave cluster_id, from and to
/// 0), a missing protocol version or an unknown purpose.
Result<PeerHello> decode_hello(std::string_view bytes);

/// The answer to a members query as peer.proto's ClusterMembers bytes.
std::string encode_cluster_members(const ClusterMembers& members);
/// Reads a ClusterMembers; an error naming the field for malformed bytes, a
/// cluster id of 0, a member id of 0 or a member without peer URLs.
Result<ClusterMembers> decode_cluster_members(std::string_view bytes);

/// A member's answer to a HashKv query (etcd's HashKVResponse in the
/// fields the corruption check reads), or the error that stands for it.
struct PeerHashKv {
    NodeId member_id = 0;
    /// The answering member's current revision.
    int64_t revision = 0;
    int64_t compact_revision = 0;
    uint32_t hash = 0;
    /// Instead of a hash: etcd's error text, e.g. "etcdserver: mvcc:
    /// required revision is a future revision" (the member lags).
    std::string error;
};

/// A PeerHashKv as peer.proto's PeerHashKv bytes.
std::string encode_peer_hash_kv(const PeerHashKv& answer);
/// Reads a PeerHashKv; an error naming the field for malformed bytes, a
/// member id of 0 or a hash out of range.
Result<PeerHashKv> decode_peer_hash_kv(std::string_view bytes);

/// A Raft message as peer.proto's RaftMessage bytes.
std::string encode_raft_message(const Message& message);
/// Reads a RaftMessage. Refuses, with an error naming the field, bytes
/// that are no protobuf, unknown enum values, `from` or `to` of 0, and a
/// snapshot membership that names member 0. Unknown fields are skipped (a
/// newer member may add some).
Result<Message> decode_raft_message(std::string_view bytes);

} // namespace keel::kv
