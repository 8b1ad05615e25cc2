// A/B kernels through kexec (update/kexec.h): loading a kernel with
// kexec_file_load(2), the slot choice that does not count a try twice, and
// the initramfs's jump into a slot's own kernel. The command line's
// keel.kexec= marker is kexec_cmdline.cpp's.
#include "update/kexec.h"

#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/reboot.h>
#include <unistd.h>

namespace keel::update {

namespace {

std::optional<SlotName> slot_of_label(std::string_view label) {
    for (SlotName slot : {SlotName::A, SlotName::B})
        if (slot_label(slot) == label)
            return slot;
    return std::nullopt;
}

// Opens a file for kexec_file_load, naming it in the error.
Result<Fd> open_image_file(const std::string& path, std::string_view what) {
    return TRY_CTX(open_file(path, O_RDONLY), cat("open the ", what, " ", quoted(path)));
}

} // namespace

Result<void> load_kexec_image(const KexecImage& image) {
    Fd kernel = TRY(open_image_file(image.kernel, "kernel"));
    Fd initrd;
    if (image.initrd)
        initrd = TRY(open_image_file(*image.initrd, "initramfs"));
    auto loaded =
        kexec_file_load(kernel.get(), image.initrd ? initrd.get() : -1, image.command_line);
    if (loaded)
        return {};
    int code = loaded.error().code();
    std::string what = cat("load ", quoted(image.kernel), " for kexec");
    if (code == ENOEXEC || code == EINVAL)
        return errno_error(code, cat(what, ": not a kernel image the running kernel can start"));
    if (code == EPERM)
        return errno_error(code, cat(what, ": not allowed (needs root; a locked-down kernel "
                                           "starts only signed kernels)"));
    if (code == ENOSYS)
        return errno_error(code, cat(what, ": the running kernel has no kexec_file_load"));
    return std::unexpected(std::move(loaded).error().wrap(what));
}

std::optional<SlotName> reboot_kexec_slot(const Slots& slots, SlotName booted) {
    std::optional<SlotName> next = choose_boot_slot(slots);
    if (next == booted && slots[booted].flags.successful)
        return booted;
    return std::nullopt;
}

std::optional<SlotName> running_reboot_kexec_slot() {
    auto booted = booted_slot();
    if (!booted)
        return std::nullopt;
    auto slots = read_slots(booted->disk);
    if (!slots)
        return std::nullopt;
    return reboot_kexec_slot(*slots, booted->slot);
}

Result<SlotChoice> choose_slot_after_kexec(const std::string& disk,
                                           std::optional<SlotName> kexec_slot) {
    if (!kexec_slot)
        return boot_slot(disk);
    Slots slots = TRY(read_slots(disk));
    const Slot& slot = slots[*kexec_slot];
    return SlotChoice{std::string(slot_label(*kexec_slot)),
                      cat(kSlotNames.name(*kexec_slot), " (", slot_label(*kexec_slot), ") of ",
                          disk, ": ", slot.flags.to_string(), ", in its own kernel (",
                          kKexecParameter, "=", kSlotNames.name(*kexec_slot),
                          "), its try counted before the kexec")};
}

Result<SlotChoice> boot_slot_after_kexec(const std::string& disk) {
    std::optional<SlotName> slot;
    auto cmdline = KernelCommandLine::read();
    if (cmdline) {
        auto marked = kexec_slot(*cmdline);
        if (marked)
            slot = *marked;
        else
            log_warning(cat(marked.error().to_string(), ": ignored; choosing a slot as usual"));
    } else {
        log_warning(cat(cmdline.error().to_string(), ": choosing a slot as usual"));
    }
    return choose_slot_after_kexec(disk, slot);
}

Result<void> boot_slot_kernel(const std::string& root, const std::string& label) {
    std::optional<SlotName> slot = slot_of_label(label);
    if (!slot)
        return {}; // not an A/B slot: nothing to do
    KernelCommandLine cmdline = TRY(KernelCommandLine::read());
    if (cmdline.has(kKexecParameter))
        return {}; // already in the slot's kernel (or told not to: a bad value)
    std::string kernel = cat(root, kSlotKernelPath);
    if (!path_exists(kernel))
        return {}; // the slot boots with the running kernel
    std::string initrd = cat(root, kSlotInitrdPath);
    if (!path_exists(initrd))
        return error(cat("slot ", kSlotNames.name(*slot), " has ", kSlotKernelPath, " but no ",
                         kSlotInitrdPath, " (a slot's kernel needs keel's initramfs beside it)"));
    std::string running = TRY(read_file("/proc/cmdline"));
    KexecImage image{
        kernel, initrd,
        kexec_command_line(running, cat(kKexecParameter, "=", kSlotNames.name(*slot)))};
    uint64_t start = monotonic_usec();
    TRY(load_kexec_image(image));
    log_notice(cat("slot ", kSlotNames.name(*slot), " has its own kernel: starting ",
                   kSlotKernelPath, " (loaded in ", (monotonic_usec() - start) / 1000,
                   " ms) with kexec"));
    set_log_writer(LogWriter::Caller); // every line out before the jump
    ::sync();
    ::reboot(RB_KEXEC); // returns only on failure
    int code = errno;
    (void)kexec_file_unload();
    return errno_error(code, "reboot(LINUX_REBOOT_CMD_KEXEC)");
}

} // namespace keel::update
