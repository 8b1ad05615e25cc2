// update/slot_verity: what the initramfs needs to mount a slot through
// dm-verity: the signed manifest kept in the slot's footer
// (slot_footer.h), its signature checked against the trusted keys, and
// its dm-verity parameters. Wired into rootfs's DiskBootOptions::verity_for.
#pragma once

#include "base/result.h"
#include "base/signature.h"
#include "rootfs/rootfs.h"
#include "update/slot_footer.h"

#include <optional>
#include <string>

namespace keel::update {

/// The footer at the end of `partition` (a block device or a file); an
/// empty one when it has none. Errors: unreadable, damaged footer.
Result<SlotFooter> read_slot_footer(const std::string& partition);

/// The dm-verity parameters of the slot partition `partition`
/// ("/dev/vda2"): its footer's manifest, the signature verified against
/// the keys in `trusted_keys_directory`. When the partition has no footer
/// (a slot made without one): no parameters, and UnverifiedRoot::Refused
/// (with the reason as `source`) when `trusted_keys_directory` holds keys,
/// since nothing unsigned boots on a machine that trusts update keys. An
/// error when the footer is damaged, its signature does not verify, or the
/// image would not fit the partition.
Result<VerityChoice>
slot_verity(const std::string& partition,
            const std::string& trusted_keys_directory = std::string(kTrustedKeysDirectory));

} // namespace keel::update
