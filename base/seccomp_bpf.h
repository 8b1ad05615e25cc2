// A libseccomp filter as the BPF program the kernel loads: spawn's deny
// list and the container runtime's profiles are built with libseccomp and
// installed as plain programs (in a child that may not allocate).
#pragma once

#include "base/result.h"

#include <linux/filter.h>
#include <seccomp.h>
#include <vector>

namespace keel {

/// The filter `context` describes, exported (libseccomp 2.5 writes it only
/// to an fd: a memory file, read back). Refuses an empty program and one
/// longer than the kernel loads (BPF_MAXINSNS).
Result<std::vector<sock_filter>> export_seccomp_program(scmp_filter_ctx context);

} // namespace keel
