// The MVCC store's snapshot bytes (kv/mvcc_snapshot.h). Needs nothing but
// the C++ library, so the fuzz build takes it alone. Layout:
//   "keelmvcc" u32 version(1)
//   { u32 key_size (< 0xffffffff) key u32 value_size value }*
//   u32 0xffffffff   u32 crc32c(everything before)
// integers little-endian.
#include "kv/mvcc_snapshot.h"

#include "base/crc32c.h"
#include "base/endian.h"

namespace keel::kv {

namespace {

constexpr std::string_view kMagic = "keelmvcc";
constexpr uint32_t kVersion = 1;
constexpr uint32_t kEndMark = 0xffffffff;

/// Reads a u32 at `offset`, advancing it; nullopt past the end.
std::optional<uint32_t> read_u32(std::string_view bytes, size_t& offset) {
    if (bytes.size() - offset < 4)
        return std::nullopt;
    uint32_t value = get_u32(bytes, offset);
    offset += 4;
    return value;
}

std::unexpected<Error> snapshot_error(std::string what, size_t offset) {
    return error("MVCC snapshot: " + std::move(what) + " at byte " + std::to_string(offset));
}

} // namespace

std::string begin_snapshot() {
    std::string out(kMagic);
    put_u32(out, kVersion);
    return out;
}

void append_snapshot_entry(std::string& out, std::string_view key, std::string_view value) {
    put_u32(out, uint32_t(key.size()));
    out += key;
    put_u32(out, uint32_t(value.size()));
    out += value;
}

void end_snapshot(std::string& out) {
    put_u32(out, kEndMark);
    put_u32(out, crc32c(out));
}

namespace {

/// A snapshot at the front of some bytes: its writes and where it ends.
struct SnapshotPrefix {
    std::vector<BackendWrite> writes;
    size_t length = 0;
};

Result<SnapshotPrefix> parse_snapshot_prefix(std::string_view snapshot) {
    if (!snapshot.starts_with(kMagic))
        return snapshot_error("no \"keelmvcc\" header", 0);
    size_t offset = kMagic.size();
    std::optional<uint32_t> version = read_u32(snapshot, offset);
    if (!version)
        return snapshot_error("cut short in the header", offset);
    if (*version != kVersion)
        return snapshot_error("version " + std::to_string(*version) + " (this keel reads 1)",
                              kMagic.size());
    std::vector<BackendWrite> writes;
    while (true) {
        size_t entry = offset;
        std::optional<uint32_t> key_size = read_u32(snapshot, offset);
        if (!key_size)
            return snapshot_error("cut short (no end mark)", entry);
        if (*key_size == kEndMark)
            break;
        if (snapshot.size() - offset < *key_size)
            return snapshot_error("a key longer than what is left", entry);
        std::string_view key = snapshot.substr(offset, *key_size);
        offset += *key_size;
        std::optional<uint32_t> value_size = read_u32(snapshot, offset);
        if (!value_size || snapshot.size() - offset < *value_size)
            return snapshot_error("a value longer than what is left", entry);
        std::string_view value = snapshot.substr(offset, *value_size);
        offset += *value_size;
        if (!writes.empty() && key <= std::string_view(writes.back().key))
            return snapshot_error("keys out of order", entry);
        writes.push_back({BackendWrite::Kind::Put, std::string(key), std::string(value)});
    }
    size_t checked = offset;
    std::optional<uint32_t> checksum = read_u32(snapshot, offset);
    if (!checksum)
        return snapshot_error("cut short in the checksum", checked);
    if (*checksum != crc32c(snapshot.substr(0, checked)))
        return snapshot_error("checksum mismatch", checked);
    return SnapshotPrefix{std::move(writes), offset};
}

} // namespace

Result<std::vector<BackendWrite>> parse_snapshot(std::string_view snapshot) {
    SnapshotPrefix prefix = TRY(parse_snapshot_prefix(snapshot));
    if (prefix.length != snapshot.size())
        return snapshot_error("bytes after the checksum", prefix.length);
    return std::move(prefix.writes);
}

Result<size_t> snapshot_length(std::string_view bytes) {
    SnapshotPrefix prefix = TRY(parse_snapshot_prefix(bytes));
    return prefix.length;
}

} // namespace keel::kv
