// The unit model: what a `.service` or `.target` file says, in systemd's
// syntax and with systemd's defaults, and where unit files are found.
//
// Unit files come from /usr/lib/keel/units (image), /etc/keel/units (admin)
// and /run/keel/units (runtime); a later directory's file of the same name
// wins, drop-ins in `name.d/*.conf` apply on top in file-name order, and
// `target.wants/` / `target.requires/` entries are what `keel enable`
// creates. Parsing applies assignments in order (so `Key=` resets a list,
// as in systemd) and names file:line in every error and warning. Nothing
// here runs processes; init/manager.h does, through a seam.
//
// The implementation is split by concern: unit_model.cpp parses a unit,
// unit_name.cpp checks unit names, specifiers.cpp expands %-specifiers,
// environment.cpp reads environment files and expands $NAME,
// conditions.cpp checks Condition*=, unit_catalog.cpp scans the unit
// directories and loads units (a `.container` file through
// init/quadlet.h's translation), and unit_links.cpp enables and disables
// them (signal names are base/signal_names.h's).
#pragma once

#include "base/result.h"
#include "base/signal_names.h"
#include "base/spawn.h"
#include "base/unit_file.h"
#include "cgroups/cgroups.h"
#include "control/types.h"

#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel {

/// Where units are looked up; later directories override earlier ones.
inline const std::vector<std::string> kDefaultUnitDirectories = {
    "/usr/lib/keel/units", "/etc/keel/units", "/run/keel/units"};

/// When a service is started again after it ended (systemd's Restart=).
enum class RestartPolicy { No, OnSuccess, OnFailure, OnAbnormal, OnWatchdog, OnAbort, Always };
inline constexpr auto kRestartPolicyNames = name_table<RestartPolicy>({
    {RestartPolicy::No, "no"},
    {RestartPolicy::OnSuccess, "on-success"},
    {RestartPolicy::OnFailure, "on-failure"},
    {RestartPolicy::OnAbnormal, "on-abnormal"},
    {RestartPolicy::OnWatchdog, "on-watchdog"},
    {RestartPolicy::OnAbort, "on-abort"},
    {RestartPolicy::Always, "always"},
});

/// Which processes a stop signals (systemd's KillMode=).
enum class KillMode {
    ControlGroup, // every process of the unit (its cgroup, else its process groups)
    Mixed,        // KillSignal to the main process, SIGKILL to all of them
    Process,      // the main process only
    None,         // no signal: only ExecStop= runs
};
inline constexpr auto kKillModeNames = name_table<KillMode>({
    {KillMode::ControlGroup, "control-group"},
    {KillMode::Mixed, "mixed"},
    {KillMode::Process, "process"},
    {KillMode::None, "none"},
});

/// Whose sd_notify messages count (systemd's NotifyAccess=).
enum class NotifyAccess { None, Main, Exec, All };
inline constexpr auto kNotifyAccessNames = name_table<NotifyAccess>({
    {NotifyAccess::None, "none"},
    {NotifyAccess::Main, "main"},
    {NotifyAccess::Exec, "exec"},
    {NotifyAccess::All, "all"},
});

/// Where a service's stdout/stderr go.
enum class OutputTarget { Journal, Null, Inherit };

enum class ConditionType {
    PathExists,
    PathExistsGlob,
    PathIsDirectory,
    PathIsSymbolicLink,
    PathIsMountPoint,
    PathIsReadWrite,
    DirectoryNotEmpty,
    FileNotEmpty,
    FileIsExecutable,
    KernelCommandLine,
};

/// One Condition*= or Assert*= line.
struct Condition {
    ConditionType type = ConditionType::PathExists;
    std::string key;      // as written: "ConditionPathExists"
    std::string argument; // without the `|` and `!` prefixes
    bool negate = false;  // `!`
    bool trigger = false; // `|`: at least one triggering condition must hold
    bool assert = false;  // Assert*: failing fails the start instead of skipping it

    /// "ConditionPathExists=!/etc/x", for messages.
    std::string text() const;
};

/// One ExecStart= (etc.) command.
struct ExecCommand {
    std::vector<std::string> argv;
    bool ignore_failure = false; // `-` prefix
    std::string text() const;    // argv joined with spaces, for messages
};

/// KEY=value pairs in the order they were assigned (later ones win).
using Environment = std::vector<std::pair<std::string, std::string>>;

struct EnvironmentFile {
    std::string path;
    bool optional = false; // `-` prefix: a missing file is fine
};

/// Exit codes and signals that count as a clean exit (SuccessExitStatus=).
struct ExitStatusSet {
    std::set<int> codes;
    std::set<int> signals;
};

/// The [Service] section.
struct ServiceConfig {
    ServiceType type = ServiceType::Simple;
    std::vector<ExecCommand> exec_start_pre, exec_start, exec_start_post, exec_stop, exec_stop_post,
        exec_reload;
    RestartPolicy restart = RestartPolicy::No;
    uint64_t restart_usec = 100'000;
    /// RestartSteps= / RestartMaxDelaySec=: the delay grows from RestartSec to
    /// RestartMaxDelaySec over this many restarts (0 steps: constant).
    unsigned restart_steps = 0;
    uint64_t restart_max_delay_usec = UINT64_MAX;
    /// 0 or UINT64_MAX: no timeout. A oneshot service has none by default.
    uint64_t timeout_start_usec = 90'000'000;
    uint64_t timeout_stop_usec = 90'000'000;
    uint64_t watchdog_usec = 0; // 0: no watchdog
    KillMode kill_mode = KillMode::ControlGroup;
    int kill_signal = SIGTERM;
    int final_kill_signal = SIGKILL;
    int watchdog_signal = SIGABRT;
    bool send_sigkill = true;
    bool remain_after_exit = false;
    NotifyAccess notify_access = NotifyAccess::None; // resolved in finish: Main for notify
    ExitStatusSet success_exit_status;
    OutputTarget standard_output = OutputTarget::Journal;
    OutputTarget standard_error = OutputTarget::Journal;

    Environment environment;
    std::vector<EnvironmentFile> environment_files;
    std::string working_directory;           // "" (/), "~" (the user's home) or absolute
    bool working_directory_optional = false; // `-` prefix
    std::string user;                        // resolved from /etc/passwd at start
    std::string group;                       // resolved from /etc/group at start
    std::vector<std::string> supplementary_groups;
    std::vector<ResourceLimit> limits; // Limit*=
    CapabilityMode capability_mode = CapabilityMode::Inherit;
    std::vector<std::string> capabilities;
    bool no_new_privileges = false;
    std::vector<std::string> denied_syscalls; // SystemCallFilter=~...
    // MemoryMax=, MemoryHigh=, CPUQuota=, TasksMax=, CPUWeight=, IOWeight=,
    // IO*BandwidthMax=
    CgroupLimits cgroup_limits;
};

/// A loaded unit: the merged result of its file, its drop-ins and the
/// `.wants/` and `.requires/` entries naming it.
struct Unit {
    std::string name; // "web.service", "web@1.service", "multi-user.target"
    UnitType type = UnitType::Service;
    std::string path;                 // the unit file ("" for a built-in target)
    std::vector<std::string> dropins; // applied drop-in files, in order
    std::string description;

    // [Unit] dependencies, unit names (requirements: Requires=).
    std::vector<std::string> requirements, requisite, wants, binds_to, part_of, after, before,
        conflicts;
    bool default_dependencies = true;
    std::vector<Condition> conditions;
    uint64_t start_limit_interval_usec = 10'000'000;
    unsigned start_limit_burst = 5;

    // [Install]
    std::vector<std::string> wanted_by, required_by, also, alias;

    ServiceConfig service; // UnitType::Service only

    /// True when [Install] says how to enable the unit.
    bool installable() const;
};

/// Values for the %-specifiers that depend on the machine.
struct SpecifierContext {
    std::string hostname;
    std::string machine_id;
    std::string boot_id;
    std::string kernel_release;
    /// Reads them from the running system (missing ones stay empty).
    static SpecifierContext from_system();
    bool operator==(const SpecifierContext&) const = default;
};

/// A unit name's parts: "web@1.service" -> prefix "web", instance "1",
/// suffix "service".
struct UnitName {
    std::string prefix;
    std::optional<std::string> instance; // "" for a template "web@.service"
    std::string suffix;
};

/// Splits and checks a unit name (systemd's characters, a known type suffix).
Result<UnitName> parse_unit_name(std::string_view name);
/// The unit type for a name keel runs, nullopt for other types (.socket...).
std::optional<UnitType> unit_type_of(std::string_view name);
/// "web@.service" for "web@1.service"; "" when `name` is not an instance.
std::string template_of(std::string_view name);

/// Replaces %n %N %p %i %I %f %H %m %b %v %t %S %C %L %T %V %E %h %u %U %g
/// %G and %% in `value`; an unknown specifier is an error.
Result<std::string> expand_specifiers(std::string_view value, std::string_view unit_name,
                                      const SpecifierContext& context);

/// Builds a unit from its file and drop-ins (applied in order). Unknown keys
/// and sections are warnings ("file:line: unknown key `X` in [Service],
/// ignored"); malformed values are errors naming file:line and the key.
Result<Unit> parse_unit(std::string name, const UnitFile& file,
                        const std::vector<UnitFile>& dropins, const SpecifierContext& context,
                        std::vector<std::string>& warnings);

/// The built-in unit of PID 1's kv role, which multi-user.target wants; it
/// runs `keel kv role` when /etc/keel/kv.conf exists or the kernel command
/// line says keel.kv.name=.
inline constexpr std::string_view kKvRoleUnit = "keel-kv.service";

/// The built-in unit of PID 1's update role, which multi-user.target wants;
/// it runs `keel update agent` when /etc/keel/update.conf exists or the
/// kernel command line has a keel.update.* setting.
inline constexpr std::string_view kUpdateRoleUnit = "keel-update.service";

/// The units keel has without a file: the targets basic.target,
/// multi-user.target (which wants kKvRoleUnit and kUpdateRoleUnit),
/// sysinit.target, network.target, network-online.target, kKvRoleUnit and
/// kUpdateRoleUnit; nullopt for other names.
std::optional<Unit> builtin_unit(std::string_view name);

/// Parses an EnvironmentFile=: `KEY=value` lines, `#`/`;` comments, quoted
/// values, backslash continuation. Errors name file:line.
Result<Environment> parse_environment_file(std::string_view text, std::string_view filename);

/// Expands $NAME (a whole word: split into words) and ${NAME} (inline) in a
/// command's arguments, as systemd does for Exec*= lines; $$ is a `$`.
std::vector<std::string> expand_command_variables(const std::vector<std::string>& argv,
                                                  const std::map<std::string, std::string>& env);

/// Checks one condition against the running system (paths, /proc/cmdline).
bool condition_holds(const Condition& condition);

/// The unit files found in a list of directories (later ones win), with
/// drop-ins, `.wants/` and `.requires/` entries and aliases. A container
/// unit `NAME.container` (init/quadlet.h) is the unit `NAME.service`, with
/// drop-ins from `NAME.container.d/` and `NAME.service.d/`; a
/// `NAME.service` file in the same directory wins over it, with a warning.
class UnitCatalog {
public:
    /// Scans `directories`; missing directories are normal.
    static UnitCatalog scan(const std::vector<std::string>& directories);

    const std::vector<std::string>& directories() const { return m_directories; }
    /// Names of the unit files that can be loaded as they are (templates
    /// like web@.service are left out: only their instances are units).
    std::vector<std::string> unit_names() const;
    /// Follows aliases (a symlinked default.target names the real target).
    std::string resolve_alias(std::string_view name) const;
    /// Loads one unit: its file (or its template's, or a built-in target),
    /// drop-ins, and the units its .wants/.requires directories name.
    /// not_found is set when there is no file for the name.
    Result<Unit> load(std::string_view name, const SpecifierContext& context,
                      std::vector<std::string>& warnings, bool& not_found) const;
    /// Loads every unit unit_names() lists and keeps the results: a later
    /// load() of one of them with the same context hands its result over
    /// (once) instead of reading the files again. This lets another thread
    /// read and parse the files while the one that uses them does other work.
    void preload(const SpecifierContext& context);
    /// enabled: some .wants/ or .requires/ entry names the unit (or it is
    /// an alias's target); static: no [Install]; otherwise disabled.
    EnableState enable_state(const Unit& unit) const;

private:
    std::vector<std::string> m_directories;
    std::map<std::string, std::string> m_files;                          // name -> path
    std::map<std::string, std::map<std::string, std::string>> m_dropins; // name -> conf -> path
    std::map<std::string, std::set<std::string>> m_wants, m_requires;    // target -> names
    std::map<std::string, std::string> m_aliases;                        // alias -> unit
    // NAME.container.d/ drop-ins, by the service name: name -> conf -> path.
    std::map<std::string, std::map<std::string, std::string>> m_container_dropins;
    // Container files a NAME.service beside them hides: name -> warning.
    std::map<std::string, std::string> m_hidden_containers;

    struct Preloaded {
        Result<Unit> unit;
        std::vector<std::string> warnings;
        bool not_found = false;
    };
    SpecifierContext m_preload_context;
    mutable std::map<std::string, Preloaded, std::less<>> m_preloaded; // taken by load()
};

/// Creates the links `keel enable` makes for `unit` in `directory` (the
/// admin directory): `<target>.wants/<name>` for WantedBy=,
/// `<target>.requires/<name>` for RequiredBy=, `<alias>` for Alias=.
/// Returns what changed, as systemctl prints it ("Created symlink A → B.").
Result<std::vector<std::string>> enable_unit(const Unit& unit, const std::string& directory);
/// Removes every link for `unit` from `directory`'s .wants/, .requires/ and
/// aliases. Returns what changed ("Removed \"A\".").
Result<std::vector<std::string>> disable_unit(const Unit& unit, const std::string& directory);

} // namespace keel
