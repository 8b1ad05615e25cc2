// PID 1's boot step for live patches: load the installed set for the
// running kernel after the boot modules and before any unit starts, log what
// happened (kmsg, so the journal has it), and never wait for a transition.
#include "livepatch/livepatch.h"

#include "base/cmdline.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

namespace keel::livepatch {

void load_installed_patches(const KernelCommandLine& cmdline) {
    if (cmdline.get("keel.patches") == "0") {
        log_notice("live patches: not loading the installed set (keel.patches=0)");
        return;
    }
    Options options;
    options.signing.required = cmdline.get("keel.patch_signing") == "required";
    uint64_t start = monotonic_usec();
    std::vector<BootLoad> loads = load_installed(options);
    for (const BootLoad& load : loads) {
        if (load.name.empty()) {
            log_error(cat("live patches: ", load.result.error().to_string()));
        } else if (!load.result) {
            log_error(cat("live patch ", quoted(load.name),
                          ": not loaded: ", load.result.error().to_string()));
        } else {
            log_notice(cat("live patch ", quoted(load.name), ": loaded, transition ",
                           load.transition_complete ? "complete"
                                                    : "in progress (the kernel completes it)"));
        }
    }
    if (!loads.empty())
        log_debug(cat("live patches took ", (monotonic_usec() - start) / 1000, " ms"));
}

} // namespace keel::livepatch
