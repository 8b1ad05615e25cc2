// containers/container_exec: `keel exec` on a container keel run made: its
// record's config.json gives the process settings (environment, user, cwd,
// capabilities, seccomp), `keel exec`'s options change them, and the
// runtime's exec (exec.cpp) runs the process in the container.
#include "containers/container_records.h"

#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <span>
#include <sys/stat.h>

namespace keel::containers {

namespace {

// The PATH searched for the program when the process's environment has none.
constexpr std::string_view kSearchPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Checks, in the container's root as its first process sees it
// (/proc/PID/root), what the runtime's exec would trip on, in the order
// it would: the working directory, then the program. A missing working
// directory is an error naming it (no errno code, so that it is never
// taken for a missing program); a program not found is ENOENT, one found
// but not executable EACCES (keel exec's 127 and 126, as Docker's).
Result<void> check_process_start(pid_t pid, const oci::Process& process,
                                 std::span<const std::string> env) {
    Fd root = TRY(open_file(cat("/proc/", pid, "/root"), O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::string cwd = process.cwd.empty() ? std::string("/") : process.cwd;
    if (Result<Fd> directory = open_resolved(root.get(), cwd, O_PATH | O_DIRECTORY, kResolveInRoot);
        !directory)
        return error(cat("chdir to cwd (\"", cwd, "\") set in config.json failed: ",
                         std::strerror(directory.error().code())));
    const std::string& program = process.args.front();
    std::vector<std::string> candidates;
    if (program.find('/') != std::string::npos) {
        candidates.push_back(program.starts_with('/') ? program : cat(cwd, "/", program));
    } else {
        // The container's PATH, unless exec's -e sets another (later wins).
        std::string path(kSearchPath);
        for (std::span<const std::string> list : {std::span(process.env), env})
            for (const std::string& entry : list)
                if (entry.starts_with("PATH="))
                    path = entry.substr(5);
        for (std::string_view directory : split(path, ':'))
            candidates.push_back(
                cat(directory.empty() ? cwd : std::string(directory), "/", program));
    }
    bool seen = false;
    for (const std::string& candidate : candidates) {
        Result<Fd> file = open_resolved(root.get(), candidate, O_PATH, kResolveInRoot);
        if (!file)
            continue;
        struct stat status {};
        if (::fstat(file->get(), &status) != 0)
            continue;
        if (S_ISREG(status.st_mode) && (status.st_mode & 0111))
            return {};
        seen = true;
    }
    if (seen)
        return errno_error(EACCES, cat("exec: ", quoted(program), ": permission denied"));
    if (program.find('/') != std::string::npos)
        return errno_error(ENOENT, cat("exec: ", quoted(program), ": no such file or directory"));
    return errno_error(ENOENT,
                       cat("exec: ", quoted(program), ": executable file not found in $PATH"));
}

} // namespace

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

    TRY(check_process_start(now->pid, process, env));

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
