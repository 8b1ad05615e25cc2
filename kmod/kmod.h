// Kernel modules: the module index (modules.dep and modules.builtin),
// dependency resolution, loading with finit_module/init_module, and the
// decompression of compressed modules (in userspace: Debian's kernels lack
// in-kernel decompression). Shared by init's boot-time loader, the disk
// boot, `keel modprobe` and the live-patch loader. The one header other
// folders include.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

enum class Compression { None, Gzip, Xz, Zstd };

/// Recognises the format from the first bytes of `data` (gzip, xz and zstd
/// data, as in .ko.gz/.ko.xz/.ko.zst).
Compression detect_compression(std::string_view data);

/// Decompresses `data` in the detected format (None returns it as is).
/// Output larger than `max_output` is refused.
Result<std::string> decompress(std::string_view data, size_t max_output = size_t(1) << 30);

/// A module as modules.dep lists it.
struct ModuleEntry {
    std::string name;                      // "ext4" (dashes become underscores)
    std::string path;                      // relative to the module directory
    std::vector<std::string> dependencies; // names, as listed
};

/// "ext4" from "kernel/fs/ext4/ext4.ko.xz"; dashes become underscores.
std::string module_name_from_path(std::string_view path);

class ModuleIndex {
public:
    /// Parses modules.dep and modules.builtin texts; `directory` is where
    /// the paths are relative to. Errors name the file and line.
    static Result<ModuleIndex> parse(std::string_view modules_dep, std::string_view modules_builtin,
                                     std::string directory);
    /// Reads /lib/modules/<release>/modules.dep (+ modules.builtin when present).
    /// An empty `release` means the running kernel's.
    static Result<ModuleIndex> load(std::string release = {});

    const std::string& directory() const { return m_directory; }
    const ModuleEntry* find(std::string_view name) const;
    bool is_builtin(std::string_view name) const;
    /// `name` and everything it needs, dependencies first. Unknown modules
    /// and dependency cycles are errors.
    Result<std::vector<const ModuleEntry*>> load_order(std::string_view name) const;

private:
    std::string m_directory;
    std::map<std::string, ModuleEntry, std::less<>> m_modules;
    std::map<std::string, bool, std::less<>> m_builtin;
};

enum class ModuleLoad {
    Loaded,        // inserted now
    AlreadyLoaded, // was live before
    Builtin,       // part of the kernel image
    NoDevice,      // the module refused with ENODEV: no hardware for it (not an error)
};
inline constexpr auto kModuleLoadNames = name_table<ModuleLoad>({
    {ModuleLoad::Loaded, "loaded"},
    {ModuleLoad::AlreadyLoaded, "already loaded"},
    {ModuleLoad::Builtin, "built in"},
    {ModuleLoad::NoDevice, "no device"},
});

inline std::string_view describe(ModuleLoad outcome) {
    return kModuleLoadNames.name(outcome);
}

/// Loads one module file (compressed or not) with `parameters`.
Result<ModuleLoad> load_module_file(const std::string& path, const std::string& parameters,
                                    std::string_view name);

/// Loads the module file open as `fd` (compressed or not: finit_module on
/// the descriptor itself, or decompression and init_module), for callers that
/// inspected the file first (the live-patch loader). `what` names it in errors.
Result<ModuleLoad> load_module_fd(int fd, const std::string& parameters, const std::string& what);

/// Loads `name` with its dependencies. `parameters_for` supplies each
/// module's parameters (from the kernel command line). Returns what
/// happened to each module, dependencies first.
Result<std::vector<std::pair<std::string, ModuleLoad>>>
load_module(const ModuleIndex& index, std::string_view name,
            const std::function<std::string(std::string_view)>& parameters_for);

} // namespace keel
