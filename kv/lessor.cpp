// The lessor (kv/lessor.h): lease records in the store's aux records
// ("lease/" + the id as 16 hex digits → the TTL, 8 bytes little-endian),
// the per-lease clocks in memory, ordered by expiry for the leader's
// revoke scan.
#include "kv/lessor.h"

#include "base/endian.h"

#include <algorithm>
#include <cstdio>

namespace keel::kv {

namespace {

std::unexpected<Error> lease_not_found() {
    return std::unexpected(
        Error::from_code(ErrorCode::LeaseNotFound, "etcdserver: requested lease not found"));
}

/// Parses one lease record: its name after the prefix and its value.
Result<std::pair<int64_t, int64_t>> parse_lease_record(std::string_view name,
                                                       std::string_view value) {
    std::string_view digits = name.substr(kLeaseAuxPrefix.size());
    if (digits.size() != 16)
        return error("a lease record named `" + std::string(name) + "` (no 16-digit id)");
    uint64_t id = 0;
    for (char digit : digits) {
        int nibble = digit >= '0' && digit <= '9'   ? digit - '0'
                     : digit >= 'a' && digit <= 'f' ? digit - 'a' + 10
                                                    : -1;
        if (nibble < 0)
            return error("a lease record named `" + std::string(name) + "` (no 16-digit id)");
        id = id << 4 | uint64_t(nibble);
    }
    if (value.size() != 8)
        return error("the record of lease " + std::to_string(int64_t(id)) + ": " +
                     std::to_string(value.size()) + " bytes, not 8");
    int64_t ttl = int64_t(get_u64(value, 0));
    if (id == 0 || ttl > kMaxLeaseTtl)
        return error("the record of lease " + std::to_string(int64_t(id)) +
                     ": an impossible id or TTL");
    return std::pair{int64_t(id), ttl};
}

} // namespace

Lessor::Lessor(MvccStore& store, int64_t minimum_ttl)
    : m_store(store), m_minimum_ttl(minimum_ttl) {}

Result<std::unique_ptr<Lessor>> Lessor::open(MvccStore& store, TimePoint now, int64_t minimum_ttl) {
    std::unique_ptr<Lessor> lessor(new Lessor(store, minimum_ttl));
    TRY_CTX(lessor->reload(now), "open the leases");
    return lessor;
}

std::string Lessor::record_name(int64_t id) {
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(id));
    return std::string(kLeaseAuxPrefix) + digits;
}

void Lessor::set_expiry(int64_t id, Lease& lease, TimePoint expiry) {
    m_by_expiry.erase({lease.expiry, id});
    lease.expiry = expiry;
    m_by_expiry.insert({expiry, id});
}

Result<void> Lessor::reload(TimePoint now) {
    std::map<int64_t, Lease> leases;
    std::optional<Error> failure;
    TRY(m_store.scan_aux(kLeaseAuxPrefix, [&](std::string_view name, std::string_view value) {
        auto parsed = parse_lease_record(name, value);
        if (!parsed) {
            failure = std::move(parsed.error());
            return ScanStep::Stop;
        }
        auto [id, ttl] = *parsed;
        Lease lease{ttl, now + std::chrono::seconds(ttl)};
        // A lease this member already timed keeps its clock.
        if (auto known = m_leases.find(id); known != m_leases.end() && known->second.ttl == ttl)
            lease.expiry = known->second.expiry;
        leases.emplace(id, lease);
        return ScanStep::Continue;
    }));
    if (failure)
        return std::unexpected(std::move(*failure));
    m_leases = std::move(leases);
    m_by_expiry.clear();
    for (const auto& [id, lease] : m_leases)
        m_by_expiry.insert({lease.expiry, id});
    return {};
}

Result<void> Lessor::grant(int64_t id, int64_t ttl, Index applied, TimePoint now) {
    if (id == 0)
        return lease_not_found();
    if (ttl > kMaxLeaseTtl)
        return std::unexpected(
            Error::from_code(ErrorCode::LeaseTtlTooLarge, "etcdserver: too large lease TTL"));
    if (m_leases.contains(id))
        return std::unexpected(
            Error::from_code(ErrorCode::LeaseExists, "etcdserver: lease already exists"));
    ttl = std::max(ttl, m_minimum_ttl);
    std::string value;
    put_u64(value, uint64_t(ttl));
    TRY_CTX(m_store.put_aux(record_name(id), std::move(value), applied),
            "grant lease " + std::to_string(id));
    Lease& lease = m_leases[id];
    lease.ttl = ttl;
    lease.expiry = now + std::chrono::seconds(ttl);
    m_by_expiry.insert({lease.expiry, id});
    return {};
}

Result<Written<DeleteRangeResponse>> Lessor::revoke(int64_t id, Index applied) {
    auto found = m_leases.find(id);
    if (found == m_leases.end())
        return lease_not_found();
    std::vector<AuxWrite> drop{{std::nullopt, record_name(id)}};
    Written<DeleteRangeResponse> written = TRY_CTX(m_store.delete_keys_of_lease(id, applied, drop),
                                                   "revoke lease " + std::to_string(id));
    m_by_expiry.erase({found->second.expiry, id});
    m_leases.erase(found);
    return written;
}

Result<int64_t> Lessor::renew(int64_t id, Index applied, TimePoint now) {
    auto found = m_leases.find(id);
    if (found == m_leases.end())
        return lease_not_found();
    set_expiry(id, found->second, now + std::chrono::seconds(found->second.ttl));
    if (applied != 0)
        m_store.mark_applied(applied);
    return found->second.ttl;
}

bool Lessor::exists(int64_t id) const {
    return m_leases.contains(id);
}

Result<LeaseStatus> Lessor::time_to_live(int64_t id, TimePoint now, LeaseKeys keys) const {
    auto found = m_leases.find(id);
    if (found == m_leases.end())
        return lease_not_found();
    LeaseStatus status;
    status.id = id;
    status.granted_ttl = found->second.ttl;
    auto left = found->second.expiry - now;
    if (left <= TimePoint::duration::zero())
        status.remaining_ttl = -1;
    else
        status.remaining_ttl = std::chrono::ceil<std::chrono::seconds>(left).count();
    if (keys == LeaseKeys::Include)
        status.keys = m_store.keys_of_lease(id);
    return status;
}

std::vector<int64_t> Lessor::leases() const {
    std::vector<int64_t> ids;
    ids.reserve(m_leases.size());
    for (const auto& [id, lease] : m_leases)
        ids.push_back(id);
    return ids;
}

std::vector<int64_t> Lessor::expired(TimePoint now, size_t limit) const {
    std::vector<int64_t> ids;
    for (auto it = m_by_expiry.begin(); it != m_by_expiry.end() && ids.size() < limit; ++it) {
        if (it->first > now)
            break;
        ids.push_back(it->second);
    }
    return ids;
}

void Lessor::on_promote(TimePoint now, std::chrono::milliseconds minimum) {
    TimePoint floor = now + minimum;
    // Only the leases below the floor move; they are at the front.
    while (!m_by_expiry.empty() && m_by_expiry.begin()->first < floor) {
        int64_t id = m_by_expiry.begin()->second;
        set_expiry(id, m_leases.at(id), floor);
    }
}

} // namespace keel::kv
