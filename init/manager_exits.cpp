// Processes of a service that ended: a command that could not be started,
// the exit of a main or control process, and the step each one causes in
// the state it comes in.
#include "init/manager.h"

#include "base/spawn.h"
#include "init/manager_internal.h"

#include <csignal>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace keel {

using namespace manager_internal;

namespace {

// Whose exit is judged: a daemon's main process may also end by the
// signals a polite stop uses.
enum class Exiting { Daemon, Command };

// systemd's notion of a clean exit: 0 or SuccessExitStatus=, and for a
// daemon also SIGHUP, SIGINT, SIGTERM and SIGPIPE.
bool clean_exit(int status, const ServiceConfig& service, Exiting who) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 0 ||
               service.success_exit_status.codes.contains(WEXITSTATUS(status));
    if (!WIFSIGNALED(status))
        return false;
    int signo = WTERMSIG(status);
    if (service.success_exit_status.signals.contains(signo))
        return true;
    return who == Exiting::Daemon &&
           (signo == SIGHUP || signo == SIGINT || signo == SIGTERM || signo == SIGPIPE);
}

ServiceResult result_of(int status) {
    if (WIFSIGNALED(status))
        return WCOREDUMP(status) ? ServiceResult::CoreDump : ServiceResult::Signal;
    return ServiceResult::ExitCode;
}

} // namespace

void Manager::on_start_failure(pid_t pid, const Error& error) {
    auto it = m_pids.find(pid);
    Record* record = it == m_pids.end() ? nullptr : find(it->second);
    if (!record || !record->config)
        return;
    bool main = pid == record->main_pid;
    ExecPhase phase = main ? ExecPhase::Start : record->control_phase;
    const std::vector<ExecCommand>& commands = commands_of(record->config->service, phase);
    size_t index = main ? record->main_index : record->control_index;
    std::string command = index < commands.size() ? commands[index].text() : "";
    std::string what = cat(describe(phase), "=", command, ": ", error.to_string());
    note(*record, kError, cat(record->name, ": ", what));
    set_result(*record, ServiceResult::Resources, what);
}

bool Manager::on_process_exit(pid_t pid, int status) {
    auto it = m_pids.find(pid);
    if (it == m_pids.end())
        return false;
    Record* record = find(it->second);
    m_pids.erase(it);
    if (!record)
        return true;
    if (pid == record->main_pid) {
        record->main_pid = 0;
        record->exit_status = shell_exit_code(status);
        record->last_exit = describe_wait_status(status);
        main_exited(*record, status);
    } else if (pid == record->control_pid) {
        record->control_pid = 0;
        control_exited(*record, status);
    }
    settle();
    return true;
}

void Manager::main_exited(Record& record, int status) {
    const ServiceConfig& service = record.config->service;
    bool oneshot = service.type == ServiceType::Oneshot;
    bool clean = clean_exit(status, service, oneshot ? Exiting::Command : Exiting::Daemon);
    if (!clean && record.main_index < service.exec_start.size() &&
        service.exec_start[record.main_index].ignore_failure)
        clean = true; // ExecStart=-...
    bool stopping = is_stopping(record.state);
    note(record, clean || stopping ? kInfo : kWarning,
         cat(record.name, ": main process ", record.last_exit));
    switch (record.state) {
    case ServiceState::Start:
        if (oneshot) {
            if (!clean) {
                set_result(record, result_of(status), record.last_exit);
                enter_signal(record, ServiceState::StopSigterm);
            } else if (record.main_index + 1 < service.exec_start.size()) {
                run_start_commands(record, record.main_index + 1);
            } else {
                after_start(record);
            }
        } else {
            // A notify service ended before it said READY=1.
            if (clean)
                set_result(record, ServiceResult::Protocol,
                           cat(record.last_exit, " before it reported READY=1"));
            else
                set_result(record, result_of(status), record.last_exit);
            enter_signal(record, ServiceState::StopSigterm);
        }
        break;
    case ServiceState::StartPost:
    case ServiceState::Reload:
        if (!clean)
            set_result(record, result_of(status), record.last_exit);
        break; // handled when the control command ends
    case ServiceState::Running:
        if (!clean)
            set_result(record, result_of(status), record.last_exit);
        enter_running(record);
        break;
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
        check_stopped(record);
        break;
    default:
        break;
    }
}

void Manager::control_exited(Record& record, int status) {
    const ServiceConfig& service = record.config->service;
    ExecPhase phase = record.control_phase;
    const std::vector<ExecCommand>& commands = commands_of(service, phase);
    size_t index = record.control_index;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean && index < commands.size() && commands[index].ignore_failure)
        clean = true;
    bool more = index + 1 < commands.size();
    std::string what =
        cat(describe(phase), "=", index < commands.size() ? commands[index].text() : "", " ",
            describe_wait_status(status));
    if (!clean)
        note(record, kWarning, cat(record.name, ": ", what));
    switch (record.state) {
    case ServiceState::StartPre:
        if (!clean) {
            set_result(record, result_of(status), what);
            enter_signal(record, ServiceState::StopSigterm);
        } else if (more) {
            if (!run_command(record, phase, index + 1))
                enter_signal(record, ServiceState::StopSigterm);
        } else {
            run_start_commands(record, 0);
        }
        break;
    case ServiceState::StartPost:
        if (!clean) {
            set_result(record, result_of(status), what);
            enter_stop(record);
        } else if (more) {
            if (!run_command(record, phase, index + 1))
                enter_stop(record);
        } else {
            enter_running(record);
        }
        break;
    case ServiceState::Reload:
        if (clean && more && run_command(record, phase, index + 1))
            break;
        if (!clean)
            note(record, kWarning, cat(record.name, ": reload failed"));
        else
            note(record, kInfo, cat("Reloaded ", title(*record.config), "."));
        record.result = record.main_pid ? ServiceResult::Success : record.result;
        finish_job(record, clean ? JobResult::Done : JobResult::Failed);
        enter_running(record);
        break;
    case ServiceState::Stop:
        if (!(more && run_command(record, phase, index + 1)))
            enter_signal(record, ServiceState::StopSigterm);
        break;
    case ServiceState::StopWatchdog:
    case ServiceState::StopSigterm:
    case ServiceState::StopSigkill:
        check_stopped(record);
        break;
    case ServiceState::StopPost:
        if (!(more && run_command(record, phase, index + 1)))
            enter_dead(record);
        break;
    default:
        break;
    }
}

} // namespace keel
