// Service unit model: [Unit] and [Service] keys into SpawnOptions.
#include "init/units.h"

#include "base/strings.h"
#include "base/sys.h"
#include "base/users.h"

#include <map>
#include <set>

namespace keel {

namespace {

// Keys of this first cut; anything else is warned about, not fatal.
const std::set<std::string, std::less<>> kUnitKeys = {"Description", "Documentation"};
const std::set<std::string, std::less<>> kServiceKeys = {"Type",
                                                         "ExecStart",
                                                         "Environment",
                                                         "WorkingDirectory",
                                                         "User",
                                                         "Group",
                                                         "CapabilityBoundingSet",
                                                         "NoNewPrivileges",
                                                         "SystemCallFilter",
                                                         "LimitNOFILE",
                                                         "LimitNPROC",
                                                         "LimitCORE"};

std::string where(const UnitFile& file, const UnitEntry& entry) {
    return cat(file.filename(), ":", entry.line);
}

// The last entry for `key` (for its line number in messages).
const UnitEntry* last_entry(const UnitFile& file, std::string_view section, std::string_view key) {
    const UnitEntry* found = nullptr;
    for (const UnitSection& s : file.sections())
        if (s.name == section)
            for (const UnitEntry& entry : s.entries)
                if (entry.key == key)
                    found = &entry;
    return found;
}

Result<rlim_t> parse_limit(std::string_view value) {
    if (value == "infinity")
        return RLIM_INFINITY;
    auto number = parse_u64(value);
    if (!number)
        return error(cat("expected a number or `infinity`, got ", quoted(value)));
    return rlim_t(*number);
}

} // namespace

Result<ServiceUnit> parse_service_unit(const UnitFile& file, std::string name,
                                       std::vector<std::string>& warnings) {
    ServiceUnit unit;
    unit.name = std::move(name);
    unit.path = file.filename();
    for (const UnitSection& section : file.sections()) {
        const auto* known = section.name == "Unit"      ? &kUnitKeys
                            : section.name == "Service" ? &kServiceKeys
                                                        : nullptr;
        if (!known && section.name != "Install") {
            warnings.push_back(cat(file.filename(), ":", section.line, ": unknown section [",
                                   section.name, "], ignored"));
            continue;
        }
        for (const UnitEntry& entry : section.entries)
            if (known && !known->contains(entry.key))
                warnings.push_back(cat(where(file, entry), ": unknown key ", quoted(entry.key),
                                       " in [", section.name, "], ignored"));
    }
    unit.description = file.get("Unit", "Description").value_or(unit.name);

    const UnitEntry* exec = last_entry(file, "Service", "ExecStart");
    if (!exec || exec->value.empty())
        return error(cat(file.filename(), ": [Service] has no ExecStart="));
    std::string_view command = exec->value;
    while (!command.empty() && (command.front() == '-' || command.front() == '@')) {
        unit.ignore_failure = unit.ignore_failure || command.front() == '-';
        command.remove_prefix(1);
    }
    unit.spawn.argv = TRY_CTX(split_words(command), cat(where(file, *exec), ": ExecStart"));
    if (unit.spawn.argv.empty() || unit.spawn.argv[0].front() != '/')
        return error(cat(where(file, *exec), ": ExecStart must start with an absolute path"));

    std::map<std::string, std::string> environment = {
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}};
    for (const std::string& value : file.get_all("Service", "Environment")) {
        for (const std::string& assignment :
             TRY_CTX(split_words(value), cat(file.filename(), ": Environment"))) {
            size_t equals = assignment.find('=');
            if (equals == std::string::npos || equals == 0)
                return error(cat(file.filename(), ": Environment: ", quoted(assignment),
                                 " is not KEY=value"));
            environment[assignment.substr(0, equals)] = assignment.substr(equals + 1);
        }
    }
    for (const auto& [key, value] : environment)
        unit.spawn.environment.push_back(cat(key, "=", value));

    unit.spawn.working_directory = file.get("Service", "WorkingDirectory").value_or("");
    if (auto user = file.get("Service", "User"); user && !user->empty()) {
        PasswdEntry entry = TRY_CTX(find_user(*user), cat(file.filename(), ": User"));
        unit.spawn.uid = entry.uid;
        unit.spawn.gid = entry.gid;
    }
    if (auto group = file.get("Service", "Group"); group && !group->empty()) {
        GroupEntry entry = TRY_CTX(find_group(*group), cat(file.filename(), ": Group"));
        unit.spawn.gid = entry.gid;
    }
    if (auto caps = file.get("Service", "CapabilityBoundingSet")) {
        std::string_view list = *caps;
        unit.spawn.capability_mode = CapabilityMode::Keep;
        if (list.starts_with('~')) {
            unit.spawn.capability_mode = CapabilityMode::Drop;
            list.remove_prefix(1);
        }
        unit.spawn.capabilities =
            TRY_CTX(split_words(list), cat(file.filename(), ": CapabilityBoundingSet"));
    }
    if (auto value = file.get("Service", "NoNewPrivileges"))
        unit.spawn.no_new_privileges =
            TRY_CTX(parse_boolean(*value), cat(file.filename(), ": NoNewPrivileges"));
    for (const std::string& value : file.get_all("Service", "SystemCallFilter")) {
        // Only the deny-list form is supported so far; an allow list would be
        // silently weaker if accepted, so it is refused.
        if (!value.starts_with('~'))
            return error(cat(file.filename(),
                             ": SystemCallFilter: only the `~name ...` deny form is "
                             "supported"));
        for (const std::string& call : TRY_CTX(split_words(std::string_view(value).substr(1)),
                                               cat(file.filename(), ": SystemCallFilter")))
            unit.spawn.denied_syscalls.push_back(call);
    }
    constexpr std::pair<std::string_view, int> kLimits[] = {
        {"LimitNOFILE", RLIMIT_NOFILE}, {"LimitNPROC", RLIMIT_NPROC}, {"LimitCORE", RLIMIT_CORE}};
    for (auto [key, resource] : kLimits) {
        if (auto value = file.get("Service", key)) {
            rlim_t limit = TRY_CTX(parse_limit(*value), cat(file.filename(), ": ", key));
            unit.spawn.limits.push_back({resource, limit, limit});
        }
    }
    TRY_CTX(validate_spawn_options(unit.spawn), file.filename());
    return unit;
}

std::vector<ServiceUnit> load_service_units(const std::vector<std::string>& directories,
                                            std::vector<std::string>& errors,
                                            std::vector<std::string>& warnings) {
    std::map<std::string, std::string> files; // name -> path; later directories win
    for (const std::string& directory : directories) {
        auto names = list_directory(directory);
        if (!names)
            continue; // a missing unit directory is normal
        for (const std::string& name : *names)
            if (name.ends_with(".service"))
                files[name] = cat(directory, "/", name);
    }
    std::vector<ServiceUnit> units;
    for (const auto& [name, path] : files) {
        auto file = UnitFile::load(path);
        if (!file) {
            errors.push_back(file.error().to_string());
            continue;
        }
        auto unit = parse_service_unit(*file, name, warnings);
        if (!unit) {
            errors.push_back(unit.error().to_string());
            continue;
        }
        units.push_back(std::move(*unit));
    }
    return units;
}

} // namespace keel
