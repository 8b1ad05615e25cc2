// `keel patch ...`: kernel live patches (livepatch/livepatch.h). Argument
// parsing and output: for people, and --json for scripts on list and info.
// Everything runs in the CLI process; PID 1 is not involved, so a slow
// transition never keeps init waiting.
#include "cli/commands.h"

#include "base/cmdline.h"
#include "base/strings.h"
#include "base/sys.h"
#include "livepatch/livepatch.h"

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keel {

namespace {

namespace lp = livepatch;

constexpr std::string_view kUsage = R"(usage: keel patch <command> [options]

  load FILE.ko [PARAM=VALUE...] [--replace] [--timeout SECONDS] [--force]
        check the module, load it and follow the transition; on timeout the
        transition is reversed and the module unloaded. --replace then
        disables and unloads every other live patch. --force forces a
        transition that does not complete instead (the module can then never
        be removed; never the default)
  unload NAME [--timeout SECONDS] [--force]
        disable (following the transition back) and remove the module
  disable NAME [--timeout SECONDS] [--force]
  enable NAME [--timeout SECONDS]
        a disabled patch is reloaded from the copy kept at load time or from
        the installed set (the kernel cannot re-enable it)
  list [--json]        loaded and installed patches: state, transition
                       progress, objects patched, taint
  info FILE.ko [--json]
                       what the module says and every check load makes
  install FILE.ko      add to the set loaded at boot for the kernel the
                       module is built for
  uninstall NAME [--kernel-release RELEASE]
  sign --key PRIVATE.pem [--output FILE.sig] FILE.ko
                       write the detached signature (default FILE.ko.sig)

Options: --trusted-keys DIR (default /etc/keel/trusted.d), --root DIR (the
installed set, default /var/lib/keel/patches), --run-dir DIR (default
/run/keel/patches). The default --timeout is 60 seconds.

Signing is configured when the trusted-keys directory holds a *.pem public
key, or with keel.patch_signing=required on the kernel command line; then
every module needs FILE.ko.sig from one of the keys (RSA or ECDSA over
SHA-256 of the file; `openssl dgst -sha256 -sign key.pem -out FILE.ko.sig
FILE.ko` makes one too).
)";

int fail(std::string_view message, int status = 1) {
    std::fprintf(stderr, "keel: patch: %.*s\n", int(message.size()), message.data());
    return status;
}

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::string json_string(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\')
            out += cat('\\', c);
        else if (byte < 0x20 || byte >= 0x7f) // modinfo is outside input: keep JSON ASCII
            out += cat("\\u00", hex[byte >> 4], hex[byte & 15]);
        else
            out += c;
    }
    return out + "\"";
}

const char* json_bool(bool value) {
    return value ? "true" : "false";
}

// "60", "0.5" -> milliseconds.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
    size_t dot = text.find('.');
    auto whole = parse_u64(text.substr(0, dot));
    if (!whole || *whole > 86400)
        return std::nullopt;
    uint64_t ms = *whole * 1000;
    if (dot != std::string_view::npos) {
        std::string_view fraction = text.substr(dot + 1);
        if (fraction.empty() || fraction.size() > 3 || !parse_u64(fraction))
            return std::nullopt;
        uint64_t value = *parse_u64(fraction);
        for (size_t i = fraction.size(); i < 3; ++i)
            value *= 10;
        ms += value;
    }
    return std::chrono::milliseconds(ms);
}

struct Arguments {
    std::vector<std::string> positional;
    bool json = false;
    bool replace = false;
    bool force = false;
    std::optional<std::string> key;
    std::optional<std::string> output;
    std::optional<std::string> kernel_release;
    lp::Options options;
};

// Parses the options every verb shares; returns an error message, or "".
std::string parse_arguments(std::span<char*> args, Arguments& out) {
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size())
                return std::nullopt;
            return std::string(args[++i]);
        };
        if (arg == "--json") {
            out.json = true;
        } else if (arg == "--replace") {
            out.replace = true;
        } else if (arg == "--force") {
            out.force = true;
        } else if (arg == "--timeout" || arg == "--trusted-keys" || arg == "--root" ||
                   arg == "--run-dir" || arg == "--key" || arg == "--output" ||
                   arg == "--kernel-release") {
            auto given = value();
            if (!given)
                return cat(arg, " needs a value");
            if (arg == "--timeout") {
                auto timeout = parse_seconds(*given);
                if (!timeout)
                    return cat("--timeout ", quoted(*given), ": expected seconds, like 60 or 0.5");
                out.options.timeout = *timeout;
            } else if (arg == "--trusted-keys") {
                out.options.signing.trusted_keys_directory = *given;
            } else if (arg == "--root") {
                out.options.install_root = *given;
            } else if (arg == "--run-dir") {
                out.options.run_directory = *given;
            } else if (arg == "--key") {
                out.key = *given;
            } else if (arg == "--output") {
                out.output = *given;
            } else {
                out.kernel_release = *given;
            }
        } else if (arg.starts_with("--")) {
            return cat("unknown option ", quoted(arg), " (see `keel patch help`)");
        } else {
            out.positional.emplace_back(arg);
        }
    }
    out.options.force = out.force;
    out.options.report = [](std::string_view line) {
        std::fprintf(stderr, "keel: patch: %.*s\n", int(line.size()), line.data());
    };
    if (auto cmdline = KernelCommandLine::read())
        out.options.signing.required = cmdline->get("keel.patch_signing") == "required";
    return {};
}

int usage_error(std::string_view verb, std::string_view message) {
    return fail(cat(verb, ": ", message, " (see `keel patch help`)"), 2);
}

std::string objects_text(const lp::PatchStatus& patch) {
    std::string out;
    for (const lp::PatchedObject& object : patch.objects)
        out += cat(out.empty() ? "" : ",", object.name, object.patched ? "" : "(not loaded)");
    return out.empty() ? "-" : out;
}

std::string transition_text(const lp::PatchStatus& patch) {
    if (patch.state != lp::PatchState::Patching && patch.state != lp::PatchState::Unpatching)
        return "-";
    return cat(patch.tasks_transitioned, "/", patch.tasks_total, " tasks");
}

std::string pad(std::string text, size_t width) {
    if (text.size() < width)
        text.append(width - text.size(), ' ');
    return text;
}

int patch_list(Arguments& args) {
    if (!args.positional.empty())
        return usage_error("list", "takes no arguments");
    const lp::Options& options = args.options;
    auto loaded = lp::loaded_patches(options.kernel);
    if (!loaded)
        return fail(cat("list: ", loaded.error().to_string()));
    auto installed = lp::installed_patches(options, args.kernel_release.value_or(""));
    if (!installed)
        return fail(cat("list: ", installed.error().to_string()));
    auto taint = lp::kernel_taint(options.kernel);

    struct Row {
        lp::PatchStatus status;
        const lp::InstalledPatch* installed = nullptr;
    };
    std::map<std::string, Row> rows;
    for (lp::PatchStatus& status : *loaded)
        rows[status.name].status = std::move(status);
    for (const lp::InstalledPatch& patch : *installed) {
        Row& row = rows[patch.name];
        row.status.name = patch.name;
        row.installed = &patch;
    }

    if (args.json) {
        std::string out =
            cat("{\"kernel_release\":", json_string(options.kernel.running_release()),
                ",\"kernel_taint\":", taint ? std::to_string(*taint) : "null",
                ",\"kernel_taint_flags\":", json_string(taint ? lp::taint_letters(*taint) : ""),
                ",\"patches\":[");
        bool first = true;
        for (const auto& [name, row] : rows) {
            const lp::PatchStatus& status = row.status;
            out += cat(first ? "" : ",", "{\"name\":", json_string(name),
                       ",\"state\":", json_string(lp::describe(status.state)), ",\"enabled\":",
                       json_bool(status.state == lp::PatchState::Enabled ||
                                 status.state == lp::PatchState::Patching),
                       ",\"transition\":");
            if (transition_text(status) == "-")
                out += "null";
            else
                out += cat("{\"tasks_total\":", status.tasks_total,
                           ",\"tasks_transitioned\":", status.tasks_transitioned, "}");
            out += ",\"objects\":[";
            for (size_t i = 0; i < status.objects.size(); ++i)
                out += cat(i ? "," : "", "{\"name\":", json_string(status.objects[i].name),
                           ",\"patched\":", json_bool(status.objects[i].patched), "}");
            out += cat("],\"taint\":", json_string(status.taint),
                       ",\"installed\":", json_bool(row.installed != nullptr));
            if (row.installed) {
                out += cat(",\"installed_path\":", json_string(row.installed->path));
                out += cat(",\"boot\":", row.installed->boot_result
                                             ? json_string(*row.installed->boot_result)
                                             : "null");
            }
            out += "}";
            first = false;
        }
        print(out + "]}\n");
        return 0;
    }

    if (rows.empty()) {
        print("no live patches loaded or installed\n");
    } else {
        print(cat(pad("NAME", 20), pad("STATE", 12), pad("TRANSITION", 14), pad("OBJECTS", 24),
                  pad("TAINT", 7), "INSTALLED\n"));
        for (const auto& [name, row] : rows) {
            const lp::PatchStatus& status = row.status;
            print(cat(pad(name, 19), " ", pad(std::string(lp::describe(status.state)), 11), " ",
                      pad(transition_text(status), 13), " ", pad(objects_text(status), 23), " ",
                      pad(status.taint.empty() ? "-" : status.taint, 6), " ",
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
    return 0;
}

int patch_info(Arguments& args) {
    if (args.positional.size() != 1)
        return usage_error("info", "needs one module file");
    lp::Inspection inspection = lp::inspect_module(args.positional[0], args.options);
    const std::optional<lp::ModuleImage>& image = inspection.image;
    bool loadable = inspection.first_failure() == nullptr;
    if (args.json) {
        std::string out =
            cat("{\"path\":", json_string(inspection.path), ",\"size\":", inspection.file_size,
                ",\"sha256\":", json_string(inspection.sha256),
                ",\"compressed\":", json_bool(inspection.compressed));
        if (image) {
            out += cat(",\"name\":", json_string(image->name),
                       ",\"vermagic\":", json_string(image->vermagic),
                       ",\"livepatch\":", json_bool(image->is_livepatch()),
                       ",\"machine\":", json_string(lp::machine_name(image->machine)),
                       ",\"kernel_signature\":", json_bool(image->kernel_signature.has_value()),
                       ",\"depends\":[");
            for (size_t i = 0; i < image->depends.size(); ++i)
                out += cat(i ? "," : "", json_string(image->depends[i]));
            out += "],\"modinfo\":[";
            for (size_t i = 0; i < image->modinfo.size(); ++i)
                out += cat(i ? "," : "", "[", json_string(image->modinfo[i].key), ",",
                           json_string(image->modinfo[i].value), "]");
            out += "]";
        }
        out += ",\"checks\":[";
        for (size_t i = 0; i < inspection.checks.size(); ++i)
            out += cat(i ? "," : "", "{\"name\":", json_string(inspection.checks[i].name),
                       ",\"passed\":", json_bool(inspection.checks[i].passed),
                       ",\"detail\":", json_string(inspection.checks[i].detail), "}");
        print(out + cat("],\"loadable\":", json_bool(loadable), "}\n"));
        return loadable ? 0 : 1;
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
        print(cat("check ", pad(check.name, 13), check.passed ? "ok      " : "FAILED  ",
                  check.detail, "\n"));
    print(loadable ? "loadable: yes\n"
                   : cat("loadable: no (", inspection.first_failure()->name, " check failed)\n"));
    return loadable ? 0 : 1;
}

int patch_load(Arguments& args) {
    if (args.positional.empty())
        return usage_error("load", "needs a module file");
    lp::LoadRequest request;
    request.path = args.positional[0];
    for (size_t i = 1; i < args.positional.size(); ++i) {
        if (args.positional[i].find('=') == std::string::npos)
            return usage_error(
                "load", cat("module parameters are PARAM=VALUE, not ", quoted(args.positional[i])));
        request.parameters += cat(request.parameters.empty() ? "" : " ", args.positional[i]);
    }
    request.replace = args.replace;
    if (args.force)
        args.options.report("warning: --force: a transition that does not complete in time is "
                            "forced; the module can then never be removed");
    auto outcome = lp::load_patch(request, args.options);
    if (!outcome)
        return fail(cat("load: ", outcome.error().to_string()));
    print(cat(outcome->name, ": enabled", outcome->forced ? " (forced)" : "", ", transition took ",
              format_seconds(outcome->transition_usec), " s\n"));
    for (const std::string& replaced : outcome->replaced)
        print(cat(replaced, ": replaced and unloaded\n"));
    return 0;
}

int patch_name_verb(std::string_view verb, Arguments& args) {
    if (args.positional.size() != 1)
        return usage_error(verb, "needs one patch name");
    const std::string& name = args.positional[0];
    if (verb == "unload") {
        if (auto unloaded = lp::unload_patch(name, args.options); !unloaded)
            return fail(unloaded.error().to_string());
        print(cat(name, ": unloaded\n"));
    } else if (verb == "disable") {
        if (auto disabled = lp::disable_patch(name, args.options); !disabled)
            return fail(cat("disable ", quoted(name), ": ", disabled.error().to_string()));
        print(cat(name, ": disabled\n"));
    } else if (verb == "enable") {
        auto enabled = lp::enable_patch(name, args.options);
        if (!enabled)
            return fail(cat("enable ", quoted(name), ": ", enabled.error().to_string()));
        print(cat(name, ": enabled\n"));
    } else if (verb == "uninstall") {
        auto removed = lp::uninstall_patch(name, args.kernel_release.value_or(""), args.options);
        if (!removed)
            return fail(cat("uninstall: ", removed.error().to_string()));
        print(cat(name, ": uninstalled (still loaded if it was: keel patch unload ", name, ")\n"));
    }
    return 0;
}

int patch_install(Arguments& args) {
    if (args.positional.size() != 1)
        return usage_error("install", "needs one module file");
    auto installed = lp::install_patch(args.positional[0], args.options);
    if (!installed)
        return fail(cat("install: ", installed.error().to_string()));
    print(cat("installed ", *installed, "\n"));
    return 0;
}

int patch_sign(Arguments& args) {
    if (args.positional.size() != 1 || !args.key)
        return usage_error("sign", "needs --key PRIVATE.pem and one module file");
    const std::string& path = args.positional[0];
    auto bytes = read_file(path);
    if (!bytes)
        return fail(cat("sign: ", bytes.error().to_string()));
    auto signature = lp::sign_module(*bytes, *args.key);
    if (!signature)
        return fail(cat("sign: ", signature.error().to_string()));
    std::string output = args.output.value_or(path + std::string(lp::kSignatureSuffix));
    if (auto written = write_new_file(output, *signature, 0644); !written)
        return fail(cat("sign: ", written.error().to_string()));
    auto id = lp::key_id_of(*args.key);
    print(cat("signed ", path, " with key ", id ? *id : "?", ": ", output, "\n"));
    return 0;
}

} // namespace

int command_patch(std::span<char*> args) {
    if (args.empty())
        return fail("a command is needed (see `keel patch help`)", 2);
    std::string_view verb = args[0];
    if (verb == "help" || verb == "--help" || verb == "-h") {
        print(std::string(kUsage));
        return 0;
    }
    Arguments arguments;
    if (std::string problem = parse_arguments(args.subspan(1), arguments); !problem.empty())
        return usage_error(verb, problem);
    if (verb == "list")
        return patch_list(arguments);
    if (verb == "info")
        return patch_info(arguments);
    if (verb == "load")
        return patch_load(arguments);
    if (verb == "install")
        return patch_install(arguments);
    if (verb == "sign")
        return patch_sign(arguments);
    if (verb == "unload" || verb == "enable" || verb == "disable" || verb == "uninstall")
        return patch_name_verb(verb, arguments);
    return fail(cat("unknown command ", quoted(verb), " (see `keel patch help`)"), 2);
}

} // namespace keel
