// MvccStore::snapshot() and restore(): the whole backend written out in the
// format of kv/mvcc_snapshot.h, and a snapshot checked in full before it
// replaces the store in one commit.
#include "kv/mvcc_snapshot.h"

#include "base/crash_point.h"
#include "kv/mvcc_state.h"

namespace keel::kv {

Result<std::string> MvccStore::snapshot() const {
    std::string out = begin_snapshot();
    TRY(m_backend->scan({}, {}, [&](std::string_view key, std::string_view value) {
        append_snapshot_entry(out, key, value);
        return ScanStep::Continue;
    }));
    end_snapshot(out);
    return out;
}

Result<void> MvccStore::restore(std::string_view snapshot) {
    std::vector<BackendWrite> puts = TRY(parse_snapshot(snapshot));
    // Every entry must load, or the store would be left unopenable.
    for (const BackendWrite& put : puts) {
        if (put.key.starts_with(kRecordPrefix)) {
            if (!parse_record_key(put.key))
                return error("MVCC snapshot: a record key that is no revision");
            TRY_CTX(decode_key_value(put.value), "MVCC snapshot: a record");
        } else if (put.key == kMetaCompactRevision || put.key == kMetaConsistentIndex) {
            TRY_CTX(decode_int64(put.value), "MVCC snapshot: " + put.key.substr(1));
        }
    }
    // Everything now goes, in the same commit that brings the snapshot in.
    std::vector<BackendWrite> writes;
    TRY(m_backend->scan({}, {}, [&](std::string_view key, std::string_view) {
        writes.push_back({BackendWrite::Kind::Delete, std::string(key), {}});
        return ScanStep::Continue;
    }));
    writes.insert(writes.end(), std::make_move_iterator(puts.begin()),
                  std::make_move_iterator(puts.end()));
    crash_point("kv.snapshot.apply");
    TRY_CTX(m_backend->commit(writes), "restore the MVCC store from a snapshot");
    TRY_CTX(load(), "restore the MVCC store from a snapshot");
    return {};
}

} // namespace keel::kv
