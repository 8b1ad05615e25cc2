// containers/container_exec: `keel exec` on a container keel run made: its
// record's config.json gives the process settings (environment, user, cwd,
// capabilities, seccomp), `keel exec`'s options change them, and the
// runtime's exec (exec.cpp) runs the process in the container.
#include "containers/container_records.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>

namespace keel::containers {

Result<int> exec_in_container(const std::string& state_root, const RunContainer& container,
                              const ContainerExec& request) {
    RuntimeOptions runtime = runtime_of(state_root);
    Result<ContainerState> now = state(runtime, container.id);
    if (!now || now->status != Status::Running)
        return error(cat("container ", container.name, " is not running"));
    if (request.command.empty())
        return error("no command given to run in the container");
    oci::Spec spec = TRY(oci::read_spec(bundle_of(state_root, container.id)));
    if (!spec.process)
        return error(cat("container ", container.name, ": its config.json has no process"));
    oci::Process process = *spec.process;
    process.args = request.command;
    if (!request.user.empty()) {
        ResolvedUser user = TRY_CTX(resolve_user(now->rootfs, request.user), "--user");
        std::optional<uint32_t> umask = process.user.umask;
        process.user = user.user;
        process.user.umask = umask;
    }
    if (!request.workdir.empty()) {
        if (!request.workdir.starts_with('/'))
            return error(cat("--workdir: ", quoted(request.workdir), " is not an absolute path"));
        process.cwd = request.workdir;
    }
    std::vector<std::string> env = request.env;
    if (request.terminal == Terminal::Allocate &&
        std::ranges::none_of(process.env,
                             [](const std::string& entry) { return entry.starts_with("TERM="); }) &&
        std::ranges::none_of(env,
                             [](const std::string& entry) { return entry.starts_with("TERM="); }))
        env.insert(env.begin(), "TERM=xterm");

    ExecOptions options;
    options.id = container.id;
    options.process = std::move(process);
    options.args = request.command;
    options.env = std::move(env);
    options.terminal = request.terminal;
    options.input = request.input;
    return exec_attached(runtime, std::move(options), request.mode);
}

} // namespace keel::containers
