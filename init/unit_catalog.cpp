// The unit catalog: scanning the unit directories (unit files, container
// units, masks, aliases, drop-in directories, .wants/ and .requires/
// entries), the built-in targets, loading one unit with its drop-ins and
// links, and how a unit is enabled; the built-in keel-kv.service and
// keel-update.service, PID 1's kv and update roles.
#include "init/unit_model.h"

#include "base/strings.h"
#include "base/sys.h"
#include "init/quadlet.h"
#include "init/unit_model_internal.h"

#include <algorithm>
#include <iterator>
#include <map>

namespace keel {

using namespace unit_model_internal;

namespace {

std::string basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// PID 1's kv role (kv/kv.h): written as a unit file, so that it gets
// exactly the defaults a file would. It runs only when the KV is
// configured: /etc/keel/kv.conf exists (its ETCD_* lines are the
// environment) or the kernel command line names the member
// (keel.kv.name=...; `keel kv role` reads the other keel.kv.* words).
constexpr std::string_view kKvRoleUnitText = R"([Unit]
Description=keel's KV store (etcd v3 API)
ConditionPathExists=|/etc/keel/kv.conf
ConditionKernelCommandLine=|keel.kv.name
After=network.target

[Service]
Type=notify
ExecStart=/usr/bin/keel kv role
EnvironmentFile=-/etc/keel/kv.conf
Restart=on-failure
RestartSec=1s
)";

// PID 1's update role (update/agent.h): the health gate after a boot into
// a new slot, reboots into updates. It runs only when the role is
// configured: /etc/keel/update.conf exists or the kernel command line sets
// one of its keel.update.* settings. An install runs in its cgroup, so it
// is throttled as CoreOS's update_engine was: a low CPU weight, and a cap
// on the bandwidth to and from the disk the root is on.
constexpr std::string_view kUpdateRoleUnitText = R"([Unit]
Description=keel's update role (A/B health gate, reboots into updates)
ConditionPathExists=|/etc/keel/update.conf
ConditionKernelCommandLine=|keel.update.health
ConditionKernelCommandLine=|keel.update.HealthUnits
ConditionKernelCommandLine=|keel.update.HealthyFor
ConditionKernelCommandLine=|keel.update.HealthTimeout
ConditionKernelCommandLine=|keel.update.RebootStrategy
ConditionKernelCommandLine=|keel.update.RebootWindowStart
ConditionKernelCommandLine=|keel.update.RebootWindowLength
ConditionKernelCommandLine=|keel.update.LockGroup
ConditionKernelCommandLine=|keel.update.KVEndpoints
ConditionKernelCommandLine=|keel.update.Source
ConditionKernelCommandLine=|keel.update.Channel
After=network.target keel-kv.service

[Service]
ExecStart=/usr/bin/keel update agent
Restart=on-failure
RestartSec=5s
CPUWeight=20
IOReadBandwidthMax=/ 100M
IOWriteBandwidthMax=/ 100M
)";

// A built-in role's unit from its fixed text.
Unit role_unit(std::string_view name, std::string_view text) {
    auto file = UnitFile::parse(text, std::string(name));
    std::vector<std::string> warnings;
    auto unit = file ? parse_unit(std::string(name), *file, {}, SpecifierContext{}, warnings)
                     : Result<Unit>(std::unexpected(file.error()));
    if (!unit) // the texts above are fixed: a unit test reads them
        return Unit{.name = std::string(name), .description = unit.error().to_string()};
    unit->path.clear(); // built in: no file
    // The binary PID 1 runs from, not one looked up on PATH.
    unit->service.exec_start.front().argv.front() = keel_binary_path();
    return std::move(*unit);
}

Unit kv_role_unit() {
    return role_unit(kKvRoleUnit, kKvRoleUnitText);
}

} // namespace

std::optional<Unit> builtin_unit(std::string_view name) {
    if (name == kKvRoleUnit)
        return kv_role_unit();
    if (name == kUpdateRoleUnit)
        return role_unit(kUpdateRoleUnit, kUpdateRoleUnitText);
    Unit unit;
    unit.name = std::string(name);
    unit.type = UnitType::Target;
    if (name == "sysinit.target") {
        unit.description = "System Initialization";
    } else if (name == "basic.target") {
        unit.description = "Basic System";
        unit.requirements = {"sysinit.target"};
        unit.after = {"sysinit.target"};
    } else if (name == "multi-user.target") {
        unit.description = "Multi-User System";
        unit.requirements = {"basic.target"};
        unit.wants = {std::string(kKvRoleUnit), std::string(kUpdateRoleUnit)};
        unit.after = {"basic.target"};
    } else if (name == "network.target") {
        unit.description = "Network";
    } else if (name == "network-online.target") {
        unit.description = "Network is Online";
        unit.after = {"network.target"};
    } else {
        return std::nullopt;
    }
    return unit;
}

UnitCatalog UnitCatalog::scan(const std::vector<std::string>& directories) {
    UnitCatalog catalog;
    catalog.m_directories = directories;
    for (const std::string& directory : directories) {
        auto names = list_directory(directory);
        if (!names)
            continue; // a missing unit directory is normal
        for (const std::string& name : *names) {
            std::string path = cat(directory, "/", name);
            FileKind kind = file_kind(path);
            if (kind.directory) {
                auto entries = list_directory(path);
                if (!entries)
                    continue;
                std::string_view stem = name;
                if (name.ends_with(".d")) {
                    if (auto service = container_service_name(stem.substr(0, stem.size() - 2))) {
                        for (const std::string& conf : *entries)
                            if (conf.ends_with(".conf"))
                                catalog.m_container_dropins[*service][conf] = cat(path, "/", conf);
                        continue;
                    }
                }
                if (name.ends_with(".d") && parse_unit_name(stem.substr(0, stem.size() - 2))) {
                    std::string unit(stem.substr(0, stem.size() - 2));
                    for (const std::string& conf : *entries)
                        if (conf.ends_with(".conf"))
                            catalog.m_dropins[unit][conf] = cat(path, "/", conf);
                    continue;
                }
                for (std::string_view kind_suffix : {".wants", ".requires"}) {
                    if (!name.ends_with(kind_suffix))
                        continue;
                    std::string unit(stem.substr(0, stem.size() - kind_suffix.size()));
                    if (!parse_unit_name(unit))
                        continue;
                    auto& set =
                        kind_suffix == ".wants" ? catalog.m_wants[unit] : catalog.m_requires[unit];
                    for (const std::string& entry : *entries)
                        if (parse_unit_name(entry))
                            set.insert(entry);
                }
                continue;
            }
            std::string unit_name = name;
            if (auto service = container_service_name(name)) {
                // Quadlet's naming: web.container is web.service, unless a
                // web.service beside it says otherwise.
                if (file_kind(cat(directory, "/", *service)).exists) {
                    catalog.m_hidden_containers[*service] =
                        cat(path, ": ignored, since ", directory, "/", *service, " is beside it");
                    continue;
                }
                catalog.m_hidden_containers.erase(*service);
                unit_name = *service;
            } else if (!parse_unit_name(name)) {
                continue; // notes, backups: not units
            }
            if (kind.symlink) {
                auto target = read_link(path);
                if (target && *target == "/dev/null") {
                    catalog.m_files[unit_name] = "/dev/null"; // masked
                    catalog.m_aliases.erase(unit_name);
                    continue;
                }
                std::string target_name = target ? basename_of(*target) : std::string();
                // An alias `keel enable` made for a container unit links
                // to the .container file.
                if (auto service = container_service_name(target_name))
                    target_name = *service;
                if (target && target_name != unit_name && parse_unit_name(target_name) &&
                    unit_type_of(target_name) == unit_type_of(unit_name)) {
                    catalog.m_aliases[unit_name] = target_name;
                    catalog.m_files.erase(unit_name);
                    continue;
                }
            }
            catalog.m_files[unit_name] = path;
            catalog.m_aliases.erase(unit_name);
        }
    }
    return catalog;
}

std::vector<std::string> UnitCatalog::unit_names() const {
    std::vector<std::string> names;
    for (const auto& [name, path] : m_files) {
        auto parts = parse_unit_name(name);
        if (parts && parts->instance && parts->instance->empty())
            continue; // a template
        names.push_back(name);
    }
    return names;
}

std::string UnitCatalog::resolve_alias(std::string_view name) const {
    std::string current(name);
    for (int hops = 0; hops < 8; ++hops) { // aliases of aliases, without looping forever
        auto it = m_aliases.find(current);
        if (it == m_aliases.end())
            break;
        current = it->second;
    }
    if (current == "default.target" && !m_files.contains(current))
        return "multi-user.target";
    return current;
}

void UnitCatalog::preload(const SpecifierContext& context) {
    m_preloaded.clear();
    for (const std::string& name : unit_names()) {
        Preloaded entry{.unit = Unit{}};
        entry.unit = load(name, context, entry.warnings, entry.not_found);
        m_preloaded.emplace(resolve_alias(name), std::move(entry));
    }
    m_preload_context = context;
}

Result<Unit> UnitCatalog::load(std::string_view requested, const SpecifierContext& context,
                               std::vector<std::string>& warnings, bool& not_found) const {
    not_found = false;
    std::string name = resolve_alias(requested);
    if (auto it = m_preloaded.find(name); it != m_preloaded.end()) {
        Preloaded entry = std::move(it->second);
        m_preloaded.erase(it);
        if (context == m_preload_context) {
            warnings.insert(warnings.end(), entry.warnings.begin(), entry.warnings.end());
            not_found = entry.not_found;
            return std::move(entry.unit);
        }
    }
    UnitName parts = TRY(parse_unit_name(name));
    if (parts.instance && parts.instance->empty())
        return error(cat(quoted(name), " is a template; start an instance such as ", parts.prefix,
                         "@NAME.", parts.suffix));
    std::string templ = template_of(name);
    std::string path;
    if (auto it = m_files.find(name); it != m_files.end())
        path = it->second;
    else if (auto it = m_files.find(templ); !templ.empty() && it != m_files.end())
        path = it->second;
    if (path == "/dev/null")
        return error(cat("unit ", quoted(name), " is masked (linked to /dev/null)"));

    auto add_links = [&](Unit& unit) {
        for (const auto* links : {&m_wants, &m_requires}) {
            auto it = links->find(name);
            if (it == links->end())
                continue;
            auto& list = links == &m_wants ? unit.wants : unit.requirements;
            for (const std::string& linked : it->second)
                if (std::find(list.begin(), list.end(), linked) == list.end())
                    list.push_back(linked);
        }
    };
    if (path.empty()) {
        std::optional<Unit> builtin = builtin_unit(name);
        if (!builtin) {
            not_found = true;
            return error(cat("unit ", quoted(name), " not found"));
        }
        add_links(*builtin);
        return *builtin;
    }
    if (auto it = m_hidden_containers.find(name); it != m_hidden_containers.end())
        warnings.push_back(it->second);
    UnitFile file = TRY(UnitFile::load(path));
    // Drop-ins of the template first, then the instance's; a file of the
    // same name in the instance's directory replaces the template's.
    auto load_dropins = [&](const auto& by_unit) -> Result<std::vector<UnitFile>> {
        std::map<std::string, std::string> confs;
        for (const std::string& key : {templ, name}) {
            auto it = by_unit.find(key);
            if (!key.empty() && it != by_unit.end())
                for (const auto& [conf, conf_path] : it->second)
                    confs[conf] = conf_path;
        }
        std::vector<UnitFile> dropins;
        for (const auto& [conf, conf_path] : confs)
            dropins.push_back(TRY(UnitFile::load(conf_path)));
        return dropins;
    };
    std::vector<UnitFile> dropins = TRY(load_dropins(m_dropins));
    if (is_container_unit_path(path)) {
        // The container's own drop-ins may set [Container] keys; they apply
        // before the service's.
        std::vector<UnitFile> container_dropins = TRY(load_dropins(m_container_dropins));
        ContainerService service = TRY(translate_container(name, file, container_dropins, context,
                                                           keel_binary_path(), warnings));
        file = std::move(service.service);
        dropins.insert(dropins.begin(), std::make_move_iterator(service.dropins.begin()),
                       std::make_move_iterator(service.dropins.end()));
    }
    Unit unit = TRY(parse_unit(name, file, dropins, context, warnings));
    add_links(unit);
    return unit;
}

EnableState UnitCatalog::enable_state(const Unit& unit) const {
    if (unit.path.empty())
        return EnableState::Builtin;
    for (const auto* links : {&m_wants, &m_requires})
        for (const auto& [target, names] : *links)
            if (names.contains(unit.name))
                return EnableState::Enabled;
    for (const auto& [alias, target] : m_aliases)
        if (target == unit.name && alias != "default.target")
            return EnableState::Enabled;
    return unit.installable() ? EnableState::Disabled : EnableState::Static;
}

} // namespace keel
