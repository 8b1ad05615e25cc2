// Helpers shared by the unit model's source files: the rule for
// environment variable names (Environment=, EnvironmentFile=, $NAME) and
// the file checks of the unit directories (the catalog scan and
// enable/disable). Private to the unit model: only init/unit_model.cpp,
// environment.cpp, unit_catalog.cpp and unit_links.cpp include it.
#pragma once

#include "base/result.h"
#include "base/strings.h"

#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::unit_model_internal {

inline bool is_environment_name(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    return true;
}

struct FileKind {
    bool exists = false;
    bool directory = false;
    bool symlink = false;
};

inline FileKind file_kind(const std::string& path) {
    struct stat st;
    FileKind kind;
    if (::lstat(path.c_str(), &st) < 0)
        return kind;
    kind.exists = true;
    kind.symlink = S_ISLNK(st.st_mode);
    if (kind.symlink && ::stat(path.c_str(), &st) < 0)
        return kind; // a dangling link
    kind.directory = S_ISDIR(st.st_mode);
    return kind;
}

inline Result<std::string> read_link(const std::string& path) {
    char buffer[4096];
    ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer - 1);
    if (n < 0)
        return errno_error(cat("read link ", quoted(path)));
    return std::string(buffer, size_t(n));
}

} // namespace keel::unit_model_internal
