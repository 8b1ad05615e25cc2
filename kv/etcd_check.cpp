// etcd's checks of a KV request before it is proposed (etcd's v3rpc/key.go):
// keys provided, sort options and compares in range, the txn size limit
// shared by nested txns, and no key written twice in one txn branch. They
// run on the wire messages, so a refused request costs no Raft entry, and
// answer etcd's exact errors in the order etcd finds them.
#include "kv/etcd_convert.h"

#include <set>
#include <vector>

namespace keel::kv {

namespace {

GrpcStatus ok() {
    return GrpcStatus{};
}

bool sort_order_known(int value) {
    return etcdserverpb::RangeRequest_SortOrder_IsValid(value);
}

bool sort_target_known(int value) {
    return etcdserverpb::RangeRequest_SortTarget_IsValid(value);
}

GrpcStatus check_compare(const etcdserverpb::Compare& compare) {
    if (compare.key().empty())
        return etcd_status(EtcdError::EmptyKey);
    // etcd 3.4 takes an unknown result for "holds" and an unknown target for
    // "equal"; keel's store cannot say either, so it refuses them.
    if (!etcdserverpb::Compare_CompareResult_IsValid(compare.result()))
        return GrpcStatus{GrpcCode::InvalidArgument,
                          "invalid compare result " + std::to_string(compare.result())};
    if (!etcdserverpb::Compare_CompareTarget_IsValid(compare.target()))
        return GrpcStatus{GrpcCode::InvalidArgument,
                          "invalid compare target " + std::to_string(compare.target())};
    return ok();
}

GrpcStatus check_txn(const etcdserverpb::TxnRequest& request, int64_t max_ops);

/// etcd's checkRequestOp: `max_ops` is what a nested txn may hold.
GrpcStatus check_op(const etcdserverpb::RequestOp& op, int64_t max_ops) {
    switch (op.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange:
        return check_request(op.request_range());
    case etcdserverpb::RequestOp::kRequestPut:
        return check_request(op.request_put());
    case etcdserverpb::RequestOp::kRequestDeleteRange:
        return check_request(op.request_delete_range());
    case etcdserverpb::RequestOp::kRequestTxn:
        return check_txn(op.request_txn(), max_ops);
    case etcdserverpb::RequestOp::REQUEST_NOT_SET:
        break;
    }
    // An empty operation: etcd answers it so.
    return etcd_status(EtcdError::KeyNotFound);
}

/// etcd's checkTxnRequest: the longest of compares, success and failure
/// against the limit, which nested txns share.
GrpcStatus check_txn(const etcdserverpb::TxnRequest& request, int64_t max_ops) {
    int64_t ops = std::max({int64_t(request.compare_size()), int64_t(request.success_size()),
                            int64_t(request.failure_size())});
    if (ops > max_ops)
        return etcd_status(EtcdError::TooManyOps);
    for (const etcdserverpb::Compare& compare : request.compare())
        if (GrpcStatus status = check_compare(compare); !status.ok())
            return status;
    for (const auto* branch : {&request.success(), &request.failure()})
        for (const etcdserverpb::RequestOp& op : *branch)
            if (GrpcStatus status = check_op(op, max_ops - ops); !status.ok())
                return status;
    return ok();
}

/// A delete's keys as etcd's duplicate check sees them: [key, range_end)
/// compared as bytes, `key` alone when range_end is empty (so "\0", which
/// means "to the end" elsewhere, holds nothing here, exactly as in etcd).
struct DeletedKeys {
    std::string key;
    std::string range_end;

    bool holds(const std::string& candidate) const {
        if (range_end.empty())
            return candidate == key;
        return key <= candidate && candidate < range_end;
    }
};

/// The keys a branch writes: those it puts, and the ranges it deletes.
struct BranchWrites {
    std::set<std::string> puts;
    std::vector<DeletedKeys> deletes;

    bool deleted(const std::string& key) const {
        for (const DeletedKeys& range : deletes)
            if (range.holds(key))
                return true;
        return false;
    }
};

/// etcd's checkIntervals: within one branch a key is put at most once and
/// never put and deleted both; the two branches of a nested txn may put the
/// same key (only one of them runs).
GrpcResult<BranchWrites>
branch_writes(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) {
    auto duplicate = [] { return std::unexpected(etcd_status(EtcdError::DuplicateKey)); };
    BranchWrites level;
    for (const etcdserverpb::RequestOp& op : ops)
        if (op.has_request_delete_range())
            level.deletes.push_back(
                {op.request_delete_range().key(), op.request_delete_range().range_end()});
    for (const etcdserverpb::RequestOp& op : ops) {
        if (!op.has_request_txn())
            continue;
        BranchWrites then_writes = TRY(branch_writes(op.request_txn().success()));
        BranchWrites else_writes = TRY(branch_writes(op.request_txn().failure()));
        for (const std::string& key : then_writes.puts) {
            if (level.puts.contains(key) || level.deleted(key))
                return duplicate();
            level.puts.insert(key);
        }
        for (const std::string& key : else_writes.puts) {
            if (level.puts.contains(key) && !then_writes.puts.contains(key))
                return duplicate();
            if (level.deleted(key))
                return duplicate();
            level.puts.insert(key);
        }
        for (BranchWrites* nested : {&then_writes, &else_writes})
            level.deletes.insert(level.deletes.end(), nested->deletes.begin(),
                                 nested->deletes.end());
    }
    for (const etcdserverpb::RequestOp& op : ops) {
        if (!op.has_request_put())
            continue;
        const std::string& key = op.request_put().key();
        if (level.puts.contains(key) || level.deleted(key))
            return duplicate();
        level.puts.insert(key);
    }
    return level;
}

} // namespace

GrpcStatus check_request(const etcdserverpb::RangeRequest& request) {
    if (request.key().empty())
        return etcd_status(EtcdError::EmptyKey);
    if (!sort_order_known(request.sort_order()) || !sort_target_known(request.sort_target()))
        return etcd_status(EtcdError::InvalidSortOption);
    return ok();
}

GrpcStatus check_request(const etcdserverpb::PutRequest& request) {
    if (request.key().empty())
        return etcd_status(EtcdError::EmptyKey);
    if (request.ignore_value() && !request.value().empty())
        return etcd_status(EtcdError::ValueProvided);
    if (request.ignore_lease() && request.lease() != 0)
        return etcd_status(EtcdError::LeaseProvided);
    return ok();
}

GrpcStatus check_request(const etcdserverpb::DeleteRangeRequest& request) {
    if (request.key().empty())
        return etcd_status(EtcdError::EmptyKey);
    return ok();
}

GrpcStatus check_request(const etcdserverpb::TxnRequest& request, const Limits& limits) {
    int64_t max_ops = int64_t(std::min<size_t>(limits.max_txn_ops, INT64_MAX));
    if (GrpcStatus status = check_txn(request, max_ops); !status.ok())
        return status;
    // After the cheap checks, as etcd orders them: the overlap check is
    // quadratic in the worst case.
    for (const auto* branch : {&request.success(), &request.failure()})
        if (GrpcResult<BranchWrites> writes = branch_writes(*branch); !writes)
            return writes.error();
    return ok();
}

} // namespace keel::kv
