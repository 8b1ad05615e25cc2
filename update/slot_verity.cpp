// A slot's signed manifest at boot: the footer read from the end of the
// partition, its signature checked, its dm-verity parameters returned; a
// slot without one refused when the machine trusts update keys.
#include "update/slot_verity.h"

#include "base/strings.h"
#include "base/sys.h"
#include "update/install.h"

#include <fcntl.h>
#include <unistd.h>

namespace keel::update {

namespace {

// The partition's size: lseek to the end works for block devices and files.
Result<uint64_t> partition_size(const Fd& fd, const std::string& partition) {
    off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0)
        return errno_error(cat("size of ", quoted(partition)));
    return uint64_t(end);
}

} // namespace

Result<SlotFooter> read_slot_footer(const std::string& partition) {
    Storage& storage = system_storage();
    File file = TRY(storage.open(partition, O_RDONLY, 0));
    off_t end = ::lseek(file.fd(), 0, SEEK_END);
    if (end < 0)
        return errno_error(cat("size of ", quoted(partition)));
    uint64_t size = uint64_t(end);
    if (size < kSlotFooterSize)
        return SlotFooter{};
    std::string region = TRY(storage.pread_all(file, kSlotFooterSize, size - kSlotFooterSize));
    auto footer = parse_slot_footer(region);
    if (!footer)
        return std::unexpected(std::move(footer).error().wrap(quoted(partition)));
    return std::move(*footer);
}

Result<VerityChoice> slot_verity(const std::string& partition,
                                 const std::string& trusted_keys_directory) {
    SlotFooter footer = TRY(read_slot_footer(partition));
    if (!footer.present()) {
        // A machine that trusts update keys boots only what one of them
        // signed: a slot without a footer (copied by hand, or an install
        // cut before its footer was written) is not booted unverified.
        std::vector<std::string> keys = TRY(trusted_key_files(trusted_keys_directory));
        if (keys.empty())
            return VerityChoice{};
        return VerityChoice{.params = std::nullopt,
                            .unverified = UnverifiedRoot::Refused,
                            .source = cat(quoted(partition),
                                          " has no signed manifest (no slot footer), and ",
                                          keys.size(), " trusted update key(s) in ",
                                          quoted(trusted_keys_directory), " require one")};
    }
    auto signed_manifest =
        verify_signed_manifest(footer.manifest, footer.signature, trusted_keys_directory);
    if (!signed_manifest)
        return std::unexpected(
            std::move(signed_manifest).error().wrap(cat(quoted(partition), "'s manifest")));
    Fd fd = TRY(open_file(partition, O_RDONLY));
    uint64_t size = TRY(partition_size(fd, partition));
    if (signed_manifest->manifest.image.size > size - kSlotFooterSize)
        return error(cat(quoted(partition), ": its manifest's image (",
                         signed_manifest->manifest.image.size,
                         " bytes) does not fit the partition before the footer"));
    return VerityChoice{.params = signed_manifest->manifest.verity,
                        .source = cat("the slot's manifest (", signed_manifest->manifest.version,
                                      "), signed by key ", signed_manifest->key.key_id)};
}

} // namespace keel::update
