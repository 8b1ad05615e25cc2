// etcd's Cluster and Maintenance services and gRPC's health check: the
// member list and its changes (Raft membership changes whose context is
// the member; a peer URL update is a logged request; etcd's strict
// reconfiguration check, kv/etcd_reconfig.h), what a learner refuses,
// status, alarms, hashes, snapshots and leadership moves.
#include "base/strings.h"
#include "kv/etcd_convert.h"
#include "kv/etcd_errors.h"
#include "kv/etcd_reconfig.h"
#include "kv/etcd_services.h"
#include "kv/saved_snapshot.h"
#include "kv/server_config.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/grpc/health.pb.h"
#include "proto/kv/internal.pb.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

namespace keel::kv {

namespace {

// What Status reports as the version: the etcd API level keel speaks
// (clients compare it, so it stays etcd's form).
constexpr std::string_view kApiVersion = "3.4.0";
// etcd 3.4's limit on learners in a cluster.
constexpr size_t kMaxLearners = 1;
// The size of each Snapshot stream message.
constexpr size_t kSnapshotChunk = 32 * 1024;

void member_to_proto(const MemberInfo& member, etcdserverpb::Member& out) {
    out.set_id(member.id);
    out.set_name(member.name);
    for (const std::string& url : member.peer_urls)
        out.add_peerurls(url);
    for (const std::string& url : member.client_urls)
        out.add_clienturls(url);
    out.set_islearner(member.is_learner);
}

template <typename Response> void add_members(KvServer& server, Response& response) {
    for (const auto& [id, member] : server.machine().members())
        member_to_proto(member, *response.add_members());
}

// The peer URLs of a MemberAdd or MemberUpdate in their str() forms, or
// nothing when there are none or one does not parse.
std::optional<std::vector<std::string>>
parse_peer_urls(const google::protobuf::RepeatedPtrField<std::string>& texts) {
    std::vector<std::string> urls;
    for (const std::string& text : texts) {
        auto url = parse_server_url(text);
        if (!url)
            return std::nullopt;
        urls.push_back(url->str());
    }
    if (urls.empty())
        return std::nullopt;
    return urls;
}

// Whether a member other than `self` has one of `urls` already.
bool peer_urls_taken(KvServer& server, const std::vector<std::string>& urls, NodeId self) {
    for (const auto& [id, member] : server.machine().members())
        for (const std::string& url : member.peer_urls)
            if (id != self && std::ranges::find(urls, url) != urls.end())
                return true;
    return false;
}

// What this member knows of the voters and its connections to them, for
// etcd's strict reconfiguration check.
ReconfigView reconfig_view(KvServer& server) {
    ReconfigView view;
    view.self = server.member_id();
    for (const auto& [id, member] : server.machine().members())
        if (!member.is_learner)
            view.voters.push_back(id);
    view.connected_since = [&server](NodeId id) { return server.peer_connected_since(id); };
    view.now = std::chrono::steady_clock::now();
    return view;
}

// etcd's checks on a member to add: a peer URL taken, the id taken, at
// most one learner, and (for a voter) enough started voters
// to keep a quorum while the new member is not running yet, and every
// voter connected to this member (else "unhealthy cluster").
std::optional<EtcdError> check_member_add(KvServer& server, const MemberInfo& added) {
    const auto& members = server.machine().members();
    // URLs first: the id is derived from them, so the same URLs again mean
    // the same id, and etcd (whose ids differ each time) names the URLs.
    if (peer_urls_taken(server, added.peer_urls, 0))
        return EtcdError::PeerUrlExists;
    if (members.contains(added.id))
        return EtcdError::MemberExists;
    size_t learners = 0;
    size_t voters = 0;
    size_t started_voters = 0;
    for (const auto& [id, member] : members) {
        learners += member.is_learner ? 1 : 0;
        voters += member.is_learner ? 0 : 1;
        started_voters += !member.is_learner && !member.name.empty() ? 1 : 0;
    }
    if (added.is_learner && learners + 1 > kMaxLearners)
        return EtcdError::TooManyLearners;
    // A second member for a single one that runs is always let in (etcd's
    // exception, for growing a restored one-member cluster).
    bool second_of_one = started_voters == 1 && voters == 1;
    if (!added.is_learner && !second_of_one && started_voters < (voters + 1) / 2 + 1)
        return EtcdError::MemberNotEnoughStarted;
    if (!added.is_learner && !may_add_voter(reconfig_view(server)))
        return EtcdError::Unhealthy;
    return std::nullopt;
}

// etcd's check on a voter to remove: the voters this member is connected
// to must stay a quorum without it (a learner may always go).
std::optional<EtcdError> check_member_remove(KvServer& server, const MemberInfo& removed) {
    if (removed.is_learner || may_remove_voter(reconfig_view(server), removed.id))
        return std::nullopt;
    return EtcdError::Unhealthy;
}

// Proposes a membership change and answers with the members afterwards.
template <typename Response>
void change_membership(KvServer& server, std::shared_ptr<GrpcCall> call, ConfChange change,
                       std::function<void(Response&)> extra = nullptr) {
    server.driver().propose_conf_change(std::move(change),
                                        [&server, call, extra](Result<void> done) {
                                            if (!done)
                                                return reply_error(*call, done.error());
                                            Response response;
                                            add_members(server, response);
                                            if (extra)
                                                extra(response);
                                            server.fill_header(*response.mutable_header());
                                            reply(*call, response);
                                        });
}

} // namespace

void add_cluster_service(GrpcServer& grpc, KvServer& server) {
    grpc.route("/etcdserverpb.Cluster/MemberList",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   etcdserverpb::MemberListResponse response;
                   add_members(server, response);
                   server.fill_header(*response.mutable_header());
                   reply(*call, response);
               }));

    grpc.route("/etcdserverpb.Cluster/MemberAdd",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::MemberAddRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   MemberInfo member;
                   auto urls = parse_peer_urls(request->peerurls());
                   if (!urls)
                       return call->finish(etcd_status(EtcdError::MemberBadUrls));
                   member.peer_urls = std::move(*urls);
                   member.is_learner = request->islearner();
                   member.id = member_id(member.peer_urls, server.config().initial_cluster_token);
                   if (auto refused = check_member_add(server, member))
                       return call->finish(etcd_status(*refused));
                   ConfChange change{member.is_learner ? ConfChangeType::AddLearner
                                                       : ConfChangeType::AddVoter,
                                     member.id, encode_member(member)};
                   change_membership<etcdserverpb::MemberAddResponse>(
                       server, call, std::move(change),
                       [member](etcdserverpb::MemberAddResponse& response) {
                           member_to_proto(member, *response.mutable_member());
                       });
               }));

    grpc.route("/etcdserverpb.Cluster/MemberUpdate",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::MemberUpdateRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   auto urls = parse_peer_urls(request->peerurls());
                   if (!urls)
                       return call->finish(etcd_status(EtcdError::MemberBadUrls));
                   if (!server.machine().members().contains(request->id()))
                       return call->finish(etcd_status(EtcdError::MemberNotFound));
                   if (peer_urls_taken(server, *urls, request->id()))
                       return call->finish(etcd_status(EtcdError::PeerUrlExists));
                   InternalRequest update;
                   update.mutable_member_peer_urls()->set_id(request->id());
                   for (const std::string& url : *urls)
                       update.mutable_member_peer_urls()->add_peer_urls(url);
                   server.propose(update, [&server, call](Result<std::string> done) {
                       if (!done)
                           return reply_error(*call, done.error());
                       etcdserverpb::MemberUpdateResponse response;
                       add_members(server, response);
                       server.fill_header(*response.mutable_header());
                       reply(*call, response);
                   });
               }));

    grpc.route("/etcdserverpb.Cluster/MemberRemove",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::MemberRemoveRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   auto member = server.machine().members().find(request->id());
                   if (member == server.machine().members().end())
                       return call->finish(etcd_status(EtcdError::MemberNotFound));
                   if (auto refused = check_member_remove(server, member->second))
                       return call->finish(etcd_status(*refused));
                   change_membership<etcdserverpb::MemberRemoveResponse>(
                       server, call, ConfChange{ConfChangeType::RemoveNode, request->id(), {}});
               }));

    grpc.route("/etcdserverpb.Cluster/MemberPromote",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::MemberPromoteRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   auto member = server.machine().members().find(request->id());
                   if (member == server.machine().members().end())
                       return call->finish(etcd_status(EtcdError::MemberNotFound));
                   if (!member->second.is_learner)
                       return call->finish(etcd_status(EtcdError::MemberNotLearner));
                   // Whether the learner is in sync is the leader's to
                   // say, whoever was asked: a promotion it refuses comes
                   // back through the log (ErrorCode::LearnerNotReady).
                   change_membership<etcdserverpb::MemberPromoteResponse>(
                       server, call, ConfChange{ConfChangeType::PromoteLearner, request->id(), {}});
               }));

    grpc.route("/grpc.health.v1.Health/Check",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   grpc::health::v1::HealthCheckResponse response;
                   response.set_status(server.driver().leader() != 0
                                           ? grpc::health::v1::HealthCheckResponse::SERVING
                                           : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
                   reply(*call, response);
               }));
}

std::optional<GrpcStatus> learner_admission(const KvServer& server, std::string_view path) {
    if (!server.is_learner() || path == "/etcdserverpb.Maintenance/Status" ||
        path == "/etcdserverpb.KV/Range")
        return std::nullopt;
    return etcd_status(EtcdError::NotSupportedForLearner);
}

void add_maintenance_service(GrpcServer& grpc, KvServer& server) {
    grpc.route(
        "/etcdserverpb.Maintenance/Status",
        unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
            RaftStatus raft = server.driver().status();
            etcdserverpb::StatusResponse response;
            response.set_version(std::string(kApiVersion));
            response.set_dbsize(server.db_size());
            response.set_dbsizeinuse(server.db_size_in_use());
            response.set_leader(raft.leader);
            response.set_raftindex(raft.commit);
            response.set_raftterm(raft.term);
            response.set_raftappliedindex(raft.applied);
            response.set_islearner(std::ranges::find(raft.conf.learners, raft.id) !=
                                   raft.conf.learners.end());
            if (raft.leader == 0)
                response.add_errors("etcdserver: no leader");
            // Each raised alarm, as Go prints an AlarmMember.
            for (const RaisedAlarm& alarm : server.machine().alarms())
                response.add_errors(cat(
                    "memberID:", alarm.member, " alarm:",
                    etcdserverpb::AlarmType_Name(static_cast<etcdserverpb::AlarmType>(alarm.type)),
                    " "));
            server.fill_header(*response.mutable_header());
            reply(*call, response);
        }));

    grpc.route("/etcdserverpb.Maintenance/Alarm",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::AlarmRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   // Every action goes through the log, as in etcd: a GET
                   // sees every alarm raised before it.
                   InternalRequest internal;
                   internal.mutable_alarm()->Swap(&*request);
                   server.propose(internal, [&server, call](Result<std::string> answer) {
                       reply_proposal<etcdserverpb::AlarmResponse>(server, *call, answer);
                   });
               }));

    grpc.route("/etcdserverpb.Maintenance/Defragment",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   // LMDB reuses the pages it frees, so there is nothing
                   // to compact away: answering at once is what a
                   // defragmentation that never stops the world amounts to.
                   etcdserverpb::DefragmentResponse response;
                   server.fill_header(*response.mutable_header());
                   reply(*call, response);
               }));

    grpc.route("/etcdserverpb.Maintenance/HashKV",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::HashKVRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   auto hash = server.machine().store().hash_kv(request->revision());
                   if (!hash)
                       return reply_error(*call, hash.error());
                   etcdserverpb::HashKVResponse response;
                   response.set_hash(hash->hash);
                   response.set_compact_revision(hash->compact_revision);
                   server.fill_header(*response.mutable_header(), hash->hash_revision);
                   reply(*call, response);
               }));

    grpc.route("/etcdserverpb.Maintenance/Hash",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   auto hash = server.machine().store().hash_kv(0);
                   if (!hash)
                       return reply_error(*call, hash.error());
                   etcdserverpb::HashResponse response;
                   response.set_hash(hash->hash);
                   server.fill_header(*response.mutable_header());
                   reply(*call, response);
               }));

    grpc.route("/etcdserverpb.Maintenance/Snapshot",
               unary_route([&server](std::string_view, std::shared_ptr<GrpcCall> call) {
                   auto snapshot = server.machine().snapshot();
                   if (!snapshot)
                       return reply_error(*call, snapshot.error());
                   append_snapshot_trailer(*snapshot);
                   std::string_view rest = *snapshot;
                   do {
                       std::string_view chunk = rest.substr(0, kSnapshotChunk);
                       rest.remove_prefix(chunk.size());
                       etcdserverpb::SnapshotResponse response;
                       response.set_blob(std::string(chunk));
                       response.set_remaining_bytes(rest.size());
                       server.fill_header(*response.mutable_header());
                       call->send(response.SerializeAsString());
                   } while (!rest.empty());
                   call->finish({});
               }));

    grpc.route("/etcdserverpb.Maintenance/MoveLeader",
               unary_route([&server](std::string_view bytes, std::shared_ptr<GrpcCall> call) {
                   auto request = parse_message<etcdserverpb::MoveLeaderRequest>(bytes);
                   if (!request)
                       return call->finish(request.error());
                   auto moved = server.driver().transfer_leadership(request->targetid());
                   if (!moved)
                       return reply_error(*call, moved.error());
                   etcdserverpb::MoveLeaderResponse response;
                   server.fill_header(*response.mutable_header());
                   reply(*call, response);
               }));
}

} // namespace keel::kv
