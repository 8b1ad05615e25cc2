// The etcd v3 gRPC services of one member (KV, Watch, Lease, Cluster,
// Maintenance) and gRPC's health service, as routes on a GrpcServer.
// Method paths, messages, codes and error texts are etcd 3.4's, so etcdctl
// and clientv3 talk to keel unchanged. Private to kv/.
#pragma once

#include "kv/grpc_server.h"
#include "kv/kv_server.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace google::protobuf {
class MessageLite;
}

namespace keel::kv {

/// /etcdserverpb.KV/{Range,Put,DeleteRange,Txn,Compact}.
void add_kv_service(GrpcServer& grpc, KvServer& server);
/// /etcdserverpb.Watch/Watch.
void add_watch_service(GrpcServer& grpc, KvServer& server);
/// /etcdserverpb.Lease/{LeaseGrant,LeaseRevoke,LeaseKeepAlive,LeaseTimeToLive,LeaseLeases}.
void add_lease_service(GrpcServer& grpc, KvServer& server);
/// /etcdserverpb.Cluster/... and /etcdserverpb.Maintenance/..., and
/// /grpc.health.v1.Health/Check.
void add_cluster_service(GrpcServer& grpc, KvServer& server);
void add_maintenance_service(GrpcServer& grpc, KvServer& server);

/// What a learner refuses (etcd's rule: it serves Status and serializable
/// Range calls only; Range checks the latter itself): the refusal for a
/// call of `path`, or nothing when the call may go on.
std::optional<GrpcStatus> learner_admission(const KvServer& server, std::string_view path);

/// Sends `response` and ends the call with OK.
void reply(GrpcCall& call, const google::protobuf::MessageLite& response);
/// Ends the call with the etcd status of `error`.
void reply_error(GrpcCall& call, const Error& error);

/// Answers a proposal's result on `call`: parses the state machine's
/// response as `Response`, fills its header and sends it.
template <typename Response>
void reply_proposal(KvServer& server, GrpcCall& call, const Result<std::string>& answer) {
    if (!answer)
        return reply_error(call, answer.error());
    Response response;
    if (!response.ParseFromString(*answer))
        return reply_error(call, Error::message("kv: a response the state machine garbled"));
    server.fill_header(*response.mutable_header(), response.header().revision());
    reply(call, response);
}

} // namespace keel::kv
