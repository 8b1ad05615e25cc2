// The slot choice at boot: keel in the initramfs reads the slots of the disk
// holding ROOT-A, picks one by ChromeOS's rules and writes the used try
// before the root is mounted, so that a root that hangs or panics before it
// is marked good has already spent its try; a chosen slot that does not
// boot at all (dm-verity refuses it, its init cannot run) is marked bad.
#include "update/update.h"

#include "base/strings.h"

namespace keel::update {

Result<SlotChoice> boot_slot(const std::string& disk) {
    Slots slots = TRY(read_slots(disk));
    std::optional<SlotName> chosen = choose_boot_slot(slots);
    if (!chosen)
        return SlotChoice{std::nullopt,
                          cat("no slot of ", disk, " can boot: A ", slots.a.flags.to_string(),
                              ", B ", slots.b.flags.to_string())};
    Slots counted = begin_boot(slots, *chosen);
    std::string summary = cat(kSlotNames.name(*chosen), " (", slot_label(*chosen), ") of ", disk,
                              ": ", slots[*chosen].flags.to_string());
    if (counted[*chosen].flags != slots[*chosen].flags) {
        TRY_CTX(write_slots(system_storage(), counted), "count the boot try");
        summary += cat(", one try used: ", unsigned(counted[*chosen].flags.tries), " left");
    }
    return SlotChoice{std::string(slot_label(*chosen)), std::move(summary)};
}

Result<void> boot_slot_failed(const std::string& disk, const std::string& label) {
    Slots slots = TRY(read_slots(disk));
    std::optional<SlotName> failed;
    for (SlotName name : {SlotName::A, SlotName::B})
        if (slot_label(name) == label)
            failed = name;
    if (!failed)
        return error(cat(disk, ": ", quoted(label), " is not a slot (ROOT-A or ROOT-B)"));
    Slots marked = slots;
    marked[*failed].flags = SlotFlags{};
    TRY_CTX(write_slots(system_storage(), marked),
            cat("mark slot ", kSlotNames.name(*failed), " bad"));
    return {};
}

} // namespace keel::update
