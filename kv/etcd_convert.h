// Between etcd's v3 wire messages (proto/etcd/rpc.proto) and the MVCC
// store's types (kv/mvcc.h), both ways, and the checks etcd makes of a
// request before it proposes it (etcd's v3rpc/key.go): a request from a
// client is checked and converted by to_mvcc(), which answers a bad one with
// etcd's exact gRPC error; a store's answer becomes the wire message by
// to_proto(). Also the bytes of a Raft proposal (an InternalRequest,
// proto/kv/internal.proto) and the parsing of any message from the network
// without exceptions.
//
// How the KV server uses it: a gRPC handler parses the request with
// parse_message<T>(), checks and wraps it into an InternalRequest and
// encodes it with encode_proposal() (which refuses one over
// --max-request-bytes); the state machine decodes a committed entry with
// decode_proposal(), converts the request inside with to_mvcc() and applies
// it to MvccStore; the store's answer goes back through to_proto(), and an
// Error through status_of() (kv/etcd_errors.h).
#pragma once

#include "kv/etcd_errors.h"
#include "kv/grpc_status.h"
#include "kv/mvcc.h"
#include "proto/etcd/kv.pb.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <algorithm>
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace keel::kv {

/// A value, or the status a gRPC call ends with instead.
template <typename T> using GrpcResult = std::expected<T, GrpcStatus>;

/// The bounds requests are checked against (etcd's flags of the same names).
struct Limits {
    /// --max-txn-ops: the most compares, and the most operations in each
    /// branch, of a txn; a nested txn gets what its parent leaves over.
    size_t max_txn_ops = 128;
    /// --max-request-bytes: the largest proposal (1.5 MiB by default).
    size_t max_request_bytes = 1536 * 1024;
};

// -- Checks: etcd's refusals of a request before it is proposed. Each
// answers an Ok status or etcd's error, in the order etcd checks.

/// Key not provided; sort order or target out of range (etcd 3.5's
/// "invalid sort option").
GrpcStatus check_request(const etcdserverpb::RangeRequest& request);
/// Key not provided; a value with ignore_value; a lease with ignore_lease.
GrpcStatus check_request(const etcdserverpb::PutRequest& request);
/// Key not provided.
GrpcStatus check_request(const etcdserverpb::DeleteRangeRequest& request);
/// Too many compares or operations (limits.max_txn_ops), a compare or an
/// operation without a key, an operation with no request in it (etcd says
/// "key not found"), a compare whose result or target is out of range, each
/// operation's own checks, nested txns alike; then a key put twice in one
/// branch, or put and deleted in it ("duplicate key given in txn request").
GrpcStatus check_request(const etcdserverpb::TxnRequest& request, const Limits& limits);

// -- Wire to store. Requests are checked first (check_request); negative
// limits and revisions read as 0, as etcd reads them (no limit, newest).

/// A range request, checked and converted.
GrpcResult<RangeRequest> to_mvcc(const etcdserverpb::RangeRequest& request);
/// A put request, checked and converted.
GrpcResult<PutRequest> to_mvcc(const etcdserverpb::PutRequest& request);
/// A delete request, checked and converted.
GrpcResult<DeleteRangeRequest> to_mvcc(const etcdserverpb::DeleteRangeRequest& request);
/// A txn, checked and converted, nested txns included. A compare's operand
/// is the target_union field its target names; another field there, or
/// none, compares as 0 (or as an empty value), as in etcd.
GrpcResult<TxnRequest> to_mvcc(const etcdserverpb::TxnRequest& request, const Limits& limits);
/// A key-value.
KeyValue to_mvcc(const mvccpb::KeyValue& kv);
/// A watch event (an unknown event type reads as a Put).
Event to_mvcc(const mvccpb::Event& event);
/// A range's answer (the header's revision is the store's).
RangeResponse to_mvcc(const etcdserverpb::RangeResponse& response);
/// A put's answer.
PutResponse to_mvcc(const etcdserverpb::PutResponse& response);
/// A delete's answer.
DeleteRangeResponse to_mvcc(const etcdserverpb::DeleteRangeResponse& response);
/// A txn's answer; Internal when one of its ResponseOps holds nothing.
GrpcResult<TxnResponse> to_mvcc(const etcdserverpb::TxnResponse& response);

// -- Store to wire. Responses set the header's revision only; the server
// fills in cluster_id, member_id and raft_term of the outermost one.

/// A range request as sent on the wire.
void to_proto(const RangeRequest& request, etcdserverpb::RangeRequest* out);
/// A put request as sent on the wire.
void to_proto(const PutRequest& request, etcdserverpb::PutRequest* out);
/// A delete request as sent on the wire.
void to_proto(const DeleteRangeRequest& request, etcdserverpb::DeleteRangeRequest* out);
/// A txn as sent on the wire (a compare's operand in the field its target
/// names).
void to_proto(const TxnRequest& request, etcdserverpb::TxnRequest* out);
/// A key-value.
void to_proto(const KeyValue& kv, mvccpb::KeyValue* out);
/// A watch event (prev_kv set only when the event has one).
void to_proto(const Event& event, mvccpb::Event* out);
/// A range's answer.
void to_proto(const RangeResponse& response, etcdserverpb::RangeResponse* out);
/// A put's answer (prev_kv set only when there was one).
void to_proto(const PutResponse& response, etcdserverpb::PutResponse* out);
/// A delete's answer.
void to_proto(const DeleteRangeResponse& response, etcdserverpb::DeleteRangeResponse* out);
/// A txn's answer, nested answers included (each with its own header
/// revision).
void to_proto(const TxnResponse& response, etcdserverpb::TxnResponse* out);

// -- Bytes.

/// Parses `bytes` into `message` (cleared first): Ok, or what grpc-go
/// answers bytes it cannot unmarshal with (Internal, "grpc: error
/// unmarshalling request: ...").
GrpcStatus parse_message(std::string_view bytes, google::protobuf::MessageLite& message);

namespace detail {
// libc++ before 18 may keep std::expected's flag in T's tail padding (see
// base/result.h): a GrpcResult<T> of such a T is refused at compile time;
// use the parse_message(bytes, message) overload for it.
template <typename T> constexpr void check_grpc_result_layout() {
#if defined(_LIBCPP_VERSION) && _LIBCPP_VERSION < 180000
    static_assert(sizeof(GrpcResult<T>) > std::max(sizeof(T), sizeof(GrpcStatus)),
                  "GrpcResult<T>: libc++ 16 keeps std::expected's flag in T's tail padding");
#endif
}
} // namespace detail

/// A message of type T parsed from `bytes`, or gRPC's refusal (as the
/// overload above).
template <typename T> GrpcResult<T> parse_message(std::string_view bytes) {
    detail::check_grpc_result_layout<T>();
    GrpcResult<T> message(std::in_place);
    if (GrpcStatus status = parse_message(bytes, *message); !status.ok())
        return std::unexpected(std::move(status));
    return message;
}

/// The bytes of a proposal; etcd's "request is too large" (InvalidArgument)
/// when they exceed limits.max_request_bytes.
GrpcResult<std::string> encode_proposal(const InternalRequest& request, const Limits& limits);
/// The request a committed entry carries; Internal when its bytes are not
/// an InternalRequest or it holds no request.
GrpcResult<InternalRequest> decode_proposal(std::string_view bytes);

} // namespace keel::kv
