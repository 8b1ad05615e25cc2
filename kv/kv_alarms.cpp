// KvStateMachine's alarms (etcd's alarm store): raised and disarmed through
// the log, so every member has the same ones, and kept as aux records
// "alarm/<member>/<type>" beside the members, so they survive a restart and
// travel in snapshots. A raised NOSPACE caps the store: writes that would
// grow it are refused until it is disarmed. A raised CORRUPT (the
// corruption check, kv/corruption_check.h) refuses every write.
#include "base/strings.h"
#include "kv/etcd_errors.h"
#include "kv/kv_state_machine.h"
#include "kv/space_quota.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <charconv>
#include <optional>

namespace keel::kv {

namespace {

constexpr std::string_view kAlarmPrefix = "alarm/";

std::string alarm_key(const RaisedAlarm& alarm) {
    return cat(kAlarmPrefix, hex_id(alarm.member), "/", alarm.type);
}

// The alarm a record's name says, if it is one. (An optional, not a
// Result: RaisedAlarm ends in padding, which libc++ 16's expected refuses.)
std::optional<RaisedAlarm> parse_alarm_key(std::string_view key) {
    key.remove_prefix(kAlarmPrefix.size());
    RaisedAlarm alarm;
    auto slash = key.find('/');
    if (slash != 16)
        return std::nullopt;
    auto member = std::from_chars(key.data(), key.data() + slash, alarm.member, 16);
    auto type = std::from_chars(key.data() + slash + 1, key.data() + key.size(), alarm.type);
    if (member.ec != std::errc() || type.ec != std::errc() || type.ptr != key.data() + key.size())
        return std::nullopt;
    return alarm;
}

void add_alarm(etcdserverpb::AlarmResponse& response, const RaisedAlarm& alarm) {
    auto& member = *response.add_alarms();
    member.set_memberid(alarm.member);
    member.set_alarm(static_cast<etcdserverpb::AlarmType>(alarm.type));
}

} // namespace

Result<void> KvStateMachine::drop_alarms(Index index) {
    for (const RaisedAlarm& alarm : m_alarms)
        TRY(m_store->put_aux(alarm_key(alarm), std::nullopt, index));
    m_alarms.clear();
    return {};
}

bool KvStateMachine::alarmed(int32_t type) const {
    for (const RaisedAlarm& alarm : m_alarms)
        if (alarm.type == type)
            return true;
    return false;
}

Result<void> KvStateMachine::load_alarms() {
    m_alarms.clear();
    Result<void> failed;
    TRY(m_store->scan_aux(kAlarmPrefix, [&](std::string_view key, std::string_view) {
        auto alarm = parse_alarm_key(key);
        if (!alarm) {
            failed = error(cat("kv: an alarm record `", key, "` that does not parse"));
            return ScanStep::Stop;
        }
        m_alarms.insert(*alarm);
        return ScanStep::Continue;
    }));
    return failed;
}

std::optional<Error> KvStateMachine::refused_for_space(const InternalRequest& request) const {
    if (!alarmed(etcdserverpb::NOSPACE))
        return std::nullopt;
    bool grows = request.has_put() || request.has_lease_grant() ||
                 (request.has_txn() && quota_cost(request.txn()) > 0);
    if (!grows)
        return std::nullopt;
    return Error::message(std::string(etcd_status(EtcdError::NoSpace).message));
}

namespace {

/// etcd serves a txn of ranges alone outside the log, so a CORRUPT alarm
/// never refuses it; any other operation (a nested txn too) makes it a
/// write.
bool txn_is_read_only(const etcdserverpb::TxnRequest& txn) {
    for (const auto* ops : {&txn.success(), &txn.failure()})
        for (const auto& op : *ops)
            if (!op.has_request_range())
                return false;
    return true;
}

} // namespace

std::optional<Error> KvStateMachine::refused_for_corruption(const InternalRequest& request) const {
    if (!alarmed(etcdserverpb::CORRUPT))
        return std::nullopt;
    // etcd's applierV3Corrupt: every write, compaction and lease grant or
    // revoke; reads, keep-alives and alarms go on.
    bool refused = request.has_put() || request.has_delete_range() || request.has_compaction() ||
                   request.has_lease_grant() || request.has_lease_revoke() ||
                   (request.has_txn() && !txn_is_read_only(request.txn()));
    if (!refused)
        return std::nullopt;
    return Error::message(std::string(etcd_status(EtcdError::Corrupt).message));
}

Result<std::string> KvStateMachine::apply_alarm(Index index, const InternalRequest& request) {
    const auto& alarm_request = request.alarm();
    RaisedAlarm alarm{alarm_request.memberid(), static_cast<int32_t>(alarm_request.alarm())};
    etcdserverpb::AlarmResponse response;
    switch (alarm_request.action()) {
    case etcdserverpb::AlarmRequest::ACTIVATE:
        // NONE is no alarm: etcd's store ignores it too.
        if (alarm.type != etcdserverpb::NONE && !m_alarms.contains(alarm)) {
            TRY(m_store->put_aux(alarm_key(alarm), std::string(), index));
            m_alarms.insert(alarm);
        } else {
            m_store->mark_applied(index);
        }
        if (alarm.type != etcdserverpb::NONE)
            add_alarm(response, alarm);
        break;
    case etcdserverpb::AlarmRequest::DEACTIVATE:
        if (m_alarms.contains(alarm)) {
            TRY(m_store->put_aux(alarm_key(alarm), std::nullopt, index));
            m_alarms.erase(alarm);
            add_alarm(response, alarm);
        } else {
            m_store->mark_applied(index);
        }
        break;
    default: // GET: the alarms of the type asked for, every one for NONE
        m_store->mark_applied(index);
        for (const RaisedAlarm& raised : m_alarms)
            if (alarm.type == etcdserverpb::NONE || raised.type == alarm.type)
                add_alarm(response, raised);
        break;
    }
    std::string out;
    response.SerializeToString(&out);
    return out;
}

} // namespace keel::kv
