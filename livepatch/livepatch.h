// Kernel live patches: the one public header of livepatch/.
//
// A live patch is a kernel module marked `livepatch=Y` whose init calls
// klp_enable_patch(); the kernel then moves every task from the old code to
// the new ("the transition") and shows its progress under
// /sys/kernel/livepatch/<name>/. keel checks a module file before the kernel
// sees it (ELF kernel module, livepatch=Y, built for the running kernel,
// signed by a trusted key when signing is configured), loads it with
// finit_module, follows the transition with a timeout (reversing it and
// unloading on timeout), and keeps an installed set per kernel release that
// PID 1 loads at boot before any unit starts.
//
// The sections below: the module file parser (module_elf.cpp, outside input,
// fuzzed, depends on nothing but base/), signatures (signature.cpp), the
// kernel's live patch state (kernel.cpp) and the operations the CLI and init
// call (patches.cpp, boot.cpp).
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "base/signature.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace keel {

class KernelCommandLine;

namespace livepatch {

// ---------------------------------------------------------------------------
// What a module file says about itself (module_elf.cpp)
// ---------------------------------------------------------------------------

/// One `key=value` string of a module's .modinfo section.
struct ModinfoField {
    std::string key;
    std::string value;
};

/// The kernel's own module signature (CONFIG_MODULE_SIG), appended after the
/// ELF image and ended by "~Module signature appended~\n". keel does not
/// check it (the kernel does); it only finds where the ELF image ends.
struct KernelSignature {
    uint8_t id_type = 0; // 2 = PKCS#7
    uint32_t signature_size = 0;
};

/// A parsed kernel module image (uncompressed).
struct ModuleImage {
    std::string name;                     // modinfo name=, else from .gnu.linkonce.this_module
    std::string vermagic;                 // "6.1.0-56-amd64 SMP preempt mod_unload modversions "
    std::optional<std::string> livepatch; // the value of modinfo livepatch=, if present
    std::vector<std::string> depends;     // modinfo depends=, split on commas
    std::vector<ModinfoField> modinfo;    // every field, in file order
    uint16_t machine = 0;                 // ELF e_machine (62 = x86-64)
    size_t elf_size = 0;                  // bytes of the ELF image, without the kernel signature
    std::optional<KernelSignature> kernel_signature;

    /// True when modinfo says livepatch=Y.
    bool is_livepatch() const { return livepatch == "Y"; }
    /// The first value of modinfo `key`, or nullopt.
    std::optional<std::string> modinfo_value(std::string_view key) const;
};

/// Parses an uncompressed kernel module: a little-endian ELF64 relocatable
/// object with a .modinfo and a .gnu.linkonce.this_module section, optionally
/// followed by a kernel signature. Every offset and size is checked against
/// the input; errors say which structure is broken and where.
Result<ModuleImage> parse_module_image(std::string_view bytes);

/// The kernel release a vermagic names: its first word.
std::string_view vermagic_release(std::string_view vermagic);
/// True for a name the kernel accepts as a module name and that is safe as a
/// file name: 1-55 of [A-Za-z0-9_-].
bool is_valid_module_name(std::string_view name);
/// A person's name for an ELF machine number ("x86-64", "aarch64", "machine 7").
std::string machine_name(uint16_t machine);

// ---------------------------------------------------------------------------
// Signatures (signature.cpp)
//
// keel's own scheme, since the kernel's PKCS#7 module signatures need a
// certificate chain mbedTLS 2.28 cannot check: a detached `<module file>.sig`
// holding a signature over the module file exactly as stored (compressed or
// not, with or without a kernel signature appended): Ed25519 over the bytes
// (`openssl pkeyutl -sign -rawin`), or RSA PKCS#1 v1.5 or ECDSA (DER) over
// their SHA-256 (`openssl dgst -sha256 -sign`); base/signature.h has it.
// Trusted public keys are PEM files in /etc/keel/trusted.d/*.pem. Signing is
// configured when that directory holds at least one .pem file, or when the
// kernel command line says keel.patch_signing=required; then every load,
// enable, install and boot-time load needs a valid signature from one of the
// keys. Otherwise .sig files are not looked at.
// ---------------------------------------------------------------------------

// The scheme and the key directory are base/signature.h's, shared with
// update payloads.
using keel::kSignatureSuffix;
using keel::kTrustedKeysDirectory;

/// Where trusted keys are and whether signatures are demanded without them.
struct SigningPolicy {
    std::string trusted_keys_directory = std::string(kTrustedKeysDirectory);
    bool required = false; // keel.patch_signing=required: refuse everything without keys
};

/// The outcome of checking a module's signature.
struct SignatureCheck {
    bool configured = false; // false: signing is off, nothing was checked
    std::string key;         // the trusted key file that verified it
    std::string key_id;      // first 16 hex digits of SHA-256 of that key's DER
};

/// Checks `module_bytes` (the file as stored) against the detached signature
/// at `signature_path` under `policy`. Errors say what was missing or wrong.
Result<SignatureCheck> check_signature(std::string_view module_bytes,
                                       const std::string& signature_path,
                                       const SigningPolicy& policy);

/// Signs `module_bytes` with the PEM private key (Ed25519, RSA or EC,
/// unencrypted) at `private_key_path`; returns the signature to write to
/// `<module>.sig`.
Result<std::string> sign_module(std::string_view module_bytes, const std::string& private_key_path);

/// The key id (16 hex digits) of a PEM public or private key file.
Result<std::string> key_id_of(const std::string& key_path);

// ---------------------------------------------------------------------------
// The kernel's side (kernel.cpp)
// ---------------------------------------------------------------------------

/// Where the kernel's interfaces are, and the module syscalls and the clock:
/// the seam unit tests replace with a directory tree and fakes. A
/// default-constructed Kernel is the real one.
struct Kernel {
    std::string livepatch_directory = "/sys/kernel/livepatch";
    std::string module_directory = "/sys/module";
    std::string proc_directory = "/proc";
    /// The running kernel's release; empty means uname(2)'s.
    std::string release;
    /// Inserts the module open as `fd` (finit_module; compressed ones are
    /// decompressed first) with `parameters`. Default: kmod/kmod.h.
    std::function<Result<void>(int fd, const std::string& parameters, const std::string& what)>
        insert;
    /// delete_module(2) with O_NONBLOCK.
    std::function<Result<void>(const std::string& name)> remove;
    /// Writes a sysfs knob (`enabled`, `force`): the kernel acts on the write.
    std::function<Result<void>(const std::string& path, std::string_view value)> write;
    /// Sleeps; tests advance a fake clock instead (and play the kernel).
    std::function<void(std::chrono::milliseconds)> sleep;
    /// CLOCK_MONOTONIC in microseconds.
    std::function<uint64_t()> now_usec;

    /// Fills in the defaults for whatever is unset.
    Kernel();
    std::string running_release() const;
    std::string patch_path(std::string_view name, std::string_view file = {}) const;
};

/// One object (vmlinux or a module) a patch changes.
struct PatchedObject {
    std::string name;     // "vmlinux" or the module's name
    bool patched = false; // false when that module is not loaded (yet)
};

/// A task that still runs the old code (or, while disabling, the new code).
struct BlockingTask {
    pid_t pid = 0;
    pid_t tid = 0;
    std::string command; // comm
};

enum class PatchState {
    Enabled,    // patching every task is complete
    Patching,   // transition to the patched state in progress
    Unpatching, // transition back in progress
    Disabled,   // module loaded, patch no longer active (the kernel cannot re-enable it)
    NotLoaded,  // only installed
};
inline constexpr auto kPatchStateNames = name_table<PatchState>({
    {PatchState::Enabled, "enabled"},
    {PatchState::Patching, "patching"},
    {PatchState::Unpatching, "unpatching"},
    {PatchState::Disabled, "disabled"},
    {PatchState::NotLoaded, "not loaded"},
});
inline std::string_view describe(PatchState state) {
    return kPatchStateNames.name(state);
}

/// A live patch the kernel knows of (loaded module with the K taint, with or
/// without its /sys/kernel/livepatch entry).
struct PatchStatus {
    std::string name;
    PatchState state = PatchState::NotLoaded;
    std::vector<PatchedObject> objects;
    std::string taint;             // /sys/module/<name>/taint ("OEK")
    size_t tasks_total = 0;        // during a transition: tasks seen under /proc
    size_t tasks_transitioned = 0; // ... of which already in the target state
};

/// The live patches loaded in the kernel, by name.
Result<std::vector<PatchStatus>> loaded_patches(const Kernel& kernel);
/// The status of one loaded patch; null when no such live patch module is
/// loaded. (A pointer, not std::optional: libc++ 16's std::expected would
/// keep its flag in the optional's tail padding, see base/result.h.)
Result<std::unique_ptr<PatchStatus>> patch_status(const Kernel& kernel, std::string_view name);
/// Tasks whose /proc/<pid>/task/<tid>/patch_state is not `target_state`
/// (1 patched, 0 unpatched); -1 (no transition) counts as done. Also counts
/// all tasks seen into `total` when given.
std::vector<BlockingTask> blocking_tasks(const Kernel& kernel, int target_state,
                                         size_t* total = nullptr);
/// /proc/sys/kernel/tainted.
Result<uint64_t> kernel_taint(const Kernel& kernel);
/// The taint flags set in `taint` as the kernel prints them ("OEK").
std::string taint_letters(uint64_t taint);
inline constexpr uint64_t kTaintLivepatch = uint64_t(1) << 15; // 'K'

// ---------------------------------------------------------------------------
// Operations (patches.cpp)
// ---------------------------------------------------------------------------

/// The installed set: <root>/<kernel release>/<name>.ko (+ .ko.sig).
inline constexpr std::string_view kInstallRoot = "/var/lib/keel/patches";
/// Copies of loaded modules (so `enable` can reload a disabled patch), and
/// the results of boot-time loading.
inline constexpr std::string_view kRunDirectory = "/run/keel/patches";

struct Options {
    Kernel kernel;
    SigningPolicy signing;
    std::string install_root = std::string(kInstallRoot);
    std::string run_directory = std::string(kRunDirectory);
    /// How long a transition may take before it is reversed (or forced).
    std::chrono::milliseconds timeout{60'000};
    /// On timeout, force the transition instead of reversing it. The module
    /// can then never be removed; never the default.
    bool force = false;
    /// Progress for people (one line each, no newline); default: dropped.
    std::function<void(std::string_view)> report;
};

/// One check `inspect_module` made ("signature", "livepatch", ...).
struct Check {
    std::string name;
    bool passed = false;
    std::string detail;
};

/// Everything known about a module file before loading it.
struct Inspection {
    std::string path;
    uint64_t file_size = 0;
    std::string sha256; // of the file as stored
    bool compressed = false;
    std::optional<ModuleImage> image;
    std::vector<Check> checks; // in the order load applies them
    /// The first failed check, or nullptr when the module may be loaded.
    const Check* first_failure() const;
};

enum class ReleaseCheck {
    Running,   // vermagic must name the running kernel (load, enable, boot)
    AnyKernel, // any release; install files it under the one vermagic names
};

/// Runs every check on the module file at `path` without touching the kernel.
Inspection inspect_module(const std::string& path, const Options& options,
                          ReleaseCheck release = ReleaseCheck::Running);

struct LoadRequest {
    std::string path;
    std::string parameters; // module parameters, "key=value key2=value2"
    /// After the transition, disable and unload every other live patch
    /// (what klp's atomic replace leaves behind, or older cumulative patches).
    bool replace = false;
};

struct LoadOutcome {
    std::string name;
    uint64_t transition_usec = 0; // from finit_module to transition complete
    bool forced = false;
    std::vector<std::string> replaced; // patches unloaded because of `replace`
};

/// Checks the module, loads its dependencies and the module, and follows the
/// transition. On timeout (without `force`) the transition is reversed, the
/// module unloaded and an error returned that says so. A refused module
/// leaves the kernel untouched.
Result<LoadOutcome> load_patch(const LoadRequest& request, const Options& options);
/// Disables a patch: enabled=0, then follows the transition back; on timeout
/// it is reversed again (the patch stays enabled).
Result<void> disable_patch(std::string_view name, const Options& options);
/// Enables a patch. A disabled patch cannot be re-enabled by the kernel, so
/// its module is unloaded and loaded again from the copy kept when it was
/// loaded, or from the installed set.
Result<LoadOutcome> enable_patch(std::string_view name, const Options& options);
/// Disables (when enabled) and removes the patch module.
Result<void> unload_patch(std::string_view name, const Options& options);

/// A module in the installed set.
struct InstalledPatch {
    std::string name;
    std::string path;
    std::string release;
    std::optional<std::string> boot_result; // what boot-time loading did with it, if it ran
};

/// Checks the module (the vermagic check only names the release) and copies
/// it with its signature to <install_root>/<release>/<name>.ko. Returns that path.
Result<std::string> install_patch(const std::string& path, const Options& options);
/// Removes <install_root>/<release>/<name>.ko (+ .sig); the running kernel
/// is not touched. An empty release means the running kernel's.
Result<void> uninstall_patch(std::string_view name, std::string release, const Options& options);
/// The installed set for `release` (empty: the running kernel's), by name.
Result<std::vector<InstalledPatch>> installed_patches(const Options& options,
                                                      std::string release = {});

// ---------------------------------------------------------------------------
// Boot (boot.cpp)
// ---------------------------------------------------------------------------

/// What boot-time loading did with one installed patch.
struct BootLoad {
    std::string name;
    Result<void> result; // error: refused or failed to load
    bool transition_complete = false;
};

/// Loads the installed set for the running kernel without waiting for the
/// transitions (the kernel completes them on its own), records each result
/// under the run directory and returns them.
std::vector<BootLoad> load_installed(const Options& options);

/// PID 1's boot step, after modules and before units: load_installed() with
/// keel.patch_signing= from `cmdline`, results logged (kmsg, so the journal
/// has them). Off with keel.patches=0.
void load_installed_patches(const KernelCommandLine& cmdline);

} // namespace livepatch
} // namespace keel
