// The end of a system PID 1: every process ended, the filesystems left
// clean, reboot(2).
#include "init/shutdown.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "rootfs/rootfs.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keel {

namespace {

// Reaps until no child is left or `deadline` (monotonic usec) passes.
bool reap_until(uint64_t deadline) {
    for (;;) {
        pid_t pid;
        while ((pid = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
        }
        if (pid < 0 && errno == ECHILD)
            return true;
        if (monotonic_usec() >= deadline)
            return false;
        ::poll(nullptr, 0, 10);
    }
}

} // namespace

void terminate_all_processes(std::chrono::milliseconds grace) {
    ::kill(-1, SIGTERM);
    ::kill(-1, SIGCONT); // stopped processes must run to handle SIGTERM
    uint64_t deadline = monotonic_usec() + uint64_t(grace.count()) * 1000;
    if (reap_until(deadline))
        return;
    log_warning(cat("processes still running after ", grace.count(), " ms; sending SIGKILL"));
    ::kill(-1, SIGKILL);
    reap_until(monotonic_usec() + 5'000'000);
}

void end_system(PowerAction action) {
    ::sync();
    UnmountOptions options;
    options.keep.assign(std::begin(kApiMountPoints), std::end(kApiMountPoints));
    options.pin_directory = kShutdownPinDirectory;
    UnmountReport report = unmount_all(options);
    // The root last: an initramfs's rootfs refuses, which is fine.
    ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY, nullptr);
    ::sync();
    log_info(cat("unmounted ", report.unmounted, " filesystems",
                 report.busy.empty() ? "" : cat(", ", report.busy.size(), " stayed busy")));
    log_notice(cat("system ", describe(action)));
    set_log_writer(LogWriter::Caller); // every line out before the machine goes
    if (action == PowerAction::Kexec) {
        ::reboot(RB_KEXEC); // returns only when no kernel is loaded (EINVAL)
        log_error(cat("kexec failed: ", std::strerror(errno), "; rebooting through the firmware"));
        action = PowerAction::Reboot;
    }
    int command = action == PowerAction::Poweroff ? RB_POWER_OFF
                  : action == PowerAction::Reboot ? RB_AUTOBOOT
                                                  : RB_HALT_SYSTEM;
    ::reboot(command);
    // Only reached when reboot(2) failed; PID 1 must not exit.
    log_error(cat("reboot(2) failed: ", std::strerror(errno)));
    for (;;)
        ::pause();
}

} // namespace keel
