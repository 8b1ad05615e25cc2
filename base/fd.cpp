// Fd: closing on destruction.
#include "base/fd.h"

#include <unistd.h>

namespace keel {

void Fd::reset(int fd) {
    if (m_fd >= 0)
        ::close(m_fd); // EINTR on close still releases the descriptor on Linux
    m_fd = fd;
}

} // namespace keel
