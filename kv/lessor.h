// Leases: etcd's lessor as a pure core over the MVCC store. Which leases
// exist and their TTLs is replicated state (applied from the Raft log, the
// same on every member, kept in the store's aux records so it commits with
// the consistent index and rides in snapshots). When each lease runs out is
// local: every member keeps its own clock per lease, started when it
// applied the grant or the last keep-alive. So a new leader knows the
// remaining TTLs instead of restarting them all at full length (as etcd
// does on a leader change). Time is passed in; nothing here reads a clock.
#pragma once

#include "base/result.h"
#include "kv/mvcc.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace keel::kv {

/// etcd's MaxLeaseTTL: a grant with a longer TTL (seconds) is refused.
inline constexpr int64_t kMaxLeaseTtl = 9'000'000'000;

/// The aux record names of leases start with this (MvccStore::put_aux).
inline constexpr std::string_view kLeaseAuxPrefix = "lease/";

/// Whether LeaseTimeToLive lists the lease's keys.
enum class LeaseKeys : uint8_t { Omit, Include };

/// A lease as LeaseTimeToLive reports it.
struct LeaseStatus {
    int64_t id = 0;
    /// The TTL it was granted (seconds).
    int64_t granted_ttl = 0;
    /// Seconds left on this member's clock, rounded up; -1 once it ran out.
    int64_t remaining_ttl = 0;
    /// The keys attached to it, in key order (when asked for).
    std::vector<std::string> keys;
};

/// The leases of one MVCC store and this member's clock for each.
class Lessor {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    /// Opens the leases kept in `store`'s aux records; each clock starts at
    /// its full TTL from `now` (after a restart nobody knows better). Grants
    /// below `minimum_ttl` seconds are raised to it (etcd's minLeaseTTL;
    /// every member must use the same value, it changes replicated state).
    /// Error: an aux record that does not parse (named).
    static Result<std::unique_ptr<Lessor>> open(MvccStore& store, TimePoint now,
                                                int64_t minimum_ttl = 1);

    /// Applied from the log: a new lease `id` (!= 0, the proposer picks it)
    /// of `ttl` seconds, its clock started at `now`; the TTL granted is
    /// time_to_live().granted_ttl. Errors: LeaseExists, LeaseTtlTooLarge
    /// (> kMaxLeaseTtl), LeaseNotFound for id 0 (as etcd answers).
    Result<void> grant(int64_t id, int64_t ttl, Index applied, TimePoint now);
    /// Applied from the log: deletes the lease and its keys as one revision
    /// (none when it has no keys), in one commit. Error: LeaseNotFound.
    Result<Written<DeleteRangeResponse>> revoke(int64_t id, Index applied);
    /// Applied from the log (a keep-alive): restarts the lease's clock at
    /// `now`; returns its TTL. Changes nothing on disk. Error: LeaseNotFound.
    /// Every member restarts its clock, even one on which it ran out (or a
    /// new leader would revoke a lease its holder kept alive); the proposer
    /// answers a keep-alive for a lease past its time with LeaseNotFound
    /// itself, as etcd does once the revoke is through.
    Result<int64_t> renew(int64_t id, Index applied, TimePoint now);

    /// Whether lease `id` exists (a put naming one that does not is refused
    /// by the caller with LeaseNotFound).
    bool exists(int64_t id) const;
    /// The lease's TTLs on this member's clock, and its keys when
    /// `keys` says so. Error: LeaseNotFound.
    Result<LeaseStatus> time_to_live(int64_t id, TimePoint now, LeaseKeys keys) const;
    /// Every lease id, ascending.
    std::vector<int64_t> leases() const;
    /// Leases whose clock ran out by `now`, the earliest expiry first, at
    /// most `limit` (the leader proposes their revokes; etcd rate-limits).
    /// A lease stays here until its revoke is applied.
    std::vector<int64_t> expired(TimePoint now, size_t limit) const;
    /// When this member becomes leader: gives every lease at least
    /// `minimum` left (etcd's grace: an election must not expire leases
    /// whose holders could reach no leader meanwhile).
    void on_promote(TimePoint now, std::chrono::milliseconds minimum);
    /// Rebuilds from the store after MvccStore::restore (a snapshot): a
    /// lease this member already had with the same TTL keeps its clock, a
    /// new one starts at its full TTL from `now`. Error: as open().
    Result<void> reload(TimePoint now);

private:
    Lessor(MvccStore& store, int64_t minimum_ttl);

    /// One lease: its TTL and when this member's clock runs out.
    struct Lease {
        int64_t ttl = 0;
        TimePoint expiry;
    };

    /// Starts or moves `id`'s clock to run out at `expiry`.
    void set_expiry(int64_t id, Lease& lease, TimePoint expiry);
    /// A lease's aux record name.
    static std::string record_name(int64_t id);

    MvccStore& m_store;
    int64_t m_minimum_ttl = 1;
    std::map<int64_t, Lease> m_leases;
    /// (expiry, id) of every lease: the next to run out first.
    std::set<std::pair<TimePoint, int64_t>> m_by_expiry;
};

} // namespace keel::kv
