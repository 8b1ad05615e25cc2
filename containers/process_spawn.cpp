#include "containers/process_spawn.h"

#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace keel::containers {

SpawnOptions process_spawn_options(const oci::Process& process, const oci::SeccompFilter* seccomp) {
    SpawnOptions spawn;
    spawn.argv = process.args;
    spawn.environment = process.env;
    spawn.working_directory = process.cwd;
    spawn.uid = process.user.uid;
    spawn.gid = process.user.gid;
    spawn.supplementary_groups.assign(process.user.additional_gids.begin(),
                                      process.user.additional_gids.end());
    for (const oci::Rlimit& limit : process.rlimits)
        spawn.limits.push_back({limit.resource, rlim_t(limit.soft), rlim_t(limit.hard)});
    if (process.user.umask)
        spawn.umask = mode_t(*process.user.umask);
    spawn.oom_score_adj = process.oom_score_adj;
    spawn.no_new_privileges = process.no_new_privileges;
    oci::Capabilities capabilities = process.capabilities.value_or(oci::Capabilities{});
    spawn.capability_sets = CapabilitySets{.bounding = capabilities.bounding,
                                           .effective = capabilities.effective,
                                           .permitted = capabilities.permitted,
                                           .inheritable = capabilities.inheritable,
                                           .ambient = capabilities.ambient};
    if (seccomp) {
        spawn.seccomp_program = &seccomp->program;
        spawn.seccomp_flags = seccomp->flags;
    }
    spawn.new_session = true;
    return spawn;
}

Result<void> write_pid_file(const std::string& path, pid_t pid) {
    std::string temporary = path + ".keel-new";
    TRY_CTX(write_new_file(temporary, cat(pid), 0644), "--pid-file");
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        int code = errno;
        ::unlink(temporary.c_str());
        return errno_error(code, cat("--pid-file: rename to ", quoted(path)));
    }
    return {};
}

} // namespace keel::containers
