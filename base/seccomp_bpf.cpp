#include "base/seccomp_bpf.h"

#include "base/fd.h"
#include "base/strings.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel {

Result<std::vector<sock_filter>> export_seccomp_program(scmp_filter_ctx context) {
    Fd memory(::memfd_create("keel-seccomp", MFD_CLOEXEC));
    if (!memory)
        return errno_error("memfd_create for the seccomp program");
    if (int rc = seccomp_export_bpf(context, memory.get()); rc < 0)
        return errno_error(-rc, "export the seccomp program");
    struct stat info;
    if (::fstat(memory.get(), &info) < 0)
        return errno_error("stat the seccomp program");
    if (info.st_size == 0 || info.st_size % sizeof(sock_filter) != 0)
        return error(cat("exported seccomp program of ", info.st_size, " bytes"));
    size_t count = size_t(info.st_size) / sizeof(sock_filter);
    if (count > BPF_MAXINSNS)
        return error(cat("the seccomp program has ", count,
                         " instructions; the kernel loads at most ", BPF_MAXINSNS));
    std::vector<sock_filter> program(count);
    if (::pread(memory.get(), program.data(), info.st_size, 0) != info.st_size)
        return errno_error("read the seccomp program");
    return program;
}

} // namespace keel
