// KvServer's upkeep of its store: the space quota (a write that would take
// the store past --quota-backend-bytes raises the NOSPACE alarm through the
// log, so every member refuses growth until it is disarmed) and automatic
// compaction (the leader proposes the compaction kv/auto_compaction.h says
// is due).
#include "base/log.h"
#include "base/strings.h"
#include "kv/etcd_errors.h"
#include "kv/kv_server.h"
#include "kv/space_quota.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <chrono>

namespace keel::kv {

int64_t KvServer::db_size_in_use() const {
    auto size = m_machine->store().size_in_use();
    return size ? static_cast<int64_t>(*size) : db_size();
}

GrpcStatus KvServer::check_space_quota(int64_t cost) {
    if (quota_admits(static_cast<uint64_t>(db_size_in_use()), cost, m_config.quota_backend_bytes))
        return {};
    // Raised once through the log: every member then refuses growth alike.
    if (!m_raising_no_space &&
        !m_machine->alarms().contains({m_member_id, etcdserverpb::NOSPACE})) {
        log_warning(cat("kv: the store's ", db_size_in_use(), " bytes and a write of ", cost,
                        " would exceed the quota of ", m_config.quota_backend_bytes,
                        " bytes: raising the NOSPACE alarm"));
        InternalRequest request;
        auto& alarm = *request.mutable_alarm();
        alarm.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
        alarm.set_memberid(m_member_id);
        alarm.set_alarm(etcdserverpb::NOSPACE);
        m_raising_no_space = true;
        propose(request, [this](Result<std::string>) { m_raising_no_space = false; });
    }
    return etcd_status(EtcdError::NoSpace);
}

Result<void> KvServer::start_upkeep() {
    if (m_config.quota_backend_bytes > kMaxRecommendedQuotaBytes)
        log_warning(cat("kv: --quota-backend-bytes ", m_config.quota_backend_bytes,
                        " exceeds the recommended maximum of ", kMaxRecommendedQuotaBytes));
    auto retention = TRY(parse_compaction_retention(m_config.auto_compaction_mode,
                                                    m_config.auto_compaction_retention));
    if (!retention)
        return {};
    m_compactor.emplace(*retention, std::chrono::steady_clock::now());
    auto interval = m_compactor->interval();
    m_compaction_timer = TRY(m_reactor.add_timer(
        interval, [this] { compact_automatically(); }, interval));
    return {};
}

void KvServer::compact_automatically() {
    auto now = std::chrono::steady_clock::now();
    auto at = m_compactor->due(now, m_machine->store().revision());
    // Only the leader compacts (etcd pauses the compactor on followers);
    // a due compaction that is not taken is due again next time.
    if (!at || m_compacting || m_driver->leader() != m_member_id)
        return;
    if (*at <= m_machine->store().compact_revision())
        return m_compactor->compacted(*at, now); // nothing older is left
    log_info(cat("kv: automatic compaction at revision ", *at));
    InternalRequest request;
    request.mutable_compaction()->set_revision(*at);
    m_compacting = true;
    propose(request, [this, at = *at](Result<std::string> answer) {
        m_compacting = false;
        if (answer || answer.error().code() == int(ErrorCode::RevisionCompacted))
            m_compactor->compacted(at, std::chrono::steady_clock::now());
        else
            log_warning(
                cat("kv: automatic compaction at revision ", at, ": ", answer.error().to_string()));
    });
}

} // namespace keel::kv
