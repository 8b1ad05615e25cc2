// The job engine and the service state machine (see manager.h for the rules).
//
// Every entry point (enqueue, a child's exit, a notify message, a timer)
// changes state and then calls settle(), which starts whatever jobs became
// runnable, runs the callbacks of finished jobs, and arms the next wakeup.
// State changes never call back into the dispatcher directly, so a job that
// finishes inside another's transition cannot re-enter it.
#include "init/manager.h"

#include "base/spawn.h"
#include "base/strings.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <functional>
#include <sys/wait.h>

namespace keel {

namespace {

constexpr uint64_t kInfinity = UINT64_MAX;
// While stopping, how often leftover processes (helpers of a unit whose
// main process already exited) are checked for.
constexpr uint64_t kPollInterval = 100'000;

constexpr int kError = 3, kWarning = 4, kInfo = 6, kDebug = 7;

bool finite(uint64_t usec) {
    return usec != 0 && usec != kInfinity;
}

// "100 ms", "2 s", "1.5 s", "2 min 5 s".
std::string format_duration(uint64_t usec) {
    if (usec == kInfinity)
        return "infinity";
    if (usec < 1000)
        return cat(usec, " us");
    if (usec < 1'000'000)
        return cat(usec / 1000, " ms");
    if (usec < 60'000'000) {
        uint64_t ms = usec / 1000;
        std::string out = cat(ms / 1000);
        if (ms % 1000) {
            std::string fraction = cat(1000 + ms % 1000).substr(1);
            while (fraction.back() == '0')
                fraction.pop_back();
            out += cat(".", fraction);
        }
        return out + " s";
    }
    uint64_t seconds = usec / 1'000'000;
    return seconds % 60 ? cat(seconds / 60, " min ", seconds % 60, " s")
                        : cat(seconds / 60, " min");
}

bool is_starting(ServiceState state) {
    return state == ServiceState::StartPre || state == ServiceState::Start ||
           state == ServiceState::StartPost;
}
bool is_stopping(ServiceState state) {
    return state == ServiceState::Stop || state == ServiceState::StopWatchdog ||
           state == ServiceState::StopSigterm || state == ServiceState::StopSigkill ||
           state == ServiceState::StopPost;
}
bool is_inactive(ServiceState state) {
    return state == ServiceState::Dead || state == ServiceState::Failed;
}
bool is_active(ServiceState state) {
    return state == ServiceState::Running || state == ServiceState::Exited;
}

ActiveState active_of(ServiceState state) {
    switch (state) {
    case ServiceState::Dead:
        return ActiveState::Inactive;
    case ServiceState::Failed:
        return ActiveState::Failed;
    case ServiceState::StartPre:
    case ServiceState::Start:
    case ServiceState::StartPost:
    case ServiceState::AutoRestart:
        return ActiveState::Activating;
    case ServiceState::Running:
    case ServiceState::Exited:
        return ActiveState::Active;
    case ServiceState::Reload:
        return ActiveState::Reloading;
    case ServiceState::Stop:
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
    case ServiceState::StopPost:
        return ActiveState::Deactivating;
    }
    return ActiveState::Inactive;
}

std::string_view sub_state_name(ServiceState state, UnitType type) {
    if (type == UnitType::Target)
        return state == ServiceState::Running ? "active" : "dead";
    switch (state) {
    case ServiceState::Dead:
        return "dead";
    case ServiceState::StartPre:
        return "start-pre";
    case ServiceState::Start:
        return "start";
    case ServiceState::StartPost:
        return "start-post";
    case ServiceState::Running:
        return "running";
    case ServiceState::Exited:
        return "exited";
    case ServiceState::Reload:
        return "reload";
    case ServiceState::Stop:
        return "stop";
    case ServiceState::StopWatchdog:
        return "stop-watchdog";
    case ServiceState::StopSigterm:
        return "stop-sigterm";
    case ServiceState::StopSigkill:
        return "stop-sigkill";
    case ServiceState::StopPost:
        return "stop-post";
    case ServiceState::Failed:
        return "failed";
    case ServiceState::AutoRestart:
        return "auto-restart";
    }
    return "?";
}

// Shell-style status: the exit code, or 128 + the signal.
int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// systemd's notion of a clean exit: 0 or SuccessExitStatus=, and for a
// daemon's main process also the signals a polite stop uses.
bool clean_exit(int status, const ServiceConfig& service, bool daemon) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0 ||
               service.success_exit_status.codes.contains(WEXITSTATUS(status));
    if (!WIFSIGNALED(status))
        return false;
    int signo = WTERMSIG(status);
    if (service.success_exit_status.signals.contains(signo))
        return true;
    return daemon && (signo == SIGHUP || signo == SIGINT || signo == SIGTERM || signo == SIGPIPE);
}

ServiceResult result_of(int status) {
    if (WIFSIGNALED(status))
        return WCOREDUMP(status) ? ServiceResult::CoreDump : ServiceResult::Signal;
    return ServiceResult::ExitCode;
}

const std::vector<ExecCommand>& commands_of(const ServiceConfig& service, ExecPhase phase) {
    switch (phase) {
    case ExecPhase::StartPre:
        return service.exec_start_pre;
    case ExecPhase::Start:
        return service.exec_start;
    case ExecPhase::StartPost:
        return service.exec_start_post;
    case ExecPhase::Reload:
        return service.exec_reload;
    case ExecPhase::Stop:
        return service.exec_stop;
    case ExecPhase::StopPost:
        return service.exec_stop_post;
    }
    return service.exec_start;
}

// "web.service - The web server", as systemd names units in its messages.
std::string title(const Unit& unit) {
    return unit.description == unit.name ? unit.name : cat(unit.name, " - ", unit.description);
}

// The dependencies that pull a unit's start in.
std::vector<std::string> pulled_in(const Unit& unit) {
    std::vector<std::string> names = unit.requirements;
    names.insert(names.end(), unit.binds_to.begin(), unit.binds_to.end());
    names.insert(names.end(), unit.wants.begin(), unit.wants.end());
    return names;
}

} // namespace

std::string_view describe(ActiveState state) {
    switch (state) {
    case ActiveState::Inactive:
        return "inactive";
    case ActiveState::Activating:
        return "activating";
    case ActiveState::Active:
        return "active";
    case ActiveState::Reloading:
        return "reloading";
    case ActiveState::Deactivating:
        return "deactivating";
    case ActiveState::Failed:
        return "failed";
    }
    return "?";
}

std::string_view describe(LoadState state) {
    switch (state) {
    case LoadState::Loaded:
        return "loaded";
    case LoadState::NotFound:
        return "not-found";
    case LoadState::Error:
        return "error";
    }
    return "?";
}

std::string_view describe(ServiceResult result) {
    switch (result) {
    case ServiceResult::Success:
        return "success";
    case ServiceResult::Resources:
        return "resources";
    case ServiceResult::Protocol:
        return "protocol";
    case ServiceResult::Timeout:
        return "timeout";
    case ServiceResult::ExitCode:
        return "exit-code";
    case ServiceResult::Signal:
        return "signal";
    case ServiceResult::CoreDump:
        return "core-dump";
    case ServiceResult::Watchdog:
        return "watchdog";
    case ServiceResult::StartLimitHit:
        return "start-limit-hit";
    case ServiceResult::Assert:
        return "assert";
    }
    return "?";
}

std::string_view describe(JobType type) {
    switch (type) {
    case JobType::Start:
        return "start";
    case JobType::Stop:
        return "stop";
    case JobType::Restart:
        return "restart";
    case JobType::Reload:
        return "reload";
    }
    return "?";
}

std::string_view describe(JobResult result) {
    switch (result) {
    case JobResult::Done:
        return "done";
    case JobResult::Skipped:
        return "skipped";
    case JobResult::Failed:
        return "failed";
    case JobResult::Dependency:
        return "dependency";
    case JobResult::Canceled:
        return "canceled";
    }
    return "?";
}

std::string_view describe(ExecPhase phase) {
    switch (phase) {
    case ExecPhase::StartPre:
        return "ExecStartPre";
    case ExecPhase::Start:
        return "ExecStart";
    case ExecPhase::StartPost:
        return "ExecStartPost";
    case ExecPhase::Reload:
        return "ExecReload";
    case ExecPhase::Stop:
        return "ExecStop";
    case ExecPhase::StopPost:
        return "ExecStopPost";
    }
    return "?";
}

// ---- registry ---------------------------------------------------------------

Manager::Record* Manager::find(std::string_view name) {
    auto it = m_units.find(name);
    return it == m_units.end() ? nullptr : &it->second;
}

const Manager::Record* Manager::find(std::string_view name) const {
    auto it = m_units.find(name);
    return it == m_units.end() ? nullptr : &it->second;
}

Manager::Record& Manager::ensure(std::string_view requested) {
    std::string name = m_catalog.resolve_alias(requested);
    if (Record* existing = find(name))
        return *existing;
    Record& record = m_units[name];
    record.name = name; // state_since stays 0: never active, so "since" means nothing
    load_record(record);
    m_graph_dirty = true;
    return record;
}

void Manager::load_record(Record& record) {
    std::vector<std::string> warnings;
    bool not_found = false;
    auto unit = m_catalog.load(record.name, m_context, warnings, not_found);
    for (const std::string& warning : warnings)
        note(record, kWarning, warning);
    if (!unit) {
        record.load_state = not_found ? LoadState::NotFound : LoadState::Error;
        record.load_error = unit.error().to_string();
        if (!not_found)
            note(record, kError, cat("failed to load: ", record.load_error));
        // A running unit keeps the configuration it was started with.
        if (is_inactive(record.state) && !record.job)
            record.config.reset();
        return;
    }
    record.load_state = LoadState::Loaded;
    record.load_error.clear();
    record.config = std::make_shared<const Unit>(std::move(*unit));
}

void Manager::load(UnitCatalog catalog, const SpecifierContext& context) {
    m_catalog = std::move(catalog);
    m_context = context;
    std::vector<std::string> pending = m_catalog.unit_names();
    pending.push_back(m_catalog.resolve_alias("default.target"));
    for (auto& [name, record] : m_units) {
        load_record(record);
        pending.push_back(name);
    }
    // Everything the loaded units pull in, transitively.
    std::set<std::string> visited;
    while (!pending.empty()) {
        std::string name = m_catalog.resolve_alias(pending.back());
        pending.pop_back();
        if (!visited.insert(name).second || !parse_unit_name(name))
            continue;
        Record& record = ensure(name);
        if (!record.config)
            continue;
        for (const auto* list :
             {&record.config->requirements, &record.config->requisite, &record.config->wants,
              &record.config->binds_to, &record.config->part_of})
            pending.insert(pending.end(), list->begin(), list->end());
    }
    // Forget units that are gone, idle and that nothing refers to any more.
    std::set<std::string> referenced;
    for (const auto& [name, record] : m_units)
        if (record.config)
            for (const std::string& dependency : pulled_in(*record.config))
                referenced.insert(m_catalog.resolve_alias(dependency));
    std::erase_if(m_units, [&](const auto& entry) {
        const Record& record = entry.second;
        return record.load_state == LoadState::NotFound && record.state == ServiceState::Dead &&
               !record.job && !referenced.contains(entry.first);
    });
    rebuild_graph();
    settle();
}

void Manager::rebuild_graph() {
    m_graph_dirty = false;
    for (auto& [name, record] : m_units) {
        record.after.clear();
        record.before.clear();
        record.required_by.clear();
        record.bound_by.clear();
        record.conflicts.clear();
    }
    auto canonical = [&](const std::string& name) { return m_catalog.resolve_alias(name); };
    // `first` is started before `second` (and stopped after it).
    auto order = [&](const std::string& first, const std::string& second) {
        if (first == second)
            return;
        Record* a = find(first);
        Record* b = find(second);
        if (!a || !b)
            return; // ordering against a unit that is not loaded means nothing
        a->before.insert(second);
        b->after.insert(first);
    };
    for (auto& [name, record] : m_units) {
        if (!record.config)
            continue;
        const Unit& unit = *record.config;
        for (const std::string& other : unit.after)
            order(canonical(other), name);
        for (const std::string& other : unit.before)
            order(name, canonical(other));
        for (const auto* list :
             {&unit.requirements, &unit.binds_to, &unit.requisite, &unit.part_of})
            for (const std::string& other : *list)
                if (Record* target = find(canonical(other)))
                    target->required_by.insert(name);
        for (const std::string& other : unit.binds_to)
            if (Record* target = find(canonical(other)))
                target->bound_by.insert(name);
        for (const std::string& other : unit.conflicts)
            if (Record* target = find(canonical(other)); target && target != &record) {
                target->conflicts.insert(name);
                record.conflicts.insert(target->name);
            }
    }
    // systemd's default dependencies: services come after basic.target;
    // a target comes after the units it pulls in, unless that would turn an
    // explicit order around.
    for (auto& [name, record] : m_units) {
        if (!record.config || !record.config->default_dependencies)
            continue;
        const Unit& unit = *record.config;
        if (unit.type == UnitType::Service) {
            if (find("basic.target") && !record.before.contains("basic.target"))
                order("basic.target", name);
            continue;
        }
        std::vector<std::string> members = pulled_in(unit);
        members.insert(members.end(), unit.requisite.begin(), unit.requisite.end());
        for (const std::string& member_name : members) {
            std::string member = canonical(member_name);
            const Record* other = find(member);
            if (other && other->config && other->config->default_dependencies &&
                !record.before.contains(member))
                order(member, name);
        }
    }
    break_cycles();
}

void Manager::break_cycles() {
    m_broken_cycles.clear();
    for (;;) {
        std::map<std::string, int> color; // absent: unvisited, 1: on the path, 2: done
        std::vector<std::string> path, cycle;
        std::function<bool(const std::string&)> visit = [&](const std::string& name) {
            color[name] = 1;
            path.push_back(name);
            for (const std::string& next : find(name)->before) {
                int seen = color.contains(next) ? color[next] : 0;
                if (seen == 1) {
                    auto start = std::find(path.begin(), path.end(), next);
                    cycle.assign(start, path.end());
                    return true;
                }
                if (seen == 0 && visit(next))
                    return true;
            }
            path.pop_back();
            color[name] = 2;
            return false;
        };
        for (const auto& [name, record] : m_units)
            if (!color.contains(name) && visit(name))
                break;
        if (cycle.empty())
            return;
        // cycle[i] is ordered before cycle[i + 1] (and the last before the
        // first). Drop an edge that no requirement depends on if there is one.
        size_t drop = cycle.size() - 1;
        for (size_t i = 0; i < cycle.size(); ++i) {
            const Record* later = find(cycle[(i + 1) % cycle.size()]);
            auto requires_earlier = [&](const std::vector<std::string>& list) {
                return std::find(list.begin(), list.end(), cycle[i]) != list.end();
            };
            if (!later->config || (!requires_earlier(later->config->requirements) &&
                                   !requires_earlier(later->config->binds_to))) {
                drop = i;
                break;
            }
        }
        const std::string& earlier = cycle[drop];
        const std::string& later = cycle[(drop + 1) % cycle.size()];
        find(earlier)->before.erase(later);
        find(later)->after.erase(earlier);
        std::string loop;
        for (const std::string& name : cycle)
            loop += cat(name, " \u2192 ");
        loop += cycle.front();
        std::string edge = cat(later, " After=", earlier);
        m_broken_cycles.push_back(edge);
        note(*find(later), kError,
             cat("found ordering cycle: ", loop, " (each starts before the next); ignoring ", edge,
                 " to break it"));
    }
}

// ---- jobs ------------------------------------------------------------------

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
        add_restart(record, false, std::move(done), seen);
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

void Manager::add_restart(Record& record, bool only_if_active, JobCallback done,
                          std::set<std::string>& seen) {
    if (record.load_state != LoadState::Loaded)
        return;
    if (is_inactive(record.state) && !record.job) {
        if (only_if_active)
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
            add_restart(*dependent, true, {}, seen);
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

// ---- the service state machine ---------------------------------------------

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

void Manager::enter_stop(Record& record) {
    if (record.reached_running && !record.config->service.exec_stop.empty()) {
        set_state(record, ServiceState::Stop);
        if (run_command(record, ExecPhase::Stop, 0))
            return;
    }
    enter_signal(record, ServiceState::StopSigterm);
}

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

void Manager::begin_reload(Record& record) {
    m_host.record_progress(record.name, kInfo, cat("Reloading ", title(*record.config), "..."));
    set_state(record, ServiceState::Reload);
    if (!run_command(record, ExecPhase::Reload, 0)) {
        record.result = ServiceResult::Success; // a failed reload does not fail the service
        finish_job(record, JobResult::Failed);
        enter_running(record);
    }
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

void Manager::on_start_failure(pid_t pid, const Error& error) {
    auto it = m_pids.find(pid);
    Record* record = it == m_pids.end() ? nullptr : find(it->second);
    if (!record || !record->config)
        return;
    bool main = pid == record->main_pid;
    ExecPhase phase = main ? ExecPhase::Start : record->control_phase;
    const std::vector<ExecCommand>& commands = commands_of(record->config->service, phase);
    size_t index = main ? record->main_index : record->control_index;
    std::string command = index < commands.size() ? commands[index].text() : "";
    std::string what = cat(describe(phase), "=", command, ": ", error.to_string());
    note(*record, kError, cat(record->name, ": ", what));
    set_result(*record, ServiceResult::Resources, what);
}

bool Manager::on_process_exit(pid_t pid, int status) {
    auto it = m_pids.find(pid);
    if (it == m_pids.end())
        return false;
    Record* record = find(it->second);
    m_pids.erase(it);
    if (!record)
        return true;
    if (pid == record->main_pid) {
        record->main_pid = 0;
        record->exit_status = exit_code(status);
        record->last_exit = describe_wait_status(status);
        main_exited(*record, status);
    } else if (pid == record->control_pid) {
        record->control_pid = 0;
        control_exited(*record, status);
    }
    settle();
    return true;
}

void Manager::main_exited(Record& record, int status) {
    const ServiceConfig& service = record.config->service;
    bool oneshot = service.type == ServiceType::Oneshot;
    bool clean = clean_exit(status, service, !oneshot);
    if (!clean && record.main_index < service.exec_start.size() &&
        service.exec_start[record.main_index].ignore_failure)
        clean = true; // ExecStart=-...
    bool stopping = is_stopping(record.state);
    note(record, clean || stopping ? kInfo : kWarning,
         cat(record.name, ": main process ", record.last_exit));
    switch (record.state) {
    case ServiceState::Start:
        if (oneshot) {
            if (!clean) {
                set_result(record, result_of(status), record.last_exit);
                enter_signal(record, ServiceState::StopSigterm);
            } else if (record.main_index + 1 < service.exec_start.size()) {
                run_start_commands(record, record.main_index + 1);
            } else {
                after_start(record);
            }
        } else {
            // A notify service ended before it said READY=1.
            if (clean)
                set_result(record, ServiceResult::Protocol,
                           cat(record.last_exit, " before it reported READY=1"));
            else
                set_result(record, result_of(status), record.last_exit);
            enter_signal(record, ServiceState::StopSigterm);
        }
        break;
    case ServiceState::StartPost:
    case ServiceState::Reload:
        if (!clean)
            set_result(record, result_of(status), record.last_exit);
        break; // handled when the control command ends
    case ServiceState::Running:
        if (!clean)
            set_result(record, result_of(status), record.last_exit);
        enter_running(record);
        break;
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
        check_stopped(record);
        break;
    default:
        break;
    }
}

void Manager::control_exited(Record& record, int status) {
    const ServiceConfig& service = record.config->service;
    ExecPhase phase = record.control_phase;
    const std::vector<ExecCommand>& commands = commands_of(service, phase);
    size_t index = record.control_index;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean && index < commands.size() && commands[index].ignore_failure)
        clean = true;
    bool more = index + 1 < commands.size();
    std::string what =
        cat(describe(phase), "=", index < commands.size() ? commands[index].text() : "", " ",
            describe_wait_status(status));
    if (!clean)
        note(record, kWarning, cat(record.name, ": ", what));
    switch (record.state) {
    case ServiceState::StartPre:
        if (!clean) {
            set_result(record, result_of(status), what);
            enter_signal(record, ServiceState::StopSigterm);
        } else if (more) {
            if (!run_command(record, phase, index + 1))
                enter_signal(record, ServiceState::StopSigterm);
        } else {
            run_start_commands(record, 0);
        }
        break;
    case ServiceState::StartPost:
        if (!clean) {
            set_result(record, result_of(status), what);
            enter_stop(record);
        } else if (more) {
            if (!run_command(record, phase, index + 1))
                enter_stop(record);
        } else {
            enter_running(record);
        }
        break;
    case ServiceState::Reload:
        if (clean && more && run_command(record, phase, index + 1))
            break;
        if (!clean)
            note(record, kWarning, cat(record.name, ": reload failed"));
        else
            note(record, kInfo, cat("Reloaded ", title(*record.config), "."));
        record.result = record.main_pid ? ServiceResult::Success : record.result;
        finish_job(record, clean ? JobResult::Done : JobResult::Failed);
        enter_running(record);
        break;
    case ServiceState::Stop:
        if (!(more && run_command(record, phase, index + 1)))
            enter_signal(record, ServiceState::StopSigterm);
        break;
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
        check_stopped(record);
        break;
    case ServiceState::StopPost:
        if (!(more && run_command(record, phase, index + 1)))
            enter_dead(record);
        break;
    default:
        break;
    }
}

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

// ---- queries ---------------------------------------------------------------

UnitInfo Manager::info(const Record& record) const {
    UnitInfo info;
    info.name = record.name;
    info.load_state = record.load_state;
    info.load_error = record.load_error;
    if (record.config) {
        const Unit& unit = *record.config;
        info.description = unit.description;
        info.type = unit.type;
        info.service_type = unit.service.type;
        info.path = unit.path;
        info.dropins = unit.dropins;
        info.enable_state = m_catalog.enable_state(unit);
    } else {
        info.description = record.name;
        info.type = unit_type_of(record.name).value_or(UnitType::Service);
    }
    info.active_state = active_of(record.state);
    info.sub_state = std::string(sub_state_name(record.state, info.type));
    info.main_pid = record.main_pid;
    info.control_pid = record.control_pid;
    info.exit_status = record.exit_status;
    info.last_exit = record.last_exit;
    info.result = record.result;
    info.restarts = record.restarts;
    info.status_text = record.status_text;
    info.condition_failed = record.condition_failed;
    info.state_since_usec = record.state_since;
    if (record.job)
        info.job = record.job->type;
    return info;
}

std::vector<UnitInfo> Manager::units() const {
    std::vector<UnitInfo> list;
    for (const auto& [name, record] : m_units)
        list.push_back(info(record));
    return list;
}

std::optional<UnitInfo> Manager::unit(std::string_view name) const {
    const Record* record = find(m_catalog.resolve_alias(name));
    if (!record)
        return std::nullopt;
    return info(*record);
}

std::shared_ptr<const Unit> Manager::config(std::string_view name) {
    if (!parse_unit_name(m_catalog.resolve_alias(name)))
        return nullptr;
    return ensure(name).config;
}

std::optional<std::string> Manager::unit_of_pid(pid_t pid) const {
    auto it = m_pids.find(pid);
    if (it == m_pids.end())
        return std::nullopt;
    return it->second;
}

size_t Manager::jobs() const {
    return size_t(std::count_if(m_units.begin(), m_units.end(),
                                [](const auto& entry) { return entry.second.job.has_value(); }));
}

size_t Manager::units_with_load_errors() const {
    return size_t(std::count_if(m_units.begin(), m_units.end(), [](const auto& entry) {
        return entry.second.load_state == LoadState::Error;
    }));
}

size_t Manager::failed_units() const {
    return size_t(std::count_if(m_units.begin(), m_units.end(), [](const auto& entry) {
        return entry.second.state == ServiceState::Failed;
    }));
}

} // namespace keel
