// The MVCC store: the state machine the Raft log is applied to, with etcd v3's
// semantics. Every write transaction that changes something gets the next
// store revision; each key keeps create_revision, mod_revision, version and
// lease; history stays readable at any revision above the compaction point.
// Operations are deterministic (every member applies the same log in the
// same order and ends with the same store, checked by hash_kv()).
//
// The store is a pure core over one seam, the Backend (kv/mvcc_backend.h):
// no files, clocks or threads here. Writes return their Events as values for
// the watch layer; the Raft index of the applied entry (the consistent
// index) is committed in the same backend commit as the data it produced.
#pragma once

#include "base/names.h"
#include "base/result.h"
#include "kv/mvcc_backend.h"
#include "kv/raft_types.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace keel::kv {

/// A key and its value at one revision (etcd's mvccpb.KeyValue).
struct KeyValue {
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    /// 1 on creation, +1 per put; 0 in a delete event.
    int64_t version = 0;
    /// The lease the key is attached to; 0 for none.
    int64_t lease = 0;
    std::string key;
    std::string value;

    bool operator==(const KeyValue&) const = default;
};

/// What an event records.
enum class EventType : uint8_t { Put, Delete };
inline constexpr auto kEventTypeNames = name_table<EventType>({
    {EventType::Put, "PUT"},
    {EventType::Delete, "DELETE"},
});

/// One change of one key (etcd's mvccpb.Event). A Put carries the new
/// key-value; a Delete carries the key with mod_revision = the delete's
/// revision and every other field zero.
struct Event {
    EventType type = EventType::Put;
    KeyValue kv;
    /// The key-value before the change; nullopt when the key did not exist
    /// (or, for catch-up reads, when it was not asked for).
    std::optional<KeyValue> prev_kv;

    bool operator==(const Event&) const = default;
};

/// The order of a range's result.
enum class SortOrder : uint8_t { None, Ascend, Descend };
inline constexpr auto kSortOrderNames = name_table<SortOrder>({
    {SortOrder::None, "NONE"},
    {SortOrder::Ascend, "ASCEND"},
    {SortOrder::Descend, "DESCEND"},
});

/// What a range's result is sorted by.
enum class SortTarget : uint8_t { Key, Version, Create, Mod, Value };
inline constexpr auto kSortTargetNames = name_table<SortTarget>({
    {SortTarget::Key, "KEY"},
    {SortTarget::Version, "VERSION"},
    {SortTarget::Create, "CREATE"},
    {SortTarget::Mod, "MOD"},
    {SortTarget::Value, "VALUE"},
});

/// A read of a key range (etcd's RangeRequest). `range_end`: empty = `key`
/// alone; "\0" = every key >= `key`; otherwise [key, range_end).
struct RangeRequest {
    std::string key;
    std::string range_end;
    /// At most this many kvs (0 = no limit); `more` says some were left out.
    int64_t limit = 0;
    /// The revision to read at; 0 = the current one.
    int64_t revision = 0;
    SortOrder sort_order = SortOrder::None;
    SortTarget sort_target = SortTarget::Key;
    /// Return keys without values.
    bool keys_only = false;
    /// Return only the count.
    bool count_only = false;
    /// Filters (0 = none): keep kvs whose mod/create revision is within.
    int64_t min_mod_revision = 0;
    int64_t max_mod_revision = 0;
    int64_t min_create_revision = 0;
    int64_t max_create_revision = 0;
};

/// A range's answer.
struct RangeResponse {
    /// The store's current revision (etcd's header revision), not the
    /// revision read at.
    int64_t revision = 0;
    /// How many keys the range holds at the read revision, before limit
    /// and the min/max filters.
    int64_t count = 0;
    /// True when `limit` left kvs out.
    bool more = false;
    std::vector<KeyValue> kvs;
};

/// A put (etcd's PutRequest).
struct PutRequest {
    std::string key;
    std::string value;
    /// Answer with the key-value before the put.
    bool prev_kv = false;
    /// Keep the current value (the key must exist).
    bool ignore_value = false;
    /// Keep the current lease (the key must exist).
    bool ignore_lease = false;
    /// The lease to attach the key to; 0 for none. (Last: a std::expected
    /// of this struct must not end in the bools' padding, for libc++ 16.)
    int64_t lease = 0;
};

/// A put's answer.
struct PutResponse {
    std::optional<KeyValue> prev_kv;
    /// The store revision after the put. (Last: Result<PutResponse> must
    /// not end in the optional's padding, for libc++ 16.)
    int64_t revision = 0;
};

/// A delete of a key range (range_end as in RangeRequest).
struct DeleteRangeRequest {
    /// Answer with the deleted key-values. (First: a std::expected of this
    /// struct must not end in the bool's padding, for libc++ 16.)
    bool prev_kv = false;
    std::string key;
    std::string range_end;
};

/// A delete's answer.
struct DeleteRangeResponse {
    /// The store revision after the delete (unchanged when nothing was
    /// deleted).
    int64_t revision = 0;
    int64_t deleted = 0;
    std::vector<KeyValue> prev_kvs;
};

/// How a txn compare relates the key's field to the given operand.
enum class CompareResult : uint8_t { Equal, Greater, Less, NotEqual };
inline constexpr auto kCompareResultNames = name_table<CompareResult>({
    {CompareResult::Equal, "EQUAL"},
    {CompareResult::Greater, "GREATER"},
    {CompareResult::Less, "LESS"},
    {CompareResult::NotEqual, "NOT_EQUAL"},
});

/// Which field of the key a txn compare looks at.
enum class CompareTarget : uint8_t { Version, Create, Mod, Value, Lease };
inline constexpr auto kCompareTargetNames = name_table<CompareTarget>({
    {CompareTarget::Version, "VERSION"},
    {CompareTarget::Create, "CREATE"},
    {CompareTarget::Mod, "MOD"},
    {CompareTarget::Value, "VALUE"},
    {CompareTarget::Lease, "LEASE"},
});

/// One txn condition (etcd's Compare): `target` of the key (or of every key
/// in the range) `result` the operand. A missing key compares as all zero,
/// except for Value, which is then false.
struct Compare {
    CompareResult result = CompareResult::Equal;
    CompareTarget target = CompareTarget::Version;
    /// The operand of Version, Create, Mod and Lease.
    int64_t number = 0;
    std::string key;
    std::string range_end;
    /// The operand of Value.
    std::string value;
};

struct RequestOp;

/// A transaction (etcd's TxnRequest): if every compare holds, `success`
/// runs, else `failure`; all of it is one revision.
struct TxnRequest {
    std::vector<Compare> compare;
    std::vector<RequestOp> success;
    std::vector<RequestOp> failure;
};

/// One operation in a txn.
struct RequestOp {
    std::variant<RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest> request;
};

struct ResponseOp;

/// A txn's answer.
struct TxnResponse {
    /// The store revision after the txn.
    int64_t revision = 0;
    /// Whether the compares held (so `success` ran).
    bool succeeded = false;
    /// One per operation of the branch that ran.
    std::vector<ResponseOp> responses;
};

/// One operation's answer in a txn.
struct ResponseOp {
    std::variant<RangeResponse, PutResponse, DeleteRangeResponse, TxnResponse> response;
};

/// A write's answer and the events of its revision, in the order the
/// changes were made (the watch layer fans them out).
template <typename Response> struct Written {
    Response response;
    std::vector<Event> events;
};

/// Whether catch-up events carry the key's previous value.
enum class PrevKv : uint8_t { Omit, Include };

/// A hash of the store's history (Maintenance.HashKV).
struct HashKv {
    uint32_t hash = 0;
    /// The store's compaction revision when hashed.
    int64_t compact_revision = 0;
    /// The revision hashed up to.
    int64_t hash_revision = 0;
};

/// A change of one aux record (MvccStore::put_aux): a record outside the
/// key space that other layers (leases) keep with the store.
struct AuxWrite {
    /// The new value; nullopt deletes the record.
    std::optional<std::string> value;
    std::string name;
};

/// The MVCC store over a Backend it owns.
class MvccStore {
public:
    /// Opens the store kept in `backend` (an empty backend is an empty store
    /// at revision 1) and rebuilds the key index from its records.
    static Result<std::unique_ptr<MvccStore>> open(std::unique_ptr<Backend> backend);
    ~MvccStore();

    /// The store revision: 1 for an empty store, +1 per write that changed
    /// something.
    int64_t revision() const { return m_revision; }
    /// Revisions below this cannot be read (0: never compacted).
    int64_t compact_revision() const { return m_compact_revision; }
    /// The Raft index of the last entry applied (0: none). The apply loop
    /// skips entries at or below it, so a replay after a crash applies
    /// nothing twice: on disk it is the index of the last entry whose
    /// changes are there (entries after it that changed nothing are
    /// harmless to apply again).
    Index consistent_index() const { return m_consistent_index; }

    /// Reads a range. Errors: RevisionCompacted, FutureRevision.
    Result<RangeResponse> range(const RangeRequest& request) const;
    /// Puts one key. Error: KeyNotFound (ignore_value/ignore_lease on a
    /// missing key). `applied` is the Raft index of the entry (0: none).
    Result<Written<PutResponse>> put(const PutRequest& request, Index applied = 0);
    /// Deletes a key range; no new revision when nothing matched.
    Result<Written<DeleteRangeResponse>> delete_range(const DeleteRangeRequest& request,
                                                      Index applied = 0);
    /// Runs a transaction as one revision (none when it changed nothing).
    /// Errors: DuplicateKey, and those of its chosen operations, in which
    /// case nothing of it is applied.
    Result<Written<TxnResponse>> txn(const TxnRequest& request, Index applied = 0);
    /// Deletes every key attached to `lease`, in key order, as one revision
    /// (a lease revoke; none when it has no keys), and makes the `aux`
    /// changes in the same backend commit (the lease's own record goes with
    /// its keys, or neither does).
    Result<Written<DeleteRangeResponse>> delete_keys_of_lease(int64_t lease, Index applied = 0,
                                                              std::span<const AuxWrite> aux = {});
    /// The keys attached to `lease` now, in key order.
    std::vector<std::string> keys_of_lease(int64_t lease) const;
    /// Drops history at and below `at`, keeping each key's latest revision
    /// there unless it is a delete. Errors: RevisionCompacted (at or below
    /// the current compaction), FutureRevision.
    Result<void> compact(int64_t at, Index applied = 0);
    /// Records that the entry at `applied` was applied without changing
    /// the store (a read-only txn, say); on disk with the next commit.
    void mark_applied(Index applied);
    /// Makes every write so far durable, on a backend that batches
    /// (LmdbCommit::Batched); the apply loop calls it now and then, and the
    /// consistent index on disk is then the last write's.
    Result<void> flush() { return m_backend->flush(); }
    /// Bytes the backend's data takes (Backend::size_in_use()).
    Result<uint64_t> size_in_use() const { return m_backend->size_in_use(); }

    /// The events of keys in the range (as in RangeRequest) with revisions
    /// from `start` (> 0) to `end` (0: the current one), oldest first: for
    /// a watcher catching up, a bounded stretch at a time. Error:
    /// RevisionCompacted when `start` is below the compaction revision
    /// (compact_revision() says which).
    Result<std::vector<Event>> events_since(std::string_view key, std::string_view range_end,
                                            int64_t start, PrevKv prev_kv, int64_t end = 0) const;

    /// Sets (or, with nullopt, deletes) the aux record `name`: a record
    /// outside the key space, so range, events and hash_kv never see it,
    /// but snapshot() and restore() carry it. Committed with `applied` as
    /// the consistent index (0: unchanged), so it is replayed exactly like
    /// a write. Makes no revision.
    Result<void> put_aux(std::string_view name, std::optional<std::string> value,
                         Index applied = 0);
    /// Visits the aux records whose names start with `prefix`, in name
    /// order (unsigned bytes), with the name as the key.
    Result<void> scan_aux(std::string_view prefix, const ScanVisitor& visit) const;

    /// crc32c (Castagnoli) over the history up to `at` (0 = now), computed
    /// as etcd's HashKV computes it: two members fed the same log agree.
    /// Errors: RevisionCompacted (`at` at or below the compaction),
    /// FutureRevision.
    Result<HashKv> hash_kv(int64_t at) const;

    /// The whole store as bytes (a Raft snapshot's data).
    Result<std::string> snapshot() const;
    /// Replaces the whole store with a snapshot() of another (checked before
    /// anything changes).
    Result<void> restore(std::string_view snapshot);

private:
    explicit MvccStore(std::unique_ptr<Backend> backend);
    Result<void> load();
    class WriteTxn;
    friend class WriteTxn;
    /// Applies the chosen branch of `txn` (and of its nested txns, as
    /// `path` chose them, from `step` on).
    static Result<TxnResponse> apply_ops(WriteTxn& write, const TxnRequest& txn,
                                         const std::vector<bool>& path, size_t& step);

    struct State; // the key index and the keys of each lease (kv/mvcc_state.h)

    std::unique_ptr<Backend> m_backend;
    std::unique_ptr<State> m_state;
    int64_t m_revision = 1;
    int64_t m_compact_revision = 0;
    Index m_consistent_index = 0;
};

} // namespace keel::kv
