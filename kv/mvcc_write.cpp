// The MVCC store's write transaction (kv/mvcc_state.h): puts and deletes as
// sub-revisions of one store revision, the events they make, the lease
// bookkeeping, the one backend commit, and the undo when a txn fails halfway.
#include "kv/mvcc_state.h"

namespace keel::kv {

MvccStore::WriteTxn::WriteTxn(MvccStore& store) : m_store(store), m_main(store.m_revision + 1) {}

MvccStore::WriteTxn::~WriteTxn() {
    if (!m_committed)
        undo();
}

ReadView MvccStore::WriteTxn::view() const {
    return ReadView{m_store.m_state->index, *m_store.m_backend, &m_pending,
                    changed() ? m_main : m_store.m_revision, m_store.m_compact_revision};
}

int64_t MvccStore::WriteTxn::revision_after() const {
    return changed() ? m_main : m_store.m_revision;
}

void MvccStore::WriteTxn::remember(const std::string& key) {
    if (m_undo.contains(key))
        return;
    KeyIndex& index = m_store.m_state->index;
    auto found = index.find(key);
    m_undo.emplace(key,
                   found == index.end() ? std::nullopt : std::optional<KeyHistory>(found->second));
}

void MvccStore::WriteTxn::attach_lease(int64_t lease, const std::string& key) {
    if (lease == 0)
        return;
    m_store.m_state->leases[lease].insert(key);
    m_lease_changes.push_back({lease, LeaseChange::Kind::Attach, key});
}

void MvccStore::WriteTxn::detach_lease(int64_t lease, const std::string& key) {
    if (lease == 0)
        return;
    auto& leases = m_store.m_state->leases;
    auto found = leases.find(lease);
    if (found == leases.end() || found->second.erase(key) == 0)
        return;
    if (found->second.empty())
        leases.erase(found);
    m_lease_changes.push_back({lease, LeaseChange::Kind::Detach, key});
}

void MvccStore::WriteTxn::record(Revision revision, RecordKind kind, const KeyValue& kv) {
    std::string key = record_key(revision, kind);
    std::string value = encode_key_value(kv);
    m_pending.insert_or_assign(key, value);
    m_writes.push_back({BackendWrite::Kind::Put, std::move(key), std::move(value)});
}

Result<PutResponse> MvccStore::WriteTxn::put(const PutRequest& request) {
    KeyIndex& index = m_store.m_state->index;
    auto found = index.find(request.key);
    std::optional<KeyHistory::Current> current;
    if (found != index.end())
        current = found->second.current();
    if ((request.ignore_value || request.ignore_lease) && !current)
        return std::unexpected(
            Error::from_code(ErrorCode::KeyNotFound, "etcdserver: key not found"));
    std::optional<KeyValue> prev;
    if (current)
        prev = TRY(view().read(current->revision));

    KeyValue kv;
    kv.key = request.key;
    kv.value = request.ignore_value ? prev->value : request.value;
    kv.lease = request.ignore_lease ? prev->lease : request.lease;
    kv.create_revision = current ? current->created : m_main;
    kv.version = current ? current->version + 1 : 1;
    kv.mod_revision = m_main;
    Revision revision{m_main, m_next_sub++};

    remember(request.key);
    record(revision, RecordKind::Put, kv);
    index[request.key].put(revision, kv.create_revision, kv.version);
    if (prev)
        detach_lease(prev->lease, request.key);
    attach_lease(kv.lease, request.key);
    m_events.push_back({EventType::Put, kv, prev});

    PutResponse response;
    if (request.prev_kv)
        response.prev_kv = prev;
    return response;
}

Result<void> MvccStore::WriteTxn::delete_key(const std::string& key,
                                             std::vector<KeyValue>* prev_kvs) {
    KeyHistory& history = m_store.m_state->index.at(key);
    std::optional<KeyHistory::Current> current = history.current();
    if (!current)
        return {};
    KeyValue prev = TRY(view().read(current->revision));
    Revision revision{m_main, m_next_sub++};

    remember(key);
    KeyValue tombstone;
    tombstone.key = key;
    record(revision, RecordKind::Tombstone, tombstone);
    m_store.m_state->index.at(key).tombstone(revision);
    detach_lease(prev.lease, key);
    tombstone.mod_revision = m_main;
    m_events.push_back({EventType::Delete, std::move(tombstone), prev});
    if (prev_kvs)
        prev_kvs->push_back(std::move(prev));
    return {};
}

Result<DeleteRangeResponse> MvccStore::WriteTxn::delete_range(const DeleteRangeRequest& request) {
    std::vector<std::string> keys;
    for_each_in_range(m_store.m_state->index, request.key, request.range_end,
                      [&](const std::string& key, const KeyHistory& history) {
                          if (history.current())
                              keys.push_back(key);
                      });
    DeleteRangeResponse response;
    for (const std::string& key : keys)
        TRY(delete_key(key, request.prev_kv ? &response.prev_kvs : nullptr));
    response.deleted = int64_t(keys.size());
    return response;
}

void MvccStore::WriteTxn::write_aux(const AuxWrite& change) {
    std::string key = aux_key(change.name);
    if (change.value)
        m_writes.push_back({BackendWrite::Kind::Put, std::move(key), *change.value});
    else
        m_writes.push_back({BackendWrite::Kind::Delete, std::move(key), {}});
    m_aux_written = true;
}

Result<void> MvccStore::WriteTxn::commit(Index applied) {
    Index consistent_index = applied != 0 ? applied : m_store.m_consistent_index;
    if (changed() || m_aux_written) {
        // The index goes with the data it produced: after a crash both are
        // there or neither, so replay applies each entry exactly once.
        m_writes.push_back({BackendWrite::Kind::Put, std::string(kMetaConsistentIndex),
                            encode_int64(int64_t(consistent_index))});
        TRY_CTX(m_store.m_backend->commit(m_writes), "commit revision " + std::to_string(m_main));
        if (changed())
            m_store.m_revision = m_main;
    }
    m_committed = true;
    m_store.m_consistent_index = consistent_index;
    return {};
}

void MvccStore::WriteTxn::undo() {
    KeyIndex& index = m_store.m_state->index;
    for (auto& [key, history] : m_undo) {
        if (history)
            index.insert_or_assign(key, std::move(*history));
        else
            index.erase(key);
    }
    auto& leases = m_store.m_state->leases;
    for (auto change = m_lease_changes.rbegin(); change != m_lease_changes.rend(); ++change) {
        if (change->kind == LeaseChange::Kind::Attach) {
            auto found = leases.find(change->lease);
            if (found != leases.end() && found->second.erase(change->key) && found->second.empty())
                leases.erase(found);
        } else {
            leases[change->lease].insert(change->key);
        }
    }
}

} // namespace keel::kv
