// KvStateMachine: decodes each committed command and applies it to the MVCC
// store and the leases; keeps the member list in the store's aux records.
#include "kv/kv_state_machine.h"

#include "base/endian.h"
#include "base/strings.h"
#include "kv/etcd_convert.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <cstdint>
#include <utility>

namespace keel::kv {

namespace {

constexpr std::string_view kMemberPrefix = "member/";

std::string member_key(NodeId id) {
    return cat(kMemberPrefix, hex_id(id));
}

std::string serialize(const google::protobuf::MessageLite& message) {
    std::string out;
    message.SerializeToString(&out);
    return out;
}

// Every lease a put in `txn` names (both branches and nested txns: a put
// that names a missing lease is refused whichever branch runs).
void collect_leases(const TxnRequest& txn, std::vector<int64_t>& leases) {
    for (const auto* branch : {&txn.success, &txn.failure}) {
        for (const RequestOp& op : *branch) {
            if (const auto* put = std::get_if<PutRequest>(&op.request)) {
                if (put->lease != 0)
                    leases.push_back(put->lease);
            } else if (const auto* nested = std::get_if<TxnRequest>(&op.request)) {
                collect_leases(*nested, leases);
            }
        }
    }
}

// A request the proposer checked converts; one that does not is refused
// alike on every member, with etcd's text.
template <typename T> Result<T> converted(GrpcResult<T> result) {
    if (!result)
        return std::unexpected(Error::message(result.error().message));
    return std::move(*result);
}

std::unexpected<Error> lease_not_found(int64_t lease) {
    return std::unexpected(
        Error::from_code(ErrorCode::LeaseNotFound,
                         cat("lease ", hex_id(static_cast<uint64_t>(lease)), " not found")));
}

} // namespace

std::string hex_id(uint64_t id) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, id >>= 4)
        out[static_cast<size_t>(i)] = kDigits[id & 0xf];
    return out;
}

std::string encode_member(const MemberInfo& member) {
    Member message;
    message.set_id(member.id);
    message.set_name(member.name);
    for (const std::string& url : member.peer_urls)
        message.add_peer_urls(url);
    for (const std::string& url : member.client_urls)
        message.add_client_urls(url);
    message.set_is_learner(member.is_learner);
    return serialize(message);
}

Result<MemberInfo> decode_member(std::string_view context) {
    Member message;
    if (!message.ParseFromArray(context.data(), static_cast<int>(context.size())))
        return error("kv: a member record that does not parse");
    MemberInfo member;
    member.id = message.id();
    member.is_learner = message.is_learner();
    member.name = message.name();
    member.peer_urls.assign(message.peer_urls().begin(), message.peer_urls().end());
    member.client_urls.assign(message.client_urls().begin(), message.client_urls().end());
    return member;
}

// An answer: 0 then the response, or 1, the error code (i32) and its text.
std::string encode_apply_answer(std::string_view response) {
    std::string out(1, '\0');
    out += response;
    return out;
}

std::string encode_apply_refusal(const Error& error) {
    std::string out(1, '\1');
    put_u32(out, static_cast<uint32_t>(error.code()));
    out += error.root();
    return out;
}

Result<std::string> decode_apply_answer(std::string_view answer) {
    if (answer.empty())
        return error("kv: an empty apply answer");
    if (answer[0] == '\0')
        return std::string(answer.substr(1));
    if (answer.size() < 5)
        return error("kv: an apply refusal cut short");
    auto code = static_cast<int32_t>(get_u32(answer, 1));
    std::string text(answer.substr(5));
    if (code == 0)
        return std::unexpected(Error::message(std::move(text)));
    return std::unexpected(Error::from_code(static_cast<ErrorCode>(code), std::move(text)));
}

Result<std::unique_ptr<KvStateMachine>>
KvStateMachine::open(std::unique_ptr<Backend> backend, Clock clock, int64_t minimum_lease_ttl) {
    std::unique_ptr<KvStateMachine> machine(new KvStateMachine());
    machine->m_clock = std::move(clock);
    machine->m_store = TRY(MvccStore::open(std::move(backend)));
    machine->m_lessor = TRY(Lessor::open(*machine->m_store, machine->m_clock(), minimum_lease_ttl));
    machine->m_watches = std::make_unique<WatchHub>(*machine->m_store);
    TRY(machine->load_members());
    TRY(machine->load_alarms());
    return machine;
}

KvStateMachine::~KvStateMachine() = default;

Index KvStateMachine::applied_index() const {
    return m_store->consistent_index();
}

Result<void> KvStateMachine::load_members() {
    m_members.clear();
    Result<void> failed;
    TRY(m_store->scan_aux(kMemberPrefix, [&](std::string_view, std::string_view value) {
        auto member = decode_member(value);
        if (!member) {
            failed = std::unexpected(member.error());
            return ScanStep::Stop;
        }
        m_members[member->id] = std::move(*member);
        return ScanStep::Continue;
    }));
    return failed;
}

void KvStateMachine::members_changed() {
    if (m_members_changed)
        m_members_changed();
}

void KvStateMachine::notify(const std::vector<Event>& events) {
    if (!events.empty())
        m_watches->notify(events, m_store->revision());
}

Result<std::string> KvStateMachine::apply(Index index, std::string_view command) {
    InternalRequest request;
    if (!request.ParseFromArray(command.data(), static_cast<int>(command.size()))) {
        // Every member refuses it alike; nothing changed.
        m_store->mark_applied(index);
        return encode_apply_refusal(Error::message("kv: a command that does not parse"));
    }
    auto answer = apply_request(index, request);
    // An errno is the storage failing under the store: this member cannot
    // go on. keel's own codes (and plain messages) are refusals every
    // member reaches alike: answered, and the entry counts as applied.
    if (!answer && answer.error().code() > 0)
        return std::unexpected(std::move(answer).error().wrap("kv: apply"));
    if (!answer) {
        if (m_store->consistent_index() < index)
            m_store->mark_applied(index);
        return encode_apply_refusal(answer.error());
    }
    return encode_apply_answer(*answer);
}

Result<std::string> KvStateMachine::apply_request(Index index, const InternalRequest& request) {
    if (auto refused = refused_for_corruption(request))
        return std::unexpected(std::move(*refused));
    if (auto refused = refused_for_space(request))
        return std::unexpected(std::move(*refused));
    switch (request.request_case()) {
    case InternalRequest::kPut: {
        PutRequest put = TRY(converted(to_mvcc(request.put())));
        if (put.lease != 0 && !m_lessor->exists(put.lease))
            return lease_not_found(put.lease);
        auto written = TRY(m_store->put(put, index));
        notify(written.events);
        etcdserverpb::PutResponse response;
        to_proto(written.response, &response);
        return serialize(response);
    }
    case InternalRequest::kDeleteRange: {
        auto written =
            TRY(m_store->delete_range(TRY(converted(to_mvcc(request.delete_range()))), index));
        notify(written.events);
        etcdserverpb::DeleteRangeResponse response;
        to_proto(written.response, &response);
        return serialize(response);
    }
    case InternalRequest::kTxn: {
        TxnRequest txn = TRY(converted(to_mvcc(request.txn(), Limits{SIZE_MAX, SIZE_MAX})));
        std::vector<int64_t> leases;
        collect_leases(txn, leases);
        for (int64_t lease : leases)
            if (!m_lessor->exists(lease))
                return lease_not_found(lease);
        auto written = TRY(m_store->txn(txn, index));
        notify(written.events);
        etcdserverpb::TxnResponse response;
        to_proto(written.response, &response);
        return serialize(response);
    }
    case InternalRequest::kRange: {
        auto range = TRY(m_store->range(TRY(converted(to_mvcc(request.range())))));
        m_store->mark_applied(index);
        etcdserverpb::RangeResponse response;
        to_proto(range, &response);
        return serialize(response);
    }
    case InternalRequest::kCompaction: {
        TRY(m_store->compact(request.compaction().revision(), index));
        return serialize(etcdserverpb::CompactionResponse());
    }
    case InternalRequest::kLeaseGrant: {
        const auto& grant = request.lease_grant();
        TRY(m_lessor->grant(grant.id(), grant.ttl(), index, m_clock()));
        // The TTL granted: the lessor raises a short one to the minimum.
        auto granted = TRY(m_lessor->time_to_live(grant.id(), m_clock(), LeaseKeys::Omit));
        etcdserverpb::LeaseGrantResponse response;
        response.set_id(grant.id());
        response.set_ttl(granted.granted_ttl);
        return serialize(response);
    }
    case InternalRequest::kLeaseRevoke: {
        auto written = TRY(m_lessor->revoke(request.lease_revoke().id(), index));
        notify(written.events);
        return serialize(etcdserverpb::LeaseRevokeResponse());
    }
    case InternalRequest::kLeaseRenew: {
        int64_t id = request.lease_renew().id();
        int64_t ttl = TRY(m_lessor->renew(id, index, m_clock()));
        etcdserverpb::LeaseKeepAliveResponse response;
        response.set_id(id);
        response.set_ttl(ttl);
        return serialize(response);
    }
    case InternalRequest::kMemberAttributes: {
        const auto& attributes = request.member_attributes();
        auto member = m_members.find(attributes.id());
        if (member == m_members.end())
            return error(cat("kv: member ", hex_number(attributes.id()), " is not in the cluster"));
        MemberInfo updated = member->second;
        updated.name = attributes.name();
        updated.client_urls.assign(attributes.client_urls().begin(),
                                   attributes.client_urls().end());
        TRY(m_store->put_aux(member_key(updated.id), encode_member(updated), index));
        member->second = std::move(updated);
        members_changed();
        return std::string();
    }
    case InternalRequest::kMemberPeerUrls: {
        const auto& update = request.member_peer_urls();
        auto member = m_members.find(update.id());
        // Removed after the update was checked: nothing left to update.
        if (member == m_members.end())
            return std::string();
        MemberInfo updated = member->second;
        updated.peer_urls.assign(update.peer_urls().begin(), update.peer_urls().end());
        TRY(m_store->put_aux(member_key(updated.id), encode_member(updated), index));
        member->second = std::move(updated);
        members_changed();
        return std::string();
    }
    case InternalRequest::kAlarm:
        return apply_alarm(index, request);
    case InternalRequest::REQUEST_NOT_SET:
        break;
    }
    return error("kv: a command of no kind this member knows");
}

Result<void> KvStateMachine::apply_empty(Index index) {
    if (index > m_store->consistent_index())
        m_store->mark_applied(index);
    return {};
}

Result<void> KvStateMachine::apply_conf_change(Index index, const ConfChange& change,
                                               const ConfState&) {
    switch (change.type) {
    case ConfChangeType::AddVoter:
    case ConfChangeType::AddLearner: {
        MemberInfo member;
        if (!change.context.empty())
            member = TRY(decode_member(change.context));
        member.id = change.node;
        member.is_learner = change.type == ConfChangeType::AddLearner;
        TRY(m_store->put_aux(member_key(member.id), encode_member(member), index));
        m_members[member.id] = std::move(member);
        members_changed();
        return {};
    }
    case ConfChangeType::RemoveNode:
        TRY(m_store->put_aux(member_key(change.node), std::nullopt, index));
        m_members.erase(change.node);
        members_changed();
        return {};
    case ConfChangeType::PromoteLearner: {
        auto member = m_members.find(change.node);
        if (member == m_members.end())
            return apply_empty(index);
        member->second.is_learner = false;
        TRY(m_store->put_aux(member_key(change.node), encode_member(member->second), index));
        members_changed();
        return {};
    }
    case ConfChangeType::RefusedPromotion:
        break; // never applies (apply_conf_change refuses it)
    }
    return apply_empty(index);
}

Result<std::string> KvStateMachine::snapshot() {
    return m_store->snapshot();
}

Result<void> KvStateMachine::restore(const Snapshot& snapshot) {
    TRY(m_store->restore(snapshot.data));
    TRY(m_lessor->reload(m_clock()));
    m_watches->restored();
    TRY(load_members());
    TRY(load_alarms());
    members_changed();
    return {};
}

Result<void> KvStateMachine::replace_members(const std::vector<MemberInfo>& members, Index index) {
    for (const auto& [id, member] : m_members)
        TRY(m_store->put_aux(member_key(id), std::nullopt, index));
    TRY(drop_alarms(index));
    m_members.clear();
    for (const MemberInfo& member : members) {
        TRY(m_store->put_aux(member_key(member.id), encode_member(member), index));
        m_members[member.id] = member;
    }
    m_store->mark_applied(index);
    members_changed();
    return {};
}

Result<void> KvStateMachine::flush() {
    return m_store->flush();
}

} // namespace keel::kv
