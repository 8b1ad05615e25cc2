// The A/B slots: ChromeOS's boot flags in the GPT attribute words of ROOT-A
// and ROOT-B, the boot choice, and the changes the updater and operators
// make to them (each a pure function over Slots, refused when it would
// leave no slot to boot), read from and written to the disk's GPT.
#include "update/update.h"

#include "base/strings.h"
#include "base/sys.h"

#include <array>
#include <cstdlib>
#include <unistd.h>

namespace keel::update {

namespace {

// ChromeOS's attribute bits (cgpt's -P, -T, -S).
constexpr int kPriorityShift = 48;
constexpr int kTriesShift = 52;
constexpr int kSuccessfulShift = 56;
constexpr uint64_t kNibble = 0xF;
constexpr uint64_t kFlagBits =
    kNibble << kPriorityShift | kNibble << kTriesShift | uint64_t(1) << kSuccessfulShift;

// `slot` gets a priority above the other slot's; when the other has the
// top one already, the other steps down instead.
void prefer(Slots& slots, SlotName slot) {
    SlotFlags& mine = slots[slot].flags;
    SlotFlags& theirs = slots[other_slot(slot)].flags;
    if (theirs.priority >= kMaxPriority) {
        theirs.priority = kMaxPriority - 1;
        mine.priority = kMaxPriority;
    } else {
        mine.priority = std::max<uint8_t>(mine.priority, uint8_t(theirs.priority + 1));
    }
}

} // namespace

std::string_view slot_label(SlotName slot) {
    return slot == SlotName::A ? "ROOT-A" : "ROOT-B";
}

SlotName other_slot(SlotName slot) {
    return slot == SlotName::A ? SlotName::B : SlotName::A;
}

SlotFlags SlotFlags::from_attributes(uint64_t attributes) {
    SlotFlags flags;
    flags.priority = uint8_t(attributes >> kPriorityShift & kNibble);
    flags.tries = uint8_t(attributes >> kTriesShift & kNibble);
    flags.successful = (attributes >> kSuccessfulShift & 1) != 0;
    return flags;
}

uint64_t SlotFlags::apply_to(uint64_t attributes) const {
    return (attributes & ~kFlagBits) | uint64_t(priority & kNibble) << kPriorityShift |
           uint64_t(tries & kNibble) << kTriesShift | uint64_t(successful) << kSuccessfulShift;
}

std::string SlotFlags::to_string() const {
    return cat("priority=", unsigned(priority), " tries=", unsigned(tries),
               " successful=", successful ? 1 : 0);
}

Result<Slots> read_slots(const std::string& disk) {
    GptTable table = TRY(read_gpt(disk));
    Slots slots;
    slots.disk = disk;
    for (SlotName name : {SlotName::A, SlotName::B}) {
        const GptPartition* found = nullptr;
        for (const GptPartition& partition : table.partitions) {
            if (partition.name != slot_label(name))
                continue;
            if (found)
                return error(cat(quoted(disk), ": two partitions are named ", slot_label(name),
                                 " (", found->number, " and ", partition.number, ")"));
            found = &partition;
        }
        if (!found)
            return error(cat(quoted(disk), ": no partition is named ", slot_label(name),
                             ": not an A/B disk"));
        Slot& slot = slots[name];
        slot.name = name;
        slot.partition = found->number;
        slot.attributes = found->attributes;
        slot.flags = SlotFlags::from_attributes(found->attributes);
        slot.partuuid = found->unique.to_string();
    }
    return slots;
}

Result<GptCopies> write_slots(Storage& storage, const Slots& slots) {
    std::array<GptAttributeChange, 2> changes{{
        {slots.a.partition, slots.a.flags.apply_to(slots.a.attributes)},
        {slots.b.partition, slots.b.flags.apply_to(slots.b.attributes)},
    }};
    return set_gpt_attributes(storage, slots.disk, changes);
}

std::optional<SlotName> choose_boot_slot(const Slots& slots) {
    bool a = slots.a.flags.bootable(), b = slots.b.flags.bootable();
    if (a && b) {
        if (slots.a.flags.priority != slots.b.flags.priority)
            return slots.a.flags.priority > slots.b.flags.priority ? SlotName::A : SlotName::B;
        return slots.a.partition <= slots.b.partition ? SlotName::A : SlotName::B;
    }
    if (a)
        return SlotName::A;
    if (b)
        return SlotName::B;
    return std::nullopt;
}

Slots begin_boot(Slots slots, SlotName slot) {
    SlotFlags& flags = slots[slot].flags;
    if (!flags.successful && flags.tries > 0)
        --flags.tries;
    return slots;
}

Result<Slots> mark_good(Slots slots, SlotName slot) {
    SlotFlags& flags = slots[slot].flags;
    if (flags.priority == 0)
        return error(cat("slot ", kSlotNames.name(slot), " (", slot_label(slot),
                         ") has priority 0: marking it good would not make it boot"));
    flags.successful = true;
    flags.tries = 0;
    return slots;
}

Result<Slots> mark_bad(Slots slots, SlotName slot) {
    if (!slots[other_slot(slot)].flags.bootable())
        return error(cat("slot ", kSlotNames.name(other_slot(slot)), " (",
                         slot_label(other_slot(slot)), ") cannot boot either (",
                         slots[other_slot(slot)].flags.to_string(), "): marking ",
                         kSlotNames.name(slot), " bad would leave nothing to boot"));
    slots[slot].flags = SlotFlags{};
    return slots;
}

Result<Slots> rollback(Slots slots, SlotName active) {
    SlotName target = other_slot(active);
    const SlotFlags& flags = slots[target].flags;
    if (!flags.successful)
        return error(cat("slot ", kSlotNames.name(target), " (", slot_label(target),
                         ") has not booted successfully (", flags.to_string(),
                         "): nothing to roll back to"));
    if (flags.priority == 0)
        return error(cat("slot ", kSlotNames.name(target), " (", slot_label(target),
                         ") is marked bad (priority 0): nothing to roll back to"));
    prefer(slots, target);
    return slots;
}

Slots activate(Slots slots, SlotName slot) {
    prefer(slots, slot);
    SlotFlags& flags = slots[slot].flags;
    if (!flags.successful)
        flags.tries = std::max<uint8_t>(flags.tries, 1);
    return slots;
}

Slots prepare_install(Slots slots, SlotName slot) {
    slots[slot].flags = SlotFlags{};
    return slots;
}

Slots finish_install(Slots slots, SlotName slot) {
    SlotFlags& flags = slots[slot].flags;
    flags.priority = 0;
    prefer(slots, slot);
    flags.tries = 1;
    flags.successful = false;
    return slots;
}

Result<BootedSlot> booted_slot(const std::string& mountinfo, const std::string& sys_dev_block) {
    std::vector<MountEntry> mounts = TRY(read_mountinfo(mountinfo));
    const MountEntry* root = nullptr;
    for (const MountEntry& entry : mounts)
        if (entry.point == "/")
            root = &entry; // the last one mounted there is what / is
    if (!root)
        return error(cat(quoted(mountinfo), " has no mount at /"));
    if (root->major == 0)
        return error(cat("/ is ", root->type, " (", root->source,
                         "), on no block device: not booted from a slot"));
    std::string device = cat(sys_dev_block, "/", root->major, ":", root->minor);
    // A root read through dm-verity is on a device-mapper device over the
    // slot's partition: its one "slave" in sysfs.
    if (auto below = list_directory(cat(device, "/slaves")); below && below->size() == 1)
        device = cat(device, "/slaves/", below->front());
    BlockDevice partition = TRY(parse_block_uevent(TRY(read_file(cat(device, "/uevent")))));
    std::optional<SlotName> slot;
    for (SlotName name : {SlotName::A, SlotName::B})
        if (partition.partition_label == slot_label(name))
            slot = name;
    if (!slot)
        return error(cat("/ is on ", partition.name,
                         partition.partition_label.empty()
                             ? std::string(", which has no partition name")
                             : cat(", named ", partition.partition_label),
                         ": not ROOT-A or ROOT-B"));
    // A partition's sysfs directory sits in its disk's.
    char* resolved = ::realpath(device.c_str(), nullptr);
    if (!resolved)
        return errno_error(cat("resolve ", quoted(device)));
    std::string path(resolved);
    std::free(resolved);
    std::string parent = path.substr(0, path.rfind('/'));
    return BootedSlot{*slot, cat("/dev/", parent.substr(parent.rfind('/') + 1))};
}

} // namespace keel::update
