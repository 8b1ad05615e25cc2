// etcd's Lease service: grants, revokes and keep-alives go through the Raft
// log (so every member's lease clock restarts together and a new leader
// keeps the remaining TTLs); TimeToLive and Leases read the local lessor.
#include "kv/etcd_convert.h"
#include "kv/etcd_errors.h"
#include "kv/etcd_services.h"
#include "kv/space_quota.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <utility>

namespace keel::kv {

namespace {

// A keep-alive stream: each request renews its lease through the log and
// is answered in order of application (TTL 0 for a lease that is gone, as
// etcd answers).
class KeepAliveHandler final : public GrpcHandler {
public:
    KeepAliveHandler(KvServer& server, std::shared_ptr<GrpcCall> call)
        : m_server(server), m_call(std::move(call)) {}

    void on_message(std::string_view bytes) override {
        auto request = parse_message<etcdserverpb::LeaseKeepAliveRequest>(bytes);
        if (!request)
            return m_call->finish(request.error());
        int64_t id = request->id();
        InternalRequest internal;
        internal.mutable_lease_renew()->set_id(id);
        m_server.propose(internal, [&server = m_server, call = m_call,
                                    id](Result<std::string> answer) {
            etcdserverpb::LeaseKeepAliveResponse response;
            if (answer) {
                if (!response.ParseFromString(*answer))
                    return reply_error(*call, Error::message("kv: a garbled keep-alive answer"));
            } else if (answer.error().code() == int(ErrorCode::LeaseNotFound)) {
                response.set_id(id);
                response.set_ttl(0);
            } else {
                return reply_error(*call, answer.error());
            }
            server.fill_header(*response.mutable_header());
            call->send(response.SerializeAsString());
        });
    }
    void on_half_close() override { m_call->finish({}); }

private:
    KvServer& m_server;
    std::shared_ptr<GrpcCall> m_call;
};

} // namespace

void add_lease_service(GrpcServer& grpc, KvServer& server) {
    grpc.route("/etcdserverpb.Lease/LeaseGrant",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::LeaseGrantRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   if (GrpcStatus full = server.check_space_quota(lease_grant_quota_cost());
                       !full.ok())
                       return call->finish(std::move(full));
                   InternalRequest internal;
                   auto& grant = *internal.mutable_lease_grant();
                   grant.set_id(request->id() != 0 ? request->id() : server.new_lease_id());
                   grant.set_ttl(request->ttl());
                   server.propose(internal, [&server, call](Result<std::string> answer) {
                       reply_proposal<etcdserverpb::LeaseGrantResponse>(server, *call, answer);
                   });
               }));

    grpc.route("/etcdserverpb.Lease/LeaseRevoke",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::LeaseRevokeRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   InternalRequest internal;
                   internal.mutable_lease_revoke()->set_id(request->id());
                   server.propose(internal, [&server, call](Result<std::string> answer) {
                       reply_proposal<etcdserverpb::LeaseRevokeResponse>(server, *call, answer);
                   });
               }));

    grpc.route("/etcdserverpb.Lease/LeaseKeepAlive",
               [&server](std::shared_ptr<GrpcCall> call) -> std::unique_ptr<GrpcHandler> {
                   return std::make_unique<KeepAliveHandler>(server, std::move(call));
               });

    grpc.route("/etcdserverpb.Lease/LeaseTimeToLive",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::LeaseTimeToLiveRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   server.read_barrier([&server, call, id = request->id(),
                                        keys = request->keys()](Result<void> ready) {
                       if (!ready)
                           return reply_error(*call, ready.error());
                       auto status = server.machine().lessor().time_to_live(
                           id, std::chrono::steady_clock::now(),
                           keys ? LeaseKeys::Include : LeaseKeys::Omit);
                       etcdserverpb::LeaseTimeToLiveResponse response;
                       if (!status && status.error().code() == int(ErrorCode::LeaseNotFound)) {
                           // etcd answers a lease that is gone with TTL -1.
                           response.set_id(id);
                           response.set_ttl(-1);
                           server.fill_header(*response.mutable_header());
                           return reply(*call, response);
                       }
                       if (!status)
                           return reply_error(*call, status.error());
                       response.set_id(status->id);
                       response.set_ttl(status->remaining_ttl);
                       response.set_grantedttl(status->granted_ttl);
                       for (const std::string& key : status->keys)
                           response.add_keys(key);
                       server.fill_header(*response.mutable_header());
                       reply(*call, response);
                   });
               }));

    grpc.route("/etcdserverpb.Lease/LeaseLeases",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   server.read_barrier([&server, call](Result<void> ready) {
                       if (!ready)
                           return reply_error(*call, ready.error());
                       etcdserverpb::LeaseLeasesResponse response;
                       for (int64_t id : server.machine().lessor().leases())
                           response.add_leases()->set_id(id);
                       server.fill_header(*response.mutable_header());
                       reply(*call, response);
                   });
               }));
}

} // namespace keel::kv
