// The MVCC store's private pieces shared by its .cpp files: the in-memory
// state (key index, keys per lease), the read view a range runs against, and
// the write transaction every change goes through. Private to kv/mvcc*.cpp.
#pragma once

#include "kv/key_index.h"
#include "kv/mvcc.h"
#include "kv/mvcc_record.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace keel::kv {

struct MvccStore::State {
    KeyIndex index;
    /// Keys attached to each lease now (a key leaves its lease when it is
    /// deleted or put with another lease).
    std::map<int64_t, std::set<std::string, std::less<>>> leases;
};

/// etcd's error for a revision below the compaction.
inline std::unexpected<Error> compacted_error() {
    return std::unexpected(Error::from_code(ErrorCode::RevisionCompacted,
                                            "mvcc: required revision has been compacted"));
}

/// etcd's error for a revision after the current one.
inline std::unexpected<Error> future_revision_error() {
    return std::unexpected(Error::from_code(ErrorCode::FutureRevision,
                                            "mvcc: required revision is a future revision"));
}

/// What a read sees: the index, the committed records and a write
/// transaction's own uncommitted ones.
struct ReadView {
    const KeyIndex& index;
    const Backend& backend;
    /// Record key → serialized value written by the running write
    /// transaction; null outside one.
    const std::map<std::string, std::string, std::less<>>* pending = nullptr;
    /// The revision a read at 0 sees, and the one answers report.
    int64_t revision = 0;
    int64_t compact_revision = 0;

    /// The key-value put at `revision`.
    Result<KeyValue> read(Revision revision) const;
};

/// Runs a range against `view` with etcd's semantics.
Result<RangeResponse> read_range(const ReadView& view, const RangeRequest& request);

/// Whether etcd's (key, range_end) range holds `candidate`.
bool range_holds(std::string_view key, std::string_view range_end, std::string_view candidate);

/// The changes of one store revision, applied to the index as they are
/// made (so later operations of a txn see earlier ones) and committed to the
/// backend in one commit. Destroyed uncommitted, it undoes its index changes.
class MvccStore::WriteTxn {
public:
    explicit WriteTxn(MvccStore& store);
    ~WriteTxn();
    WriteTxn(const WriteTxn&) = delete;
    WriteTxn& operator=(const WriteTxn&) = delete;

    /// What reads inside the transaction see.
    ReadView view() const;
    /// Puts one key as the next change.
    Result<PutResponse> put(const PutRequest& request);
    /// Deletes every existing key of the range as the next changes.
    Result<DeleteRangeResponse> delete_range(const DeleteRangeRequest& request);
    /// Deletes `key`, which must exist; appends its last value to
    /// `prev_kvs` when given.
    Result<void> delete_key(const std::string& key, std::vector<KeyValue>* prev_kvs);
    /// Makes an aux record change in the same commit (no revision of its
    /// own).
    void write_aux(const AuxWrite& change);
    /// True when some change was made.
    bool changed() const { return m_next_sub > 0; }
    /// The store revision once committed.
    int64_t revision_after() const;
    /// Commits the changes (if any) with `applied` as consistent index.
    Result<void> commit(Index applied);
    /// The events of the changes, in order.
    std::vector<Event> take_events() { return std::move(m_events); }

private:
    /// Saves `key`'s history before its first change, for the undo.
    void remember(const std::string& key);
    void attach_lease(int64_t lease, const std::string& key);
    void detach_lease(int64_t lease, const std::string& key);
    void record(Revision revision, RecordKind kind, const KeyValue& kv);
    void undo();

    struct LeaseChange {
        int64_t lease = 0;
        enum class Kind : uint8_t { Attach, Detach } kind = Kind::Attach;
        std::string key;
    };

    MvccStore& m_store;
    int64_t m_main = 0;
    int64_t m_next_sub = 0;
    bool m_committed = false;
    bool m_aux_written = false;
    std::vector<BackendWrite> m_writes;
    std::map<std::string, std::string, std::less<>> m_pending;
    std::map<std::string, std::optional<KeyHistory>, std::less<>> m_undo;
    std::vector<LeaseChange> m_lease_changes;
    std::vector<Event> m_events;
};

} // namespace keel::kv
