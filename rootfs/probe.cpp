// Pure parsers of outside input for the disk boot: keel.root= (kernel
// command line), /sys/class/block/*/uevent, and filesystem superblocks read
// from a partition (only magic numbers, UUIDs and labels). Needs only
// keel_base, so the fuzz build compiles it alone (tests/fuzz/block_probe_fuzz.cpp).
#include "rootfs/rootfs.h"

#include "base/endian.h"
#include "base/strings.h"

#include <cstring>

namespace keel {

namespace {

constexpr size_t kSuperblockOffset = 1024; // ext4 and erofs both start here

// ext4 superblock fields (offsets from the superblock start).
constexpr uint16_t kExtMagic = 0xEF53;
constexpr size_t kExtMagicAt = 56, kExtUuidAt = 104, kExtLabelAt = 120, kExtLabelSize = 16;
// erofs superblock fields.
constexpr uint32_t kErofsMagic = 0xE0F5E1E2;
constexpr size_t kErofsUuidAt = 48, kErofsNameAt = 64, kErofsNameSize = 16;
// squashfs: "hsqs" at byte 0, no UUID.
constexpr uint32_t kSquashfsMagic = 0x73717368;

// A filesystem UUID in the usual text form (bytes in order, unlike GPT's
// GUIDs); empty for all zeros (the format's "none").
std::string uuid_text(std::string_view bytes) {
    constexpr char kHex[] = "0123456789abcdef";
    bool zero = true;
    std::string out;
    for (size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += '-';
        uint8_t b = uint8_t(bytes[i]);
        zero = zero && b == 0;
        out += kHex[b >> 4];
        out += kHex[b & 0xF];
    }
    return zero ? std::string() : out;
}

// A fixed-size, NUL-padded label field.
std::string label_text(std::string_view field) {
    return std::string(field.substr(0, field.find('\0')));
}

bool is_uuid_text(std::string_view text) {
    if (text.size() != 36)
        return false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

bool has_control_characters(std::string_view text) {
    for (char c : text)
        if (uint8_t(c) < 0x20 || c == 0x7F)
            return true;
    return false;
}

} // namespace

Result<RootSpec> RootSpec::parse(std::string_view text) {
    auto bad = [&](std::string_view why) { return error(cat(quoted(text), ": ", why)); };
    if (text.empty())
        return bad("empty; expected PARTLABEL=, PARTUUID=, UUID=, LABEL= or /dev/NAME");
    if (has_control_characters(text))
        return bad("contains control characters");
    struct Prefix {
        std::string_view prefix;
        Kind kind;
    };
    for (Prefix p :
         {Prefix{"PARTLABEL=", Kind::PartitionLabel}, Prefix{"PARTUUID=", Kind::PartitionUuid},
          Prefix{"UUID=", Kind::FilesystemUuid}, Prefix{"LABEL=", Kind::FilesystemLabel}}) {
        if (!starts_with(text, p.prefix))
            continue;
        std::string_view value = text.substr(p.prefix.size());
        if (value.empty())
            return bad(cat("empty ", p.prefix.substr(0, p.prefix.size() - 1)));
        RootSpec spec;
        spec.kind = p.kind;
        switch (p.kind) {
        case Kind::PartitionLabel:
            // GPT names hold 36 UTF-16 code units; the kernel shows ASCII.
            if (value.size() > 36)
                return bad("a GPT partition name has at most 36 characters");
            spec.value = std::string(value);
            break;
        case Kind::PartitionUuid:
            if (!Guid::parse(value))
                return bad("expected a GUID like 0fc63daf-8483-4772-8e79-3d69d8477de4");
            spec.value = ascii_lower(value);
            break;
        case Kind::FilesystemUuid:
            if (!is_uuid_text(value))
                return bad("expected a UUID like 0b6a4d5e-6c1f-4f8e-9a43-5d2b1c0e7f21");
            spec.value = ascii_lower(value);
            break;
        case Kind::FilesystemLabel:
            if (value.size() > 16)
                return bad("a filesystem label has at most 16 bytes");
            spec.value = std::string(value);
            break;
        case Kind::Path:
            break;
        }
        return spec;
    }
    if (starts_with(text, "/dev/")) {
        std::string_view name = text.substr(5);
        if (name.empty() || name.back() == '/')
            return bad("no device name after /dev/");
        for (std::string_view part : split(name, '/'))
            if (part.empty() || part == "." || part == "..")
                return bad("the device path must not contain empty, `.` or `..` components");
        RootSpec spec;
        spec.kind = Kind::Path;
        spec.value = std::string(text);
        return spec;
    }
    return bad("expected PARTLABEL=, PARTUUID=, UUID=, LABEL= or /dev/NAME");
}

std::string RootSpec::to_string() const {
    switch (kind) {
    case Kind::PartitionLabel:
        return cat("PARTLABEL=", value);
    case Kind::PartitionUuid:
        return cat("PARTUUID=", value);
    case Kind::FilesystemUuid:
        return cat("UUID=", value);
    case Kind::FilesystemLabel:
        return cat("LABEL=", value);
    case Kind::Path:
        return value;
    }
    return value;
}

Result<BlockDevice> parse_block_uevent(std::string_view text) {
    BlockDevice device;
    auto number = [](std::string_view value) -> std::optional<uint32_t> {
        auto parsed = parse_u64(value);
        if (!parsed || *parsed > UINT32_MAX)
            return std::nullopt;
        return uint32_t(*parsed);
    };
    size_t line_number = 0;
    for (std::string_view line : split(text, '\n')) {
        ++line_number;
        if (line.empty())
            continue;
        size_t equals = line.find('=');
        if (equals == std::string_view::npos || equals == 0)
            return error(
                cat("uevent line ", line_number, ": expected KEY=value, got ", quoted(line)));
        std::string_view key = line.substr(0, equals), value = line.substr(equals + 1);
        auto bad_number = [&] {
            return error(cat("uevent line ", line_number, ": ", key, "=", quoted(value),
                             " is not a number"));
        };
        if (key == "DEVNAME") {
            device.name = std::string(value);
        } else if (key == "DEVTYPE") {
            device.is_partition = value == "partition";
        } else if (key == "PARTN") {
            auto n = number(value);
            if (!n)
                return bad_number();
            device.partition_number = *n;
        } else if (key == "PARTNAME") {
            device.partition_label = std::string(value);
        } else if (key == "MAJOR" || key == "MINOR") {
            auto n = number(value);
            if (!n)
                return bad_number();
            (key == "MAJOR" ? device.major : device.minor) = *n;
        }
    }
    if (device.name.empty())
        return error("uevent: no DEVNAME");
    for (std::string_view part : split(device.name, '/'))
        if (part.empty() || part == "." || part == ".." || has_control_characters(part))
            return error(cat("uevent: DEVNAME=", quoted(device.name), " is not a device name"));
    device.path = cat("/dev/", device.name);
    return device;
}

FilesystemInfo probe_filesystem(std::string_view start) {
    FilesystemInfo info;
    if (start.size() >= 4 && get_u32(start, 0) == kSquashfsMagic) {
        info.type = FilesystemType::Squashfs;
        return info;
    }
    std::string_view super =
        start.size() > kSuperblockOffset ? start.substr(kSuperblockOffset) : std::string_view();
    if (super.size() >= kErofsNameAt + kErofsNameSize && get_u32(super, 0) == kErofsMagic) {
        info.type = FilesystemType::Erofs;
        info.uuid = uuid_text(super.substr(kErofsUuidAt, 16));
        info.label = label_text(super.substr(kErofsNameAt, kErofsNameSize));
        return info;
    }
    if (super.size() >= kExtLabelAt + kExtLabelSize &&
        (get_u32(super, kExtMagicAt) & 0xFFFF) == kExtMagic) {
        info.type = FilesystemType::Ext4;
        info.uuid = uuid_text(super.substr(kExtUuidAt, 16));
        info.label = label_text(super.substr(kExtLabelAt, kExtLabelSize));
        return info;
    }
    return info;
}

} // namespace keel
