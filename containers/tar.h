// containers/tar: reading tar archives (image layers) as a stream. A
// ByteSource yields the bytes in order, so a decompressor can sit in front
// (decompressed(), gzip and zstd found by their magic numbers); TarReader
// parses ustar, GNU and pax headers one entry at a time and hands out each
// entry's data without holding the archive in memory.
//
// The reader trusts nothing: checksums are verified, names and pax records
// are bounded, sizes are checked against what the stream holds, and every
// error names the entry (its number, counted from 1, and its name) and the
// byte offset of its header.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keel::oci {

/// Bytes read in order: a file, a pipe, memory, a decompressor.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    /// Reads up to buffer.size() bytes; returns 0 only at the end.
    virtual Result<size_t> read(std::span<char> buffer) = 0;
};

/// The bytes of a string (viewed: it must outlive the source).
class MemorySource final : public ByteSource {
public:
    explicit MemorySource(std::string_view data) : m_data(data) {}
    Result<size_t> read(std::span<char> buffer) override;

private:
    std::string_view m_data;
};

/// The bytes read from a file descriptor (not owned).
class FdSource final : public ByteSource {
public:
    explicit FdSource(int fd) : m_fd(fd) {}
    Result<size_t> read(std::span<char> buffer) override;

private:
    int m_fd;
};

/// Compressions a layer may come in, told apart by magic number.
enum class LayerCompression { None, Gzip, Zstd };

inline constexpr auto kLayerCompressionNames = name_table<LayerCompression>({
    {LayerCompression::None, "none"},
    {LayerCompression::Gzip, "gzip"},
    {LayerCompression::Zstd, "zstd"},
});

/// Reads the first bytes of `source` and returns a source of its content:
/// decompressed (gzip, zstd; concatenated members or frames too) when it
/// starts with their magic number, the bytes as they are otherwise.
/// Truncated or corrupt compressed data is an error on read.
Result<std::unique_ptr<ByteSource>> decompressed(std::unique_ptr<ByteSource> source);

/// What an entry is. Sparse files, multi-volume parts, volume labels and
/// other vendor types are refused by the reader.
enum class TarEntryType { Regular, HardLink, Symlink, CharDevice, BlockDevice, Directory, Fifo };

inline constexpr auto kTarEntryTypeNames = name_table<TarEntryType>({
    {TarEntryType::Regular, "regular file"},
    {TarEntryType::HardLink, "hard link"},
    {TarEntryType::Symlink, "symlink"},
    {TarEntryType::CharDevice, "character device"},
    {TarEntryType::BlockDevice, "block device"},
    {TarEntryType::Directory, "directory"},
    {TarEntryType::Fifo, "fifo"},
});

/// One entry's header, with pax and GNU long names already applied.
struct TarEntry {
    /// As the archive spells it (not normalised; may hold "..", a leading
    /// "/"): never empty, no NUL.
    std::string path;
    /// A symlink's target or a hard link's target path.
    std::string link_target;
    TarEntryType type = TarEntryType::Regular;
    /// Permission bits with setuid, setgid and sticky (07777).
    uint32_t mode = 0;
    uint64_t uid = 0;
    uint64_t gid = 0;
    /// Seconds since the epoch (may be negative) and nanoseconds (pax).
    int64_t mtime = 0;
    uint32_t mtime_nsec = 0;
    /// Bytes of data that follow (0 for every type but Regular).
    uint64_t size = 0;
    uint32_t device_major = 0;
    uint32_t device_minor = 0;
    /// pax SCHILY.xattr.NAME records: NAME -> value.
    std::map<std::string, std::string> xattrs;
    /// Counted from 1, extension headers not counted.
    uint64_t index = 0;
    /// Byte offset of the entry's first header block (its pax or GNU
    /// extension header when it has one).
    uint64_t offset = 0;
};

/// "entry 3 (`etc/passwd`) at byte 1536": how errors name an entry.
std::string describe_entry(const TarEntry& entry);

/// Bounds on what one entry's headers may hold.
struct TarLimits {
    /// Longest path or link target (PATH_MAX).
    size_t max_name = 4096;
    /// Largest pax extended header (all its records together).
    size_t max_pax_header = 1 << 20;
};

/// Parses a tar stream entry by entry.
class TarReader {
public:
    explicit TarReader(ByteSource& source, TarLimits limits = {});

    /// The next entry, kept by the reader until the next call; nullptr at
    /// the archive's end marker (a zero block). What the caller left unread
    /// of the previous entry's data is skipped. An archive that ends
    /// without its end marker is an error. (A pointer, not an optional:
    /// libc++ 16's expected cannot hold an optional of a struct.)
    Result<const TarEntry*> next();

    /// Reads the current entry's data into `buffer`; 0 once all of it was
    /// read. A stream that ends inside the data is an error.
    Result<size_t> read_data(std::span<char> buffer);

    /// Bytes consumed from the source so far.
    uint64_t offset() const { return m_offset; }

private:
    Result<size_t> read_raw(char* out, size_t size);
    Result<void> read_exact(char* out, size_t size, std::string_view what);
    Result<void> skip(uint64_t size, std::string_view what);
    Result<void> finish_entry();
    Error entry_error(std::string what) const;

    ByteSource& m_source;
    TarLimits m_limits;
    std::unique_ptr<char[]> m_buffer;
    size_t m_buffer_start = 0;
    size_t m_buffer_end = 0;
    uint64_t m_offset = 0;
    /// The entry being read: its data left, its padding, what names it in errors.
    uint64_t m_data_left = 0;
    uint64_t m_padding = 0;
    uint64_t m_index = 0;
    uint64_t m_entry_offset = 0;
    std::string m_entry_name;
    TarEntry m_entry;
    bool m_ended = false;
};

} // namespace keel::oci
