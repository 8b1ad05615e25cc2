// GPT: header and partition entry parsing (outside input: every field is
// checked before it is used), CRC-32, GUID text, and reading the table of a
// device or image with a fallback to the backup header. Needs only
// keel_base, so the fuzz build compiles it alone (tests/fuzz/gpt_fuzz.cpp).
#include "rootfs/rootfs.h"

#include "base/endian.h"
#include "base/fd.h"
#include "base/strings.h"
#include "base/sys.h"

#include <cerrno>
#include <cstring>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace keel {

namespace {

constexpr std::string_view kSignature = "EFI PART";
constexpr uint32_t kMinHeaderSize = 92;
constexpr uint32_t kNameUnits = 36; // UTF-16 code units in an entry's name

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

Guid guid_at(std::string_view data, size_t at) {
    Guid guid;
    std::memcpy(guid.bytes.data(), data.data() + at, guid.bytes.size());
    return guid;
}

void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
        out += char(code);
    } else if (code < 0x800) {
        out += char(0xC0 | code >> 6);
        out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += char(0xE0 | code >> 12);
        out += char(0x80 | (code >> 6 & 0x3F));
        out += char(0x80 | (code & 0x3F));
    } else {
        out += char(0xF0 | code >> 18);
        out += char(0x80 | (code >> 12 & 0x3F));
        out += char(0x80 | (code >> 6 & 0x3F));
        out += char(0x80 | (code & 0x3F));
    }
}

// The NUL-terminated UTF-16LE name of an entry as UTF-8; an unpaired
// surrogate becomes U+FFFD rather than an error (the name is only shown
// and compared).
std::string utf16le_name(std::string_view units) {
    constexpr uint32_t kReplacement = 0xFFFD;
    std::string out;
    for (size_t i = 0; i + 1 < units.size(); i += 2) {
        uint32_t unit = get_u16(units, i);
        if (unit == 0)
            break;
        if (unit >= 0xD800 && unit < 0xDC00) {
            uint32_t low = i + 3 < units.size() ? get_u16(units, i + 2) : 0;
            if (low >= 0xDC00 && low < 0xE000) {
                append_utf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
                i += 2;
            } else {
                append_utf8(out, kReplacement);
            }
        } else if (unit >= 0xDC00 && unit < 0xE000) {
            append_utf8(out, kReplacement);
        } else {
            append_utf8(out, unit);
        }
    }
    return out;
}

std::string hex32(uint32_t value) {
    constexpr char kHex[] = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 28; shift >= 0; shift -= 4)
        out += kHex[(value >> shift) & 0xF];
    return out;
}

// Where an entry array of `header` ends (exclusive), in sectors of `sector_size`.
uint64_t entry_array_sectors(const GptHeader& header, uint32_t sector_size) {
    uint64_t bytes = uint64_t(header.entry_count) * header.entry_size;
    return (bytes + sector_size - 1) / sector_size;
}

} // namespace

uint32_t crc32_ieee(std::string_view data, uint32_t crc) {
    crc = ~crc;
    for (char c : data)
        crc = kCrcTable[(crc ^ uint8_t(c)) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

std::string Guid::to_string() const {
    // Fields 1-3 are little-endian on disk, 4-5 are byte strings.
    constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += '-';
        uint8_t b = bytes[size_t(kOrder[i])];
        out += kHex[b >> 4];
        out += kHex[b & 0xF];
    }
    return out;
}

std::optional<Guid> Guid::parse(std::string_view text) {
    constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    if (text.size() != 36)
        return std::nullopt;
    Guid guid;
    size_t at = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (text[at] != '-')
                return std::nullopt;
            ++at;
        }
        int high = hex_digit_value(text[at]), low = hex_digit_value(text[at + 1]);
        if (high < 0 || low < 0)
            return std::nullopt;
        guid.bytes[size_t(kOrder[i])] = uint8_t(high << 4 | low);
        at += 2;
    }
    return guid;
}

bool Guid::is_zero() const {
    for (uint8_t b : bytes)
        if (b != 0)
            return false;
    return true;
}

Result<GptHeader> parse_gpt_header(std::string_view sector, uint64_t lba, uint64_t disk_sectors) {
    if (sector.size() < kMinHeaderSize)
        return error(cat("GPT header at LBA ", lba, ": truncated: ", sector.size(),
                         " bytes, a header needs ", kMinHeaderSize));
    if (sector.substr(0, kSignature.size()) != kSignature)
        return error(cat("GPT header at LBA ", lba, ": no `EFI PART` signature"));
    auto fail = [lba](std::string_view what) {
        return error(cat("GPT header at LBA ", lba, ": ", what));
    };
    GptHeader header;
    header.revision = get_u32(sector, 8);
    header.header_size = get_u32(sector, 12);
    if (header.revision >> 16 != 1)
        return fail(
            cat("unsupported revision ", header.revision >> 16, ".", header.revision & 0xFFFF));
    if (header.header_size < kMinHeaderSize || header.header_size > sector.size())
        return fail(cat("header size ", header.header_size, " is outside ", kMinHeaderSize, "..",
                        sector.size()));
    std::string copy(sector.substr(0, header.header_size));
    uint32_t stored_crc = get_u32(copy, 16);
    std::memset(copy.data() + 16, 0, 4);
    if (uint32_t computed = crc32_ieee(copy); computed != stored_crc)
        return fail(cat("header CRC mismatch (stored ", hex32(stored_crc), ", computed ",
                        hex32(computed), ")"));

    header.reserved = get_u32(sector, 20);
    header.current_lba = get_u64(sector, 24);
    header.alternate_lba = get_u64(sector, 32);
    header.first_usable_lba = get_u64(sector, 40);
    header.last_usable_lba = get_u64(sector, 48);
    header.disk_guid = guid_at(sector, 56);
    header.entries_lba = get_u64(sector, 72);
    header.entry_count = get_u32(sector, 80);
    header.entry_size = get_u32(sector, 84);
    header.entries_crc = get_u32(sector, 88);

    if (header.current_lba != lba)
        return fail(cat("says it is at LBA ", header.current_lba));
    if (header.first_usable_lba > header.last_usable_lba)
        return fail(cat("first usable LBA ", header.first_usable_lba, " is after the last, ",
                        header.last_usable_lba));
    if (header.first_usable_lba <= lba && lba <= header.last_usable_lba)
        return fail(cat("lies inside its own usable range ", header.first_usable_lba, "..",
                        header.last_usable_lba));
    uint32_t size = header.entry_size;
    if (size < 128 || size > 4096 || (size & (size - 1)) != 0)
        return fail(cat("partition entry size ", size, " is not a power of two from 128 to 4096"));
    if (header.entry_count == 0)
        return fail("no partition entries");
    if (uint64_t(header.entry_count) * size > kMaxGptEntryArrayBytes)
        return fail(cat(header.entry_count, " entries of ", size, " bytes exceed ",
                        kMaxGptEntryArrayBytes, " bytes"));
    // The sector size is what the header came in; the array must sit
    // outside the usable range and off the header itself.
    uint64_t array_sectors =
        entry_array_sectors(header, uint32_t(std::max<size_t>(sector.size(), 512)));
    uint64_t array_end = header.entries_lba + array_sectors; // exclusive
    if (header.entries_lba < 2 || array_end < header.entries_lba)
        return fail(cat("partition entry array at LBA ", header.entries_lba, " is invalid"));
    bool overlaps_usable =
        header.entries_lba <= header.last_usable_lba && array_end > header.first_usable_lba;
    bool overlaps_header = header.entries_lba <= lba && array_end > lba;
    if (overlaps_usable || overlaps_header)
        return fail(cat("partition entry array at LBA ", header.entries_lba, "..", array_end - 1,
                        " overlaps ", overlaps_header ? "the header" : "the usable range"));
    if (disk_sectors != 0) {
        if (header.alternate_lba >= disk_sectors || header.last_usable_lba >= disk_sectors ||
            array_end > disk_sectors)
            return fail(cat("points past the end of the disk (", disk_sectors, " sectors)"));
    }
    return header;
}

Result<std::vector<GptPartition>> parse_gpt_entries(const GptHeader& header,
                                                    std::string_view entries) {
    uint64_t bytes = uint64_t(header.entry_count) * header.entry_size;
    if (header.entry_size < 128 || bytes > kMaxGptEntryArrayBytes)
        return error(cat("GPT partition entries: bad geometry (", header.entry_count, " of ",
                         header.entry_size, " bytes)"));
    if (entries.size() < bytes)
        return error(
            cat("GPT partition entries: truncated: ", entries.size(), " of ", bytes, " bytes"));
    entries = entries.substr(0, bytes);
    if (uint32_t computed = crc32_ieee(entries); computed != header.entries_crc)
        return error(cat("GPT partition entries: CRC mismatch (stored ", hex32(header.entries_crc),
                         ", computed ", hex32(computed), ")"));
    std::vector<GptPartition> partitions;
    for (uint32_t i = 0; i < header.entry_count; ++i) {
        std::string_view entry = entries.substr(size_t(i) * header.entry_size, header.entry_size);
        GptPartition partition;
        partition.type = guid_at(entry, 0);
        if (partition.type.is_zero())
            continue;
        partition.number = i + 1;
        partition.unique = guid_at(entry, 16);
        partition.first_lba = get_u64(entry, 32);
        partition.last_lba = get_u64(entry, 40);
        partition.attributes = get_u64(entry, 48);
        partition.name = utf16le_name(entry.substr(56, kNameUnits * 2));
        if (partition.first_lba > partition.last_lba)
            return error(cat("GPT partition ", partition.number, ": first LBA ",
                             partition.first_lba, " is after the last, ", partition.last_lba));
        if (partition.first_lba < header.first_usable_lba ||
            partition.last_lba > header.last_usable_lba)
            return error(cat("GPT partition ", partition.number, ": LBAs ", partition.first_lba,
                             "..", partition.last_lba, " are outside the usable range ",
                             header.first_usable_lba, "..", header.last_usable_lba));
        partitions.push_back(std::move(partition));
    }
    return partitions;
}

Result<GptTable> parse_gpt(std::string_view disk_start, uint32_t sector_size) {
    if (sector_size < 512 || (sector_size & (sector_size - 1)) != 0)
        return error(cat("GPT: bad sector size ", sector_size));
    if (disk_start.size() < 2 * size_t(sector_size))
        return error(cat("GPT: truncated: ", disk_start.size(),
                         " bytes, the primary header ends at ", 2 * sector_size));
    GptTable table;
    table.header = TRY(parse_gpt_header(disk_start.substr(sector_size, sector_size), 1));
    if (table.header.entries_lba > disk_start.size() / sector_size)
        return error(cat("GPT partition entries: truncated: the array starts at LBA ",
                         table.header.entries_lba, ", past the ", disk_start.size(),
                         " bytes given"));
    size_t offset = size_t(table.header.entries_lba * sector_size);
    table.partitions = TRY(parse_gpt_entries(table.header, disk_start.substr(offset)));
    return table;
}

namespace {

Result<std::string> read_at(int fd, uint64_t offset, size_t size, const std::string& path) {
    std::string data(size, '\0');
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::pread(fd, data.data() + done, size - done, off_t(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_error(cat("read ", quoted(path), " at byte ", offset + done));
        if (n == 0)
            return error(cat("read ", quoted(path), ": ends at byte ", offset + done));
        done += size_t(n);
    }
    return data;
}

Result<GptTable> read_gpt_copy(int fd, const std::string& path, uint64_t lba, uint32_t sector_size,
                               uint64_t disk_sectors) {
    std::string sector = TRY(read_at(fd, lba * sector_size, sector_size, path));
    GptTable table;
    table.header = TRY(parse_gpt_header(sector, lba, disk_sectors));
    uint64_t bytes = uint64_t(table.header.entry_count) * table.header.entry_size;
    std::string entries =
        TRY(read_at(fd, table.header.entries_lba * sector_size, size_t(bytes), path));
    table.partitions = TRY(parse_gpt_entries(table.header, entries));
    return table;
}

} // namespace

Result<GptTable> read_gpt(const std::string& path) {
    Fd fd = TRY(open_file(path, O_RDONLY));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
        return errno_error(cat("stat ", quoted(path)));
    uint32_t sector_size = 512;
    uint64_t disk_bytes = uint64_t(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        int logical = 0;
        if (::ioctl(fd.get(), BLKSSZGET, &logical) == 0 && logical >= 512)
            sector_size = uint32_t(logical);
        if (::ioctl(fd.get(), BLKGETSIZE64, &disk_bytes) < 0)
            return errno_error(cat("size of ", quoted(path)));
    }
    uint64_t disk_sectors = disk_bytes / sector_size;
    if (disk_sectors < 3)
        return error(cat(quoted(path), " is too small for a GPT (", disk_bytes, " bytes)"));
    auto primary = read_gpt_copy(fd.get(), path, 1, sector_size, disk_sectors);
    if (primary)
        return primary;
    auto backup = read_gpt_copy(fd.get(), path, disk_sectors - 1, sector_size, disk_sectors);
    if (backup)
        return backup;
    return error(cat("read GPT of ", quoted(path), ": primary: ", primary.error().to_string(),
                     "; backup: ", backup.error().to_string()));
}

} // namespace keel
