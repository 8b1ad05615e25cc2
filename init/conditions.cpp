// Conditions: how a Condition*= or Assert*= line reads in messages, and
// checking one against the running system (paths, mounts, /proc/cmdline).
#include "init/unit_model.h"

#include "base/cmdline.h"
#include "base/strings.h"
#include "base/sys.h"

#include <glob.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace keel {

std::string Condition::text() const {
    return cat(key, "=", trigger ? "|" : "", negate ? "!" : "", argument);
}

bool condition_holds(const Condition& condition) {
    const std::string& path = condition.argument;
    struct stat st;
    bool holds = false;
    switch (condition.type) {
    case ConditionType::PathExists:
        holds = ::stat(path.c_str(), &st) == 0;
        break;
    case ConditionType::PathExistsGlob: {
        glob_t matches{};
        holds = ::glob(path.c_str(), GLOB_NOSORT, nullptr, &matches) == 0 && matches.gl_pathc > 0;
        ::globfree(&matches);
        break;
    }
    case ConditionType::PathIsDirectory:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        break;
    case ConditionType::PathIsSymbolicLink:
        holds = ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
        break;
    case ConditionType::PathIsMountPoint: {
        auto table = read_file("/proc/self/mountinfo");
        if (table)
            for (std::string_view line : split(*table, '\n')) {
                std::vector<std::string_view> fields = split(line, ' ');
                // The mount point (field 5) escapes spaces as \040.
                if (fields.size() > 4) {
                    std::string point;
                    std::string_view raw = fields[4];
                    for (size_t i = 0; i < raw.size(); ++i) {
                        if (raw[i] == '\\' && i + 3 < raw.size()) {
                            point += char((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 +
                                          (raw[i + 3] - '0'));
                            i += 3;
                        } else {
                            point += raw[i];
                        }
                    }
                    holds = holds || point == path;
                }
            }
        break;
    }
    case ConditionType::PathIsReadWrite: {
        struct statvfs fs;
        holds = ::statvfs(path.c_str(), &fs) == 0 && !(fs.f_flag & ST_RDONLY);
        break;
    }
    case ConditionType::DirectoryNotEmpty: {
        auto names = list_directory(path);
        holds = names && !names->empty();
        break;
    }
    case ConditionType::FileNotEmpty:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
        break;
    case ConditionType::FileIsExecutable:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        break;
    case ConditionType::KernelCommandLine: {
        auto cmdline = KernelCommandLine::read();
        if (!cmdline)
            break;
        size_t equals = path.find('=');
        if (equals == std::string::npos) {
            holds = cmdline->has(path);
        } else {
            std::string key = path.substr(0, equals);
            for (const std::string& value : cmdline->get_all(key))
                holds = holds || value == path.substr(equals + 1);
        }
        break;
    }
    }
    return holds != condition.negate;
}

} // namespace keel
