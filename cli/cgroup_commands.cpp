// `keel cgroup run|stats|kill|remove`: the cgroups/ module from the command
// line. `run` sets the tree up, creates keel.slice/NAME with the limits,
// starts the command through spawn_process (which joins the group before
// exec, as services do), waits for it and reports the group's counters.
#include "cli/cgroup_commands.h"

#include "base/spawn.h"
#include "base/strings.h"
#include "base/sys.h"
#include "cgroups/cgroups.h"

#include <cerrno>
#include <chrono>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace keel::cli {

namespace {

// How long `kill` waits for the killed processes to be gone, and how often
// it looks.
constexpr auto kKillWait = std::chrono::seconds(5);
constexpr auto kKillPoll = std::chrono::milliseconds(20);

const Option kCgroupRootOption{
    .name = "--root",
    .value_name = "DIR",
    .type = ValueType::Text,
    .shown = Shown::InOptionList,
    .help = "where cgroup2 is mounted (default /sys/fs/cgroup)",
};

const Positional kNameArgument{.name = "NAME", .noun = "group name"};

// The group a command is about: keel.slice/NAME under --root.
struct CgroupTarget {
    std::string root;
    std::string name;

    std::string relative_path() const { return cat(kKeelSlice, "/", name); }
};

std::expected<CgroupTarget, Failure> cgroup_target_of(const ParsedArgs& args) {
    CgroupTarget target{std::string(args.value("--root").value_or(kCgroupRoot)),
                        std::string(*args.positional("NAME"))};
    if (target.name.find('/') != std::string::npos)
        return usage_error(args, cat("group name ", quoted(target.name), " must not contain `/`"));
    return target;
}

// A limit's value as the cgroups module reads it; a bad one is a usage error.
template <typename T> std::expected<T, Failure> limit_value(Result<T> parsed) {
    if (!parsed)
        return std::unexpected(Failure(std::move(parsed).error(), kExitUsage));
    return std::move(parsed).value();
}

std::string control_value(const Cgroup& group, std::string_view file) {
    auto text = read_file(cat(group.path(), "/", file));
    return text ? std::string(trim(*text)) : std::string("-");
}

Result<std::string> describe_group(const Cgroup& group) {
    CgroupStats stats = TRY(group.stats());
    return cat("cgroup:    ", group.path(), "\n", "limits:    memory.max ",
               control_value(group, "memory.max"), ", cpu.max ", control_value(group, "cpu.max"),
               ", pids.max ", control_value(group, "pids.max"), "\n",
               "memory:    ", stats.memory_current, " bytes\n", "tasks:     ", stats.tasks_current,
               "\n", "cpu:       ", stats.cpu_usage_usec, " usec\n", "oom kills: ", stats.oom_kills,
               "\n");
}

CommandResult command_cgroup_run(const ParsedArgs& args) {
    CgroupTarget target = TRY(cgroup_target_of(args));
    CgroupLimits limits;
    if (auto value = args.value("--memory-max"))
        limits.memory_max = TRY(limit_value(parse_memory_max(*value)));
    if (auto value = args.value("--cpu-quota"))
        limits.cpu_quota_percent = TRY(limit_value(parse_cpu_quota(*value)));
    if (auto value = args.value("--tasks-max"))
        limits.tasks_max = TRY(limit_value(parse_tasks_max(*value)));
    const std::vector<std::string>& command = args.passed_through();

    // The tree is set up by init at boot; doing it again is harmless, and
    // makes the command work on a system where it was not. A missing
    // controller only matters if a limit needs it (apply says so).
    TRY(setup_cgroup_tree(target.root));
    Cgroup group = TRY(Cgroup::create(target.relative_path(), limits, target.root));
    Fd directory = TRY(group.open_directory());

    SpawnOptions spawn;
    spawn.argv = command;
    for (char** entry = environ; *entry; ++entry)
        spawn.environment.emplace_back(*entry);
    spawn.new_session = false; // stay in the terminal's session: Ctrl-C reaches it
    spawn.cgroup_fd = directory.get();
    pid_t pid = TRY(spawn_process(spawn));
    directory.reset();

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return errno_error(cat("wait for pid ", pid));
    }
    std::string report = cat("keel: cgroup ", target.name, ": ", quoted(command[0]), " (pid ", pid,
                             ") ", describe_wait_status(status), "\n");
    if (auto described = describe_group(group))
        report += *described;
    else
        report += cat("keel: cgroup: ", described.error().to_string(), "\n");
    print_error(report);
    return shell_exit_code(status);
}

CommandResult command_stats(const ParsedArgs& args) {
    CgroupTarget target = TRY(cgroup_target_of(args));
    Cgroup group = TRY(Cgroup::open(target.relative_path(), target.root));
    print(TRY(describe_group(group)));
    return kExitSuccess;
}

CommandResult command_cgroup_kill(const ParsedArgs& args) {
    CgroupTarget target = TRY(cgroup_target_of(args));
    Cgroup group = TRY(Cgroup::open(target.relative_path(), target.root));
    TRY(group.kill());
    auto deadline = std::chrono::steady_clock::now() + kKillWait;
    while (TRY(group.populated())) {
        if (std::chrono::steady_clock::now() >= deadline)
            return error(cat(quoted(group.path()), " still has processes ",
                             std::chrono::seconds(kKillWait).count(), " s after SIGKILL"));
        std::this_thread::sleep_for(kKillPoll);
    }
    print(cat("killed every process in ", group.path(), "\n"));
    return kExitSuccess;
}

CommandResult command_cgroup_remove(const ParsedArgs& args) {
    CgroupTarget target = TRY(cgroup_target_of(args));
    Cgroup group = TRY(Cgroup::open(target.relative_path(), target.root));
    TRY(group.remove());
    return kExitSuccess;
}

const Command kCgroupRun{
    .names = {"run"},
    .summary = "run COMMAND in keel.slice/NAME with MemoryMax=, CPUQuota= and TasksMax= "
               "(systemd's spellings: 512M, 1.5G, infinity; 20%; 64), wait for it and print the "
               "group's counters; exits as COMMAND did",
    .options = {{.name = "--memory-max",
                 .value_name = "SIZE",
                 .type = ValueType::Text,
                 .help = "MemoryMax=: 512M, 1.5G, infinity"},
                {.name = "--cpu-quota",
                 .value_name = "PERCENT",
                 .type = ValueType::Text,
                 .help = "CPUQuota=: 20% is a fifth of one CPU"},
                {.name = "--tasks-max",
                 .value_name = "N",
                 .type = ValueType::Text,
                 .help = "TasksMax=: 64, infinity"},
                kCgroupRootOption},
    .positionals = {kNameArgument},
    .after_dashes = Positional{.name = "COMMAND", .count = Count::OneOrMore, .noun = "command"},
    .run = command_cgroup_run,
};

const Command kStats{
    .names = {"stats"},
    .summary = "print the counters and limits of keel.slice/NAME",
    .options = {kCgroupRootOption},
    .positionals = {kNameArgument},
    .run = command_stats,
};

const Command kCgroupKill{
    .names = {"kill"},
    .summary = "SIGKILL every process in keel.slice/NAME and wait until it is empty",
    .options = {kCgroupRootOption},
    .positionals = {kNameArgument},
    .run = command_cgroup_kill,
};

const Command kCgroupRemove{
    .names = {"remove"},
    .summary = "remove the (empty) group keel.slice/NAME",
    .options = {kCgroupRootOption},
    .positionals = {kNameArgument},
    .run = command_cgroup_remove,
};

} // namespace

const Command kCgroupCommand{
    .names = {"cgroup"},
    .summary = "a cgroup of keel.slice by hand (see `keel cgroup help`)",
    .notes = "Every command takes --root DIR: where cgroup2 is mounted (default /sys/fs/cgroup).\n",
    .subcommands = {&kCgroupRun, &kStats, &kCgroupKill, &kCgroupRemove},
};

} // namespace keel::cli
