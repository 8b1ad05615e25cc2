// Fuzz target for the module index (kmod/kmod.h): modules.dep and
// modules.builtin as they come from a disk image. Besides "does not crash":
// errors name modules.dep and a line, no path escapes the module directory,
// and a load order lists every module after its dependencies.
#include "kmod/kmod.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <set>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    // The first NUL splits modules.dep from modules.builtin.
    size_t split = input.find('\0');
    std::string_view dep = input.substr(0, split);
    std::string_view builtin = split == std::string_view::npos ? "" : input.substr(split + 1);
    auto index = keel::ModuleIndex::parse(dep, builtin, "/lib/modules/fuzz");
    if (!index) {
        FUZZ_CHECK(index.error().to_string().starts_with("modules.dep:"));
        return 0;
    }
    // Ask for the first few names that appear as paths.
    size_t asked = 0;
    for (size_t at = 0; at < dep.size() && asked < 8; ++asked) {
        size_t colon = dep.find(':', at);
        if (colon == std::string_view::npos)
            break;
        std::string name = keel::module_name_from_path(dep.substr(at, colon - at));
        at = dep.find('\n', colon);
        at = at == std::string_view::npos ? dep.size() : at + 1;
        auto order = index->load_order(name);
        if (!order)
            continue;
        std::set<std::string> loaded;
        for (const keel::ModuleEntry* entry : *order) {
            FUZZ_CHECK(entry->path.find("..") == std::string::npos &&
                       !entry->path.starts_with("/"));
            for (const std::string& dependency : entry->dependencies)
                FUZZ_CHECK(loaded.contains(dependency) || index->is_builtin(dependency));
            loaded.insert(entry->name);
        }
    }
    return 0;
}
