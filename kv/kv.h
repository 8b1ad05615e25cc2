// keel's embedded KV store, the one header other folders include: run a
// member (`keel kv serve`, or PID 1's kv role) with etcd's command line,
// and restore a saved snapshot into a new cluster's data dir (`keel kv
// snapshot restore`, etcdutl's snapshot restore for keel's snapshots).
#pragma once

#include "base/result.h"

#include <cstdint>
#include <map>
#include <span>
#include <string>

namespace keel::kv {

/// Runs one KV member until SIGTERM or SIGINT: `args` are etcd's flags
/// (--name, --data-dir, --listen-client-urls, ...), `environment` the
/// process's variables (ETCD_NAME, ...; a flag wins). Errors say what in
/// the command line or the data dir is wrong.
Result<void> serve(std::span<const std::string> args,
                   const std::map<std::string, std::string>& environment);

/// Runs PID 1's kv role (`keel kv role`, what the built-in unit
/// keel-kv.service runs) like serve(): the kernel command line's
/// keel.kv.FLAG=VALUE words are etcd's --FLAG=VALUE, over the ETCD_*
/// variables in `environment` (which the unit reads from
/// /etc/keel/kv.conf); the data dir is /var/lib/keel/kv, on STATE, unless
/// one of them names another. Errors name the setting that is wrong.
Result<void> serve_role(const std::map<std::string, std::string>& environment);

/// The help text of `keel kv serve`: the flags it takes.
std::string serve_usage();

/// Whether a saved snapshot's SHA-256 trailer is checked.
enum class HashCheck : uint8_t {
    Verify,
    /// etcd's --skip-hash-check: the trailer may be missing or wrong (the
    /// snapshot's own CRC-32C is still checked); a data dir's snapshot
    /// file (snap/TERM-INDEX.snap) is taken too.
    Skip,
};

/// What `keel kv snapshot restore` is told, with etcdctl's defaults.
struct SnapshotRestoreOptions {
    /// The file `etcdctl snapshot save` wrote.
    std::string snapshot_path;
    std::string name = "default";
    /// The data dir to make; empty: "<name>.etcd".
    std::string data_dir;
    std::string initial_cluster = "default=http://localhost:2380";
    std::string initial_cluster_token = "etcd-cluster";
    std::string initial_advertise_peer_urls = "http://localhost:2380";
    HashCheck hash_check = HashCheck::Verify;
};

/// What a restore made.
struct RestoredMember {
    /// The ids a member started with the same --name, --initial-cluster
    /// and --initial-cluster-token derives.
    uint64_t member_id = 0;
    uint64_t cluster_id = 0;
    /// The store's revision, as it was in the snapshot.
    int64_t revision = 0;
    std::string data_dir;
};

/// Writes a new member's data dir from a saved snapshot: the keys, their
/// history, the compaction and the leases are the snapshot's; the
/// membership is exactly --initial-cluster's, under the ids derived from
/// it and the token (a new cluster id); the old cluster's members, alarms
/// and Raft log are dropped. The members then start as a new cluster
/// (`keel kv serve` with the same --name, --initial-cluster and token).
/// Refuses a data dir that exists and is not empty, and a snapshot that is
/// damaged or cut short, saying what is wrong; on any failure nothing is
/// left behind (the dir is built under DIR.restoring and renamed).
Result<RestoredMember> restore_snapshot(const SnapshotRestoreOptions& options);

/// `etcdctl snapshot status`'s columns for a saved snapshot.
struct SavedSnapshotStatus {
    /// The store's HashKV at its revision (what `etcdctl endpoint hashkv`
    /// shows for a member at that revision).
    uint32_t hash = 0;
    int64_t revision = 0;
    /// Records in the snapshot: every revision of every key kept, and the
    /// store's bookkeeping (leases, members, meta).
    uint64_t total_keys = 0;
    /// The file's size in bytes.
    uint64_t total_size = 0;
};

/// Reads and checks a saved snapshot (its SHA-256 trailer included).
Result<SavedSnapshotStatus> saved_snapshot_status(const std::string& path);

} // namespace keel::kv
