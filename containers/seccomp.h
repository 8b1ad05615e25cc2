// linux.seccomp compiled to the classic BPF program the container's process
// installs with seccomp(2), once per profile: libseccomp builds it, and the
// program is kept in memory and in a cache directory under the profile's
// SHA-256, so that starting the hundredth container with Docker's default
// profile reads a few kilobytes instead of compiling again.
#pragma once

#include "base/result.h"
#include "base/storage.h"
#include "containers/spec.h"

#include <cstdint>
#include <linux/filter.h>
#include <memory>
#include <string>
#include <vector>

namespace keel::oci {

/// A compiled profile: the program and the SECCOMP_FILTER_FLAG_* bits to
/// install it with (install_seccomp_filter() in base/sys.h).
struct SeccompFilter {
    std::vector<sock_filter> program;
    unsigned flags = 0;
};

/// Compiles `profile` with libseccomp: the default action (with
/// defaultErrnoRet, EPERM when absent), the extra architectures, each rule's
/// action (errnoRet, EPERM when absent) and argument conditions, and the
/// flags as SECCOMP_FILTER_FLAG_* (SECCOMP_FILTER_FLAG_NEW_LISTENER added
/// when a rule notifies).
///
/// Syscall names libseccomp does not know are skipped, as runc and crun do:
/// profiles name syscalls of newer kernels. A rule whose action is the
/// default action adds nothing and is skipped too. Conditions on distinct
/// arguments must all hold; several conditions on one argument make one
/// rule each, any of which matches (runc's reading). An unknown
/// architecture or flag, an argument index above 5, an errnoRet that does
/// not fit, or SCMP_ACT_NOTIFY as the default action are errors naming the
/// field: "linux.seccomp.syscalls[4].args[1].index: 6 is not 0 to 5".
Result<SeccompFilter> compile_seccomp(const Seccomp& profile);

/// The name of `profile` in the caches: the lower-case hex SHA-256 of a
/// canonical serialisation of everything that shapes the program, plus the
/// libseccomp version, the kernel's seccomp API level and the native
/// architecture (a new libseccomp or kernel may compile differently). Two
/// profiles with the same key compile to the same program.
std::string seccomp_cache_key(const Seccomp& profile);

/// compile_seccomp(), cached. In memory: the same key gives the same
/// shared_ptr for the life of the process (the last 64 profiles are kept).
/// On disk: `directory`/<key>.bpf holds a header (magic, flags, length, key
/// and a SHA-256 over them and the program) and the program. A file that is
/// short, too long, for another key, fails its checksum, or is not the
/// caller's own with mode 0600 is compiled again and replaced, never
/// loaded. A miss writes the file atomically (a temp file renamed over it);
/// the directory is made with mode 0700 and must be the caller's own and
/// writable by no one else. A file that cannot be written costs only the
/// next start a compile: the filter is returned all the same, with a
/// warning logged.
Result<std::shared_ptr<const SeccompFilter>> cached_seccomp(const Seccomp& profile,
                                                            const std::string& directory,
                                                            Storage& storage = system_storage());

/// What the caches did since the process started (or since
/// clear_seccomp_memory_cache()).
struct SeccompCacheStats {
    uint64_t compiles = 0;       // compile_seccomp() calls that ran libseccomp
    uint64_t memory_hits = 0;    // answered from the in-memory cache
    uint64_t file_hits = 0;      // answered from a cache file
    uint64_t rejected_files = 0; // cache files found and not trusted
};
SeccompCacheStats seccomp_cache_stats();

/// Empties the in-memory cache and zeroes the counters (for tests, and to
/// let go of memory).
void clear_seccomp_memory_cache();

} // namespace keel::oci
