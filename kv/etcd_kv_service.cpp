// etcd's KV service: reads served from the local store (serializable ones
// at once, linearizable ones after a ReadIndex barrier), writes proposed
// through Raft and answered when this member applied them.
#include "kv/etcd_convert.h"
#include "kv/etcd_errors.h"
#include "kv/etcd_services.h"
#include "kv/space_quota.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <utility>

namespace keel::kv {

void reply(GrpcCall& call, const google::protobuf::MessageLite& response) {
    call.send(response.SerializeAsString());
    call.finish({});
}

void reply_error(GrpcCall& call, const Error& error) {
    // A refusal that already is one of etcd's (a check's status carried
    // through the log as text) keeps its gRPC code.
    if (error.code() == 0) {
        for (const EtcdErrorEntry& entry : kEtcdErrors)
            if (entry.message == error.root())
                return call.finish(etcd_status(entry.error));
    }
    call.finish(status_of(error));
}

namespace {

void serve_range(KvServer& server, GrpcCall& call, const etcdserverpb::RangeRequest& request) {
    auto converted = to_mvcc(request);
    if (!converted)
        return call.finish(converted.error());
    auto range = server.machine().store().range(*converted);
    if (!range)
        return reply_error(call, range.error());
    etcdserverpb::RangeResponse response;
    to_proto(*range, &response);
    server.fill_header(*response.mutable_header(), range->revision);
    reply(call, response);
}

// A route for a write: parse, check, wrap in an InternalRequest, propose,
// answer with the state machine's response.
template <typename Request, typename Response>
GrpcRoute write_route(KvServer& server, std::function<GrpcStatus(const Request&)> check,
                      void (*wrap)(InternalRequest&, Request&&)) {
    return unary_route(
        [&server, check, wrap](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
            auto request = parse_message<Request>(bytes);
            if (!request)
                return call->finish(request.error());
            if (check) {
                if (GrpcStatus refused = check(*request); !refused.ok())
                    return call->finish(std::move(refused));
            }
            InternalRequest internal;
            wrap(internal, std::move(*request));
            server.propose(internal, [&server, call](Result<std::string> answer) {
                reply_proposal<Response>(server, *call, answer);
            });
        });
}

} // namespace

void add_kv_service(GrpcServer& grpc, KvServer& server) {
    const Limits limits = server.limits();

    grpc.route("/etcdserverpb.KV/Range",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::RangeRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   if (GrpcStatus refused = check_request(*request); !refused.ok())
                       return call->finish(std::move(refused));
                   if (request->serializable())
                       return serve_range(server, *call, *request);
                   // A learner serves serializable reads only (etcd's rule).
                   if (server.is_learner())
                       return call->finish(etcd_status(EtcdError::NotSupportedForLearner));
                   server.read_barrier(
                       [&server, call, request = std::move(*request)](Result<void> ready) {
                           if (!ready)
                               return reply_error(*call, ready.error());
                           serve_range(server, *call, request);
                       });
               }));

    grpc.route("/etcdserverpb.KV/Put",
               write_route<etcdserverpb::PutRequest, etcdserverpb::PutResponse>(
                   server,
                   [&server](const etcdserverpb::PutRequest& r) {
                       // The quota first, as etcd's interceptor does.
                       if (GrpcStatus full = server.check_space_quota(quota_cost(r)); !full.ok())
                           return full;
                       return check_request(r);
                   },
                   [](InternalRequest& internal, etcdserverpb::PutRequest&& request) {
                       internal.mutable_put()->Swap(&request);
                   }));
    grpc.route("/etcdserverpb.KV/DeleteRange",
               write_route<etcdserverpb::DeleteRangeRequest, etcdserverpb::DeleteRangeResponse>(
                   server,
                   [](const etcdserverpb::DeleteRangeRequest& r) { return check_request(r); },
                   [](InternalRequest& internal, etcdserverpb::DeleteRangeRequest&& request) {
                       internal.mutable_delete_range()->Swap(&request);
                   }));
    grpc.route("/etcdserverpb.KV/Txn",
               write_route<etcdserverpb::TxnRequest, etcdserverpb::TxnResponse>(
                   server,
                   [&server, limits](const etcdserverpb::TxnRequest& r) {
                       if (GrpcStatus full = server.check_space_quota(quota_cost(r)); !full.ok())
                           return full;
                       return check_request(r, limits);
                   },
                   [](InternalRequest& internal, etcdserverpb::TxnRequest&& request) {
                       internal.mutable_txn()->Swap(&request);
                   }));
    grpc.route("/etcdserverpb.KV/Compact",
               write_route<etcdserverpb::CompactionRequest, etcdserverpb::CompactionResponse>(
                   server, nullptr,
                   [](InternalRequest& internal, etcdserverpb::CompactionRequest&& request) {
                       internal.mutable_compaction()->Swap(&request);
                   }));
}

} // namespace keel::kv
