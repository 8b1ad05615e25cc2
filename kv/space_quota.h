// The space quota (--quota-backend-bytes): what a write is estimated to add
// to the store, and whether the store has room for it. The estimates are
// etcd 3.4's, so the same writes are refused at the same fill level: a put
// costs its key and value plus 256 bytes, a txn the larger of its two
// branches' top-level puts (a nested txn's puts are not counted, as in
// etcd), a lease grant 64 bytes; other requests cost nothing and are never
// refused for space. Pure: the store's size is given.
#pragma once

#include <cstdint>

namespace etcdserverpb {
class PutRequest;
class TxnRequest;
} // namespace etcdserverpb

namespace keel::kv {

/// etcd's default quota, taken when --quota-backend-bytes is 0: 2 GiB.
inline constexpr uint64_t kDefaultQuotaBytes = 2ull << 30;
/// Above this etcd warns that the quota exceeds what it recommends: 8 GiB.
inline constexpr uint64_t kMaxRecommendedQuotaBytes = 8ull << 30;

/// The bytes a put is estimated to add: key + value + 256.
int64_t quota_cost(const etcdserverpb::PutRequest& put);
/// The bytes a txn is estimated to add: the costlier branch's puts.
int64_t quota_cost(const etcdserverpb::TxnRequest& txn);
/// The bytes a lease grant is estimated to add: 64.
int64_t lease_grant_quota_cost();

/// Whether a write of `cost` fits: a cost of 0 always does, otherwise the
/// store's `size_in_use` plus `cost` must stay below `quota`.
bool quota_admits(uint64_t size_in_use, int64_t cost, uint64_t quota);

} // namespace keel::kv
