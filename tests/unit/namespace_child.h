// in_namespaces: a test body run in a forked child with a private mount
// namespace of its own (and any other namespaces asked for), so that what
// it mounts never reaches the host. Its result comes back as text.
#pragma once

#include "base/fd.h"
#include "base/strings.h"
#include "base/sys.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <sched.h>
#include <string>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel::testing {

/// Runs `body` in a child that unshared a mount namespace (its "/" made
/// private) and `namespaces` (CLONE_NEW* flags); returns what it returned,
/// or "skip: ..." when the namespaces could not be made.
inline std::string in_namespaces(int namespaces, const std::function<std::string()>& body) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(out[0]);
        std::string said;
        if (::unshare(CLONE_NEWNS | namespaces) < 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
            said = cat("skip: no namespaces of our own: ", std::strerror(errno));
        else
            said = body();
        (void)write_all(out[1], said);
        ::_exit(0);
    }
    ::close(out[1]);
    Fd reader(out[0]);
    auto said = read_all(reader.get());
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    REQUIRE(said);
    return *said;
}

/// Whether in_namespaces() skipped; says why when it did.
inline bool skipped(const std::string& said) {
    if (!said.starts_with("skip: "))
        return false;
    MESSAGE(said);
    return true;
}

} // namespace keel::testing
