// The manifest's JSON both ways, its checks, and version comparison. No
// I/O and nothing but base/ (the fuzz target compiles this file alone).
#include "update/manifest.h"

#include "update/channel.h"

#include "base/json.h"
#include "base/strings.h"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace keel::update {

namespace {

constexpr size_t kMaxChannelLength = 64;
constexpr size_t kMaxSaltBytes = 256; // veritysetup's superblock holds 256
constexpr uint32_t kMinVerityBlock = 512;
constexpr uint32_t kMaxVerityBlock = 65536;

bool is_power_of_two(uint64_t value) {
    return value != 0 && (value & (value - 1)) == 0;
}

// A SHA-256 digest: 64 lowercase hex digits.
Result<std::string> sha256_field(const JsonCursor& field) {
    std::string text = TRY(field.string());
    if (text.size() != 64 || !is_lower_hex(text))
        return error(cat(field.path(), ": expected 64 lowercase hex digits (a SHA-256), got ",
                         quoted(text.substr(0, 80))));
    return text;
}

// An object with exactly these members (each may be absent; absence is
// reported when the member is read).
Result<JsonObjectCursor> object_of(const JsonCursor& cursor,
                                   std::initializer_list<std::string_view> known) {
    JsonObjectCursor object = TRY(cursor.object());
    for (const auto& [key, member] : object.members())
        if (std::find(known.begin(), known.end(), key) == known.end())
            return error(cat(member.path(), ": unknown field"));
    return object;
}

Result<ManifestImage> parse_image(const JsonCursor& cursor) {
    JsonObjectCursor object = TRY(object_of(cursor, {"size", "sha256", "chunk_size", "chunks"}));
    ManifestImage image;
    image.size = TRY(object["size"].integer<uint64_t>(1, kMaxChunks * kMaxChunkSize));
    image.sha256 = TRY(sha256_field(object["sha256"]));
    image.chunk_size = TRY(object["chunk_size"].integer<uint64_t>(kMinChunkSize, kMaxChunkSize));
    if (!is_power_of_two(image.chunk_size))
        return error(
            cat(object["chunk_size"].path(), ": ", image.chunk_size, " is not a power of two"));
    JsonCursor chunks_field = object["chunks"];
    if (chunks_field.missing())
        return error(cat(chunks_field.path(), ": missing"));
    std::vector<JsonCursor> chunks = TRY(chunks_field.array());
    uint64_t expected = Manifest::chunk_count(image.size, image.chunk_size);
    if (chunks.size() != expected)
        return error(cat(chunks_field.path(), ": ", chunks.size(), " chunk hashes, but ",
                         image.size, " bytes in chunks of ", image.chunk_size, " are ", expected,
                         " chunks"));
    image.chunks.reserve(chunks.size());
    for (const JsonCursor& chunk : chunks)
        image.chunks.push_back(TRY(sha256_field(chunk)));
    return image;
}

Result<uint32_t> verity_block_size(const JsonCursor& field) {
    uint32_t size = TRY(field.integer<uint32_t>(kMinVerityBlock, kMaxVerityBlock));
    if (!is_power_of_two(size))
        return error(cat(field.path(), ": ", size, " is not a power of two"));
    return size;
}

Result<VerityParams> parse_verity(const JsonCursor& cursor, uint64_t image_size) {
    JsonObjectCursor object =
        TRY(object_of(cursor, {"data_blocks", "data_block_size", "hash_block_size", "hash_offset",
                               "algorithm", "salt", "root_hash"}));
    VerityParams verity;
    verity.data_blocks = TRY(object["data_blocks"].integer<uint64_t>(1, image_size));
    verity.data_block_size = TRY(verity_block_size(object["data_block_size"]));
    verity.hash_block_size = TRY(verity_block_size(object["hash_block_size"]));
    verity.hash_offset = TRY(object["hash_offset"].integer<uint64_t>(0, image_size));
    verity.algorithm = TRY(object["algorithm"].string());
    if (verity.algorithm != "sha256")
        return error(cat(object["algorithm"].path(), ": ", quoted(verity.algorithm),
                         " is not supported (sha256 is)"));
    verity.salt = TRY(object["salt"].string());
    if (verity.salt.size() % 2 != 0 || verity.salt.size() > 2 * kMaxSaltBytes ||
        !is_lower_hex(verity.salt))
        return error(cat(object["salt"].path(), ": expected up to ", kMaxSaltBytes,
                         " bytes as lowercase hex"));
    verity.root_hash = TRY(sha256_field(object["root_hash"]));
    // The data must lie before the tree, and the superblock inside the image.
    uint64_t data_end = verity.data_blocks * verity.data_block_size;
    if (verity.data_blocks > image_size / verity.data_block_size || data_end > verity.hash_offset)
        return error(cat(object["data_blocks"].path(), ": ", verity.data_blocks, " blocks of ",
                         verity.data_block_size, " bytes run past hash_offset ",
                         verity.hash_offset));
    if (verity.hash_offset % verity.hash_block_size != 0)
        return error(cat(object["hash_offset"].path(), ": ", verity.hash_offset,
                         " is not a multiple of the hash block size"));
    if (verity.hash_offset + verity.hash_block_size > image_size)
        return error(cat(object["hash_offset"].path(), ": ", verity.hash_offset,
                         " leaves no room for the tree in an image of ", image_size, " bytes"));
    return verity;
}

// The numbers of a version, or an error naming it.
Result<std::vector<uint64_t>> version_numbers(std::string_view version) {
    auto invalid = [&](std::string_view why) {
        return error(cat("version ", quoted(version), ": ", why));
    };
    if (version.empty())
        return invalid("empty");
    std::vector<uint64_t> numbers;
    for (std::string_view part : split(version, '.')) {
        if (part.empty() || part.size() > kMaxVersionDigits ||
            !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return invalid(
                cat("expected dotted numbers of 1 to ", kMaxVersionDigits, " digits, like 1.4.12"));
        if (numbers.size() == kMaxVersionParts)
            return invalid(cat("more than ", kMaxVersionParts, " numbers"));
        numbers.push_back(*parse_u64(part));
    }
    return numbers;
}

} // namespace

uint64_t Manifest::chunk_count(uint64_t size, uint64_t chunk_size) {
    return chunk_size == 0 ? 0 : size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

uint64_t Manifest::chunk_length(uint64_t index) const {
    uint64_t offset = chunk_offset(index);
    return offset >= image.size ? 0 : std::min(image.chunk_size, image.size - offset);
}

Result<void> check_version(std::string_view version) {
    TRY(version_numbers(version));
    return {};
}

Result<int> compare_versions(std::string_view a, std::string_view b) {
    std::vector<uint64_t> left = TRY(version_numbers(a));
    std::vector<uint64_t> right = TRY(version_numbers(b));
    for (size_t i = 0; i < std::max(left.size(), right.size()); ++i) {
        uint64_t x = i < left.size() ? left[i] : 0, y = i < right.size() ? right[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

Result<Manifest> parse_manifest(std::string_view json) {
    JsonValue document = TRY_CTX(parse_json(json), "manifest");
    JsonCursor root(document);
    JsonObjectCursor object =
        TRY_CTX(object_of(root, {"format", "version", "channel", "image", "verity"}), "manifest");
    Manifest manifest;
    auto parsed = [&]() -> Result<void> {
        manifest.format = TRY(object["format"].integer<uint32_t>());
        if (manifest.format != kManifestFormat)
            return error(cat("format: ", manifest.format, " is not known (this keel reads format ",
                             kManifestFormat, ")"));
        manifest.version = TRY(object["version"].string());
        TRY_CTX(check_version(manifest.version), "version");
        manifest.channel = TRY(object["channel"].string());
        if (manifest.channel.empty() || manifest.channel.size() > kMaxChannelLength ||
            !std::all_of(manifest.channel.begin(), manifest.channel.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                       c == '-';
            }))
            return error(cat("channel: expected 1 to ", kMaxChannelLength, " of [a-z0-9._-], got ",
                             quoted(manifest.channel.substr(0, 80))));
        manifest.image = TRY(parse_image(object["image"]));
        manifest.verity = TRY(parse_verity(object["verity"], manifest.image.size));
        return {};
    }();
    if (!parsed)
        return std::unexpected(std::move(parsed).error().wrap("manifest"));
    return manifest;
}

std::string encode_manifest(const Manifest& manifest) {
    JsonWriter json;
    json.begin_object()
        .field("format", manifest.format)
        .field("version", manifest.version)
        .field("channel", manifest.channel);
    json.key("image")
        .begin_object()
        .field("size", manifest.image.size)
        .field("sha256", manifest.image.sha256)
        .field("chunk_size", manifest.image.chunk_size);
    json.key("chunks").begin_array();
    for (const std::string& chunk : manifest.image.chunks)
        json.value(chunk);
    json.end_array().end_object();
    const VerityParams& verity = manifest.verity;
    json.key("verity")
        .begin_object()
        .field("data_blocks", verity.data_blocks)
        .field("data_block_size", verity.data_block_size)
        .field("hash_block_size", verity.hash_block_size)
        .field("hash_offset", verity.hash_offset)
        .field("algorithm", verity.algorithm)
        .field("salt", verity.salt)
        .field("root_hash", verity.root_hash)
        .end_object();
    json.end_object();
    return json.text();
}

} // namespace keel::update
