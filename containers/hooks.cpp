// Running OCI hooks (see hooks.h). Each hook is started through base/spawn
// like any process keel starts; its stdin is a pipe that already holds the
// state (state JSON is far below a pipe's 64 KiB), so writing it can never
// block on a hook that does not read.
#include "containers/hooks.h"

#include "base/fd.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <fcntl.h>
#include <limits>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::containers {

namespace {

constexpr int kMillisecondsPerSecond = 1000;

// The exit of `pid`, waiting at most `timeout_seconds` (none: no limit);
// nullopt when it did not end in time.
Result<std::optional<int>> wait_with_timeout(pid_t pid, std::optional<uint32_t> timeout_seconds) {
    if (timeout_seconds) {
        Fd pidfd = TRY(pidfd_open(pid));
        pollfd ready{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
        int timeout_ms = int(std::min<uint64_t>(uint64_t(*timeout_seconds) * kMillisecondsPerSecond,
                                                std::numeric_limits<int>::max()));
        int rc;
        do
            rc = ::poll(&ready, 1, timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc < 0)
            return errno_error("poll");
        if (rc == 0)
            return std::nullopt;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno_error(cat("wait for ", pid));
    return status;
}

Result<void> run_hook(const oci::Hook& hook, std::string_view state_json) {
    // The state comes from a memory file, not a pipe: a pipe would block
    // the runtime once the state (annotations and all) outgrew its buffer
    // before the hook read it, or if the hook never reads.
    int memory_file = ::memfd_create("keel-hook-state", MFD_CLOEXEC);
    if (memory_file < 0)
        return errno_error("memfd_create for the hook's stdin");
    Fd read_end(memory_file);
    TRY_CTX(write_all(read_end.get(), state_json), "write the state to the hook's stdin");
    if (::lseek(read_end.get(), 0, SEEK_SET) != 0)
        return errno_error("rewind the hook's stdin");

    SpawnOptions options;
    // The spec runs `path` with `args` as its argv; spawn execs argv[0].
    options.argv = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    options.argv[0] = hook.path;
    options.environment = hook.env;
    options.stdin_fd = read_end.get();
    options.new_session = false;
    pid_t pid = TRY(spawn_process(options));
    read_end.reset();

    std::optional<int> status = TRY(wait_with_timeout(pid, hook.timeout));
    if (!status) {
        ::kill(pid, SIGKILL);
        (void)wait_with_timeout(pid, std::nullopt);
        return error(cat("timed out after ", *hook.timeout, " s, killed"));
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
        return error(describe_wait_status(*status));
    return {};
}

} // namespace

Result<void> run_hooks(std::string_view stage, const std::vector<oci::Hook>& hooks,
                       std::string_view state_json, HookFailure on_failure) {
    for (const oci::Hook& hook : hooks) {
        auto ran = run_hook(hook, state_json);
        if (ran)
            continue;
        Error failure = std::move(ran).error().wrap(cat(stage, " hook ", quoted(hook.path)));
        if (on_failure == HookFailure::Fails)
            return std::unexpected(std::move(failure));
        log_warning(failure.to_string());
    }
    return {};
}

} // namespace keel::containers
