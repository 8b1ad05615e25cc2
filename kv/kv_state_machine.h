// The KV's state machine: what every member applies its committed Raft
// entries to. A command is a serialized keel.kv.InternalRequest (an etcd
// request: put, delete, txn, compaction, a lease's grant, revoke or renewal,
// a member's attributes); applying it changes the MVCC store and the
// leases and answers with the etcd response message, or with the refusal
// every member reaches alike (a txn on a compacted revision, a put naming
// a lease that does not exist). The events of each write go to the watch
// hub. The members of the cluster live in the store's aux records, so they
// are on disk with the data and travel in snapshots.
#pragma once

#include "base/result.h"
#include "kv/lessor.h"
#include "kv/mvcc.h"
#include "kv/state_machine.h"
#include "kv/watch_hub.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace keel::kv {

class InternalRequest; // proto/kv/internal.proto

/// A cluster member as the Cluster service reports it.
struct MemberInfo {
    NodeId id = 0;
    bool is_learner = false;
    std::string name;
    std::vector<std::string> peer_urls;
    std::vector<std::string> client_urls;
};

/// An alarm a member raised (etcd's AlarmMember): `type` is an
/// etcdserverpb::AlarmType (1 NOSPACE, 2 CORRUPT).
struct RaisedAlarm {
    NodeId member = 0;
    int32_t type = 0;
    auto operator<=>(const RaisedAlarm&) const = default;
};

/// A member or lease id as etcd prints it: 16 lowercase hex digits.
std::string hex_id(uint64_t id);

/// The bytes of a membership change's context for `member`.
std::string encode_member(const MemberInfo& member);
/// The member in a membership change's context.
Result<MemberInfo> decode_member(std::string_view context);

/// An apply's answer as the driver carries it to the proposer: the etcd
/// response message, or the error the command was refused with.
std::string encode_apply_answer(std::string_view response);
/// Likewise for a refusal (its ErrorCode and text survive).
std::string encode_apply_refusal(const Error& error);
/// The response message in an answer, or the refusal as an Error.
Result<std::string> decode_apply_answer(std::string_view answer);

/// The state machine over an MVCC store, its leases and a watch hub.
class KvStateMachine final : public StateMachine {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    /// Opens the store in `backend` and the leases kept with it. `clock` is
    /// the local clock lease expiry runs on (not replicated state); grants
    /// below `minimum_lease_ttl` seconds get it (the same on every member).
    static Result<std::unique_ptr<KvStateMachine>> open(std::unique_ptr<Backend> backend,
                                                        Clock clock, int64_t minimum_lease_ttl = 1);
    ~KvStateMachine() override;

    Index applied_index() const override;
    Result<std::string> apply(Index index, std::string_view command) override;
    Result<void> apply_empty(Index index) override;
    Result<void> apply_conf_change(Index index, const ConfChange& change,
                                   const ConfState& conf) override;
    Result<std::string> snapshot() override;
    Result<void> restore(const Snapshot& snapshot) override;
    Result<void> flush() override;

    /// The store, for local (serializable or barrier-protected) reads.
    const MvccStore& store() const { return *m_store; }
    /// The leases, for TimeToLive, Leases and the leader's expiry check.
    Lessor& lessor() { return *m_lessor; }
    /// The watch hub every applied write's events go to.
    WatchHub& watches() { return *m_watches; }
    /// The members, by id.
    const std::map<NodeId, MemberInfo>& members() const { return m_members; }
    /// The alarms raised and not disarmed, kept in the store like the
    /// members. While a NOSPACE alarm is raised, puts, txns with puts and
    /// lease grants are refused ("etcdserver: mvcc: database space
    /// exceeded") by every member alike.
    const std::set<RaisedAlarm>& alarms() const { return m_alarms; }
    /// Whether an alarm of `type` is raised by any member.
    bool alarmed(int32_t type) const;
    /// Makes `members` the whole membership and drops every alarm (alarms
    /// belong to members), as of Raft index `index`, which becomes the
    /// applied index: a store restored from another cluster's snapshot
    /// becomes a new cluster's (`keel kv snapshot restore`).
    Result<void> replace_members(const std::vector<MemberInfo>& members, Index index);
    /// Called after a membership change or a member's attributes applied.
    void on_members_changed(std::function<void()> callback) {
        m_members_changed = std::move(callback);
    }

private:
    KvStateMachine() = default;
    Result<void> load_members();
    Result<void> load_alarms();
    /// Deletes every alarm record (kv/kv_alarms.cpp).
    Result<void> drop_alarms(Index index);
    /// Applies an AlarmRequest (kv/kv_alarms.cpp): GET lists, ACTIVATE
    /// raises, DEACTIVATE disarms; answers etcd's AlarmResponse.
    Result<std::string> apply_alarm(Index index, const InternalRequest& request);
    /// The refusal of a write that would grow the store while NOSPACE is
    /// raised, if `request` is one (etcd's capped applier).
    std::optional<Error> refused_for_space(const InternalRequest& request) const;
    /// "etcdserver: corrupt cluster" for a write while CORRUPT is raised.
    std::optional<Error> refused_for_corruption(const InternalRequest& request) const;
    Result<std::string> apply_request(Index index, const InternalRequest& request);
    void notify(const std::vector<Event>& events);
    void members_changed();

    Clock m_clock;
    std::unique_ptr<MvccStore> m_store;
    std::unique_ptr<Lessor> m_lessor;
    std::unique_ptr<WatchHub> m_watches;
    std::map<NodeId, MemberInfo> m_members;
    std::set<RaisedAlarm> m_alarms;
    std::function<void()> m_members_changed;
};

} // namespace keel::kv
