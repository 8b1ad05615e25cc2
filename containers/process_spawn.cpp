#include "containers/process_spawn.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "containers/record.h"

#include <cerrno>
#include <cstdio>
#include <sys/socket.h>
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

Result<SeccompAgent> SeccompAgent::connect(const oci::Seccomp& profile) {
    SeccompAgent agent;
    agent.m_path = profile.listener_path;
    agent.m_metadata = profile.listener_metadata;
    agent.m_connection = TRY_CTX(unix_connect(agent.m_path, SOCK_STREAM),
                                 "linux.seccomp.listenerPath: the seccomp agent");
    return agent;
}

Result<void> SeccompAgent::hand_over(int listener, pid_t pid, const ContainerState& state) {
    TRY_CTX(
        send_with_fd(m_connection.get(), container_process_state(pid, m_metadata, state), listener),
        cat("linux.seccomp.listenerPath: hand the seccomp listener to the agent at ",
            quoted(m_path)));
    m_connection.reset();
    return {};
}

std::string container_process_state(pid_t pid, std::string_view metadata,
                                    const ContainerState& state) {
    JsonWriter json;
    json.begin_object().field("ociVersion", oci::kOciVersion);
    json.key("fds").begin_array().value("seccompFd").end_array();
    json.field("pid", int64_t(pid)).field("metadata", metadata).key("state");
    write_state_json(json, state);
    json.end_object();
    return json.text();
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
