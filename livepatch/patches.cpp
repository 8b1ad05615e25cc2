// Live patch operations: check a module file, load it and follow the
// transition (reversing it on timeout), disable, enable (by reloading: the
// kernel cannot re-enable a disabled patch), unload, and the installed set
// per kernel release. The kernel is reached only through `Kernel`, so the
// unit tests can play it.
#include "livepatch/livepatch.h"

#include "base/digest.h"
#include "base/strings.h"
#include "base/sys.h"
#include "kmod/kmod.h"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace keel::livepatch {

namespace {

constexpr uint64_t kMaxModuleFileSize = uint64_t(64) << 20;
constexpr size_t kMaxDecompressedSize = size_t(256) << 20;
// Removing a module right after its patch was disabled can race with the
// kernel dropping its last reference (klp_free_patch_finish): retry briefly.
constexpr auto kRemoveRetryFor = std::chrono::milliseconds(3000);
// How often people hear which tasks still block a transition.
constexpr uint64_t kReportEveryUsec = 2'000'000;
constexpr size_t kTasksNamed = 8;

void say(const Options& options, std::string_view line) {
    if (options.report)
        options.report(line);
}

uint16_t native_machine() {
#if defined(__x86_64__)
    return 62;
#elif defined(__aarch64__)
    return 183;
#elif defined(__riscv)
    return 243;
#elif defined(__s390x__)
    return 22;
#elif defined(__powerpc64__)
    return 21;
#else
    return 0; // unknown: the kernel checks it
#endif
}

// A module file read once: the descriptor finit_module gets and the bytes
// the checks saw.
struct ModuleFile {
    Fd fd;
    std::string bytes;
};

Result<ModuleFile> read_module_file(const std::string& path) {
    ModuleFile file;
    file.fd = TRY(open_file(path, O_RDONLY));
    struct stat status {};
    if (::fstat(file.fd.get(), &status) < 0)
        return errno_error(cat("stat ", quoted(path)));
    if (!S_ISREG(status.st_mode))
        return error(cat(quoted(path), " is not a regular file"));
    if (uint64_t(status.st_size) > kMaxModuleFileSize)
        return error(cat(quoted(path), " has ", status.st_size, " bytes, more than a module may (",
                         kMaxModuleFileSize, ")"));
    file.bytes = TRY_CTX(read_all(file.fd.get()), cat("read ", quoted(path)));
    if (file.bytes.empty())
        return error(cat(quoted(path), " is empty"));
    return file;
}

// A kernel release names a directory of the installed set.
bool is_valid_release(std::string_view release) {
    if (release.empty() || release.size() > 64 || release == "." || release == "..")
        return false;
    for (char c : release)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '~'))
            return false;
    return true;
}

std::string signature_path(const std::string& module_path) {
    return module_path + std::string(kSignatureSuffix);
}

// What inspect() computes beyond the checks: the file's digest is for
// people (info) and costs a pass over the file, which load does not need.
enum class Digest { Compute, Skip };

Inspection inspect(const std::string& path, const Options& options, ReleaseCheck release,
                   ModuleFile* keep, Digest digest = Digest::Skip) {
    Inspection inspection;
    inspection.path = path;
    auto add = [&](std::string name, bool passed, std::string detail) {
        inspection.checks.push_back({std::move(name), passed, std::move(detail)});
        return passed;
    };

    auto file = read_module_file(path);
    if (!add("file", bool(file),
             file ? cat(file->bytes.size(), " bytes") : file.error().to_string()))
        return inspection;
    inspection.file_size = file->bytes.size();
    if (digest == Digest::Compute)
        inspection.sha256 = sha256_hex(file->bytes);

    auto signature = check_signature(file->bytes, signature_path(path), options.signing);
    if (!signature)
        add("signature", false, signature.error().to_string());
    else if (!signature->configured)
        add("signature", true,
            cat("not checked: signing is not configured (no keys in ",
                quoted(options.signing.trusted_keys_directory), ")"));
    else
        add("signature", true, cat("valid, key ", signature->key, " (", signature->key_id, ")"));

    std::string decompressed;
    std::string_view image_bytes = file->bytes;
    if (detect_compression(file->bytes) != Compression::None) {
        inspection.compressed = true;
        auto plain = decompress(file->bytes, kMaxDecompressedSize);
        if (!plain) {
            add("module", false, cat("cannot decompress: ", plain.error().to_string()));
            return inspection;
        }
        decompressed = std::move(*plain);
        image_bytes = decompressed;
    }
    auto image = parse_module_image(image_bytes);
    if (!add("module", bool(image),
             image ? cat("kernel module ", quoted(image->name)) : image.error().to_string()))
        return inspection;
    inspection.image = std::move(*image);
    const ModuleImage& module = *inspection.image;

    if (module.is_livepatch())
        add("livepatch", true, "livepatch=Y");
    else if (module.livepatch)
        add("livepatch", false, cat("modinfo says livepatch=", *module.livepatch, ", not Y"));
    else
        add("livepatch", false, "modinfo has no livepatch=Y: a plain module, not a live patch");

    uint16_t native = native_machine();
    if (native == 0 || module.machine == native)
        add("architecture", true, machine_name(module.machine));
    else
        add("architecture", false,
            cat("built for ", machine_name(module.machine), ", this machine is ",
                machine_name(native)));

    std::string_view built_for = vermagic_release(module.vermagic);
    if (module.vermagic.empty()) {
        add("vermagic", false, "the module has no vermagic");
    } else if (release == ReleaseCheck::AnyKernel) {
        bool usable = is_valid_release(built_for);
        add("vermagic", usable,
            usable ? cat("built for ", built_for)
                   : cat("the release ", quoted(built_for), " cannot name a directory"));
    } else {
        std::string running = options.kernel.running_release();
        if (built_for == running)
            add("vermagic", true, cat(trim(module.vermagic), " (the running kernel)"));
        else
            add("vermagic", false,
                cat("built for ", quoted(built_for), ", the running kernel is ", quoted(running),
                    " (vermagic ", quoted(trim(module.vermagic)), ")"));
    }
    if (keep)
        *keep = std::move(*file);
    return inspection;
}

Error refusal(const Inspection& inspection) {
    const Check* failed = inspection.first_failure();
    return Error::message(cat("refused ", quoted(inspection.path), ": ", failed->name,
                              " check failed: ", failed->detail, "; the kernel was not touched"));
}

// Writes `data` so that `path` is either the old file or the whole new one,
// and survives a power cut (the installed set lives on STATE).
Result<void> write_file_atomically(const std::string& path, std::string_view data, mode_t mode) {
    std::string temporary = cat(path, ".tmp.", ::getpid());
    {
        Fd fd = TRY(open_file(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode));
        TRY_CTX(write_all(fd.get(), data), cat("write ", quoted(temporary)));
        if (::fsync(fd.get()) < 0)
            return errno_error(cat("fsync ", quoted(temporary)));
    }
    if (::rename(temporary.c_str(), path.c_str()) < 0) {
        int code = errno;
        ::unlink(temporary.c_str());
        return errno_error(code, cat("rename ", quoted(temporary), " to ", quoted(path)));
    }
    std::string directory = path.substr(0, path.rfind('/'));
    if (auto dir = open_file(directory.empty() ? "/" : directory, O_RDONLY | O_DIRECTORY))
        ::fsync(dir->get());
    return {};
}

Result<void> remove_file(const std::string& path) {
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        return errno_error(cat("remove ", quoted(path)));
    return {};
}

std::string cache_path(const Options& options, std::string_view name, std::string_view suffix) {
    return cat(options.run_directory, "/", name, suffix);
}

std::string installed_path(const Options& options, std::string_view release,
                           std::string_view name) {
    return cat(options.install_root, "/", release, "/", name, ".ko");
}

bool module_loaded(const Kernel& kernel, std::string_view name) {
    return path_exists(cat(kernel.module_directory, "/", name, "/initstate")) ||
           path_exists(cat(kernel.module_directory, "/", name, "/taint"));
}

// The module's depends=, loaded from the running kernel's modules.dep with
// kmod/kmod.h's ordering (and decompression) through the kernel seam.
Result<void> load_dependencies(const ModuleImage& image, const Options& options) {
    if (image.depends.empty())
        return {};
    const Kernel& kernel = options.kernel;
    auto index = TRY_CTX(ModuleIndex::load(kernel.running_release()),
                         cat("dependencies of ", quoted(image.name)));
    for (const std::string& dependency : image.depends) {
        if (index.is_builtin(dependency))
            continue;
        auto order = TRY_CTX(index.load_order(dependency), cat("dependency ", quoted(dependency)));
        for (const ModuleEntry* entry : order) {
            if (module_loaded(kernel, entry->name))
                continue;
            std::string path = cat(index.directory(), "/", entry->path);
            Fd fd = TRY_CTX(open_file(path, O_RDONLY), cat("dependency ", quoted(dependency)));
            auto inserted = kernel.insert(fd.get(), "", path);
            if (!inserted && inserted.error().code() != EEXIST)
                return std::unexpected(
                    std::move(inserted.error()).wrap(cat("dependency ", quoted(dependency))));
            say(options, cat("loaded dependency ", quoted(entry->name)));
        }
    }
    return {};
}

// Checks done: the dependencies and the module go into the kernel.
Result<void> insert_checked(const Inspection& inspection, ModuleFile& file,
                            const std::string& parameters, const Options& options) {
    const ModuleImage& image = *inspection.image;
    if (auto status = TRY(patch_status(options.kernel, image.name)))
        return error(cat("a live patch named ", quoted(image.name), " is already loaded (",
                         describe(status->state), "); unload it first"));
    if (module_loaded(options.kernel, image.name))
        return error(cat("a module named ", quoted(image.name), " is already loaded"));
    TRY(load_dependencies(image, options));
    auto inserted = options.kernel.insert(file.fd.get(), parameters, inspection.path);
    if (!inserted) {
        if (inserted.error().code() == EEXIST)
            return error(cat("a module named ", quoted(image.name), " is already loaded"));
        return std::unexpected(
            std::move(inserted.error()).wrap("the kernel refused it (its log says why)"));
    }
    return {};
}

std::string describe_tasks(const std::vector<BlockingTask>& tasks) {
    std::string out;
    for (size_t i = 0; i < tasks.size() && i < kTasksNamed; ++i)
        out += cat(i ? ", " : "", tasks[i].tid, " (", tasks[i].command, ")");
    if (tasks.size() > kTasksNamed)
        out += cat(" and ", tasks.size() - kTasksNamed, " more");
    return out;
}

enum class Transition { Complete, TimedOut };

// Polls /sys/kernel/livepatch/<name>/transition until it reads 0 or the
// entry is gone (a disabled patch is freed once the transition completes),
// reporting the tasks that still block it every few seconds.
Transition follow_transition(std::string_view name, const Options& options,
                             std::vector<BlockingTask>* blocking) {
    const Kernel& kernel = options.kernel;
    uint64_t start = kernel.now_usec();
    uint64_t deadline = start + uint64_t(options.timeout.count()) * 1000;
    uint64_t next_report = start + kReportEveryUsec / 2;
    auto interval = std::chrono::milliseconds(2);
    std::string transition_path = kernel.patch_path(name, "transition");
    for (;;) {
        auto text = read_file(transition_path);
        // Gone: a disabled patch is freed as its transition completes.
        if ((!text && text.error().code() == ENOENT) || (text && trim(*text) == "0"))
            return Transition::Complete;
        uint64_t now = kernel.now_usec();
        bool report = now >= next_report;
        if (now >= deadline || report) {
            auto enabled = read_file(kernel.patch_path(name, "enabled"));
            int target = enabled && trim(*enabled) == "0" ? 0 : 1;
            size_t total = 0;
            std::vector<BlockingTask> tasks = blocking_tasks(kernel, target, &total);
            if (now >= deadline) {
                if (blocking)
                    *blocking = std::move(tasks);
                return Transition::TimedOut;
            }
            std::string progress =
                tasks.empty() ? cat("all ", total,
                                    " tasks under /proc have switched; the kernel completes "
                                    "the transition at its next check (once a second; idle "
                                    "tasks are not under /proc)")
                              : cat(tasks.size(), " of ", total,
                                    " tasks still to switch: ", describe_tasks(tasks));
            say(options, cat("patch ", quoted(name), ": ", target ? "patching" : "unpatching",
                             " for ", format_seconds(now - start), " s; ", progress));
            next_report = now + kReportEveryUsec;
        }
        kernel.sleep(interval);
        // 2, 4, 8, ... ms up to 20: quick transitions are seen quickly,
        // slow ones cost one sysfs read every 20 ms.
        interval = std::min(interval * 2, std::chrono::milliseconds(20));
    }
}

Result<void> write_knob(const Kernel& kernel, std::string_view name, std::string_view knob,
                        std::string_view value) {
    return kernel.write(kernel.patch_path(name, knob), value);
}

Result<void> remove_module(std::string_view name, const Options& options) {
    const Kernel& kernel = options.kernel;
    uint64_t deadline = kernel.now_usec() + uint64_t(kRemoveRetryFor.count()) * 1000;
    for (;;) {
        auto removed = kernel.remove(std::string(name));
        if (removed)
            return {};
        int code = removed.error().code();
        if (code == ENOENT)
            return {}; // gone already
        if ((code != EWOULDBLOCK && code != EBUSY) || kernel.now_usec() >= deadline)
            return removed;
        kernel.sleep(std::chrono::milliseconds(20));
    }
}

// The patch has been told to go back (or was going back): wait for it; on
// timeout reverse once more (or force) so the system is never left half way.
Result<void> finish_disable(std::string_view name, const Options& options) {
    std::vector<BlockingTask> blocking;
    if (follow_transition(name, options, &blocking) == Transition::Complete)
        return {};
    std::string why = cat("disabling ", quoted(name), " did not complete within ",
                          format_seconds(uint64_t(options.timeout.count()) * 1000), " s",
                          blocking.empty() ? "" : " (blocked by ", describe_tasks(blocking),
                          blocking.empty() ? "" : ")");
    if (options.force) {
        say(options, cat("warning: forcing the transition of ", quoted(name),
                         ": tasks still in the patched code may misbehave, and the module can "
                         "never be removed"));
        TRY(write_knob(options.kernel, name, "force", "1"));
        follow_transition(name, options, nullptr);
        return {};
    }
    say(options, cat(why, "; reversing: ", quoted(name), " stays enabled"));
    TRY(write_knob(options.kernel, name, "enabled", "1"));
    if (follow_transition(name, options, nullptr) == Transition::TimedOut)
        return error(cat(why, "; reversing it has not completed either (", quoted(name),
                         " is still in transition)"));
    return error(cat(why, "; the transition was reversed: ", quoted(name), " stays enabled"));
}

// Saves what `enable` needs to reload the patch later.
void keep_copy(const std::string& name, const ModuleFile& file, const std::string& source_path,
               const std::string& parameters, const Options& options) {
    auto saved = [&]() -> Result<void> {
        std::string parent = options.run_directory.substr(0, options.run_directory.rfind('/'));
        if (!parent.empty())
            TRY(make_directories(parent, 0755));
        TRY(make_directories(options.run_directory, 0700));
        TRY(write_file_atomically(cache_path(options, name, ".ko"), file.bytes, 0600));
        std::string sig = signature_path(source_path);
        if (path_exists(sig))
            TRY(write_file_atomically(cache_path(options, name, ".ko.sig"), TRY(read_file(sig)),
                                      0600));
        else if (sig != cache_path(options, name, ".ko.sig"))
            TRY(remove_file(cache_path(options, name, ".ko.sig")));
        TRY(write_file_atomically(cache_path(options, name, ".params"), parameters, 0600));
        return {};
    }();
    if (!saved)
        say(options, cat("warning: cannot keep a copy of ", quoted(name),
                         " (enable after disable will need the installed copy): ",
                         saved.error().to_string()));
}

void forget_copy(std::string_view name, const Options& options) {
    for (std::string_view suffix : {".ko", ".ko.sig", ".params"})
        (void)remove_file(cache_path(options, name, suffix));
}

// A transition can also end because someone reversed it meanwhile.
Result<void> require_enabled(std::string_view name, const Options& options) {
    auto status = TRY(patch_status(options.kernel, name));
    if (!status || status->state != PatchState::Enabled)
        return error(cat("the transition of ", quoted(name), " ended with the patch ",
                         status ? describe(status->state) : "gone",
                         " (was it disabled meanwhile?)"));
    return {};
}

Result<void> replace_others(std::string_view name, const Options& options,
                            std::vector<std::string>& replaced) {
    for (const PatchStatus& other : TRY(loaded_patches(options.kernel))) {
        if (other.name == name)
            continue;
        say(options, cat("replacing ", quoted(other.name)));
        TRY_CTX(unload_patch(other.name, options), cat("replace ", quoted(other.name)));
        replaced.push_back(other.name);
    }
    return {};
}

} // namespace

const Check* Inspection::first_failure() const {
    for (const Check& check : checks)
        if (!check.passed)
            return &check;
    return nullptr;
}

Inspection inspect_module(const std::string& path, const Options& options, ReleaseCheck release) {
    return inspect(path, options, release, nullptr, Digest::Compute);
}

Result<LoadOutcome> load_patch(const LoadRequest& request, const Options& options) {
    ModuleFile file;
    Inspection inspection = inspect(request.path, options, ReleaseCheck::Running, &file);
    if (inspection.first_failure())
        return std::unexpected(refusal(inspection));
    LoadOutcome outcome;
    outcome.name = inspection.image->name;
    const std::string& name = outcome.name;
    const Kernel& kernel = options.kernel;

    uint64_t start = kernel.now_usec();
    TRY_CTX(insert_checked(inspection, file, request.parameters, options),
            cat("load ", quoted(request.path)));
    if (!path_exists(kernel.patch_path(name)))
        return error(cat("loaded ", quoted(name), ", but the kernel shows no ",
                         quoted(kernel.patch_path(name)), ": its init did not enable a patch"));

    std::vector<BlockingTask> blocking;
    if (follow_transition(name, options, &blocking) == Transition::Complete) {
        outcome.transition_usec = kernel.now_usec() - start;
    } else {
        std::string why = cat("the transition of ", quoted(name), " did not complete within ",
                              format_seconds(uint64_t(options.timeout.count()) * 1000), " s",
                              blocking.empty() ? "" : " (blocked by ", describe_tasks(blocking),
                              blocking.empty() ? "" : ")");
        if (options.force) {
            say(options, cat(why, "; warning: forcing it: tasks still in the old code may "
                                  "misbehave, and the module can never be removed"));
            TRY(write_knob(kernel, name, "force", "1"));
            follow_transition(name, options, nullptr);
            outcome.forced = true;
            outcome.transition_usec = kernel.now_usec() - start;
        } else {
            say(options, cat(why, "; reversing it"));
            TRY_CTX(write_knob(kernel, name, "enabled", "0"), why);
            if (follow_transition(name, options, nullptr) == Transition::TimedOut)
                return error(cat(why, "; it is being reversed but that has not completed "
                                      "either: the module stays loaded, unload it later"));
            TRY_CTX(remove_module(name, options), cat(why, "; reversed, but unloading failed"));
            forget_copy(name, options);
            return error(cat(why, "; it was reversed and the module unloaded"));
        }
    }
    TRY(require_enabled(name, options));
    // After the transition, so it costs the transition nothing; a patch
    // whose transition was reversed needs no copy.
    keep_copy(name, file, request.path, request.parameters, options);
    if (request.replace)
        TRY_CTX(replace_others(name, options, outcome.replaced),
                cat(quoted(name), " is enabled, but"));
    return outcome;
}

Result<void> disable_patch(std::string_view name, const Options& options) {
    auto status = TRY(patch_status(options.kernel, name));
    if (!status)
        return error(cat("no live patch named ", quoted(name), " is loaded"));
    switch (status->state) {
    case PatchState::Disabled:
    case PatchState::NotLoaded:
        say(options, cat(quoted(name), " is already disabled"));
        return {};
    case PatchState::Unpatching:
        break; // already on its way back: just follow it
    case PatchState::Enabled:
    case PatchState::Patching: // writing 0 mid-transition reverses it
        TRY(write_knob(options.kernel, name, "enabled", "0"));
        break;
    }
    return finish_disable(name, options);
}

Result<void> unload_patch(std::string_view name, const Options& options) {
    auto status = TRY(patch_status(options.kernel, name));
    if (!status) {
        if (module_loaded(options.kernel, name))
            return error(cat(quoted(name), " is a module, but not a live patch"));
        return error(cat("no live patch named ", quoted(name), " is loaded"));
    }
    if (status->state != PatchState::Disabled)
        TRY_CTX(disable_patch(name, options), cat("unload ", quoted(name)));
    auto removed = remove_module(name, options);
    if (!removed) {
        if (removed.error().code() == EWOULDBLOCK || removed.error().code() == EBUSY)
            return std::unexpected(std::move(removed.error())
                                       .wrap(cat("unload ", quoted(name),
                                                 ": the module is still in use (a forced "
                                                 "transition makes a patch module permanent)")));
        return std::unexpected(std::move(removed.error()).wrap(cat("unload ", quoted(name))));
    }
    forget_copy(name, options);
    return {};
}

Result<LoadOutcome> enable_patch(std::string_view name, const Options& options) {
    auto status = TRY(patch_status(options.kernel, name));
    LoadOutcome outcome;
    outcome.name = std::string(name);
    if (status && status->state != PatchState::Disabled) {
        if (status->state == PatchState::Unpatching) // reverse the way back
            TRY(write_knob(options.kernel, name, "enabled", "1"));
        if (status->state == PatchState::Enabled) {
            say(options, cat(quoted(name), " is already enabled"));
            return outcome;
        }
        uint64_t start = options.kernel.now_usec();
        std::vector<BlockingTask> blocking;
        if (follow_transition(name, options, &blocking) == Transition::TimedOut)
            return error(cat("the transition of ", quoted(name), " did not complete within ",
                             format_seconds(uint64_t(options.timeout.count()) * 1000), " s",
                             blocking.empty() ? "" : " (blocked by ", describe_tasks(blocking),
                             blocking.empty() ? "" : ")",
                             "; it goes on: keel patch disable reverses it"));
        outcome.transition_usec = options.kernel.now_usec() - start;
        TRY(require_enabled(name, options));
        return outcome;
    }

    // The kernel cannot enable a patch again once disabled: reload the module.
    LoadRequest request;
    request.path = cache_path(options, name, ".ko");
    if (path_exists(request.path)) {
        request.parameters =
            std::string(trim(read_file(cache_path(options, name, ".params")).value_or("")));
    } else {
        request.path = installed_path(options, options.kernel.running_release(), name);
        if (!path_exists(request.path))
            return error(cat("cannot enable ", quoted(name),
                             ": the kernel cannot re-enable a disabled patch, and there is no copy "
                             "to reload (neither ",
                             quoted(cache_path(options, name, ".ko")), " nor ",
                             quoted(request.path), "); load it again with keel patch load FILE"));
    }
    // Check the copy before taking the disabled one out.
    Inspection inspection = inspect_module(request.path, options);
    if (inspection.first_failure())
        return std::unexpected(refusal(inspection));
    if (inspection.image->name != name)
        return error(cat(quoted(request.path), " is the module ", quoted(inspection.image->name),
                         ", not ", quoted(name)));
    if (status) {
        say(options, cat("reloading ", quoted(name), " from ", quoted(request.path),
                         " (the kernel cannot re-enable a disabled patch)"));
        TRY_CTX(remove_module(name, options), cat("enable ", quoted(name)));
    }
    return load_patch(request, options);
}

Result<std::string> install_patch(const std::string& path, const Options& options) {
    Inspection inspection = inspect_module(path, options, ReleaseCheck::AnyKernel);
    if (inspection.first_failure())
        return std::unexpected(refusal(inspection));
    const ModuleImage& image = *inspection.image;
    std::string release(vermagic_release(image.vermagic));
    std::string directory = cat(options.install_root, "/", release);
    TRY(make_directories(directory, 0755));
    std::string bytes = TRY(read_file(path));
    if (sha256_hex(bytes) != inspection.sha256)
        return error(cat(quoted(path), " changed while it was being installed"));
    std::string destination = installed_path(options, release, image.name);
    std::string sig = signature_path(path);
    if (path_exists(sig))
        TRY(write_file_atomically(signature_path(destination), TRY(read_file(sig)), 0644));
    else
        TRY(remove_file(signature_path(destination)));
    TRY(write_file_atomically(destination, bytes, 0644));
    return destination;
}

Result<void> uninstall_patch(std::string_view name, std::string release, const Options& options) {
    if (!is_valid_module_name(name))
        return error(cat(quoted(name), " is not a valid module name"));
    if (release.empty())
        release = options.kernel.running_release();
    std::string path = installed_path(options, release, name);
    if (!path_exists(path))
        return error(cat(quoted(name), " is not installed for kernel ", release, " (no ",
                         quoted(path), ")"));
    TRY(remove_file(path));
    TRY(remove_file(signature_path(path)));
    return {};
}

Result<std::vector<InstalledPatch>> installed_patches(const Options& options, std::string release) {
    if (release.empty())
        release = options.kernel.running_release();
    std::vector<InstalledPatch> patches;
    std::string directory = cat(options.install_root, "/", release);
    if (!path_exists(directory))
        return patches;
    for (const std::string& file : TRY(list_directory(directory))) {
        if (!file.ends_with(".ko"))
            continue;
        InstalledPatch patch;
        patch.name = file.substr(0, file.size() - 3);
        if (!is_valid_module_name(patch.name))
            continue;
        patch.path = cat(directory, "/", file);
        patch.release = release;
        if (auto result = read_file(cat(options.run_directory, "/boot/", patch.name)))
            patch.boot_result = std::string(trim(*result));
        patches.push_back(std::move(patch));
    }
    return patches;
}

std::vector<BootLoad> load_installed(const Options& options) {
    std::vector<BootLoad> loads;
    auto installed = installed_patches(options);
    if (!installed) {
        loads.push_back({"", std::unexpected(std::move(installed.error())), false});
        return loads;
    }
    if (!installed->empty())
        (void)make_directories(options.run_directory + "/boot", 0700);
    for (const InstalledPatch& patch : *installed) {
        BootLoad load;
        load.name = patch.name;
        load.result = [&]() -> Result<void> {
            // PID 1 does not wait for the transition: the kernel completes
            // it by itself, and a PID 1 sleeping here could be the very
            // task that blocks it.
            ModuleFile file;
            Inspection inspection = inspect(patch.path, options, ReleaseCheck::Running, &file);
            if (inspection.first_failure())
                return std::unexpected(refusal(inspection));
            if (inspection.image->name != patch.name)
                return error(cat(quoted(patch.path), " is the module ",
                                 quoted(inspection.image->name), ", not ", quoted(patch.name)));
            TRY(insert_checked(inspection, file, "", options));
            auto transition = read_file(options.kernel.patch_path(patch.name, "transition"));
            load.transition_complete = transition && trim(*transition) == "0";
            return {};
        }();
        // The transition's progress is live in `list`; the record says what boot did.
        std::string record = load.result
                                 ? std::string("loaded at boot")
                                 : cat("not loaded at boot: ", load.result.error().to_string());
        (void)write_new_file(cat(options.run_directory, "/boot/", patch.name), record + "\n", 0600);
        loads.push_back(std::move(load));
    }
    return loads;
}

} // namespace keel::livepatch
