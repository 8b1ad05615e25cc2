// Enabling and disabling a unit: the .wants/, .requires/ and alias links
// `keel enable` creates in the admin directory and `keel disable` removes.
#include "init/unit_model.h"

#include "base/strings.h"
#include "base/sys.h"
#include "init/unit_model_internal.h"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace keel {

using namespace unit_model_internal;

Result<std::vector<std::string>> enable_unit(const Unit& unit, const std::string& directory) {
    if (unit.wanted_by.empty() && unit.required_by.empty() && unit.alias.empty())
        return error(cat(quoted(unit.name),
                         " has no [Install] section with WantedBy=, RequiredBy= or Alias=, so "
                         "there is nothing to enable (start it, or make another unit want it)"));
    if (unit.path.empty())
        return error(cat(quoted(unit.name), " is built in and has no file to link to"));
    std::vector<std::string> links;
    for (const std::string& target : unit.wanted_by)
        links.push_back(cat(directory, "/", target, ".wants/", unit.name));
    for (const std::string& target : unit.required_by)
        links.push_back(cat(directory, "/", target, ".requires/", unit.name));
    for (const std::string& alias : unit.alias)
        links.push_back(cat(directory, "/", alias));
    std::vector<std::string> changes;
    for (const std::string& link : links) {
        TRY(make_directories(link.substr(0, link.rfind('/'))));
        struct stat linked, file;
        if (::stat(link.c_str(), &linked) == 0 && ::stat(unit.path.c_str(), &file) == 0 &&
            linked.st_dev == file.st_dev && linked.st_ino == file.st_ino)
            continue; // already enabled (perhaps through a relative link)
        if (::unlink(link.c_str()) < 0 && errno != ENOENT)
            return errno_error(cat("replace ", quoted(link)));
        if (::symlink(unit.path.c_str(), link.c_str()) < 0)
            return errno_error(cat("create symlink ", quoted(link)));
        changes.push_back(cat("Created symlink ", link, " \u2192 ", unit.path, "."));
    }
    return changes;
}

Result<std::vector<std::string>> disable_unit(const Unit& unit, const std::string& directory) {
    std::vector<std::string> changes;
    auto remove = [&](const std::string& link) -> Result<void> {
        if (::unlink(link.c_str()) < 0) {
            if (errno == ENOENT)
                return {};
            return errno_error(cat("remove ", quoted(link)));
        }
        changes.push_back(cat("Removed \"", link, "\"."));
        return {};
    };
    if (auto names = list_directory(directory)) {
        for (const std::string& name : *names) {
            if (!name.ends_with(".wants") && !name.ends_with(".requires"))
                continue;
            std::string link = cat(directory, "/", name, "/", unit.name);
            if (file_kind(link).exists)
                TRY(remove(link));
        }
    }
    for (const std::string& alias : unit.alias) {
        std::string link = cat(directory, "/", alias);
        if (auto target = read_link(link); target && *target == unit.path)
            TRY(remove(link));
    }
    return changes;
}

} // namespace keel
