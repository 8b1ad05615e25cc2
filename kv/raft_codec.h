// Raft messages on the wire between members: kv/raft.h's Message and the
// Hello that opens a peer connection, as the protobuf messages of
// proto/kv/peer.proto. The wire format is written and read here directly
// (it is small and fixed), so the decoder refuses what the schema alone
// would let through (an unknown message type, a member id of 0) and the
// fuzz build, which links no protobuf library, can exercise it.
#pragma once

#include "base/result.h"
#include "kv/raft.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::kv {

/// The peer protocol's version, sent in every Hello; a member refuses a
/// connection that speaks another.
inline constexpr uint32_t kPeerProtocolVersion = 1;

/// The first frame on a peer connection: who calls whom, in which cluster.
struct PeerHello {
    uint64_t cluster_id = 0;
    NodeId from = 0;
    NodeId to = 0;
    /// Ends the struct in a full-width field (a Result's value must not end
    /// in padding with libc++ 16).
    uint64_t protocol_version = kPeerProtocolVersion;
};

/// A Hello as peer.proto's Hello bytes.
std::string encode_hello(const PeerHello& hello);
/// Reads a Hello; an error naming the field for malformed bytes, a cluster
/// or member id of 0, or a missing protocol version.
Result<PeerHello> decode_hello(std::string_view bytes);

/// A Raft message as peer.proto's RaftMessage bytes.
std::string encode_raft_message(const Message& message);
/// Reads a RaftMessage. Refuses, with an error naming the field, bytes
/// that are no protobuf, unknown enum values, `from` or `to` of 0, and a
/// snapshot membership that names member 0. Unknown fields are skipped (a
/// newer member may add some).
Result<Message> decode_raft_message(std::string_view bytes);

} // namespace keel::kv
