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
#include <cstdio>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kUsage = R"(usage: keel cgroup <command> [options]

  run [--memory-max SIZE] [--cpu-quota PERCENT] [--tasks-max N] NAME -- COMMAND...
              run COMMAND in keel.slice/NAME with MemoryMax=, CPUQuota= and
              TasksMax= (systemd's spellings: 512M, 1.5G, infinity; 20%; 64),
              wait for it and print the group's counters; exits as COMMAND did
  stats NAME  print the counters and limits of keel.slice/NAME
  kill NAME   SIGKILL every process in keel.slice/NAME and wait until it is empty
  remove NAME remove the (empty) group keel.slice/NAME

Every command takes --root DIR: where cgroup2 is mounted (default /sys/fs/cgroup).
)";

// How long `kill` waits for the killed processes to be gone.
constexpr auto kKillWait = std::chrono::seconds(5);

int fail(std::string_view message, int status = 1) {
    std::fprintf(stderr, "keel: cgroup: %.*s\n", int(message.size()), message.data());
    return status;
}

void print(FILE* out, const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), out);
}

struct Arguments {
    std::string root = std::string(kCgroupRoot);
    std::string name;
    CgroupLimits limits;
    std::vector<std::string> command;
};

// Parses [options] NAME [-- COMMAND...]; `limits` and `command` only for run.
Result<Arguments> parse_arguments(std::string_view verb, std::span<char*> args) {
    Arguments out;
    bool run = verb == "run";
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--") {
            if (!run)
                return error(cat(verb, " takes no command"));
            for (++i; i < args.size(); ++i)
                out.command.emplace_back(args[i]);
            break;
        }
        if (starts_with(arg, "--")) {
            if (i + 1 >= args.size())
                return error(cat(arg, " needs a value"));
            std::string_view value = args[++i];
            if (arg == "--root") {
                out.root = value;
            } else if (run && arg == "--memory-max") {
                out.limits.memory_max = TRY(parse_memory_max(value));
            } else if (run && arg == "--cpu-quota") {
                out.limits.cpu_quota_percent = TRY(parse_cpu_quota(value));
            } else if (run && arg == "--tasks-max") {
                out.limits.tasks_max = TRY(parse_tasks_max(value));
            } else {
                return error(
                    cat(verb, ": unknown option ", quoted(arg), " (see `keel cgroup help`)"));
            }
            continue;
        }
        if (!out.name.empty())
            return error(cat(verb, ": more than one group name (", quoted(out.name), ", ",
                             quoted(arg), ")", run ? "; put the command after --" : ""));
        out.name = arg;
    }
    if (out.name.empty())
        return error(cat(verb, ": no group name given"));
    if (out.name.find('/') != std::string::npos)
        return error(cat(verb, ": group name ", quoted(out.name), " must not contain `/`"));
    if (run && out.command.empty())
        return error("run: no command given (keel cgroup run NAME -- COMMAND...)");
    return out;
}

std::string relative_path(const Arguments& arguments) {
    return cat(kKeelSlice, "/", arguments.name);
}

// Shell-style exit code of a wait status: the code, or 128 + signal.
int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

int run(const Arguments& arguments) {
    // The tree is set up by init at boot; doing it again is harmless, and
    // makes the command work on a system where it was not. A missing
    // controller only matters if a limit needs it (apply says so).
    if (auto tree = setup_cgroup_tree(arguments.root); !tree)
        return fail(tree.error().to_string());
    auto group = Cgroup::create(relative_path(arguments), arguments.limits, arguments.root);
    if (!group)
        return fail(group.error().to_string());
    auto directory = group->open_directory();
    if (!directory)
        return fail(directory.error().to_string());

    SpawnOptions spawn;
    spawn.argv = arguments.command;
    for (char** entry = environ; *entry; ++entry)
        spawn.environment.emplace_back(*entry);
    spawn.new_session = false; // stay in the terminal's session: Ctrl-C reaches it
    spawn.cgroup_fd = directory->get();
    auto pid = spawn_process(spawn);
    if (!pid)
        return fail(pid.error().to_string());
    directory->reset();

    int status = 0;
    while (::waitpid(*pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fail(Error::from_errno(errno, cat("wait for pid ", *pid)).to_string());
    }
    std::string report = cat("keel: cgroup ", arguments.name, ": ", quoted(arguments.command[0]),
                             " (pid ", *pid, ") ", describe_wait_status(status), "\n");
    if (auto described = describe_group(*group))
        report += *described;
    else
        report += cat("keel: cgroup: ", described.error().to_string(), "\n");
    print(stderr, report);
    return exit_code(status);
}

int stats(const Arguments& arguments) {
    auto group = Cgroup::open(relative_path(arguments), arguments.root);
    if (!group)
        return fail(group.error().to_string());
    auto described = describe_group(*group);
    if (!described)
        return fail(described.error().to_string());
    print(stdout, *described);
    return 0;
}

int kill(const Arguments& arguments) {
    auto group = Cgroup::open(relative_path(arguments), arguments.root);
    if (!group)
        return fail(group.error().to_string());
    if (auto killed = group->kill(); !killed)
        return fail(killed.error().to_string());
    auto deadline = std::chrono::steady_clock::now() + kKillWait;
    for (;;) {
        auto populated = group->populated();
        if (!populated)
            return fail(populated.error().to_string());
        if (!*populated)
            break;
        if (std::chrono::steady_clock::now() >= deadline)
            return fail(cat(quoted(group->path()), " still has processes ",
                            std::chrono::seconds(kKillWait).count(), " s after SIGKILL"));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    print(stdout, cat("killed every process in ", group->path(), "\n"));
    return 0;
}

int remove(const Arguments& arguments) {
    auto group = Cgroup::open(relative_path(arguments), arguments.root);
    if (!group)
        return fail(group.error().to_string());
    if (auto removed = group->remove(); !removed)
        return fail(removed.error().to_string());
    return 0;
}

} // namespace

int command_cgroup(std::span<char*> args) {
    std::string_view verb = args.empty() ? std::string_view() : std::string_view(args[0]);
    if (verb.empty() || verb == "help" || verb == "--help" || verb == "-h") {
        print(verb.empty() ? stderr : stdout, std::string(kUsage));
        return verb.empty() ? 2 : 0;
    }
    if (verb != "run" && verb != "stats" && verb != "kill" && verb != "remove")
        return fail(cat("unknown command ", quoted(verb), " (see `keel cgroup help`)"), 2);
    auto arguments = parse_arguments(verb, args.subspan(1));
    if (!arguments)
        return fail(arguments.error().to_string(), 2);
    if (verb == "run")
        return run(*arguments);
    if (verb == "stats")
        return stats(*arguments);
    if (verb == "kill")
        return kill(*arguments);
    return remove(*arguments);
}

} // namespace keel
