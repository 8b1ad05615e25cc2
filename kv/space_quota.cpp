// The space quota's cost estimates (etcd's backendQuota) and its check.
#include "kv/space_quota.h"

#include "proto/etcd/rpc.pb.h"

#include <algorithm>

namespace keel::kv {

namespace {

// etcd's estimates of the bookkeeping a key and a lease add.
constexpr int64_t kKeyOverhead = 256;
constexpr int64_t kLeaseOverhead = 64;

template <typename Ops> int64_t branch_cost(const Ops& ops) {
    int64_t cost = 0;
    for (const auto& op : ops)
        if (op.has_request_put())
            cost += quota_cost(op.request_put());
    return cost;
}

} // namespace

int64_t quota_cost(const etcdserverpb::PutRequest& put) {
    return kKeyOverhead + static_cast<int64_t>(put.key().size() + put.value().size());
}

int64_t quota_cost(const etcdserverpb::TxnRequest& txn) {
    return std::max(branch_cost(txn.success()), branch_cost(txn.failure()));
}

int64_t lease_grant_quota_cost() {
    return kLeaseOverhead;
}

bool quota_admits(uint64_t size_in_use, int64_t cost, uint64_t quota) {
    if (cost <= 0)
        return true;
    return size_in_use + static_cast<uint64_t>(cost) < quota;
}

} // namespace keel::kv
