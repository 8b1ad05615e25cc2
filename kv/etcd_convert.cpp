// Conversions between etcd's wire messages and the MVCC store's types, and
// the bytes of messages and proposals. The checks a request passes first
// are in etcd_check.cpp.
#include "kv/etcd_convert.h"

#include <climits>

namespace keel::kv {

namespace {

// The store's enums have the wire's numbering; these say so once.
static_assert(int(SortOrder::Descend) == etcdserverpb::RangeRequest::DESCEND);
static_assert(int(SortTarget::Value) == etcdserverpb::RangeRequest::VALUE);
static_assert(int(CompareResult::NotEqual) == etcdserverpb::Compare::NOT_EQUAL);
static_assert(int(CompareTarget::Lease) == etcdserverpb::Compare::LEASE);
static_assert(int(EventType::Delete) == mvccpb::Event::DELETE);

// The values of GrpcResults must not end in padding (libc++ 16, see
// detail::check_grpc_result_layout).
[[maybe_unused]] constexpr bool kLayoutsChecked = [] {
    detail::check_grpc_result_layout<RangeRequest>();
    detail::check_grpc_result_layout<PutRequest>();
    detail::check_grpc_result_layout<DeleteRangeRequest>();
    detail::check_grpc_result_layout<TxnRequest>();
    detail::check_grpc_result_layout<TxnResponse>();
    detail::check_grpc_result_layout<InternalRequest>();
    detail::check_grpc_result_layout<std::string>();
    return true;
}();

RangeRequest convert(const etcdserverpb::RangeRequest& in) {
    RangeRequest out;
    out.key = in.key();
    out.range_end = in.range_end();
    out.limit = std::max<int64_t>(in.limit(), 0);
    out.revision = std::max<int64_t>(in.revision(), 0);
    out.sort_order = SortOrder(in.sort_order());
    out.sort_target = SortTarget(in.sort_target());
    out.keys_only = in.keys_only();
    out.count_only = in.count_only();
    out.min_mod_revision = in.min_mod_revision();
    out.max_mod_revision = in.max_mod_revision();
    out.min_create_revision = in.min_create_revision();
    out.max_create_revision = in.max_create_revision();
    return out;
}

PutRequest convert(const etcdserverpb::PutRequest& in) {
    PutRequest out;
    out.key = in.key();
    out.value = in.value();
    out.lease = in.lease();
    out.prev_kv = in.prev_kv();
    out.ignore_value = in.ignore_value();
    out.ignore_lease = in.ignore_lease();
    return out;
}

DeleteRangeRequest convert(const etcdserverpb::DeleteRangeRequest& in) {
    DeleteRangeRequest out;
    out.key = in.key();
    out.range_end = in.range_end();
    out.prev_kv = in.prev_kv();
    return out;
}

/// A compare's operand: the target_union field its target names, else 0
/// (or an empty value), as etcd's compareKV reads it.
Compare convert(const etcdserverpb::Compare& in) {
    using Wire = etcdserverpb::Compare;
    Compare out;
    out.result = CompareResult(in.result());
    out.target = CompareTarget(in.target());
    out.key = in.key();
    out.range_end = in.range_end();
    switch (out.target) {
    case CompareTarget::Version:
        out.number = in.target_union_case() == Wire::kVersion ? in.version() : 0;
        break;
    case CompareTarget::Create:
        out.number = in.target_union_case() == Wire::kCreateRevision ? in.create_revision() : 0;
        break;
    case CompareTarget::Mod:
        out.number = in.target_union_case() == Wire::kModRevision ? in.mod_revision() : 0;
        break;
    case CompareTarget::Lease:
        out.number = in.target_union_case() == Wire::kLease ? in.lease() : 0;
        break;
    case CompareTarget::Value:
        if (in.target_union_case() == Wire::kValue)
            out.value = in.value();
        break;
    }
    return out;
}

/// A txn that check_request() accepted (so every operation holds a
/// request and every enum is in range).
TxnRequest convert(const etcdserverpb::TxnRequest& in) {
    TxnRequest out;
    for (const etcdserverpb::Compare& compare : in.compare())
        out.compare.push_back(convert(compare));
    auto convert_ops = [](const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops,
                          std::vector<RequestOp>& into) {
        for (const etcdserverpb::RequestOp& op : ops) {
            // Built in place, as in to_mvcc(TxnResponse).
            switch (op.request_case()) {
            case etcdserverpb::RequestOp::kRequestRange:
                into.emplace_back().request.emplace<RangeRequest>(convert(op.request_range()));
                break;
            case etcdserverpb::RequestOp::kRequestPut:
                into.emplace_back().request.emplace<PutRequest>(convert(op.request_put()));
                break;
            case etcdserverpb::RequestOp::kRequestDeleteRange:
                into.emplace_back().request.emplace<DeleteRangeRequest>(
                    convert(op.request_delete_range()));
                break;
            case etcdserverpb::RequestOp::kRequestTxn:
                into.emplace_back().request.emplace<TxnRequest>(convert(op.request_txn()));
                break;
            case etcdserverpb::RequestOp::REQUEST_NOT_SET:
                break;
            }
        }
    };
    convert_ops(in.success(), out.success);
    convert_ops(in.failure(), out.failure);
    return out;
}

std::vector<KeyValue> convert(const google::protobuf::RepeatedPtrField<mvccpb::KeyValue>& kvs) {
    std::vector<KeyValue> out;
    out.reserve(size_t(kvs.size()));
    for (const mvccpb::KeyValue& kv : kvs)
        out.push_back(to_mvcc(kv));
    return out;
}

void to_proto(const std::vector<KeyValue>& kvs,
              google::protobuf::RepeatedPtrField<mvccpb::KeyValue>* out) {
    out->Reserve(int(kvs.size()));
    for (const KeyValue& kv : kvs)
        to_proto(kv, out->Add());
}

} // namespace

GrpcResult<RangeRequest> to_mvcc(const etcdserverpb::RangeRequest& request) {
    if (GrpcStatus status = check_request(request); !status.ok())
        return std::unexpected(std::move(status));
    return convert(request);
}

GrpcResult<PutRequest> to_mvcc(const etcdserverpb::PutRequest& request) {
    if (GrpcStatus status = check_request(request); !status.ok())
        return std::unexpected(std::move(status));
    return convert(request);
}

GrpcResult<DeleteRangeRequest> to_mvcc(const etcdserverpb::DeleteRangeRequest& request) {
    if (GrpcStatus status = check_request(request); !status.ok())
        return std::unexpected(std::move(status));
    return convert(request);
}

GrpcResult<TxnRequest> to_mvcc(const etcdserverpb::TxnRequest& request, const Limits& limits) {
    if (GrpcStatus status = check_request(request, limits); !status.ok())
        return std::unexpected(std::move(status));
    return convert(request);
}

KeyValue to_mvcc(const mvccpb::KeyValue& kv) {
    KeyValue out;
    out.create_revision = kv.create_revision();
    out.mod_revision = kv.mod_revision();
    out.version = kv.version();
    out.lease = kv.lease();
    out.key = kv.key();
    out.value = kv.value();
    return out;
}

Event to_mvcc(const mvccpb::Event& event) {
    Event out;
    out.type = event.type() == mvccpb::Event::DELETE ? EventType::Delete : EventType::Put;
    out.kv = to_mvcc(event.kv());
    if (event.has_prev_kv())
        out.prev_kv = to_mvcc(event.prev_kv());
    return out;
}

RangeResponse to_mvcc(const etcdserverpb::RangeResponse& response) {
    RangeResponse out;
    out.revision = response.header().revision();
    out.count = response.count();
    out.more = response.more();
    out.kvs = convert(response.kvs());
    return out;
}

PutResponse to_mvcc(const etcdserverpb::PutResponse& response) {
    PutResponse out;
    if (response.has_prev_kv())
        out.prev_kv = to_mvcc(response.prev_kv());
    out.revision = response.header().revision();
    return out;
}

DeleteRangeResponse to_mvcc(const etcdserverpb::DeleteRangeResponse& response) {
    DeleteRangeResponse out;
    out.revision = response.header().revision();
    out.deleted = response.deleted();
    out.prev_kvs = convert(response.prev_kvs());
    return out;
}

GrpcResult<TxnResponse> to_mvcc(const etcdserverpb::TxnResponse& response) {
    TxnResponse out;
    out.revision = response.header().revision();
    out.succeeded = response.succeeded();
    for (const etcdserverpb::ResponseOp& op : response.responses()) {
        // Built in place: GCC 12 -O2 takes a moved temporary variant for
        // uninitialised.
        ResponseOp& answer = out.responses.emplace_back();
        switch (op.response_case()) {
        case etcdserverpb::ResponseOp::kResponseRange:
            answer.response.emplace<RangeResponse>(to_mvcc(op.response_range()));
            break;
        case etcdserverpb::ResponseOp::kResponsePut:
            answer.response.emplace<PutResponse>(to_mvcc(op.response_put()));
            break;
        case etcdserverpb::ResponseOp::kResponseDeleteRange:
            answer.response.emplace<DeleteRangeResponse>(to_mvcc(op.response_delete_range()));
            break;
        case etcdserverpb::ResponseOp::kResponseTxn:
            answer.response.emplace<TxnResponse>(TRY(to_mvcc(op.response_txn())));
            break;
        case etcdserverpb::ResponseOp::RESPONSE_NOT_SET:
            return std::unexpected(
                GrpcStatus{GrpcCode::Internal, "a txn response holds an empty response op"});
        }
    }
    return out;
}

void to_proto(const RangeRequest& request, etcdserverpb::RangeRequest* out) {
    out->set_key(request.key);
    out->set_range_end(request.range_end);
    out->set_limit(request.limit);
    out->set_revision(request.revision);
    out->set_sort_order(etcdserverpb::RangeRequest_SortOrder(request.sort_order));
    out->set_sort_target(etcdserverpb::RangeRequest_SortTarget(request.sort_target));
    out->set_keys_only(request.keys_only);
    out->set_count_only(request.count_only);
    out->set_min_mod_revision(request.min_mod_revision);
    out->set_max_mod_revision(request.max_mod_revision);
    out->set_min_create_revision(request.min_create_revision);
    out->set_max_create_revision(request.max_create_revision);
}

void to_proto(const PutRequest& request, etcdserverpb::PutRequest* out) {
    out->set_key(request.key);
    out->set_value(request.value);
    out->set_lease(request.lease);
    out->set_prev_kv(request.prev_kv);
    out->set_ignore_value(request.ignore_value);
    out->set_ignore_lease(request.ignore_lease);
}

void to_proto(const DeleteRangeRequest& request, etcdserverpb::DeleteRangeRequest* out) {
    out->set_key(request.key);
    out->set_range_end(request.range_end);
    out->set_prev_kv(request.prev_kv);
}

void to_proto(const TxnRequest& request, etcdserverpb::TxnRequest* out) {
    for (const Compare& compare : request.compare) {
        etcdserverpb::Compare* wire = out->add_compare();
        wire->set_result(etcdserverpb::Compare_CompareResult(compare.result));
        wire->set_target(etcdserverpb::Compare_CompareTarget(compare.target));
        wire->set_key(compare.key);
        wire->set_range_end(compare.range_end);
        switch (compare.target) {
        case CompareTarget::Version:
            wire->set_version(compare.number);
            break;
        case CompareTarget::Create:
            wire->set_create_revision(compare.number);
            break;
        case CompareTarget::Mod:
            wire->set_mod_revision(compare.number);
            break;
        case CompareTarget::Lease:
            wire->set_lease(compare.number);
            break;
        case CompareTarget::Value:
            wire->set_value(compare.value);
            break;
        }
    }
    auto ops_to_proto = [](const std::vector<RequestOp>& ops,
                           google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* into) {
        for (const RequestOp& op : ops) {
            etcdserverpb::RequestOp* wire = into->Add();
            std::visit(
                [wire](const auto& request) {
                    using T = std::decay_t<decltype(request)>;
                    if constexpr (std::is_same_v<T, RangeRequest>)
                        to_proto(request, wire->mutable_request_range());
                    else if constexpr (std::is_same_v<T, PutRequest>)
                        to_proto(request, wire->mutable_request_put());
                    else if constexpr (std::is_same_v<T, DeleteRangeRequest>)
                        to_proto(request, wire->mutable_request_delete_range());
                    else
                        to_proto(request, wire->mutable_request_txn());
                },
                op.request);
        }
    };
    ops_to_proto(request.success, out->mutable_success());
    ops_to_proto(request.failure, out->mutable_failure());
}

void to_proto(const KeyValue& kv, mvccpb::KeyValue* out) {
    out->set_key(kv.key);
    out->set_create_revision(kv.create_revision);
    out->set_mod_revision(kv.mod_revision);
    out->set_version(kv.version);
    out->set_value(kv.value);
    out->set_lease(kv.lease);
}

void to_proto(const Event& event, mvccpb::Event* out) {
    out->set_type(event.type == EventType::Delete ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
    to_proto(event.kv, out->mutable_kv());
    if (event.prev_kv)
        to_proto(*event.prev_kv, out->mutable_prev_kv());
}

void to_proto(const RangeResponse& response, etcdserverpb::RangeResponse* out) {
    out->mutable_header()->set_revision(response.revision);
    to_proto(response.kvs, out->mutable_kvs());
    out->set_more(response.more);
    out->set_count(response.count);
}

void to_proto(const PutResponse& response, etcdserverpb::PutResponse* out) {
    out->mutable_header()->set_revision(response.revision);
    if (response.prev_kv)
        to_proto(*response.prev_kv, out->mutable_prev_kv());
}

void to_proto(const DeleteRangeResponse& response, etcdserverpb::DeleteRangeResponse* out) {
    out->mutable_header()->set_revision(response.revision);
    out->set_deleted(response.deleted);
    to_proto(response.prev_kvs, out->mutable_prev_kvs());
}

void to_proto(const TxnResponse& response, etcdserverpb::TxnResponse* out) {
    out->mutable_header()->set_revision(response.revision);
    out->set_succeeded(response.succeeded);
    for (const ResponseOp& op : response.responses) {
        etcdserverpb::ResponseOp* wire = out->add_responses();
        std::visit(
            [wire](const auto& answer) {
                using T = std::decay_t<decltype(answer)>;
                if constexpr (std::is_same_v<T, RangeResponse>)
                    to_proto(answer, wire->mutable_response_range());
                else if constexpr (std::is_same_v<T, PutResponse>)
                    to_proto(answer, wire->mutable_response_put());
                else if constexpr (std::is_same_v<T, DeleteRangeResponse>)
                    to_proto(answer, wire->mutable_response_delete_range());
                else
                    to_proto(answer, wire->mutable_response_txn());
            },
            op.response);
    }
}

GrpcStatus parse_message(std::string_view bytes, google::protobuf::MessageLite& message) {
    message.Clear();
    if (bytes.size() > size_t(INT_MAX))
        return GrpcStatus{GrpcCode::ResourceExhausted, "grpc: received message larger than max (" +
                                                           std::to_string(bytes.size()) + " vs. " +
                                                           std::to_string(INT_MAX) + ")"};
    if (!message.ParseFromArray(bytes.data(), int(bytes.size())))
        return GrpcStatus{GrpcCode::Internal,
                          "grpc: error unmarshalling request: proto: cannot parse invalid "
                          "wire-format data"};
    return GrpcStatus{};
}

GrpcResult<std::string> encode_proposal(const InternalRequest& request, const Limits& limits) {
    size_t size = request.ByteSizeLong();
    if (size > limits.max_request_bytes)
        return std::unexpected(etcd_status(EtcdError::RequestTooLarge));
    std::string bytes;
    if (!request.SerializeToString(&bytes))
        return std::unexpected(GrpcStatus{GrpcCode::Internal, "cannot encode the proposal"});
    return bytes;
}

GrpcResult<InternalRequest> decode_proposal(std::string_view bytes) {
    InternalRequest request;
    if (GrpcStatus status = parse_message(bytes, request); !status.ok())
        return std::unexpected(
            GrpcStatus{GrpcCode::Internal, "a Raft entry is no KV request: " + status.message});
    if (request.request_case() == InternalRequest::REQUEST_NOT_SET)
        return std::unexpected(GrpcStatus{GrpcCode::Internal, "a Raft entry holds no KV request"});
    return request;
}

} // namespace keel::kv
