// The steps every transition of the service state machine shares: entering
// a state (deadlines, the start job it completes), keeping the first
// failure, starting a control command, tracking pids, recording messages.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <string>
#include <vector>

namespace keel {

using namespace manager_internal;

namespace {

bool finite(uint64_t usec) {
    return usec != 0 && usec != kInfinity;
}

} // namespace

void Manager::note(const Record& record, int priority, const std::string& message) {
    m_host.record(record.name, priority, message);
}

void Manager::set_state(Record& record, ServiceState state) {
    uint64_t now = m_host.now_usec();
    if (active_of(record.state) != active_of(state))
        record.state_since = now;
    record.state = state;
    record.timeout_at = 0;
    record.poll_at = 0;
    if (state != ServiceState::AutoRestart)
        record.restart_at = 0;
    if (state != ServiceState::Start && state != ServiceState::StartPost &&
        state != ServiceState::Running && state != ServiceState::Reload)
        record.watchdog_at = 0;
    if (record.config && record.config->type == UnitType::Service) {
        const ServiceConfig& service = record.config->service;
        uint64_t timeout = 0;
        if (is_starting(state) || state == ServiceState::Reload)
            timeout = service.timeout_start_usec;
        else if (is_stopping(state))
            timeout = service.timeout_stop_usec;
        if (finite(timeout))
            record.timeout_at = now + timeout;
    }
    if (is_active(state) && record.job && record.job->type == JobType::Start && record.job->running)
        finish_job(record, JobResult::Done);
}

void Manager::set_result(Record& record, ServiceResult result, std::string failure) {
    if (record.result != ServiceResult::Success)
        return; // the first failure is the one that counts
    record.result = result;
    record.failure = std::move(failure);
}

void Manager::forget_pid(pid_t& pid) {
    if (pid)
        m_pids.erase(pid);
    pid = 0;
}

std::vector<std::string> Manager::extra_environment(const Record& record) const {
    std::vector<std::string> environment;
    if (record.main_pid)
        environment.push_back(cat("MAINPID=", record.main_pid));
    if (record.watchdog_usec)
        environment.push_back(cat("WATCHDOG_USEC=", record.watchdog_usec));
    return environment;
}

bool Manager::run_command(Record& record, ExecPhase phase, size_t index) {
    const Unit& unit = *record.config;
    const std::vector<ExecCommand>& commands = commands_of(unit.service, phase);
    if (index >= commands.size())
        return false;
    const ExecCommand& command = commands[index];
    auto pid = m_host.start_process(unit, command, phase, extra_environment(record));
    if (!pid) {
        std::string what = cat(describe(phase), "=", command.text(), ": ", pid.error().to_string());
        note(record, kError, cat(unit.name, ": ", what));
        set_result(record, ServiceResult::Resources, what);
        return false;
    }
    record.control_pid = *pid;
    record.control_phase = phase;
    record.control_index = index;
    m_pids[*pid] = record.name;
    return true;
}

} // namespace keel
