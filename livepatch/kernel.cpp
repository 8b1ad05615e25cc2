// The kernel's live patch state as sysfs and procfs show it:
// /sys/kernel/livepatch/<patch>/{enabled,transition,<object>/patched},
// /sys/module/<name>/taint, /proc/<pid>/task/<tid>/patch_state and
// /proc/sys/kernel/tainted. Reading only; the operations are in patches.cpp.
#include "livepatch/livepatch.h"

#include "base/strings.h"
#include "base/sys.h"
#include "kmod/kmod.h"

#include <algorithm>
#include <poll.h>
#include <set>
#include <sys/utsname.h>

namespace keel::livepatch {

namespace {

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1\n" -> 1; anything unreadable is nullopt (the entry may vanish while we look).
std::optional<int> read_flag(const std::string& path) {
    auto text = read_file(path);
    if (!text)
        return std::nullopt;
    std::string_view value = trim(*text);
    if (value == "1")
        return 1;
    if (value == "0")
        return 0;
    if (value == "-1")
        return -1;
    return std::nullopt;
}

bool is_livepatch_module(const Kernel& kernel, std::string_view name) {
    auto taint = read_file(cat(kernel.module_directory, "/", name, "/taint"));
    return taint && taint->find('K') != std::string::npos;
}

} // namespace

Kernel::Kernel() {
    insert = [](int fd, const std::string& parameters, const std::string& what) -> Result<void> {
        ModuleLoad outcome = TRY(load_module_fd(fd, parameters, what));
        if (outcome == ModuleLoad::AlreadyLoaded)
            return errno_error(EEXIST, cat("load module ", quoted(what)));
        if (outcome == ModuleLoad::NoDevice)
            return errno_error(ENODEV, cat("load module ", quoted(what)));
        return {};
    };
    remove = [](const std::string& name) { return delete_module(name); };
    write = [](const std::string& path, std::string_view value) {
        return write_existing_file(path, value);
    };
    sleep = [](std::chrono::milliseconds duration) { ::poll(nullptr, 0, int(duration.count())); };
    now_usec = [] { return monotonic_usec(); };
}

std::string Kernel::running_release() const {
    if (!release.empty())
        return release;
    struct utsname names {};
    ::uname(&names);
    return names.release;
}

std::string Kernel::patch_path(std::string_view name, std::string_view file) const {
    return file.empty() ? cat(livepatch_directory, "/", name)
                        : cat(livepatch_directory, "/", name, "/", file);
}

std::vector<BlockingTask> blocking_tasks(const Kernel& kernel, int target_state, size_t* total) {
    std::vector<BlockingTask> blocking;
    size_t seen = 0;
    auto processes = list_directory(kernel.proc_directory);
    if (processes) {
        for (const std::string& pid : *processes) {
            if (!all_digits(pid))
                continue;
            std::string task_directory = cat(kernel.proc_directory, "/", pid, "/task");
            auto tasks = list_directory(task_directory);
            if (!tasks)
                continue; // exited meanwhile
            for (const std::string& tid : *tasks) {
                if (!all_digits(tid))
                    continue;
                std::string base = cat(task_directory, "/", tid);
                auto state = read_flag(base + "/patch_state");
                if (!state)
                    continue;
                ++seen;
                if (*state == -1 || *state == target_state)
                    continue;
                BlockingTask task;
                task.pid = pid_t(parse_u64(pid).value_or(0));
                task.tid = pid_t(parse_u64(tid).value_or(0));
                task.command = std::string(trim(read_file(base + "/comm").value_or("?")));
                blocking.push_back(std::move(task));
            }
        }
    }
    if (total)
        *total = seen;
    return blocking;
}

Result<std::unique_ptr<PatchStatus>> patch_status(const Kernel& kernel, std::string_view name) {
    if (!is_valid_module_name(name))
        return error(cat(quoted(name), " is not a valid module name"));
    PatchStatus status;
    status.name = std::string(name);
    auto taint = read_file(cat(kernel.module_directory, "/", name, "/taint"));
    if (taint)
        status.taint = std::string(trim(*taint));
    std::string directory = kernel.patch_path(name);
    auto enabled = read_flag(directory + "/enabled");
    if (!enabled) {
        // No sysfs entry: a disabled patch (the kernel frees the entry once
        // the transition back completes) or no live patch at all.
        if (!taint || status.taint.find('K') == std::string::npos)
            return nullptr;
        status.state = PatchState::Disabled;
        return std::make_unique<PatchStatus>(std::move(status));
    }
    bool in_transition = read_flag(directory + "/transition").value_or(0) == 1;
    status.state = *enabled == 1 ? (in_transition ? PatchState::Patching : PatchState::Enabled)
                                 : (in_transition ? PatchState::Unpatching : PatchState::Disabled);
    if (auto entries = list_directory(directory)) {
        for (const std::string& entry : *entries) {
            auto patched = read_flag(cat(directory, "/", entry, "/patched"));
            if (patched)
                status.objects.push_back({entry, *patched == 1});
        }
    }
    if (in_transition) {
        size_t total = 0;
        size_t blocking = blocking_tasks(kernel, *enabled == 1 ? 1 : 0, &total).size();
        status.tasks_total = total;
        status.tasks_transitioned = total - blocking;
    }
    return std::make_unique<PatchStatus>(std::move(status));
}

Result<std::vector<PatchStatus>> loaded_patches(const Kernel& kernel) {
    std::set<std::string> names;
    if (path_exists(kernel.livepatch_directory))
        for (const std::string& name : TRY(list_directory(kernel.livepatch_directory)))
            names.insert(name);
    // Disabled patches have no sysfs entry left; their modules carry the K taint.
    if (auto modules = list_directory(kernel.module_directory))
        for (const std::string& name : *modules)
            if (is_livepatch_module(kernel, name))
                names.insert(name);
    std::vector<PatchStatus> patches;
    for (const std::string& name : names) {
        if (!is_valid_module_name(name))
            continue;
        if (auto status = TRY(patch_status(kernel, name)))
            patches.push_back(std::move(*status));
    }
    return patches;
}

Result<uint64_t> kernel_taint(const Kernel& kernel) {
    std::string path = cat(kernel.proc_directory, "/sys/kernel/tainted");
    std::string text = TRY(read_file(path));
    auto value = parse_u64(trim(text));
    if (!value)
        return error(cat(quoted(path), ": not a number"));
    return *value;
}

std::string taint_letters(uint64_t taint) {
    // kernel/panic.c's taint_flags, bit 0 first.
    static constexpr std::string_view letters = "PFSRMBUDAWCIOELKXT";
    std::string out;
    for (size_t bit = 0; bit < letters.size(); ++bit)
        if (taint & (uint64_t(1) << bit))
            out += letters[bit];
    return out;
}

} // namespace keel::livepatch
