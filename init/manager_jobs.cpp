// The Manager's job engine: queueing jobs with what they pull in, merging
// them, running them in dependency order, finishing them, and shutdown.
//
// Every entry point (enqueue, a child's exit, a notify message, a timer)
// changes state and then calls settle(), which starts whatever jobs became
// runnable, runs the callbacks of finished jobs, and arms the next wakeup.
// State changes never call back into the dispatcher directly, so a job that
// finishes inside another's transition cannot re-enter it.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <set>
#include <string>

namespace keel {

using namespace manager_internal;

Result<void> Manager::enqueue(JobType type, std::string_view requested, JobCallback done) {
    if (m_shutting_down && type != JobType::Stop)
        return error("the system is shutting down");
    std::string name = m_catalog.resolve_alias(requested);
    TRY(parse_unit_name(name));
    Record& record = ensure(name);
    if (m_graph_dirty)
        rebuild_graph();
    if (record.load_state != LoadState::Loaded && type != JobType::Stop) {
        if (record.load_state == LoadState::NotFound)
            return error(cat("unit ", quoted(name), " not found"));
        return error(cat("unit ", quoted(name), " failed to load: ", record.load_error));
    }
    std::set<std::string> seen;
    switch (type) {
    case JobType::Start:
        if (record.result == ServiceResult::StartLimitHit) {
            // Asking by hand is systemd's reset-failed and start in one.
            record.start_times.clear();
            record.restarts = 0;
        }
        add_start(record, std::move(done), seen);
        break;
    case JobType::Stop:
        add_stop(record, std::move(done), seen);
        break;
    case JobType::Restart:
        record.start_times.clear();
        record.restarts = 0;
        add_restart(record, IfInactive::Start, std::move(done), seen);
        break;
    case JobType::Reload:
        if (record.config->type != UnitType::Service || record.config->service.exec_reload.empty())
            return error(cat("unit ", quoted(name), " does not support reload (no ExecReload=)"));
        if (!is_active(record.state))
            return error(cat("unit ", quoted(name), " is not active, cannot reload"));
        set_job(record, JobType::Reload, std::move(done));
        break;
    }
    if (m_graph_dirty)
        rebuild_graph();
    settle();
    return {};
}

void Manager::set_job(Record& record, JobType type, JobCallback done) {
    auto cancel_waiters = [&](Job& job) {
        for (JobCallback& waiter : job.waiters)
            m_finished.emplace_back(std::move(waiter), JobResult::Canceled);
        job.waiters.clear();
    };
    if (!record.job) {
        record.job = Job{type, false, {}};
    } else {
        Job& job = *record.job;
        JobType existing = job.type;
        bool starts = type == JobType::Start || type == JobType::Reload;
        if (existing == type) {
            // the same job: the new caller waits for it too
        } else if (type == JobType::Start && existing == JobType::Stop) {
            if (job.running) {
                job.type = JobType::Restart; // stop what is stopping, then start
            } else {
                cancel_waiters(job);
                job.type = JobType::Start;
            }
        } else if (starts && (existing == JobType::Restart || existing == JobType::Start)) {
            // a restart ends in a start; a reload of a unit being started is moot
        } else if (type == JobType::Reload && existing == JobType::Stop) {
            if (done)
                m_finished.emplace_back(std::move(done), JobResult::Canceled);
            return;
        } else if (type == JobType::Stop) {
            cancel_waiters(job);
            job.type = JobType::Stop;
            // A start or reload under way is interrupted by running the stop;
            // a restart's stop half just goes on.
            if (existing == JobType::Start || existing == JobType::Reload)
                job.running = false;
        } else if (type == JobType::Restart) {
            job.type = JobType::Restart;
            // A start or reload under way is interrupted too: the restart
            // runs from its stop half, like a stop would.
            if (existing == JobType::Start || existing == JobType::Reload)
                job.running = false;
        }
    }
    if (done)
        record.job->waiters.push_back(std::move(done));
}

void Manager::add_start(Record& record, JobCallback done, std::set<std::string>& seen) {
    if (!seen.insert(record.name).second) {
        if (done)
            m_finished.emplace_back(std::move(done), JobResult::Done);
        return;
    }
    if (record.load_state != LoadState::Loaded)
        return; // the units requiring it fail when their job runs
    bool settled = is_active(record.state) && !record.job;
    if (settled) {
        if (done)
            m_finished.emplace_back(std::move(done), JobResult::Done);
    } else {
        set_job(record, JobType::Start, std::move(done));
    }
    // Even an active unit's dependencies are pulled in: `keel start
    // multi-user.target` starts a unit enabled since boot.
    for (const std::string& dependency : pulled_in(*record.config))
        if (parse_unit_name(dependency))
            add_start(ensure(dependency), {}, seen);
    for (const std::string& other : record.conflicts)
        if (Record* conflicting = find(other))
            add_stop(*conflicting, {}, seen);
}

void Manager::add_stop(Record& record, JobCallback done, std::set<std::string>& seen) {
    if (!seen.insert(record.name).second) {
        if (done)
            m_finished.emplace_back(std::move(done), JobResult::Done);
        return;
    }
    if (is_inactive(record.state) && !record.job) {
        if (done)
            m_finished.emplace_back(std::move(done), JobResult::Done);
        return;
    }
    set_job(record, JobType::Stop, std::move(done));
    // Requires=/BindsTo=/PartOf= on this unit: stopped along with it.
    for (const std::string& other : record.required_by)
        if (Record* dependent = find(other))
            add_stop(*dependent, {}, seen);
}

void Manager::add_restart(Record& record, IfInactive if_inactive, JobCallback done,
                          std::set<std::string>& seen) {
    if (record.load_state != LoadState::Loaded)
        return;
    if (is_inactive(record.state) && !record.job) {
        if (if_inactive == IfInactive::Leave)
            return;
        add_start(record, std::move(done), seen);
        return;
    }
    if (!seen.insert(record.name).second)
        return;
    set_job(record, JobType::Restart, std::move(done));
    for (const std::string& dependency : pulled_in(*record.config))
        if (parse_unit_name(dependency))
            add_start(ensure(dependency), {}, seen);
    for (const std::string& other : record.required_by)
        if (Record* dependent = find(other))
            add_restart(*dependent, IfInactive::Leave, {}, seen);
}

bool Manager::runnable(const Record& record) const {
    const Job& job = *record.job;
    if (job.running)
        return false;
    // A restart is a stop until its stop part is over; a reload orders like a start.
    bool starting = job.type == JobType::Start || job.type == JobType::Reload;
    if (starting && is_stopping(record.state))
        return false; // wait for the stop in progress to end
    auto other_starting = [](const Job& other) {
        return other.type == JobType::Start || other.type == JobType::Reload;
    };
    for (const std::string& name : record.after) { // these come first when starting
        const Record* other = find(name);
        if (other && other->job && starting)
            return false;
    }
    for (const std::string& name : record.before) { // these come first when stopping
        const Record* other = find(name);
        if (!other || !other->job)
            continue;
        if (!other_starting(*other->job))
            return false; // a stop goes before our start, and before our stop (reverse order)
    }
    return true;
}

void Manager::run_job(Record& record) {
    Job& job = *record.job;
    switch (job.type) {
    case JobType::Start: {
        const Unit& unit = *record.config;
        for (const auto* list : {&unit.requirements, &unit.binds_to})
            for (const std::string& name : *list) {
                const Record* dependency = find(m_catalog.resolve_alias(name));
                if (!dependency || dependency->load_state != LoadState::Loaded) {
                    note(record, kWarning,
                         cat("dependency ", name, " is ",
                             dependency ? describe(dependency->load_state) : "not-found",
                             ", not starting"));
                    finish_job(record, JobResult::Dependency);
                    return;
                }
            }
        for (const std::string& name : unit.requisite) {
            const Record* dependency = find(m_catalog.resolve_alias(name));
            if (!dependency || !is_active(dependency->state)) {
                note(record, kWarning, cat("requisite ", name, " is not active, not starting"));
                finish_job(record, JobResult::Dependency);
                return;
            }
        }
        if (is_active(record.state)) {
            finish_job(record, JobResult::Done);
            return;
        }
        job.running = true;
        if (is_starting(record.state))
            return; // already on its way (an auto-restart picked up by this job)
        record.restart_at = 0;
        begin_start(record);
        return;
    }
    case JobType::Stop:
    case JobType::Restart:
        if (record.state == ServiceState::AutoRestart)
            set_state(record, record.result == ServiceResult::Success ? ServiceState::Dead
                                                                      : ServiceState::Failed);
        if (is_inactive(record.state)) {
            if (job.type == JobType::Restart) {
                job.type = JobType::Start; // nothing to stop: start it
                return;
            }
            finish_job(record, JobResult::Done);
            return;
        }
        job.running = true;
        record.stop_requested = true;
        if (!is_stopping(record.state))
            begin_stop(record);
        return;
    case JobType::Reload:
        if (!is_active(record.state)) {
            finish_job(record, JobResult::Failed);
            return;
        }
        job.running = true;
        begin_reload(record);
        return;
    }
}

void Manager::finish_job(Record& record, JobResult result) {
    if (!record.job)
        return;
    Job job = std::move(*record.job);
    record.job.reset();
    for (JobCallback& waiter : job.waiters)
        m_finished.emplace_back(std::move(waiter), result);
    if (job.type != JobType::Start ||
        (result != JobResult::Failed && result != JobResult::Dependency))
        return;
    // Units that require this one and are still waiting to start cannot.
    for (const std::string& name : record.required_by) {
        Record* dependent = find(name);
        if (!dependent || !dependent->job || dependent->job->type != JobType::Start ||
            dependent->job->running || !dependent->config)
            continue;
        const Unit& unit = *dependent->config;
        bool depends = false;
        for (const auto* list : {&unit.requirements, &unit.binds_to, &unit.requisite})
            for (const std::string& other : *list)
                depends = depends || m_catalog.resolve_alias(other) == record.name;
        if (!depends)
            continue;
        note(*dependent, kWarning, cat("dependency failed: ", record.name));
        finish_job(*dependent, JobResult::Dependency);
    }
}

void Manager::settle() {
    if (m_settling)
        return; // the outer call picks up whatever changed
    m_settling = true;
    for (;;) {
        if (m_graph_dirty)
            rebuild_graph();
        for (bool progress = true; progress;) {
            progress = false;
            for (auto& [name, record] : m_units)
                if (record.job && runnable(record)) {
                    run_job(record);
                    progress = true;
                }
        }
        if (m_shutting_down && m_shutdown_done && jobs() == 0 &&
            std::all_of(m_units.begin(), m_units.end(),
                        [](const auto& entry) { return is_inactive(entry.second.state); })) {
            m_finished.emplace_back([done = std::move(m_shutdown_done)](JobResult) { done(); },
                                    JobResult::Done);
            m_shutdown_done = nullptr;
        }
        if (m_finished.empty())
            break;
        auto finished = std::move(m_finished);
        m_finished.clear();
        for (auto& [callback, result] : finished)
            if (callback)
                callback(result);
    }
    m_settling = false;
    reschedule();
}

void Manager::shutdown(std::function<void()> done) {
    if (m_shutting_down)
        return;
    m_shutting_down = true;
    m_shutdown_done = std::move(done);
    std::set<std::string> seen;
    for (auto& [name, record] : m_units) {
        if (record.job && record.job->type != JobType::Stop) {
            if (record.job->running || record.job->type == JobType::Restart) {
                set_job(record, JobType::Stop, {});
            } else {
                finish_job(record, JobResult::Canceled);
            }
        }
    }
    for (auto& [name, record] : m_units)
        if (!is_inactive(record.state) || record.job)
            add_stop(record, {}, seen);
    settle();
}

} // namespace keel
