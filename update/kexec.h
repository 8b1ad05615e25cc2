// A/B kernels: a slot may carry its own kernel and initramfs in its root
// image (/boot/vmlinuz, /boot/initrd.img). keel in the initramfs, once it
// has chosen the slot and counted its try, starts that kernel with
// kexec_file_load(2) and marks the command line keel.kexec=SLOT, so that
// the second initramfs run boots exactly that slot without counting again.
// `keel reboot --kexec` loads a kernel the same way before the shutdown.
#pragma once

#include "base/cmdline.h"
#include "base/result.h"
#include "rootfs/rootfs.h"
#include "update/update.h"

#include <optional>
#include <string>
#include <string_view>

namespace keel::update {

/// Where a slot's own kernel is, in its root image.
inline constexpr std::string_view kSlotKernelPath = "/boot/vmlinuz";
/// The initramfs beside it; a slot with a kernel must carry one (the
/// running initramfs is not kept by the kernel, so it cannot be passed on).
inline constexpr std::string_view kSlotInitrdPath = "/boot/initrd.img";
/// The command line word that says which slot's kernel is running after
/// the initramfs started it: keel.kexec=A or keel.kexec=B.
inline constexpr std::string_view kKexecParameter = "keel.kexec";

/// The slot keel.kexec= names on `cmdline`; nullopt without the word. A
/// value other than A or B is an error naming the word.
Result<std::optional<SlotName>> kexec_slot(const KernelCommandLine& cmdline);

/// The command line for the next kernel: `current` (as /proc/cmdline
/// shows it; a trailing newline is dropped) less its keel.kexec= words,
/// then `extra` (more words, as they are). Quoted words stay whole.
std::string kexec_command_line(std::string_view current, std::string_view extra);

/// For `keel reboot --kexec` into the booted root's own kernel: the slot
/// the new initramfs may boot at once (keel.kexec=SLOT), when the slot
/// that boots next is `booted` and successful, so that a boot counts no
/// try anyway. nullopt otherwise: the initramfs chooses (counting a try)
/// and starts the chosen slot's own kernel itself.
std::optional<SlotName> reboot_kexec_slot(const Slots& slots, SlotName booted);

/// reboot_kexec_slot for the running system (its booted slot and disk);
/// nullopt when it was not booted from a keel disk.
std::optional<SlotName> running_reboot_kexec_slot();

/// What a kexec starts.
struct KexecImage {
    std::string kernel;                ///< the kernel's file (a bzImage)
    std::optional<std::string> initrd; ///< the initramfs; none: the kernel starts without one
    std::string command_line;          ///< the new kernel's whole command line
};

/// Loads `image` with kexec_file_load(2), to be started by
/// reboot(LINUX_REBOOT_CMD_KEXEC). Errors name the file and say why (a
/// file that is not a kernel: "not a kernel image the running kernel can
/// start"). Needs CAP_SYS_BOOT.
Result<void> load_kexec_image(const KexecImage& image);

/// The slot choice after a kexec: with `kexec_slot` (the running kernel is
/// that slot's own, started after its try was counted) that slot of
/// `disk`, no flag written; without it, boot_slot(disk).
Result<SlotChoice> choose_slot_after_kexec(const std::string& disk,
                                           std::optional<SlotName> kexec_slot);

/// init's SlotChooser (rootfs/rootfs.h): choose_slot_after_kexec with
/// keel.kexec= from /proc/cmdline (a bad value is logged and ignored).
Result<SlotChoice> boot_slot_after_kexec(const std::string& disk);

/// init's SlotKernelBoot (rootfs/rootfs.h): the slot labelled `label` is
/// mounted read-only at `root`. When it carries /boot/vmlinuz and the
/// running kernel is not already its own (no keel.kexec= on
/// /proc/cmdline), loads it with the slot's /boot/initrd.img and the
/// running command line plus keel.kexec=SLOT, and starts it: it does not
/// return then. Returns success when the running kernel is to boot the
/// slot; an error when the slot's kernel could not be started.
Result<void> boot_slot_kernel(const std::string& root, const std::string& label);

} // namespace keel::update
