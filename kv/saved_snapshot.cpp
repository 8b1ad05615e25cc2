// Saved snapshots (kv/saved_snapshot.h): the stream's trailer, and finding
// the MVCC snapshot in a saved file, checked.
#include "kv/saved_snapshot.h"

#include "base/digest.h"
#include "base/strings.h"
#include "kv/mvcc_snapshot.h"
#include "kv/snapshot_file.h"

#include <algorithm>

namespace keel::kv {

namespace {

// etcd pads its stream to 512-byte blocks before the hash.
constexpr size_t kSavedSnapshotBlock = 512;

std::string saved_sha256(std::string_view data) {
    std::string hex = sha256_hex(data);
    std::string digest;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        digest.push_back(char(hex_digit_value(hex[i]) << 4 | hex_digit_value(hex[i + 1])));
    return digest;
}

bool saved_all_zeros(std::string_view bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

// The MVCC snapshot at the front of `body`, followed by nothing but zero
// padding shorter than a block.
Result<std::string_view> saved_mvcc_part(std::string_view body) {
    size_t length = TRY(snapshot_length(body));
    std::string_view padding = body.substr(length);
    if (padding.size() >= kSavedSnapshotBlock || !saved_all_zeros(padding))
        return error(cat(body.size() - length, " bytes after the MVCC snapshot (at byte ", length,
                         ") that are not its padding"));
    return body.substr(0, length);
}

} // namespace

void append_snapshot_trailer(std::string& snapshot) {
    snapshot.resize((snapshot.size() + kSavedSnapshotBlock - 1) / kSavedSnapshotBlock *
                        kSavedSnapshotBlock,
                    '\0');
    snapshot += saved_sha256(snapshot);
}

Result<std::string_view> read_saved_snapshot(std::string_view bytes, HashCheck check) {
    if (bytes.empty())
        return error("the file is empty");
    if (check == HashCheck::Skip && bytes.starts_with("KEELSNAP")) {
        // A member's own snapshot file: its CRC-32C stands in for the hash.
        auto file = decode_snapshot_file(bytes);
        if (!file)
            return error(cat("a data dir's snapshot file: ", file.error()));
        // The data is the file's last field: a view into `bytes`.
        std::string_view data = bytes.substr(bytes.size() - file->data.size());
        if (TRY(snapshot_length(data)) != data.size())
            return error("a data dir's snapshot file: bytes after its MVCC snapshot");
        return data;
    }
    if (check == HashCheck::Verify) {
        if (bytes.size() < kSavedSnapshotHashBytes + kSavedSnapshotBlock ||
            (bytes.size() - kSavedSnapshotHashBytes) % kSavedSnapshotBlock != 0)
            return error(cat("the file is ", bytes.size(),
                             " bytes: a saved snapshot is a multiple of 512 bytes and its "
                             "32-byte SHA-256 trailer (cut short, or saved another way? "
                             "--skip-hash-check reads it without the trailer)"));
        std::string_view body = bytes.substr(0, bytes.size() - kSavedSnapshotHashBytes);
        if (saved_sha256(body) != bytes.substr(body.size()))
            return error("the SHA-256 trailer does not match the rest of the file (it is "
                         "damaged)");
        return saved_mvcc_part(body);
    }
    // Without the check: the snapshot alone, or with its padding and any
    // 32 bytes after it.
    size_t length = TRY(snapshot_length(bytes));
    std::string_view rest = bytes.substr(length);
    if (!rest.empty() && (rest.size() < kSavedSnapshotHashBytes ||
                          rest.size() - kSavedSnapshotHashBytes >= kSavedSnapshotBlock ||
                          !saved_all_zeros(rest.substr(0, rest.size() - kSavedSnapshotHashBytes))))
        return error(cat(rest.size(), " bytes after the MVCC snapshot (at byte ", length,
                         ") that are not its padding and trailer"));
    return bytes.substr(0, length);
}

} // namespace keel::kv
