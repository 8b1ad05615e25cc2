// `keel patch ...`: kernel live patches (livepatch/livepatch.h). Declarations
// and output: for people, and --json for scripts on list and info.
// Everything runs in the CLI process; PID 1 is not involved, so a slow
// transition never keeps init waiting.
#include "cli/patch_commands.h"

#include "base/cmdline.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "livepatch/livepatch.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keel::cli {

namespace {

namespace lp = livepatch;

// The longest --timeout: a day.
constexpr uint64_t kMaxTimeoutSeconds = 86400;
// Signatures are written readable by all, as the module is.
constexpr mode_t kSignatureMode = 0644;

// Columns of `keel patch list` (each followed by a space).
constexpr size_t kPatchNameWidth = 19;
constexpr size_t kPatchStateWidth = 11;
constexpr size_t kTransitionWidth = 13;
constexpr size_t kObjectsWidth = 23;
constexpr size_t kTaintWidth = 6;
// `keel patch info` names its checks in a column this wide.
constexpr size_t kCheckNameWidth = 13;

// Options every patch command takes (the group's notes describe them).
const Option kTrustedKeysOption{.name = "--trusted-keys",
                                .value_name = "DIR",
                                .type = ValueType::Text,
                                .shown = Shown::InOptionList,
                                .help = "the trusted signers' public keys (default "
                                        "/etc/keel/trusted.d)"};
const Option kPatchRootOption{.name = "--root",
                              .value_name = "DIR",
                              .type = ValueType::Text,
                              .shown = Shown::InOptionList,
                              .help = "the installed set (default /var/lib/keel/patches)"};
const Option kRunDirOption{.name = "--run-dir",
                           .value_name = "DIR",
                           .type = ValueType::Text,
                           .shown = Shown::InOptionList,
                           .help = "the copies kept of loaded modules (default /run/keel/patches)"};
const Option kTimeoutOption{.name = "--timeout",
                            .value_name = "SECONDS",
                            .type = ValueType::Seconds,
                            .max = kMaxTimeoutSeconds,
                            .help = "how long the transition may take (default 60)"};
const Option kForceOption{.name = "--force",
                          .help = "force a transition that does not complete in time instead of "
                                  "reversing it (the module can then never be removed)"};
const Option kKernelReleaseOption{.name = "--kernel-release",
                                  .value_name = "RELEASE",
                                  .type = ValueType::Text,
                                  .help = "the installed set of kernel RELEASE (default: the "
                                          "running kernel's)"};

const Positional kModuleFile{.name = "FILE.ko", .noun = "module file"};
const Positional kPatchName{.name = "NAME", .noun = "patch name"};

// What every patch command passes to livepatch/.
lp::Options patch_options(const ParsedArgs& args) {
    lp::Options options;
    if (auto timeout = args.seconds("--timeout"))
        options.timeout = *timeout;
    if (auto directory = args.value("--trusted-keys"))
        options.signing.trusted_keys_directory = *directory;
    if (auto root = args.value("--root"))
        options.install_root = *root;
    if (auto directory = args.value("--run-dir"))
        options.run_directory = *directory;
    options.force = args.flag("--force");
    options.report = [](std::string_view line) { print_error(cat("keel: patch: ", line, "\n")); };
    if (auto cmdline = KernelCommandLine::read())
        options.signing.required = cmdline->get("keel.patch_signing") == "required";
    return options;
}

std::string kernel_release(const ParsedArgs& args) {
    return std::string(args.value("--kernel-release").value_or(""));
}

std::string objects_text(const lp::PatchStatus& patch) {
    std::string out;
    for (const lp::PatchedObject& object : patch.objects)
        out += cat(out.empty() ? "" : ",", object.name, object.patched ? "" : "(not loaded)");
    return out.empty() ? "-" : out;
}

bool in_transition(const lp::PatchStatus& patch) {
    return patch.state == lp::PatchState::Patching || patch.state == lp::PatchState::Unpatching;
}

std::string transition_text(const lp::PatchStatus& patch) {
    if (!in_transition(patch))
        return "-";
    return cat(patch.tasks_transitioned, "/", patch.tasks_total, " tasks");
}

CommandResult patch_list(const ParsedArgs& args) {
    lp::Options options = patch_options(args);
    auto loaded = TRY_CTX(lp::loaded_patches(options.kernel), "list");
    auto installed = TRY_CTX(lp::installed_patches(options, kernel_release(args)), "list");
    auto taint = lp::kernel_taint(options.kernel);

    struct Row {
        lp::PatchStatus status;
        const lp::InstalledPatch* installed = nullptr;
    };
    std::map<std::string, Row> rows;
    for (lp::PatchStatus& status : loaded)
        rows[status.name].status = std::move(status);
    for (const lp::InstalledPatch& patch : installed) {
        Row& row = rows[patch.name];
        row.status.name = patch.name;
        row.installed = &patch;
    }

    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_object().field("kernel_release", options.kernel.running_release());
        if (taint)
            json.field("kernel_taint", *taint);
        else
            json.key("kernel_taint").null();
        json.field("kernel_taint_flags", taint ? lp::taint_letters(*taint) : "");
        json.key("patches").begin_array();
        for (const auto& [name, row] : rows) {
            const lp::PatchStatus& status = row.status;
            json.begin_object()
                .field("name", name)
                .field("state", lp::describe(status.state))
                .field("enabled", status.state == lp::PatchState::Enabled ||
                                      status.state == lp::PatchState::Patching)
                .key("transition");
            if (in_transition(status))
                json.begin_object()
                    .field("tasks_total", status.tasks_total)
                    .field("tasks_transitioned", status.tasks_transitioned)
                    .end_object();
            else
                json.null();
            json.key("objects").begin_array();
            for (const lp::PatchedObject& object : status.objects)
                json.begin_object()
                    .field("name", object.name)
                    .field("patched", object.patched)
                    .end_object();
            json.end_array()
                .field("taint", status.taint)
                .field("installed", row.installed != nullptr);
            if (row.installed)
                json.field("installed_path", row.installed->path)
                    .field("boot", row.installed->boot_result);
            json.end_object();
        }
        json.end_array().end_object();
        print(json.text() + "\n");
        return kExitSuccess;
    }

    if (rows.empty()) {
        print("no live patches loaded or installed\n");
    } else {
        print(cat(cell("NAME", kPatchNameWidth), cell("STATE", kPatchStateWidth),
                  cell("TRANSITION", kTransitionWidth), cell("OBJECTS", kObjectsWidth),
                  cell("TAINT", kTaintWidth), "INSTALLED\n"));
        for (const auto& [name, row] : rows) {
            const lp::PatchStatus& status = row.status;
            print(cat(cell(name, kPatchNameWidth),
                      cell(lp::describe(status.state), kPatchStateWidth),
                      cell(transition_text(status), kTransitionWidth),
                      cell(objects_text(status), kObjectsWidth),
                      cell(status.taint.empty() ? "-" : status.taint, kTaintWidth),
                      row.installed ? "yes" : "no", "\n"));
        }
        for (const auto& [name, row] : rows)
            if (row.installed && row.installed->boot_result)
                print(cat(name, ": ", *row.installed->boot_result, "\n"));
    }
    if (taint)
        print(cat("kernel ", options.kernel.running_release(), ": taint ", *taint,
                  *taint ? cat(" (", lp::taint_letters(*taint), ")") : std::string(),
                  (*taint & lp::kTaintLivepatch) ? ", live patched" : "", "\n"));
    return kExitSuccess;
}

CommandResult patch_info(const ParsedArgs& args) {
    lp::Inspection inspection =
        lp::inspect_module(std::string(*args.positional("FILE.ko")), patch_options(args));
    const std::optional<lp::ModuleImage>& image = inspection.image;
    bool loadable = inspection.first_failure() == nullptr;
    int status = loadable ? kExitSuccess : kExitFailure;
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_object()
            .field("path", inspection.path)
            .field("size", inspection.file_size)
            .field("sha256", inspection.sha256)
            .field("compressed", inspection.compressed);
        if (image) {
            json.field("name", image->name)
                .field("vermagic", image->vermagic)
                .field("livepatch", image->is_livepatch())
                .field("machine", lp::machine_name(image->machine))
                .field("kernel_signature", image->kernel_signature.has_value());
            json.key("depends").begin_array();
            for (const std::string& dependency : image->depends)
                json.value(dependency);
            json.end_array().key("modinfo").begin_array();
            for (const lp::ModinfoField& field : image->modinfo)
                json.begin_array().value(field.key).value(field.value).end_array();
            json.end_array();
        }
        json.key("checks").begin_array();
        for (const lp::Check& check : inspection.checks)
            json.begin_object()
                .field("name", check.name)
                .field("passed", check.passed)
                .field("detail", check.detail)
                .end_object();
        json.end_array().field("loadable", loadable).end_object();
        print(json.text() + "\n");
        return status;
    }
    print(cat("file:      ", inspection.path, "\n"));
    if (inspection.file_size)
        print(cat("size:      ", inspection.file_size, " bytes",
                  inspection.compressed ? " (compressed)" : "", "\nsha256:    ", inspection.sha256,
                  "\n"));
    if (image) {
        print(cat("name:      ", image->name, "\nvermagic:  ", trim(image->vermagic),
                  "\nlivepatch: ", image->livepatch.value_or("(none)"),
                  "\nmachine:   ", lp::machine_name(image->machine),
                  "\nkernel signature: ", image->kernel_signature ? "appended" : "none", "\n"));
        for (const lp::ModinfoField& field : image->modinfo)
            if (field.key != "vermagic" && field.key != "livepatch" && field.key != "name")
                print(cat("modinfo:   ", field.key, "=", field.value, "\n"));
    }
    for (const lp::Check& check : inspection.checks)
        print(cat("check ", pad(check.name, kCheckNameWidth),
                  check.passed ? "ok      " : "FAILED  ", check.detail, "\n"));
    print(loadable ? "loadable: yes\n"
                   : cat("loadable: no (", inspection.first_failure()->name, " check failed)\n"));
    return status;
}

CommandResult patch_load(const ParsedArgs& args) {
    lp::LoadRequest request;
    request.path = *args.positional("FILE.ko");
    for (std::string_view parameter : args.positionals("PARAM=VALUE")) {
        if (parameter.find('=') == std::string_view::npos)
            return usage_error(args,
                               cat("module parameters are PARAM=VALUE, not ", quoted(parameter)));
        request.parameters += cat(request.parameters.empty() ? "" : " ", parameter);
    }
    request.replace = args.flag("--replace");
    lp::Options options = patch_options(args);
    if (options.force)
        options.report("warning: --force: a transition that does not complete in time is "
                       "forced; the module can then never be removed");
    lp::LoadOutcome outcome = TRY_CTX(lp::load_patch(request, options), "load");
    print(cat(outcome.name, ": enabled", outcome.forced ? " (forced)" : "", ", transition took ",
              format_seconds(outcome.transition_usec), " s\n"));
    for (const std::string& replaced : outcome.replaced)
        print(cat(replaced, ": replaced and unloaded\n"));
    return kExitSuccess;
}

CommandResult patch_unload(const ParsedArgs& args) {
    std::string_view name = *args.positional("NAME");
    TRY(lp::unload_patch(name, patch_options(args)));
    print(cat(name, ": unloaded\n"));
    return kExitSuccess;
}

CommandResult patch_disable(const ParsedArgs& args) {
    std::string_view name = *args.positional("NAME");
    TRY_CTX(lp::disable_patch(name, patch_options(args)), cat("disable ", quoted(name)));
    print(cat(name, ": disabled\n"));
    return kExitSuccess;
}

CommandResult patch_enable(const ParsedArgs& args) {
    std::string_view name = *args.positional("NAME");
    TRY_CTX(lp::enable_patch(name, patch_options(args)), cat("enable ", quoted(name)));
    print(cat(name, ": enabled\n"));
    return kExitSuccess;
}

CommandResult patch_uninstall(const ParsedArgs& args) {
    std::string_view name = *args.positional("NAME");
    TRY_CTX(lp::uninstall_patch(name, kernel_release(args), patch_options(args)), "uninstall");
    print(cat(name, ": uninstalled (still loaded if it was: keel patch unload ", name, ")\n"));
    return kExitSuccess;
}

CommandResult patch_install(const ParsedArgs& args) {
    std::string installed =
        TRY_CTX(lp::install_patch(std::string(*args.positional("FILE.ko")), patch_options(args)),
                "install");
    print(cat("installed ", installed, "\n"));
    return kExitSuccess;
}

CommandResult patch_sign(const ParsedArgs& args) {
    std::string key_path(*args.value("--key"));
    std::string path(*args.positional("FILE.ko"));
    std::string bytes = TRY_CTX(read_file(path), "sign");
    std::string signature = TRY_CTX(lp::sign_module(bytes, key_path), "sign");
    auto given_output = args.value("--output");
    std::string output =
        given_output ? std::string(*given_output) : cat(path, lp::kSignatureSuffix);
    TRY_CTX(write_new_file(output, signature, kSignatureMode), "sign");
    auto id = lp::key_id_of(key_path);
    print(cat("signed ", path, " with key ", id ? *id : "?", ": ", output, "\n"));
    return kExitSuccess;
}

const Command kPatchLoad{
    .names = {"load"},
    .summary = "check the module, load it and follow the transition; on timeout the transition "
               "is reversed and the module unloaded. --replace then disables and unloads every "
               "other live patch. --force forces a transition that does not complete instead "
               "(the module can then never be removed; never the default)",
    .options = {{.name = "--replace", .help = "then disable and unload every other live patch"},
                kTimeoutOption,
                kForceOption,
                kTrustedKeysOption,
                kPatchRootOption,
                kRunDirOption},
    .positionals = {kModuleFile,
                    {.name = "PARAM=VALUE", .count = Count::Any, .noun = "module parameter"}},
    .run = patch_load,
};

const Command kUnload{
    .names = {"unload"},
    .summary = "disable (following the transition back) and remove the module",
    .options = {kTimeoutOption, kForceOption, kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kPatchName},
    .run = patch_unload,
};

const Command kEnable{
    .names = {"enable"},
    .summary = "enable a disabled patch again: it is reloaded from the copy kept at load time or "
               "from the installed set (the kernel cannot re-enable it)",
    .options = {kTimeoutOption, kForceOption, kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kPatchName},
    .run = patch_enable,
};

const Command kDisable{
    .names = {"disable"},
    .summary = "disable the patch, following the transition back; the module stays loaded",
    .options = {kTimeoutOption, kForceOption, kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kPatchName},
    .run = patch_disable,
};

const Command kPatchList{
    .names = {"list"},
    .summary = "loaded and installed patches: state, transition progress, objects patched, taint",
    .options = {kJsonOption,
                {.name = "--kernel-release",
                 .value_name = "RELEASE",
                 .type = ValueType::Text,
                 .shown = Shown::InOptionList,
                 .help = "the installed set of kernel RELEASE (default: the running kernel's)"},
                kTrustedKeysOption,
                kPatchRootOption,
                kRunDirOption},
    .run = patch_list,
};

const Command kInfo{
    .names = {"info"},
    .summary = "what the module says and every check load makes",
    .options = {kJsonOption, kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kModuleFile},
    .run = patch_info,
};

const Command kInstall{
    .names = {"install"},
    .summary = "add to the set loaded at boot for the kernel the module is built for",
    .options = {kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kModuleFile},
    .run = patch_install,
};

const Command kUninstall{
    .names = {"uninstall"},
    .summary = "remove from the set loaded at boot",
    .options = {kKernelReleaseOption, kTrustedKeysOption, kPatchRootOption, kRunDirOption},
    .positionals = {kPatchName},
    .run = patch_uninstall,
};

const Command kSign{
    .names = {"sign"},
    .summary = "write the detached signature (default FILE.ko.sig)",
    .options = {{.name = "--key",
                 .value_name = "PRIVATE.pem",
                 .type = ValueType::Text,
                 .presence = Presence::Required,
                 .help = "the signer's private key"},
                {.name = "--output",
                 .value_name = "FILE.sig",
                 .type = ValueType::Text,
                 .help = "where to write the signature (default FILE.ko.sig)"},
                kTrustedKeysOption,
                kPatchRootOption,
                kRunDirOption},
    .positionals = {kModuleFile},
    .run = patch_sign,
};

} // namespace

const Command kPatchCommand{
    .names = {"patch"},
    .summary = "kernel live patches (keel patch help)",
    .notes = R"(Options: --trusted-keys DIR (default /etc/keel/trusted.d), --root DIR (the
installed set, default /var/lib/keel/patches), --run-dir DIR (default
/run/keel/patches). The default --timeout is 60 seconds.

Signing is configured when the trusted-keys directory holds a *.pem public
key, or with keel.patch_signing=required on the kernel command line; then
every module needs FILE.ko.sig from one of the keys (Ed25519 over the file,
or RSA or ECDSA over its SHA-256; `openssl pkeyutl -sign -rawin -inkey
key.pem -in FILE.ko -out FILE.ko.sig` or `openssl dgst -sha256 -sign key.pem
-out FILE.ko.sig FILE.ko` makes one too).
)",
    .subcommands = {&kPatchLoad, &kUnload, &kEnable, &kDisable, &kPatchList, &kInfo, &kInstall,
                    &kUninstall, &kSign},
};

} // namespace keel::cli
