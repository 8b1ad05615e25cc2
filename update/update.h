// The A/B updater's public surface (the only header other folders include).
//
// Slots: a keel disk has two root partitions, ROOT-A and ROOT-B. Which one
// boots is decided by ChromeOS's GPT attribute bits, the ones ChromeOS's
// and CoreOS's `cgpt` read and write: a priority (bits 48-51, 0 = never),
// tries left (52-55) and successful (56). A slot boots when its priority is
// above 0 and it has tries left or has booted successfully; of two, the
// higher priority boots, the lower partition number on a tie. A boot of a
// slot not yet successful uses one try first, so a root that never comes
// up healthy runs out of tries and the other slot boots by itself.
//
// The functions on Slots are pure: they return the flags to write, or say
// why a change is refused; read_slots() and write_slots() do the disk.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "base/storage.h"
#include "rootfs/rootfs.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::update {

/// One of the two root slots.
enum class SlotName { A, B };
inline constexpr auto kSlotNames = name_table<SlotName>({
    {SlotName::A, "A"},
    {SlotName::B, "B"},
});

/// The GPT name of a slot's partition: "ROOT-A", "ROOT-B".
std::string_view slot_label(SlotName slot);
/// The slot that is not `slot`.
SlotName other_slot(SlotName slot);

/// Largest priority and tries the 4-bit fields hold.
inline constexpr uint8_t kMaxPriority = 15;
inline constexpr uint8_t kMaxTries = 15;

/// A slot's boot flags: ChromeOS's attribute bits 48-56 of its partition.
struct SlotFlags {
    uint8_t priority = 0;    ///< 0: never boots; 15 first
    uint8_t tries = 0;       ///< boots left while not yet successful
    bool successful = false; ///< has come up healthy

    /// The flags in a partition's attribute word.
    static SlotFlags from_attributes(uint64_t attributes);
    /// `attributes` with bits 48-56 replaced by these flags (others kept).
    uint64_t apply_to(uint64_t attributes) const;
    /// Whether the slot may boot: a priority, and tries left or successful.
    bool bootable() const { return priority > 0 && (tries > 0 || successful); }
    /// "priority=2 tries=1 successful=0", as cgpt's -P/-T/-S name them.
    std::string to_string() const;
    bool operator==(const SlotFlags&) const = default;
};

/// One slot on a disk.
struct Slot {
    SlotName name = SlotName::A;
    uint32_t partition = 0;  ///< partition number (vda<partition>)
    uint64_t attributes = 0; ///< the whole attribute word, as read
    SlotFlags flags;
    std::string partuuid; ///< the partition's unique GUID, lowercase
};

/// The two slots of a disk, as read.
struct Slots {
    std::string disk; ///< the disk image or block device
    Slot a;
    Slot b;

    Slot& operator[](SlotName slot) { return slot == SlotName::A ? a : b; }
    const Slot& operator[](SlotName slot) const { return slot == SlotName::A ? a : b; }
};

/// The slots of `disk`: its partitions named ROOT-A and ROOT-B. Errors name
/// what is missing (no GPT, no ROOT-B, a name used twice).
Result<Slots> read_slots(const std::string& disk);
/// Writes both slots' flags to both GPT copies of `slots.disk` (other
/// attribute bits and everything else in the table unchanged); a damaged
/// GPT copy is repaired on the way. Returns which copies were intact.
Result<GptCopies> write_slots(Storage& storage, const Slots& slots);

/// The slot to boot: the bootable one with the higher priority, A (the
/// lower partition number, as disks keel makes have it) on a tie; none
/// when neither is bootable.
std::optional<SlotName> choose_boot_slot(const Slots& slots);

/// What booting `slot` writes before its root is mounted: one try used
/// when the slot is not yet successful (never below 0).
Slots begin_boot(Slots slots, SlotName slot);

/// The booted `slot` came up healthy: successful, no tries counted.
/// Refused for a slot with priority 0 (it would still never boot).
Result<Slots> mark_good(Slots slots, SlotName slot);

/// `slot` must not boot again: priority 0, no tries, not successful.
/// Refused when the other slot cannot boot either (nothing would).
Result<Slots> mark_bad(Slots slots, SlotName slot);

/// Boot the other slot than `active` next: it gets the higher priority.
/// Refused unless it has booted successfully before (a slot never known
/// good is not a rollback target) and is not marked bad.
Result<Slots> rollback(Slots slots, SlotName active);

/// An operator's choice: `slot` boots next (priority above the other's);
/// one not yet successful gets a try, so that it falls back if it never
/// comes up healthy.
Slots activate(Slots slots, SlotName slot);

/// Before the first byte of an update is written into `slot`: it cannot
/// boot (priority 0, no tries, not successful).
Slots prepare_install(Slots slots, SlotName slot);

/// After an update was written into `slot` and checked: it boots next,
/// once (priority above the other slot, tries 1, not successful).
Slots finish_install(Slots slots, SlotName slot);

/// At boot, from the initramfs: the slot of `disk` to boot, its try counted
/// on the disk first (both GPT copies written, a damaged one repaired); a
/// damaged or stale GPT copy is repaired even when no try is counted. No
/// label when neither slot can boot. init's SlotChooser (rootfs/rootfs.h).
Result<SlotChoice> boot_slot(const std::string& disk);

/// At boot, from the initramfs: the slot labelled `label` on `disk` was
/// chosen but did not boot (dm-verity, its mount, or its init failed). It
/// gets priority 0, no tries, not successful, on the disk, even when the
/// other slot cannot boot either (unlike mark_bad: the next boot then stays
/// in the initramfs for repair instead of failing the same way again).
/// init's SlotFailureHandler (rootfs/rootfs.h).
Result<void> boot_slot_failed(const std::string& disk, const std::string& label);

/// The slot the running system was booted from, and its disk: the slot
/// whose partition holds the filesystem mounted at `/` (mountinfo), found
/// through sysfs. Errors say why it is not known (not a keel disk).
struct BootedSlot {
    SlotName slot = SlotName::A;
    std::string disk; ///< "/dev/vda"
};
Result<BootedSlot> booted_slot(const std::string& mountinfo = "/proc/self/mountinfo",
                               const std::string& sys_dev_block = "/sys/dev/block");

// ---- the cluster's reboot lock (reboot_lock.cpp) ---------------------------------

/// locksmith's reboot semaphore, as it is kept in the cluster's KV (keel's
/// or any etcd v3): {"semaphore":1,"max":1,"holders":[]}. A machine takes
/// one unit before it reboots into an update and gives it back once it is
/// healthy again, so that at most `max` machines are away at once.
struct RebootSemaphore {
    int64_t semaphore = 1; ///< units left
    int64_t max = 1;       ///< machines that may reboot at once
    std::vector<std::string> holders;
};

/// Parses the KV value. Errors name the field ("semaphore: expected an
/// integer") and refuse a value that does not add up (holders + semaphore
/// != max, a holder twice).
Result<RebootSemaphore> parse_reboot_semaphore(std::string_view json);
/// The value as it is written to the KV (locksmith's field names).
std::string encode_reboot_semaphore(const RebootSemaphore& semaphore);

/// `holder` takes a unit. Idempotent: a holder that has one already keeps
/// it, unchanged (locksmith answers it "semaphore is at 0"). Refused when
/// no unit is left, naming the holders.
Result<RebootSemaphore> take_reboot_lock(RebootSemaphore semaphore, std::string_view holder);
/// `holder` gives its unit back; a holder without one changes nothing.
RebootSemaphore release_reboot_lock(RebootSemaphore semaphore, std::string_view holder);
/// A new maximum (1 or more); the units left change by as much. Refused
/// when more machines hold the lock than the new maximum allows.
Result<RebootSemaphore> set_reboot_lock_max(RebootSemaphore semaphore, int64_t max);

/// Where the semaphore is: "coreos.com/updateengine/rebootlock/semaphore",
/// or ".../rebootlock/groups/GROUP/semaphore" for a group.
std::string reboot_lock_key(std::string_view group);

/// How to reach the KV.
struct RebootLockOptions {
    std::string endpoint = "127.0.0.1:2379"; ///< an etcd v3 gRPC endpoint
    std::string group;                       ///< empty: the cluster-wide lock
    std::chrono::milliseconds timeout{5000}; ///< each KV call
};

/// The semaphore now; a missing key is the default {1, 1, []}.
Result<RebootSemaphore> reboot_lock_status(const RebootLockOptions& options);

/// A change to the semaphore (take, release, set max).
enum class RebootLockChange { Take, Release, SetMax };

/// Applies `change` in the KV with a compare-and-swap on the key's
/// revision, read again and retried when another machine changed it first.
/// Returns the semaphore written (or found unchanged).
Result<RebootSemaphore> change_reboot_lock(const RebootLockOptions& options,
                                           RebootLockChange change, std::string_view holder,
                                           int64_t max = 1);

} // namespace keel::update
