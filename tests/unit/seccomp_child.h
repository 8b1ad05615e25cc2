// What a seccomp filter does to raw syscalls, seen from a forked child that
// installs it (with no_new_privs, as a container's process gets it). Shared
// by the tests of containers/seccomp.h and of the default profile.
#pragma once

#include "base/sys.h"
#include "containers/seccomp.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <functional>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::testing {

/// Installs `filter` in a forked child and runs `call` there; the child
/// exits with what `call` returns. Only raw syscalls run in the child after
/// the filter is in (an allow-list filter refuses anything else), and it
/// leaves through exit_group directly. Returns the child's wait status.
inline int run_filtered(const oci::SeccompFilter& filter, const std::function<int()>& call) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            ::_exit(250);
        if (!install_seccomp_filter(filter.program, filter.flags))
            ::_exit(251);
        ::syscall(SYS_exit_group, call());
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

/// The errno a raw syscall failed with in the filtered child, 0 when it
/// succeeded.
inline int errno_of(const oci::SeccompFilter& filter, const std::function<long()>& call) {
    int status = run_filtered(filter, [&] { return call() < 0 ? errno : 0; });
    REQUIRE_MESSAGE(WIFEXITED(status), "child status ", status);
    REQUIRE_MESSAGE(WEXITSTATUS(status) < 250, "child could not install the filter");
    return WEXITSTATUS(status);
}

} // namespace keel::testing
