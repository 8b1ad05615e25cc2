// The module index: modules.dep and modules.builtin parsed into names,
// paths and dependencies, and the load order of a module. Pure parsing (no
// syscalls beyond reading the files), fuzzed as outside input.
#include "kmod/kmod.h"

#include "base/strings.h"
#include "base/sys.h"

#include <set>
#include <sys/utsname.h>

namespace keel {

std::string module_name_from_path(std::string_view path) {
    size_t slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    size_t ko = base.find(".ko");
    std::string name(base.substr(0, ko));
    for (char& c : name)
        if (c == '-')
            c = '_';
    return name;
}

namespace {

std::string normalize(std::string_view name) {
    return module_name_from_path(name);
}

bool valid_module_path(std::string_view path) {
    return !path.empty() && path.find(".ko") != std::string_view::npos && path.front() != '/' &&
           path.find("..") == std::string_view::npos;
}

} // namespace

Result<ModuleIndex> ModuleIndex::parse(std::string_view modules_dep,
                                       std::string_view modules_builtin, std::string directory) {
    ModuleIndex index;
    index.m_directory = std::move(directory);
    int line_number = 0;
    for (std::string_view line : split(modules_dep, '\n')) {
        ++line_number;
        line = trim(line);
        if (line.empty() || line.front() == '#')
            continue;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            return error(cat("modules.dep:", line_number, ": expected `path: dependencies`"));
        std::string_view path = trim(line.substr(0, colon));
        if (!valid_module_path(path))
            return error(cat("modules.dep:", line_number, ": bad module path ", quoted(path)));
        ModuleEntry entry{module_name_from_path(path), std::string(path), {}};
        for (std::string_view dependency : split(trim(line.substr(colon + 1)), ' ')) {
            if (dependency.empty())
                continue;
            if (!valid_module_path(dependency))
                return error(
                    cat("modules.dep:", line_number, ": bad dependency path ", quoted(dependency)));
            entry.dependencies.push_back(module_name_from_path(dependency));
        }
        std::string name = entry.name;
        index.m_modules.insert_or_assign(std::move(name), std::move(entry));
    }
    for (std::string_view line : split(modules_builtin, '\n')) {
        line = trim(line);
        if (!line.empty())
            index.m_builtin[module_name_from_path(line)] = true;
    }
    return index;
}

Result<ModuleIndex> ModuleIndex::load(std::string release) {
    if (release.empty()) {
        struct utsname name {};
        ::uname(&name);
        release = name.release;
    }
    std::string directory = cat("/lib/modules/", release);
    std::string dep = TRY(read_file(directory + "/modules.dep"));
    std::string builtin;
    if (path_exists(directory + "/modules.builtin"))
        builtin = TRY(read_file(directory + "/modules.builtin"));
    return TRY_CTX(parse(dep, builtin, directory), cat("module index of ", release));
}

const ModuleEntry* ModuleIndex::find(std::string_view name) const {
    auto it = m_modules.find(normalize(name));
    return it == m_modules.end() ? nullptr : &it->second;
}

bool ModuleIndex::is_builtin(std::string_view name) const {
    return m_builtin.contains(normalize(name));
}

Result<std::vector<const ModuleEntry*>> ModuleIndex::load_order(std::string_view name) const {
    std::vector<const ModuleEntry*> order;
    std::set<std::string> done, visiting;
    // Depth-first, dependencies before dependents; `visiting` catches cycles.
    std::function<Result<void>(std::string_view, std::string_view)> visit =
        [&](std::string_view module, std::string_view needed_by) -> Result<void> {
        std::string key = normalize(module);
        if (done.contains(key) || is_builtin(key))
            return {};
        if (visiting.contains(key))
            return error(cat("dependency cycle through module ", quoted(key)));
        const ModuleEntry* entry = find(key);
        if (!entry)
            return error(needed_by.empty()
                             ? cat("module ", quoted(key), " not found in modules.dep")
                             : cat("module ", quoted(key), " (needed by ", quoted(needed_by),
                                   ") not found in modules.dep"));
        visiting.insert(key);
        for (const std::string& dependency : entry->dependencies)
            TRY(visit(dependency, entry->name));
        visiting.erase(key);
        done.insert(key);
        order.push_back(entry);
        return {};
    };
    TRY(visit(name, {}));
    return order;
}

} // namespace keel
