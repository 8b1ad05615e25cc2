// The Manager's dependency graph: which units are ordered after which,
// which stop along with which, and which conflict, rebuilt from the loaded
// configurations at each load; ordering cycles are broken here.
#include "init/manager.h"

#include "init/manager_internal.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace keel {

using namespace manager_internal;

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

} // namespace keel
