// sd_notify messages to the Manager: who may send them (NotifyAccess=),
// and what READY=1, MAINPID=, STATUS=, WATCHDOG=, WATCHDOG_USEC= and
// EXTEND_TIMEOUT_USEC= do.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <optional>
#include <string>

namespace keel {

using namespace manager_internal;

void Manager::on_notify(const struct ucred& sender, const NotifyMessage& message) {
    std::optional<std::string> owner = unit_of_pid(sender.pid);
    if (!owner)
        owner = m_host.unit_of_pid(sender.pid);
    Record* record = owner ? find(*owner) : nullptr;
    if (!record || !record->config || record->config->type != UnitType::Service) {
        m_host.record("keel", kDebug,
                      cat("notify message from pid ", sender.pid, ", which is no unit's, ignored"));
        return;
    }
    const ServiceConfig& service = record->config->service;
    bool allowed = false;
    switch (service.notify_access) {
    case NotifyAccess::None:
        break;
    case NotifyAccess::Main:
        allowed = sender.pid == record->main_pid;
        break;
    case NotifyAccess::Exec:
        allowed = sender.pid == record->main_pid || sender.pid == record->control_pid;
        break;
    case NotifyAccess::All:
        allowed = true;
        break;
    }
    if (!allowed) {
        note(*record, kWarning,
             cat(record->name, ": notify message from pid ", sender.pid,
                 " ignored: only the main process (pid ", record->main_pid,
                 ") may send them (see NotifyAccess=)"));
        return;
    }
    if (message.main_pid && *message.main_pid != record->main_pid && !is_inactive(record->state) &&
        !is_stopping(record->state)) {
        forget_pid(record->main_pid);
        record->main_pid = *message.main_pid;
        m_pids[record->main_pid] = record->name;
        note(*record, kDebug, cat(record->name, ": main pid is now ", record->main_pid));
    }
    if (message.status)
        record->status_text = *message.status;
    if (message.watchdog_usec) {
        record->watchdog_usec = *message.watchdog_usec;
        if (record->watchdog_at)
            arm_watchdog(*record);
    }
    if (message.watchdog && record->watchdog_at)
        arm_watchdog(*record);
    if (message.extend_timeout_usec && record->timeout_at)
        record->timeout_at =
            std::max(record->timeout_at, m_host.now_usec() + *message.extend_timeout_usec);
    if (message.ready && record->state == ServiceState::Start &&
        service.type == ServiceType::Notify)
        after_start(*record);
    if (message.watchdog_trigger)
        on_watchdog(*record);
    settle();
}

} // namespace keel
