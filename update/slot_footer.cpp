// The slot footer's bytes both ways (see slot_footer.h for the layout).
// No I/O; nothing but base/ (the fuzz target compiles this file alone).
#include "update/slot_footer.h"

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/signature.h"
#include "base/strings.h"

namespace keel::update {

namespace {

constexpr std::string_view kMagic = "KEELSLOT";
constexpr uint32_t kFormat = 1;

void put_le32(std::string& out, size_t at, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        out[at + size_t(i)] = char(value >> (8 * i) & 0xFF);
}

std::unexpected<Error> corrupt(std::string what) {
    return std::unexpected(Error::from_code(ErrorCode::DataCorrupt, cat("slot footer: ", what)));
}

uint32_t header_crc(std::string header) {
    put_le32(header, 12, 0);
    return crc32c(header);
}

} // namespace

Result<std::string> encode_slot_footer(const SlotFooter& footer) {
    if (footer.manifest.empty() || footer.manifest.size() > kMaxFooterManifestSize)
        return error(cat("a manifest of ", footer.manifest.size(),
                         " bytes does not fit a slot footer (1 to ", kMaxFooterManifestSize, ")"));
    if (footer.signature.empty() || footer.signature.size() > kMaxSignatureSize)
        return error(cat("a signature of ", footer.signature.size(),
                         " bytes does not fit a slot footer (1 to ", kMaxSignatureSize, ")"));
    std::string bytes(kSlotFooterHeaderSize, '\0');
    bytes.replace(0, kMagic.size(), kMagic);
    put_le32(bytes, 8, kFormat);
    put_le32(bytes, 16, uint32_t(footer.manifest.size()));
    put_le32(bytes, 20, uint32_t(footer.signature.size()));
    put_le32(bytes, 24, crc32c(footer.signature, crc32c(footer.manifest)));
    put_le32(bytes, 12, header_crc(bytes));
    return bytes + footer.manifest + footer.signature;
}

Result<SlotFooter> parse_slot_footer(std::string_view region) {
    if (region.size() < kSlotFooterHeaderSize || region.substr(0, kMagic.size()) != kMagic)
        return SlotFooter{};
    std::string_view header = region.substr(0, kSlotFooterHeaderSize);
    if (get_u32(header, 12) != header_crc(std::string(header)))
        return corrupt("the header's CRC does not match");
    if (uint32_t format = get_u32(header, 8); format != kFormat)
        return corrupt(cat("format ", format, " is not known (this keel reads ", kFormat, ")"));
    if (header.substr(28).find_first_not_of('\0') != std::string_view::npos)
        return corrupt("the header's reserved bytes are not zero");
    uint64_t manifest_size = get_u32(header, 16), signature_size = get_u32(header, 20);
    if (manifest_size == 0 || manifest_size > kMaxFooterManifestSize || signature_size == 0 ||
        signature_size > kMaxSignatureSize)
        return corrupt(cat("a manifest of ", manifest_size, " bytes and a signature of ",
                           signature_size, " bytes are not possible"));
    if (region.size() < kSlotFooterHeaderSize + manifest_size + signature_size)
        return corrupt(cat("the manifest and signature (", manifest_size + signature_size,
                           " bytes) run past the end of the footer"));
    SlotFooter footer;
    footer.manifest = std::string(region.substr(kSlotFooterHeaderSize, manifest_size));
    footer.signature =
        std::string(region.substr(kSlotFooterHeaderSize + manifest_size, signature_size));
    if (crc32c(footer.signature, crc32c(footer.manifest)) != get_u32(header, 24))
        return corrupt("the manifest's and signature's CRC does not match");
    return footer;
}

std::string empty_slot_footer_header() {
    return std::string(kSlotFooterHeaderSize, '\0');
}

} // namespace keel::update
