// Stopping a service: ExecStop=, the stop signals KillMode= sends and
// waiting for the processes to go, ExecStopPost=, and the end of every
// stop (Dead, Failed or AutoRestart, and what is bound to the unit).
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <csignal>
#include <string>

namespace keel {

using namespace manager_internal;

namespace {

// While stopping, how often leftover processes (helpers of a unit whose
// main process already exited) are checked for.
constexpr uint64_t kPollInterval = 100'000;

} // namespace

void Manager::begin_stop(Record& record) {
    const Unit& unit = *record.config;
    if (unit.type == UnitType::Target) {
        enter_dead(record);
        return;
    }
    m_host.record_progress(record.name, kInfo, cat("Stopping ", title(unit), "..."));
    if (is_starting(record.state))
        enter_signal(record, ServiceState::StopSigterm);
    else
        enter_stop(record);
}

void Manager::enter_stop(Record& record) {
    if (record.reached_running && !record.config->service.exec_stop.empty()) {
        set_state(record, ServiceState::Stop);
        if (run_command(record, ExecPhase::Stop, 0))
            return;
    }
    enter_signal(record, ServiceState::StopSigterm);
}

void Manager::enter_signal(Record& record, ServiceState state) {
    set_state(record, state);
    const Unit& unit = *record.config;
    const ServiceConfig& service = unit.service;
    if (service.kill_mode == KillMode::None) {
        // Processes are left alone (and no longer ours to watch).
        forget_pid(record.main_pid);
        forget_pid(record.control_pid);
        enter_stop_post(record);
        return;
    }
    int signo = state == ServiceState::StopWatchdog  ? service.watchdog_signal
                : state == ServiceState::StopSigkill ? service.final_kill_signal
                                                     : service.kill_signal;
    bool everything = service.kill_mode == KillMode::ControlGroup ||
                      (service.kill_mode == KillMode::Mixed && state == ServiceState::StopSigkill);
    auto send = [&](int number) {
        if (everything) {
            m_host.kill_processes(unit, KillTarget::All, number, record.main_pid,
                                  record.control_pid);
            return;
        }
        if (record.main_pid)
            m_host.kill_processes(unit, KillTarget::Main, number, record.main_pid,
                                  record.control_pid);
        if (record.control_pid)
            m_host.kill_processes(unit, KillTarget::Control, number, record.main_pid,
                                  record.control_pid);
    };
    if (record.main_pid || record.control_pid || (everything && m_host.has_processes(unit))) {
        send(signo);
        // A stopped process must run to act on its signal.
        if (signo != SIGKILL && signo != SIGCONT)
            send(SIGCONT);
    }
    check_stopped(record);
}

void Manager::check_stopped(Record& record) {
    if (record.state != ServiceState::StopWatchdog && record.state != ServiceState::StopSigterm &&
        record.state != ServiceState::StopSigkill)
        return;
    if (record.main_pid || record.control_pid)
        return; // their exits come back through on_process_exit
    const Unit& unit = *record.config;
    KillMode mode = unit.service.kill_mode;
    bool leftovers =
        (mode == KillMode::ControlGroup || mode == KillMode::Mixed) && m_host.has_processes(unit);
    if (!leftovers) {
        enter_stop_post(record);
        return;
    }
    if (mode == KillMode::Mixed && record.state != ServiceState::StopSigkill) {
        enter_signal(record, ServiceState::StopSigkill); // mixed: SIGKILL for the rest
        return;
    }
    record.poll_at = m_host.now_usec() + kPollInterval;
}

void Manager::enter_stop_post(Record& record) {
    if (!record.config->service.exec_stop_post.empty()) {
        set_state(record, ServiceState::StopPost);
        if (run_command(record, ExecPhase::StopPost, 0))
            return;
    }
    enter_dead(record);
}

void Manager::enter_dead(Record& record) {
    const Unit& unit = *record.config;
    forget_pid(record.main_pid);
    forget_pid(record.control_pid);
    if (unit.type == UnitType::Service)
        m_host.unit_stopped(unit);
    bool failed = record.result != ServiceResult::Success;
    bool explicit_stop = record.stop_requested;
    if (should_restart(record)) {
        uint64_t delay = restart_delay(record);
        ++record.restarts;
        set_state(record, ServiceState::AutoRestart);
        record.restart_at = std::max<uint64_t>(m_host.now_usec() + delay, 1);
        std::string what = !record.failure.empty()     ? record.failure
                           : !record.last_exit.empty() ? record.last_exit
                                                       : std::string("stopped");
        note(record, failed ? kWarning : kInfo,
             cat(unit.name, ": ", what, ", restarting in ", format_duration(delay)));
        return; // a start job waiting on this unit keeps waiting
    }
    set_state(record, failed ? ServiceState::Failed : ServiceState::Dead);
    if (failed)
        note(record, kWarning,
             cat(unit.name, ": failed with result '", describe(record.result), "'"));
    else if (explicit_stop && unit.type == UnitType::Target)
        note(record, kDebug, cat("Stopped target ", title(unit), "."));
    else if (explicit_stop)
        note(record, kInfo, cat("Stopped ", title(unit), "."));
    else if (unit.type == UnitType::Service)
        note(record, kInfo, cat(unit.name, ": deactivated successfully"));
    record.stop_requested = false;
    if (record.job) {
        Job& job = *record.job;
        if (job.type == JobType::Restart && job.running) {
            job.type = JobType::Start; // the stop half is done
            job.running = false;
        } else if (job.type == JobType::Stop) {
            finish_job(record, JobResult::Done);
        } else if (job.running) {
            finish_job(record, failed ? JobResult::Failed : JobResult::Done);
        }
    }
    // BindsTo=: what is bound to this unit stops with it.
    for (const std::string& name : record.bound_by) {
        Record* dependent = find(name);
        if (!dependent || is_inactive(dependent->state) ||
            (dependent->job && dependent->job->type == JobType::Stop))
            continue;
        note(*dependent, kInfo,
             cat(name, ": stopping, because it is bound to ", record.name, ", which stopped"));
        set_job(*dependent, JobType::Stop, {});
    }
}

} // namespace keel
