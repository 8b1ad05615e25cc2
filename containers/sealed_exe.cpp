// ensure_sealed_binary (containers.h): the runtime's binary out of a
// container's reach for writing.
#include "containers/containers.h"

#include "base/fd.h"
#include "base/sys.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

extern char** environ;

namespace keel::containers {

Result<void> ensure_sealed_binary(char** argv) {
    struct statvfs filesystem {};
    if (::statvfs("/proc/self/exe", &filesystem) != 0)
        return errno_error("inspect the runtime's binary (/proc/self/exe)");
    if (filesystem.f_flag & ST_RDONLY)
        return {};

    Fd exe = TRY(open_file("/proc/self/exe", O_PATH));
    Fd binary =
        TRY_CTX(clone_mount(exe.get(), Submounts::Excluded), "bind the runtime's binary read-only");
    TRY_CTX(set_mount_attributes(binary.get(), {.set = kMountAttrReadOnly}, Submounts::Excluded),
            "make the runtime's binary read-only");
    // Returns only on failure.
    return std::unexpected(exec_file(binary.get(), argv, environ)
                               .error()
                               .wrap("run the runtime from its read-only binding"));
}

} // namespace keel::containers
