// restore_snapshot() and saved_snapshot_status() (kv/kv.h): a saved
// snapshot made into a new member's data dir, built from the pieces a
// member runs on. The store is restored as a member restores a snapshot
// from its leader (KvStateMachine::restore), then given the new membership;
// the Raft side is what a member that took a snapshot at index N (N = the
// number of members, term 1) and released its log would have on disk: a
// snapshot file, and a log holding only the snapshot marker and a hard
// state that has committed it. The ids come from --initial-cluster and the
// token through the parser `keel kv serve` uses, so a member started with
// the same flags finds its own data dir, and the new cluster's id differs
// from the old one's: the old members' peers refuse it.
#include "base/log.h"
#include "base/strings.h"
#include "base/sys.h"
#include "kv/file_names.h"
#include "kv/kv.h"
#include "kv/kv_state_machine.h"
#include "kv/mvcc_snapshot.h"
#include "kv/saved_snapshot.h"
#include "kv/server_config.h"
#include "kv/snapshot_file.h"
#include "kv/wal.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unistd.h>

namespace keel::kv {

namespace {

// The suffix of the directory a restore builds before renaming it.
constexpr std::string_view kRestoringSuffix = ".restoring";
// The term of the restored log's snapshot: the first, as a new cluster's.
constexpr Term kRestoredTerm = 1;

// Removes the tree at `path` (a restore's own directory: files and
// directories only). Best effort: what cannot go is logged.
void remove_restore_tree(const std::string& path) {
    if (::unlink(path.c_str()) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    if (auto names = list_directory(path))
        for (const std::string& name : *names)
            remove_restore_tree(cat(path, "/", name));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
        log_warning(cat("kv: restore: could not remove ", quoted(path), ": ",
                        std::string_view(::strerror(errno))));
}

// Removes a directory being built unless it was finished.
class RestoreScratch {
public:
    explicit RestoreScratch(std::string path) : m_path(std::move(path)) {}
    ~RestoreScratch() {
        if (!m_path.empty())
            remove_restore_tree(m_path);
    }
    RestoreScratch(const RestoreScratch&) = delete;
    RestoreScratch& operator=(const RestoreScratch&) = delete;
    void keep() { m_path.clear(); }

private:
    std::string m_path;
};

// The new member's configuration: etcdctl's flags through `keel kv
// serve`'s parser, so the defaults, the checks and the ids are a member's.
Result<ServerConfig> restore_config(const SnapshotRestoreOptions& options) {
    std::vector<std::string> flags = {
        "--name",
        options.name,
        "--initial-cluster",
        options.initial_cluster,
        "--initial-cluster-token",
        options.initial_cluster_token,
        "--initial-advertise-peer-urls",
        options.initial_advertise_peer_urls,
    };
    if (!options.data_dir.empty()) {
        flags.push_back("--data-dir");
        flags.push_back(options.data_dir);
    }
    return parse_server_config(flags, {});
}

// A data dir may be made where nothing is, or where an empty directory is.
Result<void> check_restore_target(const std::string& data_dir) {
    auto names = list_directory(data_dir);
    if (!names && names.error().code() == ENOENT)
        return {};
    if (!names)
        return std::unexpected(std::move(names).error().wrap(cat("data dir ", quoted(data_dir))));
    if (!names->empty())
        return errno_error(EEXIST, cat("data dir ", quoted(data_dir),
                                       " exists and is not empty: a restore makes a new one"));
    return {};
}

// The snapshot's MVCC bytes, read from `path` and checked.
Result<std::string> read_restore_input(const std::string& path, HashCheck check) {
    std::string bytes = TRY_CTX(read_file(path), cat("snapshot ", quoted(path)));
    std::string_view mvcc =
        TRY_CTX(read_saved_snapshot(bytes, check), cat("snapshot ", quoted(path)));
    return std::string(mvcc);
}

// Builds the data dir in `directory` (which exists and is empty).
Result<int64_t> build_restored_dir(const std::string& directory, const ServerConfig& config,
                                   std::string mvcc) {
    Index index = config.initial_cluster.size();
    ConfState conf;
    std::vector<MemberInfo> members;
    for (const InitialMember& initial : config.initial_cluster) {
        conf.voters.push_back(initial.id);
        MemberInfo& member = members.emplace_back();
        member.id = initial.id;
        member.name = initial.name;
        for (const ServerUrl& url : initial.peer_urls)
            member.peer_urls.push_back(url.str());
    }

    Snapshot snapshot;
    int64_t revision = 0;
    {
        // The map as a member with etcd's default quota opens it, or room
        // for the snapshot when it is larger.
        uint64_t map_size = std::max<uint64_t>(config.quota_backend_bytes * 2, mvcc.size() * 3);
        auto backend = TRY(open_lmdb_backend(cat(directory, "/", kStoreFileName), map_size,
                                             LmdbSync::Durable, LmdbCommit::Each));
        auto machine = TRY(KvStateMachine::open(std::move(backend),
                                                [] { return std::chrono::steady_clock::now(); }));
        Snapshot saved;
        saved.data = std::move(mvcc);
        TRY(machine->restore(saved));
        TRY(machine->replace_members(members, index));
        TRY(machine->flush());
        snapshot.meta = {.index = index, .term = kRestoredTerm, .conf = conf};
        snapshot.data = TRY(machine->snapshot());
        revision = machine->store().revision();
    }
    Storage& storage = system_storage();
    TRY(save_snapshot_file(storage, cat(directory, "/snap"), snapshot));
    Wal wal = TRY(Wal::create(cat(directory, "/wal"), WalMetadata{.cluster_id = config.cluster_id,
                                                                  .member_id = config.member_id}));
    TRY(wal.append_snapshot(WalSnapshot{.index = index, .term = kRestoredTerm}));
    TRY(wal.append({}, HardState{.term = kRestoredTerm, .vote = 0, .commit = index}));
    TRY(wal.sync());
    return revision;
}

} // namespace

Result<RestoredMember> restore_snapshot(const SnapshotRestoreOptions& options) {
    ServerConfig config = TRY(restore_config(options));
    // "dir/" names dir: the scratch dir goes beside it, not into it.
    while (config.data_dir.size() > 1 && config.data_dir.ends_with('/'))
        config.data_dir.pop_back();
    std::string context =
        cat("restore ", quoted(options.snapshot_path), " into ", quoted(config.data_dir));
    // Everything that can be checked first is: nothing is written for a
    // damaged snapshot or a data dir in use.
    std::string mvcc =
        TRY_CTX(read_restore_input(options.snapshot_path, options.hash_check), context);
    TRY_CTX(check_restore_target(config.data_dir), context);
    std::string scratch_dir = cat(config.data_dir, kRestoringSuffix);
    if (::access(scratch_dir.c_str(), F_OK) == 0)
        return errno_error(EEXIST, cat(context, ": ", quoted(scratch_dir),
                                       " exists (an earlier restore was interrupted?): remove it"));
    Storage& storage = system_storage();
    std::string parent = parent_directory(config.data_dir);
    TRY_CTX(storage.make_directories(parent, 0755), context);
    TRY_CTX(storage.mkdir(scratch_dir, 0700), context);
    RestoreScratch scratch(scratch_dir);

    int64_t revision = TRY_CTX(build_restored_dir(scratch_dir, config, std::move(mvcc)), context);
    // In place at once, or not at all (an empty data dir is replaced).
    TRY_CTX(check_restore_target(config.data_dir), context);
    TRY_CTX(storage.rename(scratch_dir, config.data_dir), context);
    scratch.keep();
    TRY_CTX(storage.sync_directory(parent), context);
    return RestoredMember{.member_id = config.member_id,
                          .cluster_id = config.cluster_id,
                          .revision = revision,
                          .data_dir = config.data_dir};
}

Result<SavedSnapshotStatus> saved_snapshot_status(const std::string& path) {
    std::string bytes = TRY_CTX(read_file(path), cat("snapshot ", quoted(path)));
    std::string_view mvcc =
        TRY_CTX(read_saved_snapshot(bytes, HashCheck::Verify), cat("snapshot ", quoted(path)));
    std::vector<BackendWrite> records =
        TRY_CTX(parse_snapshot(mvcc), cat("snapshot ", quoted(path)));
    auto store = TRY(MvccStore::open(make_memory_backend()));
    TRY_CTX(store->restore(mvcc), cat("snapshot ", quoted(path)));
    HashKv hash = TRY_CTX(store->hash_kv(0), cat("snapshot ", quoted(path)));
    return SavedSnapshotStatus{.hash = hash.hash,
                               .revision = store->revision(),
                               .total_keys = records.size(),
                               .total_size = bytes.size()};
}

} // namespace keel::kv
