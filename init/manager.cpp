// The Manager's registry of units: the names of its enums, loading units
// (the first load and daemon-reload alike) and the snapshots that
// list-units and status show. The rest of the Manager is split by step:
// manager_graph.cpp (the dependency graph), manager_jobs.cpp (the job
// engine), manager_start.cpp, manager_stop.cpp, manager_restart.cpp
// (the service state machine), manager_timers.cpp, manager_exits.cpp and
// manager_notify.cpp (the events that drive it); manager_state.cpp holds
// the steps they share.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <set>

namespace keel {

using namespace manager_internal;

namespace {

std::string_view sub_state_name(ServiceState state, UnitType type) {
    if (type == UnitType::Target)
        return state == ServiceState::Running ? "active" : "dead";
    return kServiceStateNames.name(state);
}

} // namespace

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
