// Starting a service and keeping it up: conditions and the start limit,
// ExecStartPre=, ExecStart=, ExecStartPost=, entering Running or Exited,
// and reloading with ExecReload=.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <string>
#include <vector>

namespace keel {

using namespace manager_internal;

void Manager::begin_start(Record& record) {
    const Unit& unit = *record.config;
    record.condition_failed.clear();
    bool any_trigger = false, trigger_held = false;
    std::string failed;
    for (const Condition& condition : unit.conditions) {
        bool holds = m_host.condition_holds(condition);
        if (condition.assert && !holds) {
            note(record, kError, cat("assertion failed: ", condition.text()));
            record.result = ServiceResult::Assert;
            record.failure = cat("assertion failed: ", condition.text());
            set_state(record, ServiceState::Failed);
            finish_job(record, JobResult::Failed);
            return;
        }
        if (condition.trigger) {
            any_trigger = true;
            trigger_held = trigger_held || holds;
        } else if (!holds && failed.empty()) {
            failed = condition.text();
        }
    }
    if (failed.empty() && any_trigger && !trigger_held)
        for (const Condition& condition : unit.conditions)
            if (condition.trigger)
                failed += cat(failed.empty() ? "" : " ", condition.text());
    if (!failed.empty()) {
        record.condition_failed = failed;
        note(record, kInfo, cat(unit.name, ": skipped, condition not met: ", failed));
        set_state(record, ServiceState::Dead);
        finish_job(record, JobResult::Skipped);
        return;
    }

    uint64_t now = m_host.now_usec();
    if (unit.start_limit_interval_usec && unit.start_limit_burst) {
        std::erase_if(record.start_times, [&](uint64_t at) {
            return unit.start_limit_interval_usec != kInfinity &&
                   at + unit.start_limit_interval_usec <= now;
        });
        if (record.start_times.size() >= unit.start_limit_burst) {
            note(record, kError,
                 cat(unit.name, ": start request repeated too quickly (", unit.start_limit_burst,
                     " starts within ", format_duration(unit.start_limit_interval_usec),
                     "), refusing to start"));
            note(record, kWarning, cat(unit.name, ": failed with result 'start-limit-hit'"));
            record.result = ServiceResult::StartLimitHit;
            record.failure = "start limit hit";
            set_state(record, ServiceState::Failed);
            finish_job(record, JobResult::Failed);
            return;
        }
        record.start_times.push_back(now);
    }

    if (unit.type == UnitType::Target) {
        record.result = ServiceResult::Success;
        note(record, kInfo, cat("Reached target ", title(unit), "."));
        set_state(record, ServiceState::Running);
        return;
    }
    const ServiceConfig& service = unit.service;
    record.result = ServiceResult::Success;
    record.failure.clear();
    record.reached_running = false;
    record.stop_requested = false;
    record.status_text.clear();
    record.watchdog_usec = service.watchdog_usec;
    m_host.record_progress(record.name, kInfo, cat("Starting ", title(unit), "..."));
    if (!service.exec_start_pre.empty()) {
        set_state(record, ServiceState::StartPre);
        if (!run_command(record, ExecPhase::StartPre, 0))
            enter_signal(record, ServiceState::StopSigterm);
        return;
    }
    run_start_commands(record, 0);
}

void Manager::run_start_commands(Record& record, size_t index) {
    const Unit& unit = *record.config;
    const ServiceConfig& service = unit.service;
    if (record.state != ServiceState::Start)
        set_state(record, ServiceState::Start);
    if (index >= service.exec_start.size()) {
        after_start(record); // a oneshot service with only ExecStop=
        return;
    }
    const ExecCommand& command = service.exec_start[index];
    auto pid = m_host.start_process(unit, command, ExecPhase::Start, extra_environment(record));
    if (!pid) {
        std::string what = cat("ExecStart=", command.text(), ": ", pid.error().to_string());
        note(record, kError, cat(unit.name, ": ", what));
        set_result(record, ServiceResult::Resources, what);
        enter_signal(record, ServiceState::StopSigterm);
        return;
    }
    record.main_pid = *pid;
    record.main_index = index;
    m_pids[*pid] = record.name;
    arm_watchdog(record);
    if (service.type == ServiceType::Simple || service.type == ServiceType::Exec)
        after_start(record);
    // notify: waits for READY=1; oneshot: for the command to exit
}

void Manager::after_start(Record& record) {
    if (!record.config->service.exec_start_post.empty()) {
        set_state(record, ServiceState::StartPost);
        if (!run_command(record, ExecPhase::StartPost, 0))
            enter_stop(record);
        return;
    }
    enter_running(record);
}

void Manager::enter_running(Record& record) {
    const Unit& unit = *record.config;
    if (record.result != ServiceResult::Success) {
        enter_signal(record, ServiceState::StopSigterm);
        return;
    }
    bool first = !record.reached_running;
    record.reached_running = true;
    if (record.main_pid) {
        if (first)
            note(record, kInfo, cat("Started ", title(unit), "."));
        set_state(record, ServiceState::Running);
        if (!record.watchdog_at)
            arm_watchdog(record);
        return;
    }
    if (first)
        note(record, kInfo,
             cat(unit.service.type == ServiceType::Oneshot ? "Finished " : "Started ", title(unit),
                 "."));
    if (unit.service.remain_after_exit) {
        set_state(record, ServiceState::Exited);
        return;
    }
    enter_stop(record);
}

void Manager::begin_reload(Record& record) {
    m_host.record_progress(record.name, kInfo, cat("Reloading ", title(*record.config), "..."));
    set_state(record, ServiceState::Reload);
    if (!run_command(record, ExecPhase::Reload, 0)) {
        record.result = ServiceResult::Success; // a failed reload does not fail the service
        finish_job(record, JobResult::Failed);
        enter_running(record);
    }
}

} // namespace keel
