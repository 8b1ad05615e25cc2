// Time in the Manager: the one wakeup it asks the host for, what is due
// when it comes, the watchdog, and what a start, reload or stop timeout
// does in each state.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <csignal>

namespace keel {

using namespace manager_internal;

void Manager::reschedule() {
    uint64_t next = 0;
    for (const auto& [name, record] : m_units)
        for (uint64_t at :
             {record.timeout_at, record.watchdog_at, record.restart_at, record.poll_at})
            if (at && (!next || at < next))
                next = at;
    if (next != m_scheduled) {
        m_scheduled = next;
        m_host.schedule_wakeup(next);
    }
}

void Manager::on_timer() {
    uint64_t now = m_host.now_usec();
    m_scheduled = 0;
    for (auto& [name, record] : m_units) {
        if (record.timeout_at && record.timeout_at <= now) {
            record.timeout_at = 0;
            on_deadline(record);
        }
        if (record.watchdog_at && record.watchdog_at <= now) {
            record.watchdog_at = 0;
            on_watchdog(record);
        }
        if (record.restart_at && record.restart_at <= now) {
            record.restart_at = 0;
            start_restart(record);
        }
        if (record.poll_at && record.poll_at <= now) {
            record.poll_at = 0;
            check_stopped(record);
        }
    }
    settle();
}

void Manager::arm_watchdog(Record& record) {
    if (record.watchdog_usec)
        record.watchdog_at = m_host.now_usec() + record.watchdog_usec;
}

void Manager::on_watchdog(Record& record) {
    if (record.state != ServiceState::Start && record.state != ServiceState::StartPost &&
        record.state != ServiceState::Running && record.state != ServiceState::Reload)
        return;
    const ServiceConfig& service = record.config->service;
    note(record, kError,
         cat(record.name, ": watchdog timeout (limit ", format_duration(record.watchdog_usec),
             "), killing it with ", signal_name(service.watchdog_signal)));
    set_result(record, ServiceResult::Watchdog, "watchdog timeout");
    enter_signal(record, ServiceState::StopWatchdog);
}

void Manager::on_deadline(Record& record) {
    const ServiceConfig& service = record.config->service;
    switch (record.state) {
    case ServiceState::StartPre:
    case ServiceState::Start:
    case ServiceState::StartPost:
        note(record, kError,
             cat(record.name, ": start did not finish within ",
                 format_duration(service.timeout_start_usec), ", terminating"));
        set_result(record, ServiceResult::Timeout,
                   cat("timed out starting (TimeoutStartSec=",
                       format_duration(service.timeout_start_usec), ")"));
        if (record.state == ServiceState::StartPost)
            enter_stop(record);
        else
            enter_signal(record, ServiceState::StopSigterm);
        break;
    case ServiceState::Reload:
        note(record, kWarning, cat(record.name, ": reload timed out, killing the reload command"));
        if (record.control_pid)
            m_host.kill_processes(*record.config, KillTarget::Control, SIGKILL, record.main_pid,
                                  record.control_pid);
        forget_pid(record.control_pid);
        finish_job(record, JobResult::Failed);
        enter_running(record);
        break;
    case ServiceState::Stop:
        note(record, kWarning,
             cat(record.name, ": ExecStop= did not finish within ",
                 format_duration(service.timeout_stop_usec), ", terminating"));
        set_result(record, ServiceResult::Timeout, "timed out stopping");
        enter_signal(record, ServiceState::StopSigterm);
        break;
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
        note(record, kWarning,
             cat(record.name, ": did not stop within ", format_duration(service.timeout_stop_usec),
                 service.send_sigkill ? cat(", sending ", signal_name(service.final_kill_signal))
                                      : std::string(", leaving it (SendSIGKILL=no)")));
        set_result(record, ServiceResult::Timeout,
                   cat("timed out stopping (TimeoutStopSec=",
                       format_duration(service.timeout_stop_usec), ")"));
        if (service.send_sigkill) {
            enter_signal(record, ServiceState::StopSigkill);
        } else {
            forget_pid(record.main_pid);
            forget_pid(record.control_pid);
            enter_stop_post(record);
        }
        break;
    case ServiceState::StopSigkill:
        note(record, kWarning,
             cat(record.name, ": processes still around after SIGKILL, ignoring them"));
        forget_pid(record.main_pid);
        forget_pid(record.control_pid);
        enter_stop_post(record);
        break;
    case ServiceState::StopPost:
        if (record.control_pid)
            m_host.kill_processes(*record.config, KillTarget::Control, SIGKILL, record.main_pid,
                                  record.control_pid);
        forget_pid(record.control_pid);
        enter_dead(record);
        break;
    default:
        break;
    }
}

} // namespace keel
