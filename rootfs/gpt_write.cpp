// Changing a GPT in place: partition attribute words (the A/B updater's
// slot flags), written to both copies with their CRCs, with a damaged copy
// rebuilt from the intact one. Every header is built in memory and checked
// by the same parser that reads disks before anything is written.
#include "rootfs/rootfs.h"

#include "base/strings.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

namespace keel {

namespace {

// Byte offsets in a GPT header and in a partition entry.
constexpr size_t kHeaderCrcAt = 16;
constexpr size_t kCurrentLbaAt = 24;
constexpr size_t kAlternateLbaAt = 32;
constexpr size_t kEntriesLbaAt = 72;
constexpr size_t kEntriesCrcAt = 88;
constexpr size_t kEntryAttributesAt = 48;
// Where a primary entry array starts on every disk keel, sgdisk and cgpt make.
constexpr uint64_t kPrimaryEntriesLba = 2;

void store_le(std::string& data, size_t at, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
        data[at + size_t(i)] = char(value >> (8 * i) & 0xFF);
}

// One copy of the table as it is on the disk.
struct GptCopy {
    std::string sector;  // the header's sector
    std::string entries; // the entry array, entry_count * entry_size bytes
    GptHeader header;
};

struct DiskGeometry {
    uint32_t sector_size = 512;
    uint64_t sectors = 0;
};

Result<DiskGeometry> disk_geometry(const File& file) {
    struct stat st;
    if (::fstat(file.fd(), &st) < 0)
        return errno_error(cat("stat ", quoted(file.path())));
    DiskGeometry geometry;
    uint64_t bytes = uint64_t(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        int logical = 0;
        if (::ioctl(file.fd(), BLKSSZGET, &logical) == 0 && logical >= 512)
            geometry.sector_size = uint32_t(logical);
        if (::ioctl(file.fd(), BLKGETSIZE64, &bytes) < 0)
            return errno_error(cat("size of ", quoted(file.path())));
    }
    geometry.sectors = bytes / geometry.sector_size;
    if (geometry.sectors < 3)
        return error(cat(quoted(file.path()), " is too small for a GPT (", bytes, " bytes)"));
    return geometry;
}

Result<GptCopy> read_copy(Storage& storage, const File& file, uint64_t lba,
                          const DiskGeometry& geometry) {
    GptCopy copy;
    copy.sector = TRY(storage.pread_all(file, geometry.sector_size, lba * geometry.sector_size));
    if (copy.sector.size() < geometry.sector_size)
        return error(cat("GPT header at LBA ", lba, ": past the end of ", quoted(file.path())));
    copy.header = TRY(parse_gpt_header(copy.sector, lba, geometry.sectors));
    size_t bytes = size_t(copy.header.entry_count) * copy.header.entry_size;
    copy.entries =
        TRY(storage.pread_all(file, bytes, copy.header.entries_lba * geometry.sector_size));
    TRY(parse_gpt_entries(copy.header, copy.entries));
    return copy;
}

// Both copies of a disk's table; an error when neither is intact.
struct DiskCopies {
    std::optional<GptCopy> primary;
    std::optional<GptCopy> backup;
    GptCopies intact = GptCopies::Both;
    uint64_t backup_lba = 0; // last: no tail padding in a Result
};

Result<DiskCopies> read_copies(Storage& storage, const File& file, const DiskGeometry& geometry) {
    DiskCopies copies;
    auto primary = read_copy(storage, file, 1, geometry);
    // The backup is where the primary says, or at the disk's last sector.
    copies.backup_lba = primary ? primary->header.alternate_lba : geometry.sectors - 1;
    auto backup = read_copy(storage, file, copies.backup_lba, geometry);
    if (!primary && !backup)
        return error(cat("both copies are damaged: primary: ", primary.error().to_string(),
                         "; backup: ", backup.error().to_string()));
    // Two sound copies whose entries differ: a change stopped between the
    // backup's write and the primary's. The primary counts, as for cgpt
    // and sgdisk, and the backup is stale: rewritten like a damaged one.
    if (backup && !(primary && primary->entries != backup->entries))
        copies.backup = std::move(*backup);
    if (primary)
        copies.primary = std::move(*primary);
    copies.intact = copies.primary && copies.backup ? GptCopies::Both
                    : copies.primary                ? GptCopies::PrimaryOnly
                                                    : GptCopies::BackupOnly;
    return copies;
}

// `model`'s header sector placed at `lba`, pointing at `alternate` and at
// an entry array at `entries_lba` whose CRC is `entries_crc`.
std::string place_header(std::string model, uint32_t header_size, uint64_t lba, uint64_t alternate,
                         uint64_t entries_lba, uint32_t entries_crc) {
    store_le(model, kCurrentLbaAt, lba, 8);
    store_le(model, kAlternateLbaAt, alternate, 8);
    store_le(model, kEntriesLbaAt, entries_lba, 8);
    store_le(model, kEntriesCrcAt, entries_crc, 4);
    store_le(model, kHeaderCrcAt, 0, 4);
    store_le(model, kHeaderCrcAt, crc32_ieee(std::string_view(model).substr(0, header_size)), 4);
    return model;
}

// Writes `copy` (array first, then the header that vouches for it) unless
// the disk holds it already, and syncs.
Result<void> write_copy(Storage& storage, const File& file, const GptCopy& copy,
                        const std::optional<GptCopy>& on_disk, uint32_t sector_size) {
    if (on_disk && on_disk->sector == copy.sector && on_disk->entries == copy.entries)
        return {};
    TRY(storage.pwrite_all(file, copy.entries, copy.header.entries_lba * sector_size));
    TRY(storage.pwrite_all(file, copy.sector, copy.header.current_lba * sector_size));
    TRY(storage.fdatasync(file));
    return {};
}

} // namespace

Result<GptCopies> check_gpt_copies(Storage& storage, const std::string& path) {
    File file = TRY(storage.open(path, O_RDONLY, 0));
    DiskGeometry geometry = TRY(disk_geometry(file));
    DiskCopies copies = TRY_CTX(read_copies(storage, file, geometry), cat("GPT of ", quoted(path)));
    return copies.intact;
}

Result<GptCopies> set_gpt_attributes(Storage& storage, const std::string& path,
                                     std::span<const GptAttributeChange> changes) {
    File file = TRY(storage.open(path, O_RDWR, 0));
    DiskGeometry geometry = TRY(disk_geometry(file));
    DiskCopies copies = TRY_CTX(read_copies(storage, file, geometry),
                                cat("GPT of ", quoted(path), ", not rewritten"));
    const std::optional<GptCopy>& primary = copies.primary;
    const std::optional<GptCopy>& backup = copies.backup;
    uint64_t backup_lba = copies.backup_lba;
    const GptCopy& source = primary ? *primary : *backup;
    const GptHeader& header = source.header;

    std::string entries = source.entries;
    for (const GptAttributeChange& change : changes) {
        if (change.number == 0 || change.number > header.entry_count)
            return error(cat("GPT of ", quoted(path), ": no partition ", change.number, " (",
                             header.entry_count, " entries)"));
        size_t at = size_t(change.number - 1) * header.entry_size;
        if (std::string_view(entries).substr(at, 16).find_first_not_of('\0') ==
            std::string_view::npos)
            return error(
                cat("GPT of ", quoted(path), ": partition ", change.number, " is not in use"));
        store_le(entries, at + kEntryAttributesAt, change.attributes, 8);
    }
    uint32_t entries_crc = crc32_ieee(entries);
    uint64_t array_sectors = (entries.size() + geometry.sector_size - 1) / geometry.sector_size;

    // A copy that is intact keeps its array's place; a rebuilt one goes where
    // GPT tools put it: the primary's at LBA 2, the backup's just before the
    // backup header.
    GptCopy new_primary;
    new_primary.entries = entries;
    new_primary.sector =
        place_header(source.sector, header.header_size, 1, backup_lba,
                     primary ? primary->header.entries_lba : kPrimaryEntriesLba, entries_crc);
    GptCopy new_backup;
    new_backup.entries = entries;
    new_backup.sector =
        place_header(source.sector, header.header_size, backup_lba, 1,
                     backup ? backup->header.entries_lba : backup_lba - array_sectors, entries_crc);
    for (GptCopy* copy : {&new_primary, &new_backup}) {
        uint64_t lba = copy == &new_primary ? 1 : backup_lba;
        auto checked = parse_gpt_header(copy->sector, lba, geometry.sectors);
        if (!checked)
            return error(cat("GPT of ", quoted(path), ": cannot rebuild the ",
                             copy == &new_primary ? "primary" : "backup",
                             " copy: ", checked.error().to_string()));
        copy->header = *checked;
    }

    TRY_CTX(write_copy(storage, file, new_backup, backup, geometry.sector_size),
            cat("write the backup GPT of ", quoted(path)));
    TRY_CTX(write_copy(storage, file, new_primary, primary, geometry.sector_size),
            cat("write the primary GPT of ", quoted(path)));
    return copies.intact;
}

} // namespace keel
