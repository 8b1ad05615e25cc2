// Kernel module files as outside input: the ELF64 section table, .modinfo
// and the kernel's appended signature. Every offset and size comes from the
// file, so each is checked against the input before it is used. Depends on
// base/ only, so the fuzz target compiles this file on its own.
#include "livepatch/livepatch.h"

#include "base/strings.h"

#include <cstring>

namespace keel::livepatch {

namespace {

constexpr size_t kElfHeaderSize = 64;
constexpr size_t kSectionHeaderSize = 64;
constexpr uint16_t kElfRelocatable = 1; // ET_REL: what a .ko is
constexpr uint32_t kSectionNoBits = 8;  // SHT_NOBITS: occupies no file space
constexpr uint32_t kSectionStringTable = 3;
constexpr std::string_view kSignatureMagic = "~Module signature appended~\n";
constexpr size_t kSignatureInfoSize = 12; // struct module_signature
// struct module starts with `enum module_state state` and a list_head:
// the name is at offset 24 on every 64-bit kernel, MODULE_NAME_LEN (56) long.
constexpr size_t kThisModuleNameOffset = 24;
constexpr size_t kModuleNameLength = 56;

// The file is little-endian ELF64 whatever the host is.
uint64_t little_endian(std::string_view bytes, size_t offset, size_t width) {
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;)
        value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
    return value;
}

// True when [offset, offset + length) lies inside `size` (no overflow).
bool fits(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

struct Section {
    std::string_view name;
    uint32_t type = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
};

bool printable(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return false;
    return true;
}

// Strips the kernel's signature trailer; returns the ELF part.
Result<std::string_view> strip_kernel_signature(std::string_view bytes,
                                                std::optional<KernelSignature>& signature) {
    if (!bytes.ends_with(kSignatureMagic))
        return bytes;
    size_t rest = bytes.size() - kSignatureMagic.size();
    if (rest < kSignatureInfoSize)
        return error("kernel signature: the trailer is cut short");
    size_t info = rest - kSignatureInfoSize;
    // sig_len is the last field, big-endian.
    uint32_t length = 0;
    for (size_t i = 0; i < 4; ++i)
        length = (length << 8) | static_cast<unsigned char>(bytes[info + 8 + i]);
    if (length > info)
        return error(
            cat("kernel signature: claims ", length, " bytes, only ", info, " precede it"));
    signature = KernelSignature{static_cast<uint8_t>(bytes[info + 2]), length};
    return bytes.substr(0, info - length);
}

Result<std::vector<ModinfoField>> parse_modinfo(std::string_view data) {
    std::vector<ModinfoField> fields;
    size_t at = 0;
    while (at < data.size()) {
        if (data[at] == '\0') { // padding between entries
            ++at;
            continue;
        }
        size_t end = data.find('\0', at);
        if (end == std::string_view::npos)
            return error(cat(".modinfo: the entry at offset ", at, " is not NUL-terminated"));
        std::string_view entry = data.substr(at, end - at);
        size_t equals = entry.find('=');
        if (equals == std::string_view::npos || equals == 0)
            return error(cat(".modinfo: the entry at offset ", at, " is not key=value"));
        std::string_view key = entry.substr(0, equals);
        if (!printable(key))
            return error(cat(".modinfo: the key at offset ", at, " has unprintable bytes"));
        fields.push_back({std::string(key), std::string(entry.substr(equals + 1))});
        at = end + 1;
    }
    return fields;
}

// The one value of `key`; two different values are an error (a module that
// says two things about its vermagic or name is not to be trusted).
Result<std::optional<std::string>> single_value(const std::vector<ModinfoField>& fields,
                                                std::string_view key) {
    std::optional<std::string> value;
    for (const ModinfoField& field : fields) {
        if (field.key != key)
            continue;
        if (value && *value != field.value)
            return error(cat(".modinfo: two different values for ", key, "="));
        value = field.value;
    }
    return value;
}

} // namespace

std::optional<std::string> ModuleImage::modinfo_value(std::string_view key) const {
    for (const ModinfoField& field : modinfo)
        if (field.key == key)
            return field.value;
    return std::nullopt;
}

std::string_view vermagic_release(std::string_view vermagic) {
    size_t space = vermagic.find(' ');
    return vermagic.substr(0, space);
}

bool is_valid_module_name(std::string_view name) {
    if (name.empty() || name.size() >= kModuleNameLength)
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    return true;
}

std::string machine_name(uint16_t machine) {
    switch (machine) {
    case 3:
        return "i386";
    case 21:
        return "ppc64";
    case 22:
        return "s390";
    case 40:
        return "arm";
    case 62:
        return "x86-64";
    case 183:
        return "aarch64";
    case 243:
        return "riscv";
    }
    return cat("machine ", machine);
}

Result<ModuleImage> parse_module_image(std::string_view bytes) {
    ModuleImage image;
    std::string_view elf = TRY(strip_kernel_signature(bytes, image.kernel_signature));
    image.elf_size = elf.size();

    if (elf.size() < kElfHeaderSize)
        return error(cat("not an ELF file: ", elf.size(), " bytes, shorter than an ELF header"));
    if (elf.substr(0, 4) != "\x7f"
                            "ELF")
        return error("not an ELF file: no ELF magic");
    if (elf[4] != 2)
        return error("not a 64-bit ELF file");
    if (elf[5] != 1)
        return error("not a little-endian ELF file");
    if (little_endian(elf, 16, 2) != kElfRelocatable)
        return error(cat("not a kernel module: ELF type ", little_endian(elf, 16, 2),
                         ", a module is relocatable (1)"));
    image.machine = static_cast<uint16_t>(little_endian(elf, 18, 2));
    uint64_t section_offset = little_endian(elf, 40, 8);
    uint64_t entry_size = little_endian(elf, 58, 2);
    uint64_t count = little_endian(elf, 60, 2);
    uint64_t names_index = little_endian(elf, 62, 2);
    if (count == 0)
        return error("ELF section table: no sections (or extended numbering, which modules do "
                     "not use)");
    if (entry_size != kSectionHeaderSize)
        return error(cat("ELF section table: entries of ", entry_size, " bytes, expected 64"));
    if (!fits(section_offset, count * kSectionHeaderSize, elf.size()))
        return error(cat("ELF section table: ", count, " entries at offset ", section_offset,
                         " run past the end of the file (", elf.size(), " bytes)"));
    if (names_index >= count)
        return error(cat("ELF section table: the section name table is section ", names_index,
                         " of ", count));

    auto header = [&](uint64_t index) {
        return elf.substr(section_offset + index * kSectionHeaderSize, kSectionHeaderSize);
    };
    std::string_view names_header = header(names_index);
    uint64_t names_offset = little_endian(names_header, 24, 8);
    uint64_t names_size = little_endian(names_header, 32, 8);
    if (little_endian(names_header, 4, 4) != kSectionStringTable)
        return error("ELF section name table is not a string table");
    if (!fits(names_offset, names_size, elf.size()))
        return error(cat("ELF section name table: ", names_size, " bytes at offset ", names_offset,
                         " run past the end of the file"));
    std::string_view names = elf.substr(names_offset, names_size);

    std::vector<Section> sections;
    sections.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        std::string_view raw = header(i);
        Section section;
        uint64_t name_offset = little_endian(raw, 0, 4);
        section.type = static_cast<uint32_t>(little_endian(raw, 4, 4));
        section.offset = little_endian(raw, 24, 8);
        section.size = little_endian(raw, 32, 8);
        if (name_offset >= names.size())
            return error(cat("ELF section ", i, ": name offset ", name_offset,
                             " is outside the name table"));
        size_t name_end = names.find('\0', name_offset);
        if (name_end == std::string_view::npos)
            return error(cat("ELF section ", i, ": name is not NUL-terminated"));
        section.name = names.substr(name_offset, name_end - name_offset);
        if (section.type != kSectionNoBits && !fits(section.offset, section.size, elf.size()))
            return error(cat("ELF section ", i, " (", section.name, "): ", section.size,
                             " bytes at offset ", section.offset, " run past the end of the file (",
                             elf.size(), " bytes)"));
        sections.push_back(section);
    }

    auto find = [&](std::string_view name) -> const Section* {
        for (const Section& section : sections)
            if (section.name == name && section.type != kSectionNoBits)
                return &section;
        return nullptr;
    };
    const Section* modinfo = find(".modinfo");
    if (!modinfo)
        return error("not a kernel module: no .modinfo section");
    const Section* this_module = find(".gnu.linkonce.this_module");
    if (!this_module)
        return error("not a kernel module: no .gnu.linkonce.this_module section");

    image.modinfo = TRY(parse_modinfo(elf.substr(modinfo->offset, modinfo->size)));
    image.vermagic = TRY(single_value(image.modinfo, "vermagic")).value_or("");
    image.livepatch = TRY(single_value(image.modinfo, "livepatch"));
    if (auto depends = TRY(single_value(image.modinfo, "depends")))
        for (std::string_view name : split(*depends, ','))
            if (!name.empty())
                image.depends.emplace_back(name);

    if (auto name = TRY(single_value(image.modinfo, "name"))) {
        image.name = *name;
    } else if (this_module->size >= kThisModuleNameOffset + kModuleNameLength) {
        // Modules built before modpost wrote name= (Linux < 5.1).
        std::string_view field =
            elf.substr(this_module->offset + kThisModuleNameOffset, kModuleNameLength);
        image.name = std::string(field.substr(0, field.find('\0')));
    }
    if (!is_valid_module_name(image.name))
        return error(cat("the module name ", quoted(printable(image.name) ? image.name : "?"),
                         " is not a valid module name (1-55 of A-Z a-z 0-9 _ -)"));
    for (const std::string& name : image.depends)
        if (!is_valid_module_name(name))
            return error(cat(".modinfo: depends= names an invalid module name"));
    return image;
}

} // namespace keel::livepatch
