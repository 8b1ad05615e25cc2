// Module loading: one file (decompressed in userspace when compressed), or
// a module with its dependencies in index order.
#include "kmod/kmod.h"

#include "base/strings.h"
#include "base/sys.h"

#include <unistd.h>

namespace keel {

Result<ModuleLoad> load_module_file(const std::string& path, const std::string& parameters,
                                    std::string_view name) {
    if (!name.empty() && path_exists(cat("/sys/module/", name, "/initstate")))
        return ModuleLoad::AlreadyLoaded;
    Fd fd = TRY(open_file(path, O_RDONLY));
    return load_module_fd(fd.get(), parameters, path);
}

Result<ModuleLoad> load_module_fd(int fd, const std::string& parameters, const std::string& what) {
    char magic[6] = {};
    ssize_t n = ::pread(fd, magic, sizeof magic, 0);
    if (n < 0)
        return errno_error(cat("read ", quoted(what)));
    Result<void> inserted;
    if (detect_compression(std::string_view(magic, size_t(n))) == Compression::None) {
        inserted = finit_module(fd, parameters);
    } else {
        if (::lseek(fd, 0, SEEK_SET) < 0)
            return errno_error(cat("read ", quoted(what)));
        std::string compressed = TRY_CTX(read_all(fd), cat("read ", quoted(what)));
        std::string image = TRY_CTX(decompress(compressed), cat("decompress ", quoted(what)));
        inserted = init_module(image, parameters);
    }
    if (!inserted) {
        if (inserted.error().code() == EEXIST)
            return ModuleLoad::AlreadyLoaded;
        if (inserted.error().code() == ENODEV)
            return ModuleLoad::NoDevice;
        return std::unexpected(std::move(inserted.error()).wrap(cat("load module ", quoted(what))));
    }
    return ModuleLoad::Loaded;
}

Result<std::vector<std::pair<std::string, ModuleLoad>>>
load_module(const ModuleIndex& index, std::string_view name,
            const std::function<std::string(std::string_view)>& parameters_for) {
    std::vector<std::pair<std::string, ModuleLoad>> outcomes;
    if (index.is_builtin(name)) {
        outcomes.emplace_back(module_name_from_path(name), ModuleLoad::Builtin);
        return outcomes;
    }
    for (const ModuleEntry* entry : TRY(index.load_order(name))) {
        ModuleLoad outcome = TRY(load_module_file(cat(index.directory(), "/", entry->path),
                                                  parameters_for(entry->name), entry->name));
        outcomes.emplace_back(entry->name, outcome);
    }
    return outcomes;
}

} // namespace keel
