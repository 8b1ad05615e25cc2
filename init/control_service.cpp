// init's answers to the control socket's requests (init/control_service.h).
#include "init/control_service.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "control/control.h"
#include "init/journal.h"
#include "init/manager.h"
#include "init/unit_model.h"

#include <algorithm>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kVersion = KEEL_VERSION;
// Journal entries per control frame when replaying logs.
constexpr int kEntriesPerFrame = 200;
// Past lines `keel logs` shows when the request does not say.
constexpr size_t kDefaultLogLines = 50;

// Why a job failed, in systemctl's words ("failed because ...").
std::string_view failure_reason(ServiceResult result) {
    switch (result) {
    case ServiceResult::ExitCode:
        return "the process exited with an error code";
    case ServiceResult::Signal:
        return "a fatal signal was delivered to the process";
    case ServiceResult::CoreDump:
        return "the process dumped core";
    case ServiceResult::Timeout:
        return "a timeout was exceeded";
    case ServiceResult::Watchdog:
        return "the watchdog timed out";
    case ServiceResult::StartLimitHit:
        return "start of the service was attempted too often";
    case ServiceResult::Resources:
        return "of unavailable resources or another system error";
    case ServiceResult::Protocol:
        return "the service exited before it reported READY=1";
    case ServiceResult::Assert:
        return "an assertion failed";
    case ServiceResult::Success:
        break;
    }
    return "the control process exited with an error code";
}

control::Response refused(std::string message) {
    control::Response response;
    response.set_error(std::move(message));
    return response;
}

control::Response done() {
    control::Response response;
    response.set_ok(true);
    return response;
}

// Read-only requests: root or the `keel` group.
std::optional<control::Response> check_read(const struct ucred& peer, std::string_view what) {
    if (may_read(peer))
        return std::nullopt;
    return refused(cat("permission denied: ", what, " needs root or the `keel` group"));
}

// Changes: root.
std::optional<control::Response> check_root(const struct ucred& peer, std::string_view what) {
    if (peer.uid == 0)
        return std::nullopt;
    return refused(cat("permission denied: ", what, " needs root"));
}

// A value of control/types.h as its protocol enum.
template <typename Wire, typename Enum> Wire wire(Enum value) {
    return Wire(to_wire(value));
}

void fill(control::LogEntry* out, const LogEntry& entry) {
    out->set_realtime_usec(entry.realtime_usec);
    out->set_boottime_usec(entry.boottime_usec);
    out->set_unit(entry.unit);
    out->set_stream(entry.stream);
    out->set_priority(entry.priority);
    out->set_message(entry.message);
}

} // namespace

void ControlService::handle(const control::Request& request, const struct ucred& peer,
                            const ControlReplyPtr& reply) {
    switch (request.verb_case()) {
    case control::Request::kPower:
        return reply->finish(power(request.power(), peer));
    case control::Request::kStatus:
        return reply->finish(status(peer));
    case control::Request::kUnit:
        return unit(request.unit(), peer, reply);
    case control::Request::kListUnits:
        return reply->finish(list_units(peer));
    case control::Request::kUnitStatus:
        return reply->finish(unit_status(request.unit_status(), peer));
    case control::Request::kDaemonReload:
        return reply->finish(daemon_reload(peer));
    case control::Request::kLogs:
        return logs(request.logs(), peer, reply);
    case control::Request::kEnable:
        return enable(request.enable(), peer, reply);
    case control::Request::VERB_NOT_SET:
        break;
    }
    reply->finish(refused("unknown request"));
}

control::Response ControlService::power(const control::PowerRequest& request,
                                        const struct ucred& peer) {
    std::optional<PowerAction> action = from_wire<PowerAction>(request.action());
    if (!action)
        return refused("unknown power action");
    if (auto denied = check_root(peer, describe(*action)))
        return *denied;
    // The kernel is loaded before the end begins, so that a bad one is an
    // error now and never a machine that stopped its units for nothing.
    if (*action == PowerAction::Kexec) {
        if (m_host.init_status().mode != InitMode::System)
            return refused("kexec: only the init of a machine can start another kernel");
        if (!m_host.kexec_kernel_loaded())
            return refused("kexec: no kernel is loaded (keel reboot --kexec loads one first)");
    }
    log_notice(cat(describe(*action), " requested by pid ", peer.pid));
    m_host.request_shutdown(*action);
    return done();
}

bool ControlHost::kexec_kernel_loaded() const {
    auto loaded = read_file("/sys/kernel/kexec_loaded");
    return loaded && trim(*loaded) == "1";
}

SystemState ControlService::system_state(const InitStatus& init) {
    Manager* manager = m_host.manager();
    if (init.stopping)
        return SystemState::Stopping;
    if (!manager)
        return SystemState::Running;
    if (manager->jobs() > 0)
        return SystemState::Starting;
    return manager->failed_units() ? SystemState::Degraded : SystemState::Running;
}

control::Response ControlService::status(const struct ucred& peer) {
    if (auto denied = check_read(peer, "status"))
        return *denied;
    InitStatus init = m_host.init_status();
    control::Response response = done();
    control::StatusResponse* status = response.mutable_status();
    status->set_version(std::string(kVersion));
    status->set_pid(::getpid());
    status->set_mode(wire<control::InitMode>(init.mode));
    status->set_ready_usec(init.ready_usec);
    status->set_uptime_usec(init.uptime_usec);
    status->set_reaped_orphans(init.reaped_orphans);
    status->set_runtime_unit_directory(init.runtime_unit_directory);
    for (const InitProcess& process : init.processes) {
        control::Process* entry = status->add_processes();
        entry->set_name(process.name);
        entry->set_pid(process.state == ProcessState::Running ? process.pid : 0);
        entry->set_state(wire<control::ProcessState>(process.state));
        entry->set_exit_status(process.exit_status);
    }
    status->set_system_state(wire<control::SystemState>(system_state(init)));
    if (Manager* manager = m_host.manager()) {
        uint32_t loaded = 0, active = 0;
        for (const UnitInfo& unit : manager->units()) {
            loaded += unit.load_state == LoadState::Loaded;
            active += unit.active_state == ActiveState::Active;
        }
        status->set_units_loaded(loaded);
        status->set_units_active(active);
        status->set_units_failed(uint32_t(manager->failed_units()));
        status->set_jobs(uint32_t(manager->jobs()));
    }
    return response;
}

void ControlService::fill_unit(control::Unit* out, const UnitInfo& unit) const {
    out->set_name(unit.name);
    out->set_description(unit.description);
    out->set_load_state(wire<control::LoadState>(unit.load_state));
    out->set_load_error(unit.load_error);
    out->set_active_state(wire<control::ActiveState>(unit.active_state));
    out->set_sub_state(unit.sub_state);
    out->set_enabled(wire<control::EnableState>(
        unit.enable_state == EnableState::Builtin ? EnableState::Static : unit.enable_state));
    out->set_main_pid(unit.main_pid);
    if (unit.main_pid)
        if (auto comm = read_file(cat("/proc/", unit.main_pid, "/comm")))
            out->set_main_command(std::string(trim(*comm)));
    out->set_control_pid(unit.control_pid);
    out->set_exit_status(unit.exit_status);
    out->set_last_exit(unit.last_exit);
    out->set_restarts(unit.restarts);
    out->set_status_text(unit.status_text);
    out->set_state_since_usec(unit.state_since_usec);
    out->set_path(unit.path);
    out->set_result(wire<control::ServiceResult>(unit.result));
    out->set_condition_failed(unit.condition_failed);
    out->set_type(wire<control::UnitType>(unit.type));
    if (unit.type == UnitType::Service)
        out->set_service_type(wire<control::ServiceType>(unit.service_type));
    if (unit.job)
        out->set_job(wire<control::JobType>(*unit.job));
    for (const std::string& dropin : unit.dropins)
        out->add_dropins(dropin);
    if (auto stats = m_host.unit_stats(unit.name)) {
        out->set_memory_current(stats->memory_current);
        out->set_tasks_current(stats->tasks_current);
    }
}

void ControlService::unit(const control::UnitRequest& request, const struct ucred& peer,
                          const ControlReplyPtr& reply) {
    std::optional<JobType> type = from_wire<JobType>(request.job());
    if (!type)
        return reply->finish(refused("unknown job type"));
    std::string_view verb = describe(*type);
    if (auto denied = check_root(peer, verb))
        return reply->finish(*denied);
    Manager* manager = m_host.manager();
    if (!manager)
        return reply->finish(refused("the service manager is not running"));
    std::string name = unit_name_argument(request.unit());

    Manager::JobCallback finished;
    if (!request.no_block())
        finished = [manager, reply, name, type = *type](JobResult result) {
            if (result == JobResult::Done || result == JobResult::Skipped)
                return reply->finish(done());
            if (result == JobResult::Dependency)
                return reply->finish(refused(
                    cat("a dependency job for ", name, " failed. See `keel logs` for details.")));
            if (result == JobResult::Canceled)
                return reply->finish(refused(cat("job for ", name, " canceled.")));
            std::optional<UnitInfo> info = manager->unit(name);
            std::string_view reason = failure_reason(
                info && type != JobType::Reload ? info->result : ServiceResult::Success);
            reply->finish(
                refused(cat("job for ", name, " failed because ", reason, ".\nSee `keel status ",
                            name, "` and `keel logs ", name, "` for details.")));
        };
    log_info(cat(verb, " ", name, " requested by pid ", peer.pid));
    if (auto queued = manager->enqueue(*type, name, std::move(finished)); !queued)
        return reply->finish(refused(queued.error().to_string()));
    if (request.no_block())
        reply->finish(done());
}

void ControlService::enable(const control::EnableRequest& request, const struct ucred& peer,
                            const ControlReplyPtr& reply) {
    std::optional<EnableAction> action = from_wire<EnableAction>(request.action());
    if (!action)
        return reply->finish(refused("unknown enable action"));
    if (auto denied = check_root(peer, describe(*action)))
        return reply->finish(*denied);
    if (!m_host.manager())
        return reply->finish(refused("the service manager is not running"));
    Manager& manager = *m_host.manager();
    std::string name = unit_name_argument(request.unit());
    std::shared_ptr<const Unit> unit = manager.config(name);
    if (!unit) {
        std::optional<UnitInfo> info = manager.unit(name);
        if (!info)
            return reply->finish(refused(cat("invalid unit name ", quoted(name))));
        if (info->load_state == LoadState::NotFound && !info->load_error.empty())
            return reply->finish(refused(info->load_error)); // "unit `x` not found"
        return reply->finish(refused(cat("unit ", quoted(name), " ", describe(info->load_state),
                                         info->load_error.empty() ? "" : ": ", info->load_error)));
    }
    std::vector<std::shared_ptr<const Unit>> units = {unit};
    for (const std::string& also : unit->also)
        if (auto other = manager.config(also))
            units.push_back(other);
    control::Response response = done();
    for (const auto& each : units) {
        auto changes = *action == EnableAction::Enable ? enable_unit(*each, m_admin_directory)
                                                       : disable_unit(*each, m_admin_directory);
        if (!changes)
            return reply->finish(refused(changes.error().to_string()));
        for (const std::string& change : *changes)
            response.add_changes(change);
    }
    log_notice(cat(describe(*action), "d ", name, " (requested by pid ", peer.pid, ")"));
    m_host.reload_units(); // the new links take effect like after daemon-reload
    reply->finish(response);
}

control::Response ControlService::list_units(const struct ucred& peer) {
    if (auto denied = check_read(peer, "list-units"))
        return *denied;
    control::Response response = done();
    if (Manager* manager = m_host.manager())
        for (const UnitInfo& unit : manager->units())
            fill_unit(response.add_units(), unit);
    return response;
}

control::Response ControlService::unit_status(const control::UnitStatusRequest& request,
                                              const struct ucred& peer) {
    if (auto denied = check_read(peer, "status"))
        return *denied;
    std::string name = unit_name_argument(request.unit());
    Manager* manager = m_host.manager();
    std::optional<UnitInfo> unit = manager ? manager->unit(name) : std::nullopt;
    if (!unit)
        return refused(cat("unit ", quoted(name), " could not be found"));
    control::Response response = done();
    fill_unit(response.add_units(), *unit);
    if (Journal* journal = m_host.journal())
        for (const LogEntry& entry : journal->tail(name, request.log_lines()))
            fill(response.add_entries(), entry);
    return response;
}

control::Response ControlService::daemon_reload(const struct ucred& peer) {
    if (auto denied = check_root(peer, "daemon-reload"))
        return *denied;
    if (!m_host.manager())
        return refused("the service manager is not running");
    log_notice(cat("reloading unit files (requested by pid ", peer.pid, ")"));
    m_host.reload_units();
    return done();
}

// With kernel messages in the journal, keel's lines about units from before
// the journal took keel's lines from the logger are there twice: under
// "keel" (read back from /dev/kmsg) and under the unit. The view of
// everything shows them once; a unit's view shows its own.
bool ControlService::shown_in_logs(const LogEntry& entry, const std::string& unit) const {
    if (!unit.empty() || !m_host.kernel_log_in_journal())
        return true;
    if (entry.stream != "keel" || entry.unit == "keel" || entry.unit == "kernel")
        return true;
    std::optional<uint64_t> captured = m_host.journal()->capture_began_usec();
    return captured && entry.boottime_usec >= *captured;
}

void ControlService::logs(const control::LogsRequest& request, const struct ucred& peer,
                          const ControlReplyPtr& reply) {
    if (auto denied = check_read(peer, "logs"))
        return reply->finish(*denied);
    Journal* journal = m_host.journal();
    if (!journal)
        return reply->finish(refused("the journal is not running"));
    std::string unit = unit_name_argument(request.unit());
    size_t lines = request.lines() ? request.lines() : kDefaultLogLines;
    std::vector<LogEntry> entries = journal->tail(unit, lines * 2 + 16);
    std::erase_if(entries, [&](const LogEntry& entry) { return !shown_in_logs(entry, unit); });
    if (entries.size() > lines)
        entries.erase(entries.begin(), entries.end() - long(lines));
    control::Response response = done();
    for (const LogEntry& entry : entries) {
        fill(response.add_entries(), entry);
        if (response.entries_size() >= kEntriesPerFrame) {
            if (!reply->send(response))
                return;
            response.clear_entries();
        }
    }
    if (!reply->send(response))
        return;
    if (!request.follow())
        return reply->close();
    uint64_t id = journal->subscribe(unit, [this, reply, unit](const LogEntry& entry) {
        if (!shown_in_logs(entry, unit))
            return;
        control::Response next = done();
        fill(next.add_entries(), entry);
        reply->send(next); // a client that stopped reading is dropped, and unsubscribed
    });
    reply->on_close([journal, id] { journal->unsubscribe(id); });
}

} // namespace keel
