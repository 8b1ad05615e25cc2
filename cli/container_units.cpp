// `keel run -d` under init (see container_units.h): the transient unit's
// words and text, starting it through init's control socket and waiting
// until it is active, and finding a container's unit again for logs, stop
// and rm.
#include "cli/container_units.h"

#include "base/strings.h"
#include "base/sys.h"
#include "cli/docker_commands.h"
#include "cli/unit_commands.h"
#include "control/control.h"
#include "init/quadlet.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::cli {

namespace {

namespace ct = containers;

constexpr std::string_view kDefaultRuntimeUnitDirectory = "/run/keel/units";
// Journal lines shown when a detached container's unit fails to start.
constexpr uint32_t kFailureLogLines = 20;
// A keeper's log shows as many lines as init's journal does by default.
constexpr uint32_t kDefaultLogLines = 50;

// The options keel run -d itself sets in the unit's command (--restart is
// kept unless it is `no`: the unit's keel run counts the restarts).
constexpr std::string_view kReplacedOptions[] = {"--detach", "--rm",      "--replace",
                                                 "--name",   "--restart", "--pull"};

// Where init reads transient units from; nullopt when init does not answer.
std::optional<std::string> runtime_unit_directory() {
    control::Request request;
    request.mutable_status();
    Result<control::Response> response = call_init(request);
    if (!response || !response->ok())
        return std::nullopt;
    const std::string& directory = response->status().runtime_unit_directory();
    return directory.empty() ? std::string(kDefaultRuntimeUnitDirectory) : directory;
}

Result<void> daemon_reload() {
    control::Request request;
    request.mutable_daemon_reload();
    TRY_CTX(ask_init(request), "daemon-reload");
    return {};
}

// A unit job, answered when it has finished.
Result<void> unit_job(control::JobType job, const std::string& unit) {
    control::Request request;
    request.mutable_unit()->set_job(job);
    request.mutable_unit()->set_unit(unit);
    TRY(ask_init(request));
    return {};
}

// The unit as init has it, with its last `log_lines` journal lines; nullopt
// when init knows no such unit.
std::optional<control::Response> unit_status(const std::string& unit, uint32_t log_lines) {
    control::Request request;
    request.mutable_unit_status()->set_unit(unit);
    request.mutable_unit_status()->set_log_lines(log_lines);
    Result<control::Response> response = call_init(request);
    if (!response || !response->ok() || response->units_size() == 0 ||
        response->units(0).load_state() != control::LOAD_STATE_LOADED)
        return std::nullopt;
    return std::move(*response);
}

std::string restart_setting(ct::RestartPolicy policy) {
    switch (policy) {
    case ct::RestartPolicy::No:
        return "no";
    case ct::RestartPolicy::OnFailure:
        return "on-failure";
    case ct::RestartPolicy::Always:
    case ct::RestartPolicy::UnlessStopped:
        return "always";
    }
    return "no";
}

// A path as a unit file value that is not split into words: `%` doubled.
std::string unit_path_value(std::string_view path) {
    std::string out;
    for (char c : path)
        out += c == '%' ? std::string("%%") : std::string(1, c);
    return out;
}

// Writes `text` to `path` whole or not at all.
Result<void> write_unit_file(const std::string& path, std::string_view text) {
    std::string temporary = path + ".tmp";
    TRY(write_new_file(temporary, text, 0644));
    if (::rename(temporary.c_str(), path.c_str()) < 0) {
        Error failed = Error::from_errno(errno, cat("rename ", quoted(temporary)));
        ::unlink(temporary.c_str());
        return std::unexpected(std::move(failed));
    }
    return {};
}

// Takes the unit away after a failed start: stopped (no restart), its file
// gone, init reloaded. Errors are not the user's news here.
void discard_unit(const std::string& unit, const std::string& path) {
    (void)unit_job(control::JOB_TYPE_STOP, unit);
    ::unlink(path.c_str());
    (void)daemon_reload();
}

// --restart (any but no): keel run restarts the same container itself,
// counting (inspect's RestartCount), and not once it was stopped or
// killed on purpose; the unit neither restarts it (Restart=no) nor
// removes it (--rm), so it stays exited once keel run has ended.
bool counts_restarts(const ParsedArgs& args) {
    std::optional<std::string_view> text = args.value("--restart");
    return text && *text != "no";
}

std::string binary_path() {
    // A keel run re-executed sealed knows where it came from.
    if (const char* binary = std::getenv("KEEL_RUN_BINARY"))
        return binary;
    return keel_binary_path();
}

} // namespace

std::string transient_unit_name(std::string_view container_name) {
    return cat("container-", container_name, ".service");
}

std::vector<std::string> supervised_run_words(std::string_view binary,
                                              std::string_view container_name,
                                              const ParsedArgs& args) {
    bool counted = counts_restarts(args);
    std::vector<std::string> words = {std::string(binary), "run", "--replace"};
    // Kept once exited, as Docker keeps it (start runs it again), unless
    // the user asked for --rm.
    if (!counted && args.flag("--rm"))
        words.emplace_back("--rm");
    words.push_back(cat("--name=", container_name));
    words.emplace_back("--sdnotify=conmon");
    // The keel run that made the unit has pulled the image.
    words.emplace_back("--pull=never");
    if (!args.value("--store"))
        if (const char* store = std::getenv("KEEL_IMAGE_STORE"); store && *store)
            words.push_back(cat("--store=", store));
    for (const ParsedItem& item : args.items()) {
        if (item.positional) {
            words.push_back(*item.value);
            continue;
        }
        if (!item.option)
            continue;
        std::string_view name = item.option->name;
        bool kept = counted && name == "--restart";
        if (!kept && std::ranges::find(kReplacedOptions, name) != std::end(kReplacedOptions))
            continue;
        if (!item.value) {
            words.emplace_back(name);
        } else if (name == "--env" && item.value->find('=') == std::string::npos) {
            if (const char* value = std::getenv(item.value->c_str()))
                words.push_back(cat("--env=", *item.value, "=", value));
        } else {
            words.push_back(cat(name, "=", *item.value));
        }
    }
    return words;
}

// How long init waits past a container's stop timeout before it kills
// what is left of the unit (keel run's own SIGKILL comes first).
constexpr uint64_t kStopGraceSeconds = 60;

std::string transient_unit_text(const TransientUnit& unit) {
    std::string text =
        cat("# Written by `", unit.written_by, "`: the container ", unit.container_name,
            ".\n# `keel rm -f ", unit.container_name, "` stops it and removes this file.\n",
            "[Unit]\nDescription=container ", unit.container_name, " (", unit.written_by, ")\n\n",
            "[Service]\nType=notify\nNotifyAccess=all\nKillMode=mixed\nDelegate=yes\n");
    if (!unit.working_directory.empty())
        text += cat("WorkingDirectory=", unit_path_value(unit.working_directory), "\n");
    text += cat("ExecStart=", unit_command_text(unit.exec_start), "\n");
    text += cat("TimeoutStopSec=", uint64_t(unit.stop_timeout_seconds) + kStopGraceSeconds, "\n");
    text += cat("Restart=", restart_setting(unit.restart), "\n");
    return text;
}

namespace {

// Writes the transient unit `description` into `directory`, starts it and
// waits until it is active. When it fails, its last journal lines go to
// stderr, the unit is stopped and its file removed, and the error has
// status 125.
std::expected<void, Failure> start_transient_unit(const std::string& directory,
                                                  const TransientUnit& description) {
    const std::string& name = description.container_name;
    std::string unit = transient_unit_name(name);
    std::string path = cat(directory, "/", unit);
    TRY_CTX(make_directories(directory), "transient unit");
    TRY_CTX(write_unit_file(path, transient_unit_text(description)), "transient unit");
    if (Result<void> reloaded = daemon_reload(); !reloaded) {
        ::unlink(path.c_str());
        return std::unexpected(Failure(std::move(reloaded).error()));
    }
    // The start job is done once keel run said READY=1 (the container
    // runs); a container that has ended again since has started all the same.
    Result<void> start = unit_job(control::JOB_TYPE_START, unit);
    if (start)
        return {};
    std::optional<control::Response> status = unit_status(unit, kFailureLogLines);
    std::string lines;
    if (status)
        for (const control::LogEntry& entry : status->entries())
            lines += cat(entry.unit(), ": ", entry.message(), "\n");
    std::fputs(lines.c_str(), stderr);
    discard_unit(unit, path);
    std::string why = start.error().to_string();
    return std::unexpected(
        Failure(Error::message(cat("container ", quoted(name), ": ", unit, " failed: ", why)),
                kExitDockerError));
}

std::string working_directory() {
    char cwd[4096] = {};
    return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) : std::string();
}

} // namespace

std::optional<CommandResult> run_detached_under_init(const ParsedArgs& args,
                                                     const ct::RunOptions& options) {
    std::optional<std::string> directory = runtime_unit_directory();
    if (!directory)
        return std::nullopt;
    auto started = [&]() -> CommandResult {
        std::string state_root = ct::run_root(options.state_root);
        std::string name = options.name.empty() ? TRY(ct::generate_name()) : options.name;
        if (options.name_clash == ct::NameClash::Refuse) {
            Result<ct::RunContainer> same = ct::find_container(state_root, name);
            if (same && same->name == name)
                return std::unexpected(
                    Failure(Error::from_errno(EEXIST, cat("a container named ", quoted(name),
                                                          " exists (", same->id.substr(0, 12),
                                                          "); remove it or give --replace")),
                            kExitDockerError));
        }
        std::string unit = transient_unit_name(name);
        TRY(start_transient_unit(
            *directory, {.restart = counts_restarts(args) ? ct::RestartPolicy::No : options.restart,
                         .working_directory = working_directory(),
                         .container_name = name,
                         .exec_start = supervised_run_words(binary_path(), name, args),
                         .stop_timeout_seconds = options.stop_timeout_seconds}));
        Result<ct::RunContainer> container = ct::find_container(state_root, name);
        if (!container)
            return std::unexpected(Failure(
                std::move(container).error().wrap(cat(unit, " is active, but its container")),
                kExitDockerError));
        print(cat(container->id, "\n"));
        return kExitSuccess;
    };
    return started();
}

std::vector<std::string> supervised_start_words(std::string_view binary,
                                                std::string_view given_root,
                                                std::string_view container_id) {
    std::vector<std::string> words = {std::string(binary), "container", "start", "--attach"};
    if (!given_root.empty())
        words.push_back(cat("--root=", given_root));
    words.emplace_back(container_id);
    return words;
}

std::optional<CommandResult> start_under_init(const std::string& given_root,
                                              const ct::RunContainer& container) {
    std::optional<std::string> directory = runtime_unit_directory();
    if (!directory)
        return std::nullopt;
    // A unit left from its last run (it ended by itself) is replaced.
    std::string unit = transient_unit_name(container.name);
    if (unit_status(unit, 0))
        (void)unit_job(control::JOB_TYPE_STOP, unit);
    std::expected<void, Failure> started = start_transient_unit(
        *directory, {.restart = ct::RestartPolicy::No,
                     .working_directory = "/",
                     .container_name = container.name,
                     .exec_start = supervised_start_words(binary_path(), given_root, container.id),
                     .stop_timeout_seconds = container.stop_timeout,
                     .written_by = "keel container start"});
    if (!started)
        return std::unexpected(std::move(started).error());
    return kExitSuccess;
}

Result<bool> end_transient_unit(std::string_view container_name) {
    std::optional<std::string> directory = runtime_unit_directory();
    if (!directory)
        return false;
    std::string unit = transient_unit_name(container_name);
    std::string path = cat(*directory, "/", unit);
    if (!path_exists(path))
        return false;
    TRY_CTX(unit_job(control::JOB_TYPE_STOP, unit), cat("stop ", unit));
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted(path)));
    TRY(daemon_reload());
    return true;
}

namespace {

// The unit that ran container `name`: keel run -d's container-NAME.service,
// else NAME.service (a NAME.container unit's).
Result<std::string> unit_of_container(const std::string& name) {
    for (const std::string& unit : {transient_unit_name(name), cat(name, ".service")})
        if (unit_status(unit, 0))
            return unit;
    return errno_error(ENOENT, cat("container ", quoted(name), " runs under no unit (neither ",
                                   transient_unit_name(name), " nor ", name,
                                   ".service): its output was not kept"));
}

// Copies `file` from `offset` to its current end onto stdout; the new offset.
Result<off_t> copy_log(const Fd& file, off_t offset) {
    char buffer[64 * 1024];
    for (;;) {
        ssize_t got = ::pread(file.get(), buffer, sizeof buffer, offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno_error("read the container's log");
        if (got == 0)
            return offset;
        TRY(write_all(STDOUT_FILENO, std::string_view(buffer, size_t(got))));
        offset += got;
    }
}

// `keel logs` of a container keel run -d's keeper keeps (no init): the
// last `lines` lines of its log, then (following) what it adds until the
// container has ended or is removed.
Result<void> show_container_log(const std::string& state_root, const ct::RunContainer& container,
                                uint32_t lines, Follow follow) {
    std::string path = ct::container_log_of(state_root, container.id);
    Fd file = TRY(open_file(path, O_RDONLY | O_CLOEXEC));
    struct stat status {};
    if (::fstat(file.get(), &status) < 0)
        return errno_error(cat("stat ", quoted(path)));
    off_t offset = TRY(start_of_last_lines(file.get(), status.st_size, lines));
    offset = TRY(copy_log(file, offset));
    if (follow == Follow::No)
        return {};
    // New lines are printed as the keeper writes them (inotify), and the
    // container's state looked at once a second; without inotify, the log
    // is read every 200 ms.
    Fd changes(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (changes && ::inotify_add_watch(changes.get(), path.c_str(), IN_MODIFY) < 0)
        changes = Fd();
    // The runtime may say the process is gone while the record still says
    // it runs: the keeper writing out what is left (it records the end
    // then), or gone with the machine (a crash: nobody records it before
    // `keel container start --boot`). The second is told by the time.
    using Clock = std::chrono::steady_clock;
    constexpr auto kKeeperGrace = std::chrono::seconds(3);
    constexpr Clock::time_point kNotSeen = Clock::time_point::max();
    Clock::time_point unrecorded_end = kNotSeen;
    for (;;) {
        Result<ct::RunContainer> now = ct::find_container(state_root, container.id);
        bool running = now && now->state.pid > 0 && !now->state.exit_code;
        if (!running || ct::container_status(state_root, *now) != "exited")
            unrecorded_end = kNotSeen;
        else if (unrecorded_end == kNotSeen)
            unrecorded_end = Clock::now();
        else if (Clock::now() - unrecorded_end >= kKeeperGrace)
            running = false;
        if (!running) {
            // What it wrote last, before it ended.
            TRY(copy_log(file, offset));
            return {};
        }
        if (changes) {
            pollfd wait{changes.get(), POLLIN, 0};
            if (::poll(&wait, 1, 1000) > 0) {
                char events[4096];
                while (::read(changes.get(), events, sizeof events) > 0) {
                }
            }
        } else {
            ::usleep(200 * 1000);
        }
        offset = TRY(copy_log(file, offset));
    }
}

CommandResult command_container_logs(const ParsedArgs& args) {
    std::string_view reference = *args.positional("CONTAINER");
    auto root = args.value("--root");
    std::string state_root = ct::run_root(root ? std::string(*root) : std::string());
    auto lines = args.number("--lines");
    uint32_t last = lines ? std::max<uint32_t>(uint32_t(*lines), 1) : 0;
    Follow follow = args.flag("--follow") ? Follow::Yes : Follow::No;
    // A name or an id of a container that is there; a name also while its
    // unit restarts it (and it has no record).
    std::string name(reference);
    if (Result<ct::RunContainer> container = ct::find_container(state_root, reference)) {
        if (path_exists(ct::container_log_of(state_root, container->id))) {
            TRY(show_container_log(state_root, *container, last ? last : kDefaultLogLines, follow));
            return kExitSuccess;
        }
        name = container->name;
    }
    std::string unit = TRY(unit_of_container(name));
    TRY(show_logs({.unit = unit, .lines = last, .follow = follow}));
    return kExitSuccess;
}

} // namespace

const Command kContainerLogsCommand{
    .names = {"logs"},
    .summary = "a container's output: the journal of the unit that runs it",
    .options = {{.name = "--follow", .short_name = 'f', .help = "keep printing new lines"},
                {.name = "--lines",
                 .short_name = 'n',
                 .value_name = "N",
                 .type = ValueType::Number,
                 .max = 100000,
                 .expected = "a number of lines",
                 .help = "the last N lines first (default 50)"},
                {.name = "--root",
                 .value_name = "DIR",
                 .type = ValueType::Text,
                 .shown = Shown::InOptionList,
                 .help = "where containers are kept (default /run/keel, with their records in "
                         "/var/lib/keel/records, which outlive a reboot)"}},
    .positionals = {{.name = "CONTAINER", .noun = "container"}},
    .notes = "The unit is container-NAME.service (keel run -d under init) or NAME.service (a "
             "NAME.container unit). A container keel run -d started without init has its "
             "output in its directory (container.log), which its keeper writes: that is shown "
             "instead, and followed until the container has ended.",
    .run = command_container_logs,
};

} // namespace keel::cli
