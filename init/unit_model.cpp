// Unit model: parsing [Unit], [Service] and [Install] with systemd's
// defaults, unit names and specifiers, environment files, conditions, the
// unit directories (with drop-ins, .wants/ and aliases) and enable/disable.
//
// Assignments are applied one by one in file order, main file first, then
// each drop-in, so an error always names the file and line it came from and
// `Key=` with an empty value resets a list the way systemd does.
#include "init/unit_model.h"

#include "base/cmdline.h"
#include "base/strings.h"
#include "base/sys.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <glob.h>
#include <limits>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

// Unit types systemd knows; keel runs services and targets and reports the
// others as unsupported instead of calling their names invalid.
constexpr std::string_view kUnitSuffixes[] = {"service", "target",    "socket", "device",
                                              "mount",   "automount", "swap",   "path",
                                              "timer",   "slice",     "scope"};

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '-' || c == '_' || c == '.' || c == '\\';
}

std::string where(const std::string& file, int line) {
    return cat(file, ":", line);
}

// Wraps an error from a key's value with file:line and the key.
std::unexpected<Error> at(Error error, const std::string& file, const UnitEntry& entry) {
    return std::unexpected(std::move(error).wrap(cat(where(file, entry.line), ": ", entry.key)));
}

bool is_environment_name(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    return true;
}

struct SignalName {
    int number;
    std::string_view name; // without "SIG"
};
constexpr SignalName kSignals[] = {
    {SIGHUP, "HUP"},   {SIGINT, "INT"},       {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},     {SIGBUS, "BUS"},   {SIGFPE, "FPE"},
    {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},     {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},     {SIGTERM, "TERM"}, {SIGSTKFLT, "STKFLT"},
    {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},
    {SIGTTIN, "TTIN"}, {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"},
    {SIGIO, "IO"},     {SIGPWR, "PWR"},       {SIGSYS, "SYS"},
};

// One Limit*= key: the resource and how its values are spelled.
enum class LimitUnit { Count, Bytes, Seconds, Microseconds, Nice };
struct LimitKey {
    std::string_view key;
    int resource;
    LimitUnit unit;
};
constexpr LimitKey kLimitKeys[] = {
    {"LimitCPU", RLIMIT_CPU, LimitUnit::Seconds},
    {"LimitFSIZE", RLIMIT_FSIZE, LimitUnit::Bytes},
    {"LimitDATA", RLIMIT_DATA, LimitUnit::Bytes},
    {"LimitSTACK", RLIMIT_STACK, LimitUnit::Bytes},
    {"LimitCORE", RLIMIT_CORE, LimitUnit::Bytes},
    {"LimitRSS", RLIMIT_RSS, LimitUnit::Bytes},
    {"LimitNOFILE", RLIMIT_NOFILE, LimitUnit::Count},
    {"LimitAS", RLIMIT_AS, LimitUnit::Bytes},
    {"LimitNPROC", RLIMIT_NPROC, LimitUnit::Count},
    {"LimitMEMLOCK", RLIMIT_MEMLOCK, LimitUnit::Bytes},
    {"LimitLOCKS", RLIMIT_LOCKS, LimitUnit::Count},
    {"LimitSIGPENDING", RLIMIT_SIGPENDING, LimitUnit::Count},
    {"LimitMSGQUEUE", RLIMIT_MSGQUEUE, LimitUnit::Bytes},
    {"LimitNICE", RLIMIT_NICE, LimitUnit::Nice},
    {"LimitRTPRIO", RLIMIT_RTPRIO, LimitUnit::Count},
    {"LimitRTTIME", RLIMIT_RTTIME, LimitUnit::Microseconds},
};

// One value of a Limit*= key (soft or hard).
Result<rlim_t> parse_limit_value(std::string_view text, LimitUnit unit) {
    if (text == "infinity")
        return RLIM_INFINITY;
    switch (unit) {
    case LimitUnit::Seconds:
    case LimitUnit::Microseconds: {
        uint64_t usec = TRY(parse_timespan_usec(text));
        if (usec == kInfinity)
            return RLIM_INFINITY;
        // RLIMIT_CPU counts whole seconds; round up so "500ms" is not 0.
        return unit == LimitUnit::Seconds ? rlim_t((usec + 999'999) / 1'000'000) : rlim_t(usec);
    }
    case LimitUnit::Nice: {
        // "-5" or "+5" is a nice level (rlimit 20 - nice); a bare number is
        // the raw rlimit 0..40, as in systemd.
        if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
            auto level = parse_u64(text.substr(1));
            int nice = level && *level <= 20 ? int(*level) * (text[0] == '-' ? -1 : 1) : 100;
            if (nice < -20 || nice > 19)
                return error(cat("nice level ", quoted(text), " is outside -20..19"));
            return rlim_t(20 - nice);
        }
        auto raw = parse_u64(text);
        if (!raw || *raw > 40)
            return error(cat("expected a nice level (-20..19) or 0..40, got ", quoted(text)));
        return rlim_t(*raw);
    }
    case LimitUnit::Bytes: {
        // 1K = 1024, as systemd's sizes.
        uint64_t multiplier = 1;
        std::string_view digits = text;
        constexpr std::pair<char, int> suffixes[] = {{'K', 10}, {'M', 20}, {'G', 30},
                                                     {'T', 40}, {'P', 50}, {'E', 60}};
        for (auto [suffix, shift] : suffixes)
            if (!digits.empty() && digits.back() == suffix) {
                multiplier = uint64_t(1) << shift;
                digits.remove_suffix(1);
            }
        auto number = parse_u64(digits);
        if (!number)
            return error(cat("expected a size (like 4096, 8M or infinity), got ", quoted(text)));
        if (*number > kInfinity / multiplier)
            return error(cat("size ", quoted(text), " is too large"));
        return rlim_t(*number * multiplier);
    }
    case LimitUnit::Count:
        break;
    }
    auto number = parse_u64(text);
    if (!number)
        return error(cat("expected a number or `infinity`, got ", quoted(text)));
    return rlim_t(*number);
}

Result<ResourceLimit> parse_limit(std::string_view value, const LimitKey& key) {
    size_t colon = value.find(':');
    ResourceLimit limit;
    limit.resource = key.resource;
    if (colon == std::string_view::npos) {
        limit.soft = limit.hard = TRY(parse_limit_value(value, key.unit));
        return limit;
    }
    limit.soft = TRY(parse_limit_value(value.substr(0, colon), key.unit));
    limit.hard = TRY(parse_limit_value(value.substr(colon + 1), key.unit));
    if (limit.hard != RLIM_INFINITY && (limit.soft == RLIM_INFINITY || limit.soft > limit.hard))
        return error(cat("soft limit is above the hard limit in ", quoted(value)));
    return limit;
}

struct ConditionName {
    std::string_view name; // after "Condition" / "Assert"
    ConditionType type;
};
constexpr ConditionName kConditions[] = {
    {"PathExists", ConditionType::PathExists},
    {"PathExistsGlob", ConditionType::PathExistsGlob},
    {"PathIsDirectory", ConditionType::PathIsDirectory},
    {"PathIsSymbolicLink", ConditionType::PathIsSymbolicLink},
    {"PathIsMountPoint", ConditionType::PathIsMountPoint},
    {"PathIsReadWrite", ConditionType::PathIsReadWrite},
    {"DirectoryNotEmpty", ConditionType::DirectoryNotEmpty},
    {"FileNotEmpty", ConditionType::FileNotEmpty},
    {"FileIsExecutable", ConditionType::FileIsExecutable},
    {"KernelCommandLine", ConditionType::KernelCommandLine},
};

// Keys systemd has that keel accepts without acting on them (documentation,
// or behaviour keel already has); no warning, since the unit works as meant.
const std::set<std::string, std::less<>> kQuietUnitKeys = {"Documentation", "SourcePath"};
const std::set<std::string, std::less<>> kQuietServiceKeys = {"GuessMainPID", "SyslogIdentifier"};

// Applies the assignments of unit files (main file, then drop-ins) to a Unit.
class UnitParser {
public:
    UnitParser(Unit& unit, const SpecifierContext& context, std::vector<std::string>& warnings)
        : m_unit(unit), m_context(context), m_warnings(warnings) {}

    Result<void> apply(const UnitFile& file) {
        const std::string& name = file.filename();
        for (const UnitSection& section : file.sections()) {
            enum class Kind { Unit, Service, Install, Ignored, Unknown } kind = Kind::Unknown;
            if (section.name == "Unit")
                kind = Kind::Unit;
            else if (section.name == "Service")
                kind = m_unit.type == UnitType::Service ? Kind::Service : Kind::Unknown;
            else if (section.name == "Install")
                kind = Kind::Install;
            else if (section.name.starts_with("X-"))
                kind = Kind::Ignored; // systemd's namespace for other tools' settings
            if (kind == Kind::Unknown) {
                m_warnings.push_back(cat(where(name, section.line), ": unknown section [",
                                         section.name, "], ignored"));
                continue;
            }
            if (kind == Kind::Ignored)
                continue;
            for (const UnitEntry& entry : section.entries) {
                if (entry.key.starts_with("X-"))
                    continue;
                auto value = expand_specifiers(entry.value, m_unit.name, m_context);
                if (!value)
                    return at(std::move(value).error(), name, entry);
                Result<bool> known = kind == Kind::Unit      ? unit_key(entry.key, *value)
                                     : kind == Kind::Service ? service_key(entry.key, *value)
                                                             : install_key(entry.key, *value);
                if (!known)
                    return at(std::move(known).error(), name, entry);
                if (!*known)
                    m_warnings.push_back(cat(where(name, entry.line), ": unknown key ",
                                             quoted(entry.key), " in [", section.name,
                                             "], ignored"));
            }
        }
        return {};
    }

    // Checks the whole unit and fills in defaults that depend on other keys.
    Result<void> finish() {
        if (m_unit.description.empty())
            m_unit.description = m_unit.name;
        if (m_unit.type != UnitType::Service)
            return {};
        ServiceConfig& service = m_unit.service;
        auto refuse = [&](std::string_view why) { return error(cat(m_unit.path, ": ", why)); };
        bool oneshot = service.type == ServiceType::Oneshot;
        if (service.exec_start.empty() && !oneshot)
            return refuse("[Service] has no ExecStart=, which only Type=oneshot services may "
                          "leave out");
        if (service.exec_start.empty() && service.exec_stop.empty())
            return refuse("[Service] has neither ExecStart= nor ExecStop=");
        if (service.exec_start.size() > 1 && !oneshot)
            return refuse("[Service] has more than one ExecStart=, which only Type=oneshot "
                          "services may have");
        if (oneshot && (service.restart == RestartPolicy::Always ||
                        service.restart == RestartPolicy::OnSuccess))
            return refuse("Restart=always and Restart=on-success are not allowed for "
                          "Type=oneshot services");
        if (oneshot && !m_timeout_start_set)
            service.timeout_start_usec = kInfinity; // systemd: oneshot has no start timeout
        if (!m_notify_access_set)
            service.notify_access = service.type == ServiceType::Notify || service.watchdog_usec
                                        ? NotifyAccess::Main
                                        : NotifyAccess::None;
        return {};
    }

private:
    // Names of units, for the dependency keys.
    static Result<std::vector<std::string>> unit_names(std::string_view value) {
        std::vector<std::string> names = TRY(split_words(value));
        for (const std::string& name : names) {
            UnitName parts = TRY(parse_unit_name(name));
            if (parts.instance && parts.instance->empty())
                return error(cat(quoted(name), " is a template; name an instance (", parts.prefix,
                                 "@NAME.", parts.suffix, ")"));
        }
        return names;
    }

    static void assign_list(std::vector<std::string>& list, std::vector<std::string> values) {
        if (values.empty())
            list.clear(); // `Key=` resets, as in systemd
        list.insert(list.end(), values.begin(), values.end());
    }

    static Result<uint64_t> timeout(std::string_view value) {
        uint64_t usec = TRY(parse_timespan_usec(value));
        return usec == 0 ? kInfinity : usec; // 0 disables a timeout, as in systemd
    }

    Result<bool> unit_key(const std::string& key, const std::string& value) {
        if (key == "Description") {
            m_unit.description = value;
        } else if (key == "Requires") {
            assign_list(m_unit.requirements, TRY(unit_names(value)));
        } else if (key == "Requisite") {
            assign_list(m_unit.requisite, TRY(unit_names(value)));
        } else if (key == "Wants") {
            assign_list(m_unit.wants, TRY(unit_names(value)));
        } else if (key == "BindsTo") {
            assign_list(m_unit.binds_to, TRY(unit_names(value)));
        } else if (key == "PartOf") {
            assign_list(m_unit.part_of, TRY(unit_names(value)));
        } else if (key == "After") {
            assign_list(m_unit.after, TRY(unit_names(value)));
        } else if (key == "Before") {
            assign_list(m_unit.before, TRY(unit_names(value)));
        } else if (key == "Conflicts") {
            assign_list(m_unit.conflicts, TRY(unit_names(value)));
        } else if (key == "DefaultDependencies") {
            m_unit.default_dependencies = TRY(parse_boolean(value));
        } else if (key == "StartLimitIntervalSec" || key == "StartLimitInterval") {
            m_unit.start_limit_interval_usec = TRY(parse_timespan_usec(value));
        } else if (key == "StartLimitBurst") {
            m_unit.start_limit_burst = TRY(parse_count(value));
        } else if (key.starts_with("Condition") || key.starts_with("Assert")) {
            return parse_condition(key, value);
        } else {
            return kQuietUnitKeys.contains(key);
        }
        return true;
    }

    static Result<unsigned> parse_count(std::string_view value) {
        auto number = parse_u64(value);
        if (!number || *number > std::numeric_limits<unsigned>::max())
            return error(cat("expected a number, got ", quoted(value)));
        return unsigned(*number);
    }

    Result<bool> parse_condition(const std::string& key, const std::string& value) {
        bool assert = key.starts_with("Assert");
        std::string_view name = std::string_view(key).substr(assert ? 6 : 9);
        const ConditionName* found = nullptr;
        for (const ConditionName& candidate : kConditions)
            if (candidate.name == name)
                found = &candidate;
        if (!found)
            return false;
        if (value.empty()) {
            // `ConditionPathExists=` resets the conditions of that key.
            std::erase_if(m_unit.conditions, [&](const Condition& c) { return c.key == key; });
            return true;
        }
        Condition condition;
        condition.type = found->type;
        condition.key = key;
        condition.assert = assert;
        std::string_view argument = value;
        if (argument.starts_with('|')) {
            condition.trigger = true;
            argument.remove_prefix(1);
        }
        if (argument.starts_with('!')) {
            condition.negate = true;
            argument.remove_prefix(1);
        }
        if (argument.empty())
            return error("expected an argument after the `|` and `!` prefixes");
        if (condition.type != ConditionType::KernelCommandLine && !argument.starts_with('/'))
            return error(cat(quoted(argument), " is not an absolute path"));
        condition.argument = std::string(argument);
        m_unit.conditions.push_back(std::move(condition));
        return true;
    }

    static Result<void> parse_exec(std::vector<ExecCommand>& list, std::string_view value) {
        if (value.empty()) {
            list.clear();
            return {};
        }
        ExecCommand command;
        while (!value.empty() &&
               std::string_view("-@+!:").find(value.front()) != std::string_view::npos) {
            char prefix = value.front();
            if (prefix != '-')
                return error(cat("the `", prefix, "` prefix is not supported by keel"));
            command.ignore_failure = true;
            value.remove_prefix(1);
        }
        command.argv = TRY(split_words(value));
        if (command.argv.empty())
            return error("no command after the prefixes");
        const std::string& program = command.argv[0];
        // systemd takes an absolute path or a bare name looked up in PATH;
        // "bin/web" would depend on the working directory.
        if (program.front() != '/' && program.find('/') != std::string::npos)
            return error(cat(quoted(program), " must be an absolute path or a plain program name"));
        list.push_back(std::move(command));
        return {};
    }

    static Result<OutputTarget> parse_output(std::string_view value) {
        if (value == "journal" || value == "journal+console" || value == "syslog" ||
            value == "syslog+console" || value == "kmsg" || value == "kmsg+console")
            return OutputTarget::Journal;
        if (value == "null")
            return OutputTarget::Null;
        if (value == "inherit" || value == "tty")
            return OutputTarget::Inherit;
        return error(
            cat("unknown value ", quoted(value), " (expected journal, null, inherit or tty)"));
    }

    Result<bool> service_key(const std::string& key, const std::string& value) {
        ServiceConfig& s = m_unit.service;
        if (key == "Type") {
            if (value == "simple" || value == "idle")
                s.type = ServiceType::Simple;
            else if (value == "exec")
                s.type = ServiceType::Exec;
            else if (value == "notify")
                s.type = ServiceType::Notify;
            else if (value == "oneshot")
                s.type = ServiceType::Oneshot;
            else if (value == "forking" || value == "dbus" || value == "notify-reload")
                return error(cat("Type=", value,
                                 " is not supported by keel (use simple, exec, notify or oneshot; "
                                 "run a forking daemon in the foreground)"));
            else
                return error(cat("unknown value ", quoted(value),
                                 " (expected simple, exec, notify or oneshot)"));
        } else if (key == "ExecStartPre") {
            TRY(parse_exec(s.exec_start_pre, value));
        } else if (key == "ExecStart") {
            TRY(parse_exec(s.exec_start, value));
        } else if (key == "ExecStartPost") {
            TRY(parse_exec(s.exec_start_post, value));
        } else if (key == "ExecStop") {
            TRY(parse_exec(s.exec_stop, value));
        } else if (key == "ExecStopPost") {
            TRY(parse_exec(s.exec_stop_post, value));
        } else if (key == "ExecReload") {
            TRY(parse_exec(s.exec_reload, value));
        } else if (key == "Restart") {
            constexpr std::pair<std::string_view, RestartPolicy> policies[] = {
                {"no", RestartPolicy::No},
                {"on-success", RestartPolicy::OnSuccess},
                {"on-failure", RestartPolicy::OnFailure},
                {"on-abnormal", RestartPolicy::OnAbnormal},
                {"on-watchdog", RestartPolicy::OnWatchdog},
                {"on-abort", RestartPolicy::OnAbort},
                {"always", RestartPolicy::Always}};
            bool matched = false;
            for (auto [name, policy] : policies)
                if (value == name) {
                    s.restart = policy;
                    matched = true;
                }
            if (!matched)
                return error(cat("unknown value ", quoted(value),
                                 " (expected no, on-success, on-failure, on-abnormal, "
                                 "on-watchdog, on-abort or always)"));
        } else if (key == "RestartSec") {
            s.restart_usec = TRY(parse_timespan_usec(value));
        } else if (key == "RestartSteps") {
            s.restart_steps = TRY(parse_count(value));
        } else if (key == "RestartMaxDelaySec") {
            s.restart_max_delay_usec = TRY(parse_timespan_usec(value));
        } else if (key == "TimeoutSec") {
            s.timeout_start_usec = s.timeout_stop_usec = TRY(timeout(value));
            m_timeout_start_set = true;
        } else if (key == "TimeoutStartSec") {
            s.timeout_start_usec = TRY(timeout(value));
            m_timeout_start_set = true;
        } else if (key == "TimeoutStopSec") {
            s.timeout_stop_usec = TRY(timeout(value));
        } else if (key == "WatchdogSec") {
            uint64_t usec = TRY(parse_timespan_usec(value));
            s.watchdog_usec = usec == kInfinity ? 0 : usec;
        } else if (key == "StartLimitIntervalSec" || key == "StartLimitInterval" ||
                   key == "StartLimitBurst") {
            return unit_key(key, value); // systemd still accepts these in [Service]
        } else if (key == "KillMode") {
            if (value == "control-group")
                s.kill_mode = KillMode::ControlGroup;
            else if (value == "mixed")
                s.kill_mode = KillMode::Mixed;
            else if (value == "process")
                s.kill_mode = KillMode::Process;
            else if (value == "none")
                s.kill_mode = KillMode::None;
            else
                return error(cat("unknown value ", quoted(value),
                                 " (expected control-group, mixed, process or none)"));
        } else if (key == "KillSignal") {
            s.kill_signal = TRY(parse_signal(value));
        } else if (key == "FinalKillSignal") {
            s.final_kill_signal = TRY(parse_signal(value));
        } else if (key == "WatchdogSignal") {
            s.watchdog_signal = TRY(parse_signal(value));
        } else if (key == "SendSIGKILL") {
            s.send_sigkill = TRY(parse_boolean(value));
        } else if (key == "RemainAfterExit") {
            s.remain_after_exit = TRY(parse_boolean(value));
        } else if (key == "NotifyAccess") {
            constexpr std::pair<std::string_view, NotifyAccess> modes[] = {
                {"none", NotifyAccess::None},
                {"main", NotifyAccess::Main},
                {"exec", NotifyAccess::Exec},
                {"all", NotifyAccess::All}};
            bool matched = false;
            for (auto [name, mode] : modes)
                if (value == name) {
                    s.notify_access = mode;
                    matched = true;
                }
            if (!matched)
                return error(
                    cat("unknown value ", quoted(value), " (expected none, main, exec or all)"));
            m_notify_access_set = true;
        } else if (key == "SuccessExitStatus") {
            if (value.empty())
                s.success_exit_status = {};
            for (const std::string& word : TRY(split_words(value))) {
                if (auto code = parse_u64(word)) {
                    if (*code > 255)
                        return error(cat("exit status ", quoted(word), " is above 255"));
                    s.success_exit_status.codes.insert(int(*code));
                } else {
                    s.success_exit_status.signals.insert(TRY(parse_signal(word)));
                }
            }
        } else if (key == "StandardOutput") {
            s.standard_output = TRY(parse_output(value));
        } else if (key == "StandardError") {
            s.standard_error = TRY(parse_output(value));
        } else if (key == "StandardInput") {
            if (value != "null")
                return error(cat("only `null` is supported, got ", quoted(value)));
        } else if (key == "Environment") {
            if (value.empty())
                s.environment.clear();
            for (const std::string& assignment : TRY(split_words(value))) {
                size_t equals = assignment.find('=');
                if (equals == std::string::npos || equals == 0)
                    return error(cat(quoted(assignment), " is not KEY=value"));
                std::string name = assignment.substr(0, equals);
                if (!is_environment_name(name))
                    return error(cat(quoted(name), " is not a valid variable name"));
                s.environment.emplace_back(name, assignment.substr(equals + 1));
            }
        } else if (key == "EnvironmentFile") {
            if (value.empty()) {
                s.environment_files.clear();
                return true;
            }
            EnvironmentFile file;
            std::string_view path = value;
            if (path.starts_with('-')) {
                file.optional = true;
                path.remove_prefix(1);
            }
            if (!path.starts_with('/'))
                return error(cat(quoted(path), " is not an absolute path"));
            file.path = std::string(path);
            s.environment_files.push_back(std::move(file));
        } else if (key == "WorkingDirectory") {
            std::string_view path = value;
            s.working_directory_optional = path.starts_with('-');
            if (s.working_directory_optional)
                path.remove_prefix(1);
            if (!path.empty() && path != "~" && !path.starts_with('/'))
                return error(cat(quoted(path), " is not an absolute path or `~`"));
            s.working_directory = std::string(path);
        } else if (key == "User" || key == "Group") {
            if (!value.empty() &&
                (value.find_first_of(" \t:/,") != std::string::npos || value.front() == '-'))
                return error(cat(quoted(value), " is not a valid ",
                                 key == "User" ? "user" : "group", " name"));
            (key == "User" ? s.user : s.group) = value;
        } else if (key == "SupplementaryGroups") {
            assign_list(s.supplementary_groups, TRY(split_words(value)));
        } else if (key == "CapabilityBoundingSet") {
            std::string_view list = value;
            s.capability_mode = CapabilityMode::Keep;
            if (list.starts_with('~')) {
                s.capability_mode = CapabilityMode::Drop;
                list.remove_prefix(1);
            }
            s.capabilities = TRY(split_words(list));
            SpawnOptions check;
            check.argv = {"/"};
            check.capabilities = s.capabilities;
            TRY(validate_spawn_options(check));
        } else if (key == "NoNewPrivileges") {
            s.no_new_privileges = TRY(parse_boolean(value));
        } else if (key == "SystemCallFilter") {
            if (value.empty()) {
                s.denied_syscalls.clear();
                return true;
            }
            // Only the deny-list form is supported so far; an allow list
            // would be silently weaker if accepted, so it is refused.
            if (!value.starts_with('~'))
                return error("only the `~name ...` deny form is supported");
            std::vector<std::string> calls = TRY(split_words(std::string_view(value).substr(1)));
            SpawnOptions check;
            check.argv = {"/"};
            check.denied_syscalls = calls;
            TRY(validate_spawn_options(check));
            s.denied_syscalls.insert(s.denied_syscalls.end(), calls.begin(), calls.end());
        } else if (key.starts_with("Limit")) {
            for (const LimitKey& limit : kLimitKeys)
                if (limit.key == key) {
                    ResourceLimit parsed = TRY(parse_limit(value, limit));
                    std::erase_if(s.limits, [&](const ResourceLimit& l) {
                        return l.resource == parsed.resource;
                    });
                    s.limits.push_back(parsed);
                    return true;
                }
            return false;
        } else if (key == "MemoryMax") {
            s.cgroup_limits.memory_max = TRY(parse_memory_max(value));
        } else if (key == "CPUQuota") {
            s.cgroup_limits.cpu_quota_percent = TRY(parse_cpu_quota(value));
        } else if (key == "TasksMax") {
            s.cgroup_limits.tasks_max = TRY(parse_tasks_max(value));
        } else {
            return kQuietServiceKeys.contains(key);
        }
        return true;
    }

    Result<bool> install_key(const std::string& key, const std::string& value) {
        if (key == "WantedBy")
            assign_list(m_unit.wanted_by, TRY(unit_names(value)));
        else if (key == "RequiredBy")
            assign_list(m_unit.required_by, TRY(unit_names(value)));
        else if (key == "Also")
            assign_list(m_unit.also, TRY(unit_names(value)));
        else if (key == "Alias")
            assign_list(m_unit.alias, TRY(unit_names(value)));
        else
            return false;
        return true;
    }

    Unit& m_unit;
    const SpecifierContext& m_context;
    std::vector<std::string>& m_warnings;
    bool m_timeout_start_set = false;
    bool m_notify_access_set = false;
};

std::string read_trimmed(const std::string& path) {
    auto text = read_file(path);
    return text ? std::string(trim(*text)) : std::string();
}

// Undoes systemd's unit-name escaping for %I and %f: "-" is "/", \xNN a byte.
std::string unescape_instance(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '-') {
            out += '/';
        } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
            auto hex = [](char c) {
                return c >= '0' && c <= '9'   ? c - '0'
                       : c >= 'a' && c <= 'f' ? c - 'a' + 10
                       : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
            };
            int high = hex(text[i + 2]), low = hex(text[i + 3]);
            if (high < 0 || low < 0) {
                out += text[i];
                continue;
            }
            out += char(high * 16 + low);
            i += 3;
        } else {
            out += text[i];
        }
    }
    return out;
}

struct FileKind {
    bool exists = false;
    bool directory = false;
    bool symlink = false;
};

FileKind file_kind(const std::string& path) {
    struct stat st;
    FileKind kind;
    if (::lstat(path.c_str(), &st) < 0)
        return kind;
    kind.exists = true;
    kind.symlink = S_ISLNK(st.st_mode);
    if (kind.symlink && ::stat(path.c_str(), &st) < 0)
        return kind; // a dangling link
    kind.directory = S_ISDIR(st.st_mode);
    return kind;
}

std::string basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Result<std::string> read_link(const std::string& path) {
    char buffer[4096];
    ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer - 1);
    if (n < 0)
        return errno_error(cat("read link ", quoted(path)));
    return std::string(buffer, size_t(n));
}

} // namespace

std::string Condition::text() const {
    return cat(key, "=", trigger ? "|" : "", negate ? "!" : "", argument);
}

std::string ExecCommand::text() const {
    std::string out;
    for (const std::string& word : argv)
        out += cat(out.empty() ? "" : " ", word);
    return out;
}

bool Unit::installable() const {
    return !wanted_by.empty() || !required_by.empty() || !alias.empty() || !also.empty();
}

SpecifierContext SpecifierContext::from_system() {
    SpecifierContext context;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        context.hostname = host;
    context.machine_id = read_trimmed("/etc/machine-id");
    context.boot_id = read_trimmed("/proc/sys/kernel/random/boot_id");
    std::erase(context.boot_id, '-');
    struct utsname names;
    if (::uname(&names) == 0)
        context.kernel_release = names.release;
    return context;
}

Result<UnitName> parse_unit_name(std::string_view name) {
    auto invalid = [&](std::string_view why) {
        return error(cat("invalid unit name ", quoted(name), ": ", why));
    };
    if (name.empty())
        return invalid("empty");
    if (name.size() > 255)
        return invalid("longer than 255 characters");
    size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0)
        return invalid("no type suffix such as .service");
    UnitName parts;
    parts.suffix = std::string(name.substr(dot + 1));
    if (std::find(std::begin(kUnitSuffixes), std::end(kUnitSuffixes), parts.suffix) ==
        std::end(kUnitSuffixes))
        return invalid(cat("unknown type `.", parts.suffix, "`"));
    std::string_view stem = name.substr(0, dot);
    size_t at_sign = stem.find('@');
    std::string_view prefix = stem.substr(0, at_sign);
    if (prefix.empty())
        return invalid("empty name before the type");
    for (char c : prefix)
        if (!is_name_char(c))
            return invalid(cat("character ", quoted(std::string(1, c)), " is not allowed"));
    parts.prefix = std::string(prefix);
    if (at_sign != std::string_view::npos) {
        std::string_view instance = stem.substr(at_sign + 1);
        for (char c : instance)
            if (!is_name_char(c) && c != '@')
                return invalid(
                    cat("character ", quoted(std::string(1, c)), " is not allowed in an instance"));
        parts.instance = std::string(instance);
    }
    return parts;
}

std::optional<UnitType> unit_type_of(std::string_view name) {
    if (name.ends_with(".service"))
        return UnitType::Service;
    if (name.ends_with(".target"))
        return UnitType::Target;
    return std::nullopt;
}

std::string template_of(std::string_view name) {
    auto parts = parse_unit_name(name);
    if (!parts || !parts->instance || parts->instance->empty())
        return {};
    return cat(parts->prefix, "@.", parts->suffix);
}

Result<std::string> expand_specifiers(std::string_view value, std::string_view unit_name,
                                      const SpecifierContext& context) {
    if (value.find('%') == std::string_view::npos)
        return std::string(value);
    UnitName parts;
    if (auto parsed = parse_unit_name(unit_name))
        parts = *parsed;
    std::string stem = std::string(unit_name.substr(0, unit_name.rfind('.')));
    std::string instance = parts.instance.value_or("");
    std::string out;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] != '%') {
            out += value[i];
            continue;
        }
        if (i + 1 >= value.size())
            return error(cat("a lone `%` at the end of ", quoted(value), " (write %% for a %)"));
        char c = value[++i];
        switch (c) {
        case '%':
            out += '%';
            break;
        case 'n':
            out += unit_name;
            break;
        case 'N':
            out += stem;
            break;
        case 'p':
            out += parts.prefix;
            break;
        case 'i':
            out += instance;
            break;
        case 'I':
            out += unescape_instance(instance);
            break;
        case 'f':
            out += cat("/", unescape_instance(parts.instance ? instance : parts.prefix));
            break;
        case 'H':
            out += context.hostname;
            break;
        case 'm':
            out += context.machine_id;
            break;
        case 'b':
            out += context.boot_id;
            break;
        case 'v':
            out += context.kernel_release;
            break;
        case 't':
            out += "/run";
            break;
        case 'S':
            out += "/var/lib";
            break;
        case 'C':
            out += "/var/cache";
            break;
        case 'L':
            out += "/var/log";
            break;
        case 'T':
            out += "/tmp";
            break;
        case 'V':
            out += "/var/tmp";
            break;
        case 'E':
            out += "/etc";
            break;
        case 'h':
            out += "/root"; // the service manager's user: root
            break;
        case 'u':
        case 'g':
            out += "root";
            break;
        case 'U':
        case 'G':
            out += "0";
            break;
        default:
            return error(cat("unknown specifier `%", std::string(1, c), "` in ", quoted(value),
                             " (write %% for a %)"));
        }
    }
    return out;
}

Result<int> parse_signal(std::string_view text) {
    if (auto number = parse_u64(text)) {
        if (*number == 0 || *number > 64)
            return error(cat("signal number ", quoted(text), " is outside 1..64"));
        return int(*number);
    }
    std::string_view name = text;
    if (name.starts_with("SIG"))
        name.remove_prefix(3);
    for (const SignalName& signal : kSignals)
        if (signal.name == name)
            return signal.number;
    return error(cat("unknown signal ", quoted(text)));
}

std::string signal_name(int signo) {
    for (const SignalName& signal : kSignals)
        if (signal.number == signo)
            return cat("SIG", signal.name);
    return cat("signal ", signo);
}

Result<Unit> parse_unit(std::string name, const UnitFile& file,
                        const std::vector<UnitFile>& dropins, const SpecifierContext& context,
                        std::vector<std::string>& warnings) {
    Unit unit;
    auto type = unit_type_of(name);
    if (!type)
        return error(cat(file.filename(), ": unit type of ", quoted(name),
                         " is not supported by keel (only .service and .target units)"));
    unit.name = std::move(name);
    unit.type = *type;
    unit.path = file.filename();
    UnitParser parser(unit, context, warnings);
    TRY(parser.apply(file));
    for (const UnitFile& dropin : dropins) {
        TRY(parser.apply(dropin));
        unit.dropins.push_back(dropin.filename());
    }
    TRY(parser.finish());
    return unit;
}

std::optional<Unit> builtin_unit(std::string_view name) {
    Unit unit;
    unit.name = std::string(name);
    unit.type = UnitType::Target;
    if (name == "sysinit.target") {
        unit.description = "System Initialization";
    } else if (name == "basic.target") {
        unit.description = "Basic System";
        unit.requirements = {"sysinit.target"};
        unit.after = {"sysinit.target"};
    } else if (name == "multi-user.target") {
        unit.description = "Multi-User System";
        unit.requirements = {"basic.target"};
        unit.after = {"basic.target"};
    } else if (name == "network.target") {
        unit.description = "Network";
    } else if (name == "network-online.target") {
        unit.description = "Network is Online";
        unit.after = {"network.target"};
    } else {
        return std::nullopt;
    }
    return unit;
}

Result<Environment> parse_environment_file(std::string_view text, std::string_view filename) {
    Environment environment;
    int line = 1;
    size_t at = 0;
    auto fail = [&](int number, std::string_view what) {
        return error(cat(filename, ":", number, ": ", what));
    };
    auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (at < text.size()) {
        char c = text[at];
        if (c == '\n') {
            ++line;
            ++at;
            continue;
        }
        if (is_blank(c)) {
            ++at;
            continue;
        }
        if (c == '#' || c == ';') {
            while (at < text.size() && text[at] != '\n')
                ++at;
            continue;
        }
        int start_line = line;
        size_t key_start = at;
        while (at < text.size() && text[at] != '=' && text[at] != '\n')
            ++at;
        std::string_view key = trim(text.substr(key_start, at - key_start));
        if (at >= text.size() || text[at] != '=')
            return fail(start_line, cat("expected KEY=value, got ", quoted(key)));
        if (!is_environment_name(key))
            return fail(start_line, cat(quoted(key), " is not a valid variable name"));
        ++at; // '='
        while (at < text.size() && is_blank(text[at]))
            ++at;
        std::string value;
        size_t keep = 0; // value bytes that trailing-space trimming must not touch
        while (at < text.size() && text[at] != '\n') {
            c = text[at];
            if (c == '"' || c == '\'') {
                char quote = c;
                ++at;
                for (;;) {
                    if (at >= text.size())
                        return fail(start_line,
                                    cat("unterminated ", quote == '"' ? "double" : "single",
                                        " quote in the value of ", quoted(key)));
                    c = text[at++];
                    if (c == quote)
                        break;
                    if (c == '\n')
                        ++line;
                    if (quote == '"' && c == '\\' && at < text.size()) {
                        char next = text[at];
                        if (next == '\n') { // continuation inside quotes
                            ++line;
                            ++at;
                            continue;
                        }
                        if (next == '"' || next == '\\' || next == '$' || next == '`') {
                            value += next;
                            ++at;
                            continue;
                        }
                    }
                    value += c;
                }
                keep = value.size();
                continue;
            }
            if (c == '\\' && at + 1 < text.size()) {
                if (text[at + 1] == '\n') { // continuation
                    ++line;
                    at += 2;
                    continue;
                }
                value += text[at + 1];
                at += 2;
                keep = value.size();
                continue;
            }
            value += c;
            ++at;
        }
        while (value.size() > keep && is_blank(value.back()))
            value.pop_back();
        environment.emplace_back(std::string(key), std::move(value));
    }
    return environment;
}

std::vector<std::string> expand_command_variables(const std::vector<std::string>& argv,
                                                  const std::map<std::string, std::string>& env) {
    auto lookup = [&](std::string_view name) -> std::string_view {
        auto it = env.find(std::string(name));
        return it == env.end() ? std::string_view() : std::string_view(it->second);
    };
    std::vector<std::string> out;
    for (const std::string& word : argv) {
        // "$NAME" as a whole word becomes the value's words.
        if (word.size() > 1 && word[0] == '$' &&
            is_environment_name(std::string_view(word).substr(1))) {
            std::string_view value = lookup(std::string_view(word).substr(1));
            for (std::string_view part : split(value, ' '))
                if (!trim(part).empty())
                    out.emplace_back(trim(part));
            continue;
        }
        std::string expanded;
        for (size_t i = 0; i < word.size(); ++i) {
            if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '$') {
                expanded += '$';
                ++i;
                continue;
            }
            if (word[i] == '$' && i + 1 < word.size() && word[i + 1] == '{') {
                size_t close = word.find('}', i + 2);
                std::string_view name = close == std::string::npos
                                            ? std::string_view()
                                            : std::string_view(word).substr(i + 2, close - i - 2);
                if (is_environment_name(name)) {
                    expanded += lookup(name);
                    i = close;
                    continue;
                }
            }
            expanded += word[i];
        }
        out.push_back(std::move(expanded));
    }
    return out;
}

bool condition_holds(const Condition& condition) {
    const std::string& path = condition.argument;
    struct stat st;
    bool holds = false;
    switch (condition.type) {
    case ConditionType::PathExists:
        holds = ::stat(path.c_str(), &st) == 0;
        break;
    case ConditionType::PathExistsGlob: {
        glob_t matches{};
        holds = ::glob(path.c_str(), GLOB_NOSORT, nullptr, &matches) == 0 && matches.gl_pathc > 0;
        ::globfree(&matches);
        break;
    }
    case ConditionType::PathIsDirectory:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        break;
    case ConditionType::PathIsSymbolicLink:
        holds = ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
        break;
    case ConditionType::PathIsMountPoint: {
        auto table = read_file("/proc/self/mountinfo");
        if (table)
            for (std::string_view line : split(*table, '\n')) {
                std::vector<std::string_view> fields = split(line, ' ');
                // The mount point (field 5) escapes spaces as \040.
                if (fields.size() > 4) {
                    std::string point;
                    std::string_view raw = fields[4];
                    for (size_t i = 0; i < raw.size(); ++i) {
                        if (raw[i] == '\\' && i + 3 < raw.size()) {
                            point += char((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 +
                                          (raw[i + 3] - '0'));
                            i += 3;
                        } else {
                            point += raw[i];
                        }
                    }
                    holds = holds || point == path;
                }
            }
        break;
    }
    case ConditionType::PathIsReadWrite: {
        struct statvfs fs;
        holds = ::statvfs(path.c_str(), &fs) == 0 && !(fs.f_flag & ST_RDONLY);
        break;
    }
    case ConditionType::DirectoryNotEmpty: {
        auto names = list_directory(path);
        holds = names && !names->empty();
        break;
    }
    case ConditionType::FileNotEmpty:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
        break;
    case ConditionType::FileIsExecutable:
        holds = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        break;
    case ConditionType::KernelCommandLine: {
        auto cmdline = KernelCommandLine::read();
        if (!cmdline)
            break;
        size_t equals = path.find('=');
        if (equals == std::string::npos) {
            holds = cmdline->has(path);
        } else {
            std::string key = path.substr(0, equals);
            for (const std::string& value : cmdline->get_all(key))
                holds = holds || value == path.substr(equals + 1);
        }
        break;
    }
    }
    return holds != condition.negate;
}

std::string_view describe(EnableState state) {
    switch (state) {
    case EnableState::Enabled:
        return "enabled";
    case EnableState::Disabled:
        return "disabled";
    case EnableState::Static:
        return "static";
    case EnableState::Builtin:
        return "builtin";
    }
    return "?";
}

UnitCatalog UnitCatalog::scan(const std::vector<std::string>& directories) {
    UnitCatalog catalog;
    catalog.m_directories = directories;
    for (const std::string& directory : directories) {
        auto names = list_directory(directory);
        if (!names)
            continue; // a missing unit directory is normal
        for (const std::string& name : *names) {
            std::string path = cat(directory, "/", name);
            FileKind kind = file_kind(path);
            if (kind.directory) {
                auto entries = list_directory(path);
                if (!entries)
                    continue;
                std::string_view stem = name;
                if (name.ends_with(".d") && parse_unit_name(stem.substr(0, stem.size() - 2))) {
                    std::string unit(stem.substr(0, stem.size() - 2));
                    for (const std::string& conf : *entries)
                        if (conf.ends_with(".conf"))
                            catalog.m_dropins[unit][conf] = cat(path, "/", conf);
                    continue;
                }
                for (std::string_view kind_suffix : {".wants", ".requires"}) {
                    if (!name.ends_with(kind_suffix))
                        continue;
                    std::string unit(stem.substr(0, stem.size() - kind_suffix.size()));
                    if (!parse_unit_name(unit))
                        continue;
                    auto& set =
                        kind_suffix == ".wants" ? catalog.m_wants[unit] : catalog.m_requires[unit];
                    for (const std::string& entry : *entries)
                        if (parse_unit_name(entry))
                            set.insert(entry);
                }
                continue;
            }
            if (!parse_unit_name(name))
                continue; // notes, backups: not units
            if (kind.symlink) {
                auto target = read_link(path);
                if (target && *target == "/dev/null") {
                    catalog.m_files[name] = "/dev/null"; // masked
                    catalog.m_aliases.erase(name);
                    continue;
                }
                std::string target_name = target ? basename_of(*target) : std::string();
                if (target && target_name != name && parse_unit_name(target_name) &&
                    unit_type_of(target_name) == unit_type_of(name)) {
                    catalog.m_aliases[name] = target_name;
                    catalog.m_files.erase(name);
                    continue;
                }
            }
            catalog.m_files[name] = path;
            catalog.m_aliases.erase(name);
        }
    }
    return catalog;
}

std::vector<std::string> UnitCatalog::unit_names() const {
    std::vector<std::string> names;
    for (const auto& [name, path] : m_files) {
        auto parts = parse_unit_name(name);
        if (parts && parts->instance && parts->instance->empty())
            continue; // a template
        names.push_back(name);
    }
    return names;
}

std::string UnitCatalog::resolve_alias(std::string_view name) const {
    std::string current(name);
    for (int hops = 0; hops < 8; ++hops) { // aliases of aliases, without looping forever
        auto it = m_aliases.find(current);
        if (it == m_aliases.end())
            break;
        current = it->second;
    }
    if (current == "default.target" && !m_files.contains(current))
        return "multi-user.target";
    return current;
}

void UnitCatalog::preload(const SpecifierContext& context) {
    m_preloaded.clear();
    for (const std::string& name : unit_names()) {
        Preloaded entry{.unit = Unit{}};
        entry.unit = load(name, context, entry.warnings, entry.not_found);
        m_preloaded.emplace(resolve_alias(name), std::move(entry));
    }
    m_preload_context = context;
}

Result<Unit> UnitCatalog::load(std::string_view requested, const SpecifierContext& context,
                               std::vector<std::string>& warnings, bool& not_found) const {
    not_found = false;
    std::string name = resolve_alias(requested);
    if (auto it = m_preloaded.find(name); it != m_preloaded.end()) {
        Preloaded entry = std::move(it->second);
        m_preloaded.erase(it);
        if (context == m_preload_context) {
            warnings.insert(warnings.end(), entry.warnings.begin(), entry.warnings.end());
            not_found = entry.not_found;
            return std::move(entry.unit);
        }
    }
    UnitName parts = TRY(parse_unit_name(name));
    if (parts.instance && parts.instance->empty())
        return error(cat(quoted(name), " is a template; start an instance such as ", parts.prefix,
                         "@NAME.", parts.suffix));
    std::string templ = template_of(name);
    std::string path;
    if (auto it = m_files.find(name); it != m_files.end())
        path = it->second;
    else if (auto it = m_files.find(templ); !templ.empty() && it != m_files.end())
        path = it->second;
    if (path == "/dev/null")
        return error(cat("unit ", quoted(name), " is masked (linked to /dev/null)"));

    auto add_links = [&](Unit& unit) {
        for (const auto* links : {&m_wants, &m_requires}) {
            auto it = links->find(name);
            if (it == links->end())
                continue;
            auto& list = links == &m_wants ? unit.wants : unit.requirements;
            for (const std::string& linked : it->second)
                if (std::find(list.begin(), list.end(), linked) == list.end())
                    list.push_back(linked);
        }
    };
    if (path.empty()) {
        std::optional<Unit> builtin = builtin_unit(name);
        if (!builtin) {
            not_found = true;
            return error(cat("unit ", quoted(name), " not found"));
        }
        add_links(*builtin);
        return *builtin;
    }
    UnitFile file = TRY(UnitFile::load(path));
    // Drop-ins of the template first, then the instance's; a file of the
    // same name in the instance's directory replaces the template's.
    std::map<std::string, std::string> confs;
    for (const std::string& key : {templ, name}) {
        auto it = m_dropins.find(key);
        if (!key.empty() && it != m_dropins.end())
            for (const auto& [conf, conf_path] : it->second)
                confs[conf] = conf_path;
    }
    std::vector<UnitFile> dropins;
    for (const auto& [conf, conf_path] : confs)
        dropins.push_back(TRY(UnitFile::load(conf_path)));
    Unit unit = TRY(parse_unit(name, file, dropins, context, warnings));
    add_links(unit);
    return unit;
}

EnableState UnitCatalog::enable_state(const Unit& unit) const {
    if (unit.path.empty())
        return EnableState::Builtin;
    for (const auto* links : {&m_wants, &m_requires})
        for (const auto& [target, names] : *links)
            if (names.contains(unit.name))
                return EnableState::Enabled;
    for (const auto& [alias, target] : m_aliases)
        if (target == unit.name && alias != "default.target")
            return EnableState::Enabled;
    return unit.installable() ? EnableState::Disabled : EnableState::Static;
}

Result<std::vector<std::string>> enable_unit(const Unit& unit, const std::string& directory) {
    if (unit.wanted_by.empty() && unit.required_by.empty() && unit.alias.empty())
        return error(cat(quoted(unit.name),
                         " has no [Install] section with WantedBy=, RequiredBy= or Alias=, so "
                         "there is nothing to enable (start it, or make another unit want it)"));
    if (unit.path.empty())
        return error(cat(quoted(unit.name), " is built in and has no file to link to"));
    std::vector<std::string> links;
    for (const std::string& target : unit.wanted_by)
        links.push_back(cat(directory, "/", target, ".wants/", unit.name));
    for (const std::string& target : unit.required_by)
        links.push_back(cat(directory, "/", target, ".requires/", unit.name));
    for (const std::string& alias : unit.alias)
        links.push_back(cat(directory, "/", alias));
    std::vector<std::string> changes;
    for (const std::string& link : links) {
        TRY(make_directories(link.substr(0, link.rfind('/'))));
        struct stat linked, file;
        if (::stat(link.c_str(), &linked) == 0 && ::stat(unit.path.c_str(), &file) == 0 &&
            linked.st_dev == file.st_dev && linked.st_ino == file.st_ino)
            continue; // already enabled (perhaps through a relative link)
        if (::unlink(link.c_str()) < 0 && errno != ENOENT)
            return errno_error(cat("replace ", quoted(link)));
        if (::symlink(unit.path.c_str(), link.c_str()) < 0)
            return errno_error(cat("create symlink ", quoted(link)));
        changes.push_back(cat("Created symlink ", link, " \u2192 ", unit.path, "."));
    }
    return changes;
}

Result<std::vector<std::string>> disable_unit(const Unit& unit, const std::string& directory) {
    std::vector<std::string> changes;
    auto remove = [&](const std::string& link) -> Result<void> {
        if (::unlink(link.c_str()) < 0) {
            if (errno == ENOENT)
                return {};
            return errno_error(cat("remove ", quoted(link)));
        }
        changes.push_back(cat("Removed \"", link, "\"."));
        return {};
    };
    if (auto names = list_directory(directory)) {
        for (const std::string& name : *names) {
            if (!name.ends_with(".wants") && !name.ends_with(".requires"))
                continue;
            std::string link = cat(directory, "/", name, "/", unit.name);
            if (file_kind(link).exists)
                TRY(remove(link));
        }
    }
    for (const std::string& alias : unit.alias) {
        std::string link = cat(directory, "/", alias);
        if (auto target = read_link(link); target && *target == unit.path)
            TRY(remove(link));
    }
    return changes;
}

} // namespace keel
