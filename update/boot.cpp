// The slot choice at boot: keel in the initramfs reads the slots of the disk
// holding ROOT-A, picks one by ChromeOS's rules and writes the used try
// before the root is mounted, so that a root that hangs or panics before it
// is marked good has already spent its try (and a GPT copy a power cut
// left damaged is rewritten); a chosen slot that does not boot at all
// (dm-verity refuses it, its init cannot run) is marked bad.
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
    bool count_try = counted[*chosen].flags != slots[*chosen].flags;
    // A copy a power cut left damaged or stale is rewritten now, not at the
    // next change: until then one more bad write would leave no copy.
    GptCopies copies = TRY(check_gpt_copies(system_storage(), disk));
    if (!count_try && copies == GptCopies::Both)
        return SlotChoice{std::string(slot_label(*chosen)), std::move(summary)};
    TRY_CTX(write_slots(system_storage(), counted),
            count_try ? "count the boot try" : "repair the GPT");
    if (count_try)
        summary += cat(", one try used: ", unsigned(counted[*chosen].flags.tries), " left");
    if (copies != GptCopies::Both)
        summary += cat("; the GPT's ", copies == GptCopies::PrimaryOnly ? "backup" : "primary",
                       " copy was damaged or stale and has been rewritten from the ",
                       copies == GptCopies::PrimaryOnly ? "primary" : "backup");
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
