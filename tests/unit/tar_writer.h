// TarWriter: builds tar archives byte by byte for the tar and layer tests,
// including what GNU tar will not write (names with "..", bad checksums,
// huge sizes, pax and GNU long-name headers in any order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace keel::testing {

struct TestEntry {
    std::string name;
    char type = '0';
    std::string data;
    std::string link;
    uint32_t mode = 0644;
    uint64_t uid = 0;
    uint64_t gid = 0;
    int64_t mtime = 1700000000;
    uint32_t major = 0;
    uint32_t minor = 0;
    /// Written in the size field instead of data.size() when set.
    int64_t size_field = -1;
    /// The POSIX magic ("ustar\0" "00"), or GNU's ("ustar  \0").
    bool gnu = false;
};

class TarWriter {
public:
    /// One header block for `entry`: numbers in octal, or base-256 when
    /// they do not fit; a name over 100 bytes split into prefix and name.
    static std::string header(const TestEntry& entry) {
        std::string block(512, '\0');
        std::string name = entry.name, prefix;
        if (name.size() > 100 && !entry.gnu) {
            size_t slash = name.rfind('/', name.size() - 1);
            if (slash != std::string::npos && slash <= 155 && name.size() - slash - 1 <= 100) {
                prefix = name.substr(0, slash);
                name = name.substr(slash + 1);
            }
        }
        put_text(block, 0, 100, name);
        put_number(block, 100, 8, entry.mode);
        put_number(block, 108, 8, int64_t(entry.uid));
        put_number(block, 116, 8, int64_t(entry.gid));
        put_number(block, 124, 12,
                   entry.size_field >= 0 ? entry.size_field : int64_t(entry.data.size()));
        put_number(block, 136, 12, entry.mtime);
        block[156] = entry.type;
        put_text(block, 157, 100, entry.link);
        if (entry.gnu)
            std::memcpy(&block[257], "ustar  ", 8);
        else
            std::memcpy(&block[257],
                        "ustar\0"
                        "00",
                        8);
        put_number(block, 329, 8, entry.major);
        put_number(block, 337, 8, entry.minor);
        put_text(block, 345, 155, prefix);
        seal(block);
        return block;
    }

    /// Recomputes a header block's checksum.
    static void seal(std::string& block) {
        std::memset(&block[148], ' ', 8);
        unsigned sum = 0;
        for (unsigned char c : block.substr(0, 512))
            sum += c;
        char text[8];
        std::snprintf(text, sizeof text, "%06o", sum);
        std::memcpy(&block[148], text, 7); // six digits, NUL, and the space stays
    }

    /// An entry: its header, its data padded to a block.
    TarWriter& add(const TestEntry& entry) {
        m_bytes += header(entry);
        add_data(entry.data);
        return *this;
    }
    /// A pax extended header ('x', or 'g' for global) with `records`.
    TarWriter& pax(const std::vector<std::pair<std::string, std::string>>& records,
                   char type = 'x') {
        std::string data;
        for (const auto& [key, value] : records)
            data += pax_record(key, value);
        return raw_extension(type, data);
    }
    /// A GNU long name ('L') or long link ('K') header.
    TarWriter& gnu_long(char type, const std::string& name) {
        TestEntry entry{.name = "././@LongLink", .type = type, .data = name + '\0', .gnu = true};
        return add(entry);
    }
    /// An extension header of `type` whose data is `data` as given.
    TarWriter& raw_extension(char type, const std::string& data) {
        return add(TestEntry{.name = "PaxHeaders/x", .type = type, .data = data});
    }
    /// Bytes as they are.
    TarWriter& raw(const std::string& bytes) {
        m_bytes += bytes;
        return *this;
    }
    /// The archive with its end marker (two zero blocks).
    std::string finish() const { return m_bytes + std::string(1024, '\0'); }
    /// The archive so far, without an end marker.
    const std::string& bytes() const { return m_bytes; }

    static std::string pax_record(const std::string& key, const std::string& value) {
        std::string body = " " + key + "=" + value + "\n";
        size_t length = body.size() + 1;
        while (std::to_string(length).size() + body.size() != length)
            ++length;
        return std::to_string(length) + body;
    }

private:
    void add_data(const std::string& data) {
        m_bytes += data;
        m_bytes.append((512 - data.size() % 512) % 512, '\0');
    }
    static void put_text(std::string& block, size_t offset, size_t length,
                         const std::string& text) {
        std::memcpy(&block[offset], text.data(), std::min(length, text.size()));
    }
    static void put_number(std::string& block, size_t offset, size_t length, int64_t value) {
        uint64_t octal_limit = uint64_t(1) << (3 * (length - 1));
        if (value >= 0 && uint64_t(value) < octal_limit) {
            char text[32];
            std::snprintf(text, sizeof text, "%0*llo", int(length - 1),
                          static_cast<unsigned long long>(value));
            std::memcpy(&block[offset], text, length - 1);
            return;
        }
        // base-256, two's complement, first byte's high bit set.
        uint64_t bits = uint64_t(value);
        for (size_t i = length; i-- > 0;) {
            block[offset + i] = char(bits & 0xff);
            bits = value < 0 ? (bits >> 8) | (uint64_t(0xff) << 56) : bits >> 8;
        }
        block[offset] = char(value < 0 ? 0xff : 0x80);
    }

    std::string m_bytes;
};

} // namespace keel::testing
