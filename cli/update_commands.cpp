// `keel update ...`: the A/B slots (update/update.h). Each command reads the
// disk's GPT, changes the slots' boot flags through update's pure functions
// and writes both GPT copies; a refused change writes nothing. The disk and
// slot default to the ones the running system booted from.
#include "cli/update_commands.h"

#include "cli/update_agent_commands.h"
#include "cli/update_payload_commands.h"
#include "cli/update_source_commands.h"
#include "cli/update_verity_commands.h"

#include "base/json.h"
#include "base/strings.h"
#include "base/sys.h"
#include "update/update.h"

#include <optional>
#include <string>

namespace keel::cli {

namespace {

namespace up = update;

// Columns of `keel update status` (each followed by a space).
constexpr size_t kSlotWidth = 4;
constexpr size_t kLabelWidth = 6;
constexpr size_t kPartitionWidth = 9;
constexpr size_t kPriorityWidth = 8;
constexpr size_t kTriesWidth = 5;
constexpr size_t kSuccessfulWidth = 10;

const Option kDiskOption{.name = "--disk",
                         .value_name = "DISK",
                         .type = ValueType::Text,
                         .help = "the disk or disk image holding ROOT-A and ROOT-B (default: the "
                                 "disk the system booted from)"};
const Positional kSlotArgument{.name = "SLOT", .count = Count::Optional, .noun = "slot"};

// What the commands act on: the disk, and the booted slot when known.
struct UpdateTarget {
    std::string disk;
    std::optional<up::SlotName> booted;
    std::string booted_unknown; // why not, when it is not known
};

Result<UpdateTarget> update_target_of(const ParsedArgs& args) {
    UpdateTarget target;
    auto booted = up::booted_slot();
    if (booted) {
        target.booted = booted->slot;
        target.disk = booted->disk;
    } else {
        target.booted_unknown = booted.error().to_string();
    }
    if (auto disk = args.value("--disk")) {
        // The booted slot only counts on the disk it was booted from.
        if (target.disk != *disk) {
            target.booted.reset();
            target.booted_unknown = cat("the system did not boot from ", quoted(*disk));
        }
        target.disk = std::string(*disk);
    }
    if (target.disk.empty())
        return error(cat(
            "which disk? give --disk (the booted one is not known: ", target.booted_unknown, ")"));
    return target;
}

// SLOT as given, or the booted slot.
std::expected<up::SlotName, Failure> slot_of(const ParsedArgs& args, const UpdateTarget& target) {
    if (auto given = args.positional("SLOT")) {
        if (auto slot = up::kSlotNames.parse(*given))
            return *slot;
        return usage_error(args, cat("SLOT: expected A or B, got ", quoted(*given)));
    }
    if (target.booted)
        return *target.booted;
    return std::unexpected(Failure(Error::message(cat(
        "which slot? give A or B (the booted one is not known: ", target.booted_unknown, ")"))));
}

// Writes `slots` and says so; "repaired" when a GPT copy was rewritten.
CommandResult write_and_report(const up::Slots& slots, std::string_view done) {
    GptCopies before = TRY(up::write_slots(system_storage(), slots));
    print(cat(done, "\n"));
    if (before != GptCopies::Both)
        print(cat("the GPT's ", before == GptCopies::PrimaryOnly ? "backup" : "primary",
                  " copy was damaged and has been rewritten from the ",
                  before == GptCopies::PrimaryOnly ? "primary" : "backup", "\n"));
    return kExitSuccess;
}

std::string slot_state(const up::Slots& slots, up::SlotName slot, const UpdateTarget& target) {
    std::string words;
    auto add = [&](std::string_view word) { words += cat(words.empty() ? "" : ", ", word); };
    if (target.booted == slot)
        add("booted");
    if (up::choose_boot_slot(slots) == slot)
        add("boots next");
    if (!slots[slot].flags.bootable())
        add("cannot boot");
    return words;
}

CommandResult update_status(const ParsedArgs& args) {
    UpdateTarget target = TRY(update_target_of(args));
    up::Slots slots = TRY(up::read_slots(target.disk));
    GptCopies copies = TRY(check_gpt_copies(system_storage(), target.disk));
    std::optional<up::SlotName> next = up::choose_boot_slot(slots);
    if (args.flag("--json")) {
        JsonWriter json;
        json.begin_object().field("disk", target.disk).field("gpt", kGptCopiesNames.name(copies));
        json.key("booted");
        target.booted ? json.value(up::kSlotNames.name(*target.booted)) : json.null();
        json.key("next");
        next ? json.value(up::kSlotNames.name(*next)) : json.null();
        json.key("slots").begin_array();
        for (up::SlotName name : {up::SlotName::A, up::SlotName::B}) {
            const up::Slot& slot = slots[name];
            json.begin_object()
                .field("slot", up::kSlotNames.name(name))
                .field("label", up::slot_label(name))
                .field("partition", slot.partition)
                .field("partuuid", slot.partuuid)
                .field("priority", unsigned(slot.flags.priority))
                .field("tries", unsigned(slot.flags.tries))
                .field("successful", slot.flags.successful)
                .field("bootable", slot.flags.bootable())
                .end_object();
        }
        json.end_array().end_object();
        print(cat(json.text(), "\n"));
        return kExitSuccess;
    }
    print(cat("disk ", target.disk, " (GPT copies intact: ", kGptCopiesNames.name(copies), ")\n"));
    print(cat(cell("SLOT", kSlotWidth), cell("LABEL", kLabelWidth),
              cell("PARTITION", kPartitionWidth), cell("PRIORITY", kPriorityWidth),
              cell("TRIES", kTriesWidth), cell("SUCCESSFUL", kSuccessfulWidth), "STATE\n"));
    for (up::SlotName name : {up::SlotName::A, up::SlotName::B}) {
        const up::Slot& slot = slots[name];
        print(cat(cell(up::kSlotNames.name(name), kSlotWidth),
                  cell(up::slot_label(name), kLabelWidth),
                  cell(std::to_string(slot.partition), kPartitionWidth),
                  cell(std::to_string(slot.flags.priority), kPriorityWidth),
                  cell(std::to_string(slot.flags.tries), kTriesWidth),
                  cell(slot.flags.successful ? "yes" : "no", kSuccessfulWidth),
                  slot_state(slots, name, target), "\n"));
    }
    if (!next)
        print("no slot can boot\n");
    return kExitSuccess;
}

CommandResult update_mark_good(const ParsedArgs& args) {
    UpdateTarget target = TRY(update_target_of(args));
    up::SlotName slot = TRY(slot_of(args, target));
    up::Slots slots = TRY(up::mark_good(TRY(up::read_slots(target.disk)), slot));
    return write_and_report(slots, cat("slot ", up::kSlotNames.name(slot), " marked good (",
                                       slots[slot].flags.to_string(), ")"));
}

CommandResult update_mark_bad(const ParsedArgs& args) {
    UpdateTarget target = TRY(update_target_of(args));
    up::SlotName slot = TRY(slot_of(args, target));
    up::Slots slots = TRY(up::mark_bad(TRY(up::read_slots(target.disk)), slot));
    return write_and_report(
        slots, cat("slot ", up::kSlotNames.name(slot), " marked bad: it will not boot"));
}

CommandResult update_rollback(const ParsedArgs& args) {
    UpdateTarget target = TRY(update_target_of(args));
    up::SlotName active = TRY(slot_of(args, target));
    up::Slots slots = TRY(up::rollback(TRY(up::read_slots(target.disk)), active));
    up::SlotName other = up::other_slot(active);
    return write_and_report(slots, cat("slot ", up::kSlotNames.name(other), " boots next (",
                                       slots[other].flags.to_string(), ")"));
}

CommandResult update_activate(const ParsedArgs& args) {
    UpdateTarget target = TRY(update_target_of(args));
    up::SlotName slot = TRY(slot_of(args, target));
    up::Slots slots = up::activate(TRY(up::read_slots(target.disk)), slot);
    return write_and_report(slots, cat("slot ", up::kSlotNames.name(slot), " boots next (",
                                       slots[slot].flags.to_string(), ")"));
}

const Command kStatus{
    .names = {"status"},
    .summary = "the slots' boot flags, which slot was booted and which boots next",
    .options = {kDiskOption, kJsonOption},
    .run = update_status,
};

const Command kMarkGood{
    .names = {"mark-good"},
    .summary = "mark SLOT (default: the booted one) as having booted successfully: it keeps "
               "booting without using tries",
    .options = {kDiskOption},
    .positionals = {kSlotArgument},
    .run = update_mark_good,
};

const Command kMarkBad{
    .names = {"mark-bad"},
    .summary = "stop SLOT (default: the booted one) from booting (refused when the other slot "
               "cannot boot)",
    .options = {kDiskOption},
    .positionals = {kSlotArgument},
    .run = update_mark_bad,
};

const Command kActivate{
    .names = {"activate"},
    .summary = "boot SLOT next (it gets the higher priority; one not yet successful gets one try, "
               "and the other slot boots again if it fails)",
    .options = {kDiskOption},
    .positionals = {{.name = "SLOT", .noun = "slot"}},
    .run = update_activate,
};

const Command kRollback{
    .names = {"rollback"},
    .summary = "boot the other slot than SLOT (default: the booted one) from the next boot on "
               "(it must have booted successfully before)",
    .options = {kDiskOption},
    .positionals = {kSlotArgument},
    .run = update_rollback,
};

// ---- keel update lock: the cluster's reboot lock ----------------------------

const Option kEndpointOption{.name = "--endpoint",
                             .value_name = "HOST:PORT",
                             .type = ValueType::Text,
                             .shown = Shown::InOptionList,
                             .help = "the KV's etcd v3 endpoint (default 127.0.0.1:2379)"};
const Option kGroupOption{
    .name = "--group",
    .value_name = "GROUP",
    .type = ValueType::Text,
    .shown = Shown::InOptionList,
    .help = "a group's lock instead of the cluster-wide one (locksmith's groups)"};
const Option kIdOption{.name = "--id",
                       .value_name = "ID",
                       .type = ValueType::Text,
                       .shown = Shown::InOptionList,
                       .help = "the holder (default: this machine's /etc/machine-id)"};

up::RebootLockOptions lock_options(const ParsedArgs& args) {
    up::RebootLockOptions options;
    if (auto endpoint = args.value("--endpoint"))
        options.endpoint = *endpoint;
    if (auto group = args.value("--group"))
        options.group = *group;
    return options;
}

Result<std::string> holder_id(const ParsedArgs& args) {
    if (auto id = args.value("--id")) {
        if (id->empty())
            return error("--id: empty");
        return std::string(*id);
    }
    std::string id = TRY_CTX(read_file("/etc/machine-id"), "this machine's id (or give --id)");
    while (!id.empty() && (id.back() == '\n' || id.back() == ' '))
        id.pop_back();
    if (id.empty())
        return error("/etc/machine-id is empty: give --id");
    return id;
}

void print_semaphore(const up::RebootSemaphore& semaphore, std::string_view key) {
    std::string holders;
    for (const std::string& holder : semaphore.holders)
        holders += cat(holders.empty() ? "" : ", ", holder);
    print(cat(key, ": ", semaphore.semaphore, " of ", semaphore.max,
              " free; holders: ", holders.empty() ? std::string("none") : holders, "\n"));
}

CommandResult lock_status(const ParsedArgs& args) {
    up::RebootLockOptions options = lock_options(args);
    up::RebootSemaphore semaphore = TRY(up::reboot_lock_status(options));
    if (args.flag("--json")) {
        print(cat(up::encode_reboot_semaphore(semaphore), "\n"));
        return kExitSuccess;
    }
    print_semaphore(semaphore, up::reboot_lock_key(options.group));
    return kExitSuccess;
}

CommandResult lock_take(const ParsedArgs& args) {
    up::RebootLockOptions options = lock_options(args);
    std::string id = TRY(holder_id(args));
    up::RebootSemaphore semaphore =
        TRY(up::change_reboot_lock(options, up::RebootLockChange::Take, id));
    print(cat(id, " holds the reboot lock\n"));
    print_semaphore(semaphore, up::reboot_lock_key(options.group));
    return kExitSuccess;
}

CommandResult lock_release(const ParsedArgs& args) {
    up::RebootLockOptions options = lock_options(args);
    std::string id = TRY(holder_id(args));
    up::RebootSemaphore semaphore =
        TRY(up::change_reboot_lock(options, up::RebootLockChange::Release, id));
    print(cat(id, " does not hold the reboot lock\n"));
    print_semaphore(semaphore, up::reboot_lock_key(options.group));
    return kExitSuccess;
}

CommandResult lock_set_max(const ParsedArgs& args) {
    up::RebootLockOptions options = lock_options(args);
    up::RebootSemaphore semaphore = TRY(up::change_reboot_lock(
        options, up::RebootLockChange::SetMax, "", int64_t(*args.number("--max"))));
    print_semaphore(semaphore, up::reboot_lock_key(options.group));
    return kExitSuccess;
}

const Command kLockStatus{
    .names = {"status"},
    .summary = "how many machines may reboot now, and which hold the lock",
    .options = {kEndpointOption, kGroupOption, kJsonOption},
    .run = lock_status,
};

const Command kLockTake{
    .names = {"take"},
    .summary = "take a unit of the lock for this machine (again: no change); refused when none "
               "is left",
    .options = {kEndpointOption, kGroupOption, kIdOption},
    .run = lock_take,
};

const Command kLockRelease{
    .names = {"release"},
    .summary = "give this machine's unit back (none held: no change)",
    .options = {kEndpointOption, kGroupOption, kIdOption},
    .run = lock_release,
};

const Command kLockSetMax{
    .names = {"set-max"},
    .summary = "how many machines may reboot at once",
    .options = {kEndpointOption,
                kGroupOption,
                {.name = "--max",
                 .value_name = "N",
                 .type = ValueType::Number,
                 .presence = Presence::Required,
                 .max = 1000000,
                 .expected = "a number of machines",
                 .help = "the new maximum (1 or more)"}},
    .run = lock_set_max,
};

const Command kLock{
    .names = {"lock"},
    .summary = "the cluster's reboot lock in the KV (locksmith's semaphore)",
    .notes = R"(The lock is locksmith's semaphore in any etcd v3 KV (keel's or etcd),
at coreos.com/updateengine/rebootlock/semaphore (or
.../rebootlock/groups/GROUP/semaphore): {"semaphore":1,"max":1,"holders":[]}.
Every change is a compare-and-swap on the key's revision.)",
    .subcommands = {&kLockStatus, &kLockTake, &kLockRelease, &kLockSetMax},
};

} // namespace

const Command kUpdateCommand{
    .names = {"update"},
    .summary = "the A/B root slots (keel update help)",
    .notes = R"(A keel disk has two root partitions, ROOT-A and ROOT-B. Their boot flags are
ChromeOS's GPT attribute bits, which `cgpt show` and `cgpt add -P/-T/-S` read
and write too: priority (0 never boots), tries left, successful. The bootable
slot of higher priority boots; a slot not yet successful uses one try per
boot, so one that never comes up healthy stops booting by itself.)",
    .subcommands = {&kStatus, &kMarkGood, &kMarkBad, &kRollback, &kActivate, &kLock,
                    &kUpdateSignCommand, &kUpdatePackCommand, &kUpdateVerifyCommand,
                    &kUpdateInstallCommand, &kUpdateVerityCommand, &kUpdateCheckCommand,
                    &kUpdateDownloadCommand, &kUpdateAgentCommand, &kUpdateRebootCommand},
};

} // namespace keel::cli
