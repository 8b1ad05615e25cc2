// Snapshot files (see snapshot_file.h): their format, the durable save,
// the choice of the file to start from, and pruning.
#include "kv/snapshot_file.h"

#include "base/crash_point.h"
#include "base/crc32c.h"
#include "base/endian.h"
#include "base/strings.h"
#include "kv/file_names.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <vector>

namespace keel::kv {

namespace {

constexpr std::string_view kSnapshotFileMagic = "KEELSNAP";
constexpr uint32_t kSnapshotFormatVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8;
constexpr std::string_view kSuffix = ".snap";

// Reads little-endian numbers from the front of a buffer, failing once it
// runs out.
class Reader {
public:
    explicit Reader(std::string_view data) : m_data(data) {}
    std::optional<uint64_t> number(size_t bytes) {
        if (m_data.size() < bytes)
            return std::nullopt;
        uint64_t value = 0;
        for (size_t i = bytes; i-- > 0;)
            value = value << 8 | uint8_t(m_data[i]);
        m_data.remove_prefix(bytes);
        return value;
    }
    size_t left() const { return m_data.size(); }
    std::string_view rest() const { return m_data; }

private:
    std::string_view m_data;
};

std::optional<std::vector<NodeId>> read_ids(Reader& reader) {
    auto count = reader.number(4);
    if (!count || *count > reader.left() / 8)
        return std::nullopt;
    std::vector<NodeId> ids;
    for (uint64_t i = 0; i < *count; ++i)
        ids.push_back(*reader.number(8));
    return ids;
}

struct SnapshotName {
    std::string name;
    NumberPair numbers; // term, index
};

// The snapshot files in `directory`, newest (highest index) first.
Result<std::vector<SnapshotName>> list_snapshot_files(Storage& storage,
                                                      const std::string& directory,
                                                      std::vector<std::string>* leftovers) {
    std::vector<std::string> names = TRY(storage.list_directory(directory));
    std::vector<SnapshotName> files;
    for (const std::string& name : names) {
        if (auto numbers = parse_numbered_file_name(name, kSuffix))
            files.push_back({name, *numbers});
        else if (leftovers && name.ends_with(kTempSuffix))
            leftovers->push_back(name);
    }
    std::sort(files.begin(), files.end(), [](const SnapshotName& a, const SnapshotName& b) {
        return a.numbers.second != b.numbers.second ? a.numbers.second > b.numbers.second
                                                    : a.numbers.first > b.numbers.first;
    });
    return files;
}

} // namespace

std::string encode_snapshot_file(const Snapshot& snapshot) {
    std::string body;
    put_u64(body, snapshot.meta.index);
    put_u64(body, snapshot.meta.term);
    put_u32(body, uint32_t(snapshot.meta.conf.voters.size()));
    for (NodeId id : snapshot.meta.conf.voters)
        put_u64(body, id);
    put_u32(body, uint32_t(snapshot.meta.conf.learners.size()));
    for (NodeId id : snapshot.meta.conf.learners)
        put_u64(body, id);
    body += snapshot.data;

    std::string out(kSnapshotFileMagic);
    put_u32(out, kSnapshotFormatVersion);
    put_u32(out, crc32c(body));
    put_u64(out, body.size());
    out += body;
    return out;
}

std::expected<Snapshot, std::string> decode_snapshot_file(std::string_view bytes) {
    if (bytes.size() < kHeaderBytes)
        return std::unexpected(
            cat("cut short at ", bytes.size(), " bytes (the header is ", kHeaderBytes, ")"));
    if (bytes.substr(0, kSnapshotFileMagic.size()) != kSnapshotFileMagic)
        return std::unexpected(std::string("not a snapshot file"));
    Reader header(
        bytes.substr(kSnapshotFileMagic.size(), kHeaderBytes - kSnapshotFileMagic.size()));
    uint64_t version = *header.number(4);
    uint64_t checksum = *header.number(4);
    uint64_t length = *header.number(8);
    if (version != kSnapshotFormatVersion)
        return std::unexpected(cat("format version ", version, " (this keel reads version ",
                                   kSnapshotFormatVersion, ")"));
    std::string_view body = bytes.substr(kHeaderBytes);
    if (length != body.size())
        return std::unexpected(
            cat("cut short at ", bytes.size(), " of ", kHeaderBytes + length, " bytes"));
    if (crc32c(body) != checksum)
        return std::unexpected(std::string("checksum mismatch"));
    Reader reader(body);
    Snapshot snapshot;
    auto index = reader.number(8);
    auto term = reader.number(8);
    if (!index || !term)
        return std::unexpected(std::string("the body is too short for a snapshot's position"));
    snapshot.meta.index = *index;
    snapshot.meta.term = *term;
    auto voters = read_ids(reader);
    if (!voters)
        return std::unexpected(std::string("the list of voters runs past the end"));
    auto learners = read_ids(reader);
    if (!learners)
        return std::unexpected(std::string("the list of learners runs past the end"));
    snapshot.meta.conf.voters = std::move(*voters);
    snapshot.meta.conf.learners = std::move(*learners);
    snapshot.data = std::string(reader.rest());
    return snapshot;
}

Result<void> save_snapshot_file(Storage& storage, const std::string& directory,
                                const Snapshot& snapshot) {
    std::string name = numbered_file_name({snapshot.meta.term, snapshot.meta.index}, kSuffix);
    std::string context = cat("kv/snap: save ", name);
    TRY_CTX(storage.make_directories(directory, 0700), context);
    std::string path = cat(directory, "/", name);
    std::string temp_path = cat(path, kTempSuffix);
    {
        File file = TRY_CTX(storage.open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), context);
        TRY_CTX(storage.write_all(file, encode_snapshot_file(snapshot)), context);
        TRY_CTX(storage.fsync(file), context);
    }
    crash_point("kv.snapshot.save"); // a whole temporary file, not yet the snapshot
    TRY_CTX(storage.rename(temp_path, path), context);
    TRY_CTX(storage.sync_directory(directory), context);
    return {};
}

Result<std::optional<Snapshot>> load_snapshot_file(Storage& storage, const std::string& directory,
                                                   const WalState& wal) {
    if (wal.snapshot.index == 0)
        return std::nullopt;
    std::vector<SnapshotName> files;
    auto listed = list_snapshot_files(storage, directory, nullptr);
    if (listed)
        files = std::move(*listed);
    else if (listed.error().code() != ENOENT)
        return std::unexpected(std::move(listed).error().wrap("kv/snap: load"));

    // An older snapshot can stand in only while the log holds every entry
    // from just after it up to the marker.
    auto log_covers_after = [&](Index index) {
        const std::vector<Entry>& entries = wal.entries;
        return !entries.empty() && entries.front().index <= index + 1 &&
               entries.back().index >= wal.snapshot.index;
    };
    std::string damage; // of the newest file that could not be used
    for (const SnapshotName& file : files) {
        Term term = file.numbers.first;
        Index index = file.numbers.second;
        if (index > wal.snapshot.index)
            continue;
        bool is_marked = index == wal.snapshot.index && term == wal.snapshot.term;
        if (!is_marked && !log_covers_after(index))
            continue;
        std::string path = cat(directory, "/", file.name);
        auto bytes = storage.read_file(path);
        if (!bytes)
            return std::unexpected(std::move(bytes).error().wrap("kv/snap: load"));
        auto snapshot = decode_snapshot_file(*bytes);
        if (snapshot && (snapshot->meta.index != index || snapshot->meta.term != term))
            snapshot = std::unexpected(cat("it holds the snapshot at index ", snapshot->meta.index,
                                           ", term ", snapshot->meta.term));
        if (snapshot)
            return std::optional<Snapshot>(std::move(*snapshot));
        if (damage.empty())
            damage = cat(file.name, ": ", snapshot.error());
    }
    std::string marker =
        cat("the log's snapshot at index ", wal.snapshot.index, ", term ", wal.snapshot.term);
    if (damage.empty())
        damage = cat("no snapshot file for ", marker);
    else
        damage = cat(damage, ", and no older snapshot can stand in for ", marker);
    return std::unexpected(Error::from_code(ErrorCode::DataCorrupt,
                                            cat("kv/snap: ", quoted(directory), ": ", damage)));
}

Result<void> prune_snapshot_files(Storage& storage, const std::string& directory, size_t keep) {
    std::vector<std::string> leftovers;
    std::vector<SnapshotName> files =
        TRY_CTX(list_snapshot_files(storage, directory, &leftovers), "kv/snap: prune");
    bool removed = false;
    for (size_t i = keep; i < files.size(); ++i) {
        TRY_CTX(storage.unlink(cat(directory, "/", files[i].name)), "kv/snap: prune");
        removed = true;
    }
    for (const std::string& name : leftovers) {
        TRY_CTX(storage.unlink(cat(directory, "/", name)), "kv/snap: prune");
        removed = true;
    }
    if (removed)
        TRY_CTX(storage.sync_directory(directory), "kv/snap: prune");
    return {};
}

} // namespace keel::kv
