// Restarting a service that ended: whether Restart= asks for it, the
// delay (RestartSec=, RestartSteps=, RestartMaxDelaySec=), and the start
// job queued when the delay is over.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <cmath>

namespace keel {

using namespace manager_internal;

bool Manager::should_restart(const Record& record) const {
    if (m_shutting_down || record.stop_requested || !record.config ||
        record.config->type != UnitType::Service)
        return false;
    if (record.result == ServiceResult::StartLimitHit || record.result == ServiceResult::Assert)
        return false;
    if (record.job && (record.job->type == JobType::Stop || record.job->type == JobType::Restart))
        return false;
    ServiceResult result = record.result;
    bool abnormal = result == ServiceResult::Signal || result == ServiceResult::CoreDump ||
                    result == ServiceResult::Timeout || result == ServiceResult::Watchdog;
    switch (record.config->service.restart) {
    case RestartPolicy::No:
        return false;
    case RestartPolicy::Always:
        return true;
    case RestartPolicy::OnSuccess:
        return result == ServiceResult::Success;
    case RestartPolicy::OnFailure:
        return result != ServiceResult::Success;
    case RestartPolicy::OnAbnormal:
        return abnormal;
    case RestartPolicy::OnWatchdog:
        return result == ServiceResult::Watchdog;
    case RestartPolicy::OnAbort:
        return result == ServiceResult::Signal || result == ServiceResult::CoreDump;
    }
    return false;
}

uint64_t Manager::restart_delay(const Record& record) const {
    const ServiceConfig& service = record.config->service;
    uint64_t base = service.restart_usec;
    uint64_t max = service.restart_max_delay_usec;
    if (service.restart_steps == 0 || base == 0 || max == kInfinity || max <= base)
        return base;
    // RestartSteps=: from RestartSec to RestartMaxDelaySec geometrically.
    unsigned step = std::min<unsigned>(record.restarts, service.restart_steps);
    double factor = std::pow(double(max) / double(base), double(step) / service.restart_steps);
    return std::min<uint64_t>(max, uint64_t(double(base) * factor));
}

void Manager::start_restart(Record& record) {
    if (record.state != ServiceState::AutoRestart)
        return;
    note(record, kInfo,
         cat(record.name, ": scheduled restart job, restart counter is at ", record.restarts));
    if (record.job && record.job->type == JobType::Start)
        record.job->running = false; // runs again through the dispatcher, ordering and all
    else if (!record.job)
        set_job(record, JobType::Start, {});
}

} // namespace keel
