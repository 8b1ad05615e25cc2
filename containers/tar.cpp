// The tar reader: 512-byte header blocks (ustar, GNU, and the old v7 form),
// pax extended headers ('x'; global 'g' headers are checked and ignored)
// and GNU long names ('L', 'K') applied to the entry that follows them,
// numbers in octal or base-256, and the entry's data handed out in pieces.
#include "containers/tar.h"

#include "base/strings.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unistd.h>

namespace keel::oci {

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kBufferSize = 64 * 1024;
// Sizes past this cannot be stored on any filesystem and would overflow
// when rounded up to a block.
constexpr uint64_t kMaxSize = uint64_t(1) << 60;

// Field offsets and lengths of a ustar header.
struct Field {
    size_t offset;
    size_t length;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kUid{108, 8};
constexpr Field kGid{116, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChecksum{148, 8};
constexpr size_t kTypeflag = 156;
constexpr Field kLinkname{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kDevMajor{329, 8};
constexpr Field kDevMinor{337, 8};
constexpr Field kPrefix{345, 155};

std::string_view field(const char* block, Field f) {
    std::string_view text(block + f.offset, f.length);
    return text.substr(0, std::min(text.find('\0'), text.size()));
}

// A name for messages: control bytes shown as '?', cut when very long.
std::string printable(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 256))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (name.size() > 256)
        out += "...";
    return out;
}

// A numeric header field: octal digits (leading spaces allowed, ended by a
// space or NUL), or base-256 when the first byte's high bit is set (0x80:
// positive, 0xff: negative, two's complement), as GNU tar and star write
// values that do not fit in octal.
std::optional<int64_t> parse_number(const char* block, Field f) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(block + f.offset);
    if (bytes[0] & 0x80) {
        bool negative = bytes[0] & 0x40;
        uint64_t value = negative ? ~uint64_t(0) : 0;
        // Bits beyond 63 must be sign copies.
        for (size_t i = 0; i < f.length; ++i) {
            unsigned char byte = i == 0 ? (bytes[0] & 0x7f) | (negative ? 0x80 : 0) : bytes[i];
            if ((value >> 56) != (negative ? 0xffu : 0u))
                return std::nullopt;
            value = (value << 8) | byte;
        }
        if (negative != (int64_t(value) < 0))
            return std::nullopt;
        return int64_t(value);
    }
    size_t i = 0;
    while (i < f.length && bytes[i] == ' ')
        ++i;
    uint64_t value = 0;
    size_t digits = 0;
    for (; i < f.length && bytes[i] >= '0' && bytes[i] <= '7'; ++i, ++digits) {
        if (value > (uint64_t(std::numeric_limits<int64_t>::max()) >> 3))
            return std::nullopt;
        value = value * 8 + (bytes[i] - '0');
    }
    for (; i < f.length; ++i)
        if (bytes[i] != ' ' && bytes[i] != '\0')
            return std::nullopt;
    if (digits == 0) // an empty field reads as 0, as every tar reads it
        return 0;
    return int64_t(value);
}

// The header checksum: the sum of its bytes with the checksum field read as
// spaces. Old tars summed signed chars; either sum is accepted.
bool checksum_matches(const char* block) {
    auto stored = parse_number(block, kChecksum);
    if (!stored)
        return false;
    int64_t unsigned_sum = 0, signed_sum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
        bool in_field = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.length;
        unsigned char byte = in_field ? ' ' : static_cast<unsigned char>(block[i]);
        unsigned_sum += byte;
        signed_sum += in_field ? ' ' : static_cast<signed char>(block[i]);
    }
    return *stored == unsigned_sum || *stored == signed_sum;
}

bool all_zero(const char* block) {
    return std::all_of(block, block + kBlock, [](char c) { return c == 0; });
}

// Why a type flag is refused, or "" for the ones the reader handles.
std::string_view refused_type(char type) {
    switch (type) {
    case 'S':
        return "GNU sparse file";
    case 'D':
        return "GNU directory dump";
    case 'M':
        return "GNU multi-volume continuation";
    case 'V':
        return "volume label";
    case 'N':
        return "GNU old long name";
    default:
        return "";
    }
}

// A pax decimal: digits only, bounded.
std::optional<uint64_t> pax_unsigned(std::string_view text) {
    if (text.empty() || text.size() > 19)
        return std::nullopt;
    return parse_u64(text);
}

// A pax time: [-]seconds[.fraction], the fraction read to nanoseconds.
std::optional<std::pair<int64_t, uint32_t>> pax_time(std::string_view text) {
    bool negative = text.starts_with('-');
    if (negative)
        text.remove_prefix(1);
    std::string_view whole = text.substr(0, text.find('.'));
    std::string_view fraction =
        whole.size() < text.size() ? text.substr(whole.size() + 1) : std::string_view{};
    auto seconds = pax_unsigned(whole);
    if (!seconds || *seconds > uint64_t(std::numeric_limits<int64_t>::max()))
        return std::nullopt;
    if (whole.size() < text.size() && fraction.empty())
        return std::nullopt;
    uint32_t nanoseconds = 0;
    for (size_t i = 0; i < fraction.size(); ++i) {
        if (fraction[i] < '0' || fraction[i] > '9')
            return std::nullopt;
        if (i < 9)
            nanoseconds = nanoseconds * 10 + uint32_t(fraction[i] - '0');
    }
    for (size_t i = fraction.size(); i < 9; ++i)
        nanoseconds *= 10;
    int64_t value = int64_t(*seconds);
    if (negative && nanoseconds) // -1.25 is 1.25 s before the epoch: -2 s + 0.75 s
        return std::pair{-value - 1, 1000000000 - nanoseconds};
    return std::pair{negative ? -value : value, nanoseconds};
}

// What pax records set for one entry; unset fields keep the header's.
struct PaxOverrides {
    std::optional<std::string> path;
    std::optional<std::string> link_target;
    std::optional<uint64_t> size;
    std::optional<uint64_t> uid;
    std::optional<uint64_t> gid;
    std::optional<std::pair<int64_t, uint32_t>> mtime;
    std::map<std::string, std::string> xattrs;
};

// Parses "LENGTH KEY=VALUE\n" records. Errors say which record is wrong.
Result<void> parse_pax(std::string_view data, const TarLimits& limits, PaxOverrides& out) {
    size_t record = 0;
    while (!data.empty()) {
        ++record;
        size_t space = data.find(' ');
        if (space == std::string_view::npos || space == 0 || space > 20)
            return error(cat("pax record ", record, ": no length"));
        auto length = parse_u64(data.substr(0, space));
        if (!length || *length <= space + 1 || *length > data.size())
            return error(cat("pax record ", record, ": length out of range"));
        std::string_view text = data.substr(space + 1, *length - space - 1);
        data.remove_prefix(*length);
        if (!text.ends_with('\n'))
            return error(cat("pax record ", record, ": does not end with a newline"));
        text.remove_suffix(1);
        size_t equals = text.find('=');
        if (equals == std::string_view::npos || equals == 0)
            return error(cat("pax record ", record, ": no key"));
        std::string_view key = text.substr(0, equals);
        std::string_view value = text.substr(equals + 1);
        auto bounded_name = [&](std::optional<std::string>& target) -> Result<void> {
            if (value.find('\0') != std::string_view::npos)
                return error(cat("pax ", key, ": contains a NUL byte"));
            if (value.size() > limits.max_name)
                return error(cat("pax ", key, ": longer than ", limits.max_name, " bytes"));
            // An empty value removes the override (the header's name counts).
            target = value.empty() ? std::nullopt : std::optional<std::string>(value);
            return {};
        };
        auto number = [&](std::optional<uint64_t>& target) -> Result<void> {
            auto parsed = pax_unsigned(value);
            if (!parsed)
                return error(cat("pax ", key, ": not a number: ", quoted(printable(value))));
            target = parsed;
            return {};
        };
        if (key == "path") {
            TRY(bounded_name(out.path));
        } else if (key == "linkpath") {
            TRY(bounded_name(out.link_target));
        } else if (key == "size") {
            TRY(number(out.size));
        } else if (key == "uid") {
            TRY(number(out.uid));
        } else if (key == "gid") {
            TRY(number(out.gid));
        } else if (key == "mtime") {
            out.mtime = pax_time(value);
            if (!out.mtime)
                return error(cat("pax mtime: not a time: ", quoted(printable(value))));
        } else if (key.starts_with("SCHILY.xattr.")) {
            std::string_view name = key.substr(13);
            if (name.empty() || name.size() > 255)
                return error(cat("pax ", quoted(printable(key)), ": bad attribute name"));
            out.xattrs[std::string(name)] = std::string(value);
        } else if (key.starts_with("GNU.sparse.")) {
            return error("GNU sparse file (pax form) is not supported");
        }
        // Others (atime, ctime, uname, gname, comment, charset, SCHILY.dev,
        // LIBARCHIVE.*) say nothing a layer needs.
    }
    return {};
}

} // namespace

std::string describe_entry(const TarEntry& entry) {
    return cat("entry ", entry.index, " (", quoted(printable(entry.path)), ") at byte ",
               entry.offset);
}

Result<size_t> MemorySource::read(std::span<char> buffer) {
    size_t n = std::min(buffer.size(), m_data.size());
    std::memcpy(buffer.data(), m_data.data(), n);
    m_data.remove_prefix(n);
    return n;
}

Result<size_t> FdSource::read(std::span<char> buffer) {
    while (true) {
        ssize_t n = ::read(m_fd, buffer.data(), buffer.size());
        if (n >= 0)
            return size_t(n);
        if (errno != EINTR)
            return errno_error("read");
    }
}

TarReader::TarReader(ByteSource& source, TarLimits limits)
    : m_source(source), m_limits(limits), m_buffer(new char[kBufferSize]) {}

Error TarReader::entry_error(std::string what) const {
    std::string name = m_entry_name.empty() ? "" : cat(" (", quoted(printable(m_entry_name)), ")");
    return Error::message(cat("entry ", m_index, name, " at byte ", m_entry_offset, ": ", what));
}

Result<size_t> TarReader::read_raw(char* out, size_t size) {
    if (m_buffer_start == m_buffer_end) {
        // Large reads skip the buffer.
        if (size >= kBufferSize) {
            size_t n = TRY(m_source.read({out, size}));
            m_offset += n;
            return n;
        }
        m_buffer_start = 0;
        m_buffer_end = TRY(m_source.read({m_buffer.get(), kBufferSize}));
        if (m_buffer_end == 0)
            return 0;
    }
    size_t n = std::min(size, m_buffer_end - m_buffer_start);
    std::memcpy(out, m_buffer.get() + m_buffer_start, n);
    m_buffer_start += n;
    m_offset += n;
    return n;
}

Result<void> TarReader::read_exact(char* out, size_t size, std::string_view what) {
    size_t done = 0;
    while (done < size) {
        auto n = read_raw(out + done, size - done);
        if (!n)
            return std::unexpected(entry_error(cat(what, ": ", n.error().to_string())));
        if (*n == 0)
            return std::unexpected(entry_error(cat("archive truncated in ", what)));
        done += *n;
    }
    return {};
}

Result<void> TarReader::skip(uint64_t size, std::string_view what) {
    char scratch[8192];
    while (size > 0) {
        size_t piece = size_t(std::min<uint64_t>(size, sizeof scratch));
        TRY(read_exact(scratch, piece, what));
        size -= piece;
    }
    return {};
}

Result<void> TarReader::finish_entry() {
    TRY(skip(m_data_left, "data"));
    m_data_left = 0;
    TRY(skip(m_padding, "padding"));
    m_padding = 0;
    return {};
}

Result<size_t> TarReader::read_data(std::span<char> buffer) {
    size_t want = size_t(std::min<uint64_t>(buffer.size(), m_data_left));
    if (want == 0)
        return 0;
    auto n = read_raw(buffer.data(), want);
    if (!n)
        return std::unexpected(entry_error(cat("data: ", n.error().to_string())));
    if (*n == 0)
        return std::unexpected(
            entry_error(cat("archive truncated in data (", m_data_left, " bytes missing)")));
    m_data_left -= *n;
    return *n;
}

Result<const TarEntry*> TarReader::next() {
    if (m_ended)
        return nullptr;
    TRY(finish_entry());
    ++m_index;
    m_entry_offset = m_offset;
    m_entry_name.clear();

    PaxOverrides pax;
    std::optional<std::string> long_name, long_link;
    char block[kBlock];
    while (true) {
        uint64_t block_offset = m_offset;
        size_t got = 0;
        while (got < kBlock) {
            auto n = read_raw(block + got, kBlock - got);
            if (!n)
                return std::unexpected(entry_error(cat("header: ", n.error().to_string())));
            if (*n == 0)
                break;
            got += *n;
        }
        if (got == 0) {
            return std::unexpected(entry_error(
                m_entry_offset == block_offset ? "archive ends without its end marker (truncated?)"
                                               : "archive truncated after an extension header"));
        }
        if (got < kBlock)
            return std::unexpected(entry_error("archive truncated in a header"));
        if (all_zero(block)) {
            if (m_entry_offset != block_offset)
                return std::unexpected(entry_error("end marker right after an extension header"));
            // The end: a second zero block and the record's padding may
            // follow, and are left unread.
            m_ended = true;
            return nullptr;
        }
        if (m_entry_name.empty())
            m_entry_name = std::string(field(block, kName));
        if (!checksum_matches(block))
            return std::unexpected(entry_error(
                cat("header checksum mismatch", block_offset != m_entry_offset
                                                    ? cat(" (header at byte ", block_offset, ")")
                                                    : std::string{})));

        char type = block[kTypeflag];
        auto size_field = parse_number(block, kSize);
        if (!size_field || *size_field < 0 || uint64_t(*size_field) > kMaxSize)
            return std::unexpected(entry_error("size field out of range"));
        uint64_t size = uint64_t(*size_field);
        uint64_t padding = (kBlock - size % kBlock) % kBlock;

        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            size_t bound = (type == 'x' || type == 'g') ? m_limits.max_pax_header
                                                        : m_limits.max_name + 1; // + its NUL
            if (size > bound)
                return std::unexpected(
                    entry_error(cat(type == 'L' || type == 'K' ? "GNU long name" : "pax header",
                                    " of ", size, " bytes exceeds ", bound)));
            std::string data(size, '\0');
            TRY(read_exact(data.data(), size, "extension header"));
            TRY(skip(padding, "padding"));
            if (type == 'L' || type == 'K') {
                data.resize(std::min(data.find('\0'), data.size()));
                if (data.empty())
                    return std::unexpected(entry_error("empty GNU long name"));
                (type == 'L' ? long_name : long_link) = data;
                if (type == 'L')
                    m_entry_name = data;
                continue;
            }
            PaxOverrides parsed;
            auto ok = parse_pax(data, m_limits, parsed);
            if (!ok)
                return std::unexpected(entry_error(ok.error().to_string()));
            if (type == 'g') // applies to later entries; nothing in it matters to a layer
                continue;
            pax = std::move(parsed);
            if (pax.path)
                m_entry_name = *pax.path;
            continue;
        }
        if (auto why = refused_type(type); !why.empty())
            return std::unexpected(entry_error(cat(why, " is not supported")));

        TarEntry entry;
        switch (type) {
        case '0':
        case '\0':
        case '7': // contiguous file: a regular file everywhere but on Masscomp
            entry.type = TarEntryType::Regular;
            break;
        case '1':
            entry.type = TarEntryType::HardLink;
            break;
        case '2':
            entry.type = TarEntryType::Symlink;
            break;
        case '3':
            entry.type = TarEntryType::CharDevice;
            break;
        case '4':
            entry.type = TarEntryType::BlockDevice;
            break;
        case '5':
            entry.type = TarEntryType::Directory;
            break;
        case '6':
            entry.type = TarEntryType::Fifo;
            break;
        default:
            return std::unexpected(entry_error(cat(
                "entry type ",
                (type >= 0x21 && type < 0x7f) ? cat("'", std::string(1, type), "'")
                                              : cat("byte ", int(static_cast<unsigned char>(type))),
                " is not supported")));
        }

        std::string_view magic = std::string_view(block + kMagic.offset, kMagic.length);
        bool posix = magic == std::string_view("ustar\0", 6);
        if (long_name) {
            entry.path = *long_name;
        } else {
            std::string_view prefix = posix ? field(block, kPrefix) : std::string_view{};
            entry.path = prefix.empty() ? std::string(field(block, kName))
                                        : cat(prefix, "/", field(block, kName));
        }
        entry.link_target = long_link ? *long_link : std::string(field(block, kLinkname));
        if (pax.path)
            entry.path = *pax.path;
        if (pax.link_target)
            entry.link_target = *pax.link_target;
        m_entry_name = entry.path;
        if (entry.path.empty())
            return std::unexpected(entry_error("empty name"));
        if (entry.path.size() > m_limits.max_name)
            return std::unexpected(
                entry_error(cat("name longer than ", m_limits.max_name, " bytes")));
        if (entry.link_target.size() > m_limits.max_name)
            return std::unexpected(
                entry_error(cat("link target longer than ", m_limits.max_name, " bytes")));
        // Old tars marked directories by a trailing slash alone.
        if (entry.type == TarEntryType::Regular && type != '7' && entry.path.ends_with('/'))
            entry.type = TarEntryType::Directory;
        if ((entry.type == TarEntryType::HardLink || entry.type == TarEntryType::Symlink) &&
            entry.link_target.empty())
            return std::unexpected(
                entry_error(cat(kTarEntryTypeNames.name(entry.type), " without a target")));

        auto mode = parse_number(block, kMode);
        auto uid = parse_number(block, kUid);
        auto gid = parse_number(block, kGid);
        auto mtime = parse_number(block, kMtime);
        auto major = parse_number(block, kDevMajor);
        auto minor = parse_number(block, kDevMinor);
        if (!mode || *mode < 0)
            return std::unexpected(entry_error("mode field out of range"));
        if (!uid || *uid < 0 || !gid || *gid < 0)
            return std::unexpected(entry_error("uid or gid field out of range"));
        if (!mtime)
            return std::unexpected(entry_error("mtime field out of range"));
        entry.mode = uint32_t(*mode & 07777);
        entry.uid = pax.uid.value_or(uint64_t(*uid));
        entry.gid = pax.gid.value_or(uint64_t(*gid));
        if (entry.uid > 0xfffffffe || entry.gid > 0xfffffffe)
            return std::unexpected(entry_error("uid or gid out of range"));
        entry.mtime = pax.mtime ? pax.mtime->first : *mtime;
        entry.mtime_nsec = pax.mtime ? pax.mtime->second : 0;
        if (entry.type == TarEntryType::CharDevice || entry.type == TarEntryType::BlockDevice) {
            if (!major || !minor || *major < 0 || *minor < 0 || *major > 0xfff || *minor > 0xfffff)
                return std::unexpected(entry_error("device number out of range"));
            entry.device_major = uint32_t(*major);
            entry.device_minor = uint32_t(*minor);
        }
        if (pax.size) {
            if (*pax.size > kMaxSize)
                return std::unexpected(entry_error("pax size out of range"));
            size = *pax.size;
            padding = (kBlock - size % kBlock) % kBlock;
        }
        // Links, directories, devices and fifos have no data, whatever
        // their size field says (as GNU tar and Go's archive/tar read them).
        if (entry.type != TarEntryType::Regular)
            size = padding = 0;
        entry.size = size;
        entry.xattrs = std::move(pax.xattrs);
        entry.index = m_index;
        entry.offset = m_entry_offset;
        m_data_left = size;
        m_padding = padding;
        m_entry = std::move(entry);
        return &m_entry;
    }
}

} // namespace keel::oci
