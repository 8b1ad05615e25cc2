// init's answers to the control socket's requests: one method per request,
// apart from the socket (init/control_server.h carries the bytes) and from
// init's loop (init/init.cpp), so that tests call them directly with a
// fake host. Permissions are checked here: changes need root, read-only
// requests root or the `keel` group.
#pragma once

#include "cgroups/cgroups.h"
#include "control/types.h"
#include "init/control_server.h"
#include "proto/control.pb.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace keel {

class Journal;
class Manager;
struct LogEntry;
struct UnitInfo;

/// A command init started itself (keel.run=, a container's main command).
struct InitProcess {
    std::string name;
    pid_t pid = 0; // while it runs
    ProcessState state = ProcessState::Running;
    int exit_status = 0; // exit code, or 128 + signal
};

/// init's own state, as `keel status` shows it.
struct InitStatus {
    InitMode mode = InitMode::System;
    uint64_t ready_usec = 0;  // since kernel start (system) or init's start (container)
    uint64_t uptime_usec = 0; // likewise
    uint64_t reaped_orphans = 0;
    bool stopping = false; // the system is ending
    std::vector<InitProcess> processes;
    /// Where transient units go: /run/keel/units, or with --units the last
    /// directory given.
    std::string runtime_unit_directory;
};

/// What the control service needs from the running init.
class ControlHost {
public:
    virtual ~ControlHost() = default;
    virtual InitStatus init_status() const = 0;
    /// The service manager; null until it runs.
    virtual Manager* manager() = 0;
    /// The journal; null when it could not start.
    virtual Journal* journal() = 0;
    /// True when kernel messages, and keel's own lines read back from the
    /// kernel log, are in the journal.
    virtual bool kernel_log_in_journal() const = 0;
    /// Memory and task counts of a unit's cgroup, when it has one.
    virtual std::optional<CgroupStats> unit_stats(const std::string& unit) const = 0;
    /// Begins the end of the system (or of the container init).
    virtual void request_shutdown(PowerAction action) = 0;
    /// True when a kernel is loaded for kexec (/sys/kernel/kexec_loaded).
    virtual bool kexec_kernel_loaded() const;
    /// Reads the unit files again (daemon-reload, and after enable/disable).
    virtual void reload_units() = 0;
};

class ControlService {
public:
    /// `admin_directory`: where `keel enable` links go (/etc/keel/units).
    ControlService(ControlHost& host, std::string admin_directory)
        : m_host(host), m_admin_directory(std::move(admin_directory)) {}

    /// Answers `request` through `reply`: at once, or later (a start that
    /// waits for its job, `keel logs -f`).
    void handle(const control::Request& request, const struct ucred& peer,
                const ControlReplyPtr& reply);

    /// poweroff | reboot | halt; root only.
    control::Response power(const control::PowerRequest& request, const struct ucred& peer);
    /// init's state and the service manager's summary.
    control::Response status(const struct ucred& peer);
    /// start | stop | restart | reload; root only. Answered when the job
    /// ends, unless the request says no_block.
    void unit(const control::UnitRequest& request, const struct ucred& peer,
              const ControlReplyPtr& reply);
    /// enable | disable: the links of the unit's [Install] section, then a
    /// reload; root only.
    void enable(const control::EnableRequest& request, const struct ucred& peer,
                const ControlReplyPtr& reply);
    /// Every loaded unit.
    control::Response list_units(const struct ucred& peer);
    /// One unit in detail, with its latest log lines.
    control::Response unit_status(const control::UnitStatusRequest& request,
                                  const struct ucred& peer);
    /// Reads the unit files again; root only.
    control::Response daemon_reload(const struct ucred& peer);
    /// Journal lines, then (with follow) new ones as they come.
    void logs(const control::LogsRequest& request, const struct ucred& peer,
              const ControlReplyPtr& reply);

private:
    void fill_unit(control::Unit* out, const UnitInfo& unit) const;
    bool shown_in_logs(const LogEntry& entry, const std::string& unit) const;
    SystemState system_state(const InitStatus& init);

    ControlHost& m_host;
    std::string m_admin_directory;
};

} // namespace keel
