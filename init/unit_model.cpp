// Parsing a unit: the keys of [Unit], [Service] and [Install] with
// systemd's spellings and defaults, applied from the unit file and its
// drop-ins into a Unit.
//
// Assignments are applied one by one in file order, main file first, then
// each drop-in, so an error always names the file and line it came from and
// `Key=` with an empty value resets a list the way systemd does.
#include "init/unit_model.h"

#include "base/strings.h"
#include "base/sys.h"
#include "init/unit_model_internal.h"

#include <algorithm>
#include <limits>
#include <set>

namespace keel {

using namespace unit_model_internal;

namespace {

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

std::string where(const std::string& file, int line) {
    return cat(file, ":", line);
}

// Wraps an error from a key's value with file:line and the key.
std::unexpected<Error> at(Error error, const std::string& file, const UnitEntry& entry) {
    return std::unexpected(std::move(error).wrap(cat(where(file, entry.line), ": ", entry.key)));
}

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
// Delegate=: a service may make cgroups below its own, and keel leaves them
// to it (only a stop kills them all), which is what delegation asks for.
const std::set<std::string, std::less<>> kQuietServiceKeys = {"Delegate", "GuessMainPID",
                                                              "SyslogIdentifier"};
// Keys whose values systemd takes as written, without expanding specifiers:
// their `%` is a percentage (CPUQuota=20%), not the start of a specifier.
const std::set<std::string, std::less<>> kVerbatimServiceKeys = {"CPUQuota", "MemoryHigh",
                                                                 "MemoryMax", "TasksMax"};

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
                auto value = kind == Kind::Service && kVerbatimServiceKeys.contains(entry.key)
                                 ? Result<std::string>(entry.value)
                                 : expand_specifiers(entry.value, m_unit.name, m_context);
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
            if (value == "forking" || value == "dbus" || value == "notify-reload")
                return error(cat("Type=", value, " is not supported by keel (use ",
                                 kServiceTypeNames.names(", ", " or "),
                                 "; run a forking daemon in the foreground)"));
            s.type =
                value == "idle" ? ServiceType::Simple : TRY(parse_choice(kServiceTypeNames, value));
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
            s.restart = TRY(parse_choice(kRestartPolicyNames, value));
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
            s.kill_mode = TRY(parse_choice(kKillModeNames, value));
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
            s.notify_access = TRY(parse_choice(kNotifyAccessNames, value));
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
        } else if (key == "MemoryHigh") {
            s.cgroup_limits.memory_high = TRY(parse_memory_high(value));
        } else if (key == "CPUQuota") {
            s.cgroup_limits.cpu_quota_percent = TRY(parse_cpu_quota(value));
        } else if (key == "TasksMax") {
            s.cgroup_limits.tasks_max = TRY(parse_tasks_max(value));
        } else if (key == "CPUWeight") {
            s.cgroup_limits.cpu_weight = TRY(parse_cpu_weight(value));
        } else if (key == "IOWeight") {
            s.cgroup_limits.io_weight = TRY(parse_io_weight(value));
        } else if (key == "IOReadBandwidthMax" || key == "IOWriteBandwidthMax") {
            TRY(parse_io_bandwidth(
                value, key == "IOReadBandwidthMax" ? IoDirection::Read : IoDirection::Write,
                s.cgroup_limits.io_bandwidth));
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

} // namespace

std::string ExecCommand::text() const {
    std::string out;
    for (const std::string& word : argv)
        out += cat(out.empty() ? "" : " ", word);
    return out;
}

bool Unit::installable() const {
    return !wanted_by.empty() || !required_by.empty() || !alias.empty() || !also.empty();
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

} // namespace keel
