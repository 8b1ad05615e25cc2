// The MVCC store (kv/mvcc.h): opening (the index rebuilt from the backend's
// records), single reads and writes, lease deletes, compaction, catch-up
// events, the history hash and the aux records. Txns are in mvcc_txn.cpp,
// snapshots in mvcc_snapshot.cpp, the write path in mvcc_write.cpp.
#include "kv/mvcc_state.h"

#include "base/crash_point.h"

#include <algorithm>
#include <set>

namespace keel::kv {

namespace {

/// The first key after every revision record.
const std::string kRecordsEnd(1, kRecordPrefix + 1);
/// The first key after every meta value.
const std::string kMetaEnd(1, kMetaPrefix + 1);
/// The first key after every aux record.
const std::string kAuxEnd(1, kAuxPrefix + 1);

} // namespace

MvccStore::MvccStore(std::unique_ptr<Backend> backend)
    : m_backend(std::move(backend)), m_state(std::make_unique<State>()) {}

MvccStore::~MvccStore() = default;

Result<std::unique_ptr<MvccStore>> MvccStore::open(std::unique_ptr<Backend> backend) {
    std::unique_ptr<MvccStore> store(new MvccStore(std::move(backend)));
    TRY_CTX(store->load(), "open the MVCC store");
    return store;
}

Result<void> MvccStore::load() {
    m_state = std::make_unique<State>();
    m_revision = 1;
    m_compact_revision = 0;
    m_consistent_index = 0;

    std::optional<std::string> compact = TRY(m_backend->get(kMetaCompactRevision));
    if (compact)
        m_compact_revision = TRY_CTX(decode_int64(*compact), "the compaction revision");
    std::optional<std::string> consistent = TRY(m_backend->get(kMetaConsistentIndex));
    if (consistent)
        m_consistent_index = Index(TRY_CTX(decode_int64(*consistent), "the consistent index"));

    // Records come in revision order, so each key's history is rebuilt in
    // the order it was made; the lease of a key is that of its last record
    // (only keys with one are held here, to keep the peak low).
    std::map<std::string, int64_t, std::less<>> lease_of;
    int64_t newest = 0;
    std::optional<Error> failure;
    TRY(m_backend->scan(
        std::string(1, kRecordPrefix), kRecordsEnd,
        [&](std::string_view key, std::string_view value) {
            std::optional<RecordKey> record = parse_record_key(key);
            if (!record) {
                failure = Error::message("a record key of " + std::to_string(key.size()) +
                                         " bytes that is no revision");
                return ScanStep::Stop;
            }
            Result<KeyValue> kv = decode_key_value(value);
            if (!kv) {
                failure = std::move(kv.error());
                failure->wrap("the record of revision " + std::to_string(record->revision.main));
                return ScanStep::Stop;
            }
            KeyHistory& history = m_state->index[kv->key];
            if (record->kind == RecordKind::Tombstone) {
                history.tombstone(record->revision);
                lease_of.erase(kv->key);
            } else {
                history.put(record->revision, kv->create_revision, kv->version);
                if (kv->lease != 0)
                    lease_of.insert_or_assign(kv->key, kv->lease);
                else
                    lease_of.erase(kv->key);
            }
            newest = std::max(newest, record->revision.main);
            return ScanStep::Continue;
        }));
    if (failure)
        return std::unexpected(std::move(*failure));
    for (const auto& [key, lease] : lease_of)
        if (lease != 0)
            m_state->leases[lease].insert(key);
    // After a compaction that dropped every record the revision is still
    // the compaction's: revisions never go back.
    m_revision = std::max({int64_t(1), newest, m_compact_revision});
    return {};
}

Result<RangeResponse> MvccStore::range(const RangeRequest& request) const {
    return read_range(ReadView{m_state->index, *m_backend, nullptr, m_revision, m_compact_revision},
                      request);
}

Result<Written<PutResponse>> MvccStore::put(const PutRequest& request, Index applied) {
    WriteTxn txn(*this);
    PutResponse response = TRY(txn.put(request));
    TRY(txn.commit(applied));
    response.revision = txn.revision_after();
    return Written<PutResponse>{std::move(response), txn.take_events()};
}

Result<Written<DeleteRangeResponse>> MvccStore::delete_range(const DeleteRangeRequest& request,
                                                             Index applied) {
    WriteTxn txn(*this);
    DeleteRangeResponse response = TRY(txn.delete_range(request));
    TRY(txn.commit(applied));
    response.revision = txn.revision_after();
    return Written<DeleteRangeResponse>{std::move(response), txn.take_events()};
}

std::vector<std::string> MvccStore::keys_of_lease(int64_t lease) const {
    auto found = m_state->leases.find(lease);
    if (found == m_state->leases.end())
        return {};
    return {found->second.begin(), found->second.end()};
}

Result<Written<DeleteRangeResponse>>
MvccStore::delete_keys_of_lease(int64_t lease, Index applied, std::span<const AuxWrite> aux) {
    WriteTxn txn(*this);
    for (const AuxWrite& change : aux)
        txn.write_aux(change);
    DeleteRangeResponse response;
    // In key order, so every member makes the same sub-revisions.
    for (const std::string& key : keys_of_lease(lease)) {
        TRY(txn.delete_key(key, nullptr));
        ++response.deleted;
    }
    TRY(txn.commit(applied));
    response.revision = txn.revision_after();
    return Written<DeleteRangeResponse>{std::move(response), txn.take_events()};
}

void MvccStore::mark_applied(Index applied) {
    m_consistent_index = applied;
}

Result<void> MvccStore::compact(int64_t at, Index applied) {
    if (at <= m_compact_revision)
        return compacted_error();
    if (at > m_revision)
        return future_revision_error();
    std::vector<RevisionRecord> dropped;
    for (auto it = m_state->index.begin(); it != m_state->index.end();) {
        it->second.compact(at, dropped);
        if (it->second.empty())
            it = m_state->index.erase(it);
        else
            ++it;
    }
    std::vector<BackendWrite> writes;
    writes.reserve(dropped.size() + 2);
    for (const RevisionRecord& record : dropped)
        writes.push_back(
            {BackendWrite::Kind::Delete, record_key(record.revision, record.kind), {}});
    Index consistent_index = applied != 0 ? applied : m_consistent_index;
    writes.push_back(
        {BackendWrite::Kind::Put, std::string(kMetaCompactRevision), encode_int64(at)});
    writes.push_back({BackendWrite::Kind::Put, std::string(kMetaConsistentIndex),
                      encode_int64(int64_t(consistent_index))});
    crash_point("kv.compact"); // the index compacted in memory, the backend not
    if (Result<void> committed = m_backend->commit(writes); !committed) {
        // The index already forgot what the backend still holds: rebuild it.
        Error failure = std::move(committed.error());
        failure.wrap("compact at revision " + std::to_string(at));
        if (Result<void> reloaded = load(); !reloaded)
            failure.wrap("and reload after: " + reloaded.error().to_string());
        return std::unexpected(std::move(failure));
    }
    m_compact_revision = at;
    m_consistent_index = consistent_index;
    return {};
}

Result<std::vector<Event>> MvccStore::events_since(std::string_view key, std::string_view range_end,
                                                   int64_t start, PrevKv prev_kv,
                                                   int64_t end) const {
    if (start < m_compact_revision)
        return compacted_error();
    std::string scan_end = end > 0 ? record_key_from(end + 1) : kRecordsEnd;
    ReadView view{m_state->index, *m_backend, nullptr, m_revision, m_compact_revision};
    std::vector<Event> events;
    std::optional<Error> failure;
    TRY(m_backend->scan(record_key_from(std::max<int64_t>(start, 1)), scan_end,
                        [&](std::string_view record_bytes, std::string_view value) {
                            std::optional<RecordKey> record = parse_record_key(record_bytes);
                            Result<KeyValue> kv = decode_key_value(value);
                            if (!record || !kv) {
                                failure = Error::message("an unreadable record in the backend");
                                return ScanStep::Stop;
                            }
                            if (!range_holds(key, range_end, kv->key))
                                return ScanStep::Continue;
                            Event event;
                            if (record->kind == RecordKind::Tombstone) {
                                event.type = EventType::Delete;
                                kv->mod_revision = record->revision.main;
                            }
                            int64_t before = record->revision.main - 1;
                            if (prev_kv == PrevKv::Include && before >= m_compact_revision) {
                                auto history = m_state->index.find(kv->key);
                                std::optional<Revision> revision;
                                if (history != m_state->index.end())
                                    revision = history->second.visible_at(before);
                                if (revision) {
                                    Result<KeyValue> prev = view.read(*revision);
                                    if (!prev) {
                                        failure = std::move(prev.error());
                                        return ScanStep::Stop;
                                    }
                                    event.prev_kv = std::move(*prev);
                                }
                            }
                            event.kv = std::move(*kv);
                            events.push_back(std::move(event));
                            return ScanStep::Continue;
                        }));
    if (failure)
        return std::unexpected(std::move(*failure));
    return events;
}

Result<void> MvccStore::put_aux(std::string_view name, std::optional<std::string> value,
                                Index applied) {
    Index consistent_index = applied != 0 ? applied : m_consistent_index;
    std::vector<BackendWrite> writes;
    if (value)
        writes.push_back({BackendWrite::Kind::Put, aux_key(name), std::move(*value)});
    else
        writes.push_back({BackendWrite::Kind::Delete, aux_key(name), {}});
    writes.push_back({BackendWrite::Kind::Put, std::string(kMetaConsistentIndex),
                      encode_int64(int64_t(consistent_index))});
    TRY_CTX(m_backend->commit(writes), "write the aux record `" + std::string(name) + "`");
    m_consistent_index = consistent_index;
    return {};
}

Result<void> MvccStore::scan_aux(std::string_view prefix, const ScanVisitor& visit) const {
    // The first key after every name with `prefix`: its last byte below
    // 0xff raised by one (past the aux records altogether when none is).
    std::string from = aux_key(prefix);
    std::string to = from;
    while (to.size() > 1 && uint8_t(to.back()) == 0xff)
        to.pop_back();
    if (to.size() > 1)
        to.back() = char(uint8_t(to.back()) + 1);
    else
        to = kAuxEnd;
    return m_backend->scan(from, to, [&](std::string_view key, std::string_view value) {
        return visit(key.substr(1), value);
    });
}

Result<HashKv> MvccStore::hash_kv(int64_t at) const {
    // etcd's HashByRev, to the byte: an explicit revision at or below the
    // compaction is refused (0 means now, even when now is the compaction).
    if (at > 0 && at <= m_compact_revision)
        return compacted_error();
    if (at > m_revision)
        return future_revision_error();
    if (at <= 0)
        at = m_revision;
    // Records at or below the compaction count only when a compaction at
    // `at` would keep them (each key's visible revision there), unless no
    // key would keep anything.
    std::set<Revision> keep;
    for (const auto& [key, history] : m_state->index)
        if (std::optional<Revision> revision = history.visible_at(at))
            keep.insert(*revision);
    // The bucket's name, then each record's revision key (without keel's
    // one-byte prefix) and value, up to `at`.
    uint32_t hash = crc32c("key");
    TRY(m_backend->scan(std::string(1, kRecordPrefix), record_key_from(at + 1),
                        [&](std::string_view key, std::string_view value) {
                            std::optional<RecordKey> record = parse_record_key(key);
                            if (record && record->revision.main <= m_compact_revision &&
                                !keep.empty() && !keep.contains(record->revision))
                                return ScanStep::Continue;
                            hash = crc32c(key.substr(1), hash);
                            hash = crc32c(value, hash);
                            return ScanStep::Continue;
                        }));
    return HashKv{hash, m_compact_revision, at};
}

} // namespace keel::kv
