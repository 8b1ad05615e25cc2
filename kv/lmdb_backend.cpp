// The persistent Backend (kv/mvcc_backend.h) on LMDB: one file, one unnamed
// database, a write transaction per commit. LMDB's copy-on-write B+tree
// gives the all-or-nothing commit the MVCC store needs (its records and its
// consistent index land together) and never needs a stop-the-world
// compaction of its own: freed pages are reused.
#include "kv/mvcc_backend.h"

#include <lmdb.h>

#include <cerrno>

namespace keel::kv {

namespace {

std::unexpected<Error> lmdb_error(int code, std::string what) {
    if (code == MDB_MAP_FULL)
        return errno_error(ENOSPC, std::move(what) + ": the store reached its size limit");
    if (code > 0)
        return errno_error(code, std::move(what));
    return error(std::move(what) + ": " + mdb_strerror(code));
}

MDB_val to_val(std::string_view bytes) {
    return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view to_view(const MDB_val& val) {
    return {static_cast<const char*>(val.mv_data), val.mv_size};
}

/// A transaction that aborts unless committed.
class LmdbTxn {
public:
    LmdbTxn() = default;
    LmdbTxn(const LmdbTxn&) = delete;
    LmdbTxn& operator=(const LmdbTxn&) = delete;
    ~LmdbTxn() {
        if (m_txn)
            mdb_txn_abort(m_txn);
    }
    MDB_txn** out() { return &m_txn; }
    MDB_txn* get() const { return m_txn; }
    /// Commits (the handle is gone either way, as LMDB frees it).
    int commit() { return mdb_txn_commit(std::exchange(m_txn, nullptr)); }

private:
    MDB_txn* m_txn = nullptr;
};

class LmdbBackend final : public Backend {
public:
    LmdbBackend(MDB_env* env, std::string path) : m_env(env), m_path(std::move(path)) {}
    ~LmdbBackend() override { mdb_env_close(m_env); }

    Result<void> open_database() {
        LmdbTxn txn;
        if (int rc = mdb_txn_begin(m_env, nullptr, 0, txn.out()))
            return lmdb_error(rc, "begin a transaction on `" + m_path + "`");
        if (int rc = mdb_dbi_open(txn.get(), nullptr, 0, &m_dbi))
            return lmdb_error(rc, "open the database in `" + m_path + "`");
        if (int rc = txn.commit())
            return lmdb_error(rc, "commit on `" + m_path + "`");
        return {};
    }

    Result<std::optional<std::string>> get(std::string_view key) const override {
        LmdbTxn txn;
        if (int rc = mdb_txn_begin(m_env, nullptr, MDB_RDONLY, txn.out()))
            return lmdb_error(rc, "begin a read on `" + m_path + "`");
        MDB_val key_val = to_val(key);
        MDB_val value;
        int rc = mdb_get(txn.get(), m_dbi, &key_val, &value);
        if (rc == MDB_NOTFOUND)
            return std::optional<std::string>();
        if (rc)
            return lmdb_error(rc, "read `" + m_path + "`");
        return std::optional<std::string>(std::string(to_view(value)));
    }

    Result<void> scan(std::string_view from, std::string_view to,
                      const ScanVisitor& visit) const override {
        LmdbTxn txn;
        if (int rc = mdb_txn_begin(m_env, nullptr, MDB_RDONLY, txn.out()))
            return lmdb_error(rc, "begin a read on `" + m_path + "`");
        MDB_cursor* cursor = nullptr;
        if (int rc = mdb_cursor_open(txn.get(), m_dbi, &cursor))
            return lmdb_error(rc, "open a cursor on `" + m_path + "`");
        MDB_val key = to_val(from);
        MDB_val value;
        int rc = from.empty() ? mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
                              : mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
        while (rc == 0) {
            if (!to.empty() && to_view(key) >= to)
                break;
            if (visit(to_view(key), to_view(value)) == ScanStep::Stop)
                break;
            rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
        }
        mdb_cursor_close(cursor);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_error(rc, "scan `" + m_path + "`");
        return {};
    }

    Result<void> commit(std::span<const BackendWrite> writes) override {
        LmdbTxn txn;
        if (int rc = mdb_txn_begin(m_env, nullptr, 0, txn.out()))
            return lmdb_error(rc, "begin a write on `" + m_path + "`");
        for (const BackendWrite& write : writes) {
            MDB_val key = to_val(write.key);
            if (write.kind == BackendWrite::Kind::Put) {
                MDB_val value = to_val(write.value);
                if (int rc = mdb_put(txn.get(), m_dbi, &key, &value, 0))
                    return lmdb_error(rc, "write `" + m_path + "`");
            } else {
                int rc = mdb_del(txn.get(), m_dbi, &key, nullptr);
                if (rc && rc != MDB_NOTFOUND)
                    return lmdb_error(rc, "delete in `" + m_path + "`");
            }
        }
        if (int rc = txn.commit())
            return lmdb_error(rc, "commit to `" + m_path + "`");
        return {};
    }

private:
    MDB_env* m_env;
    MDB_dbi m_dbi = 0;
    std::string m_path;
};

} // namespace

Result<std::unique_ptr<Backend>> open_lmdb_backend(const std::string& path, uint64_t map_size,
                                                   LmdbSync sync) {
    MDB_env* env = nullptr;
    if (int rc = mdb_env_create(&env))
        return lmdb_error(rc, "create an LMDB environment for `" + path + "`");
    auto backend = std::make_unique<LmdbBackend>(env, path); // closes env from here on
    if (int rc = mdb_env_set_mapsize(env, size_t(map_size)))
        return lmdb_error(rc, "set the size limit of `" + path + "`");
    // NOTLS: transactions are not tied to a thread (the store may move
    // between threads); NORDAHEAD: values are read at random.
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD;
    if (sync == LmdbSync::NoMetaSync)
        flags |= MDB_NOMETASYNC;
    if (int rc = mdb_env_open(env, path.c_str(), flags, 0600))
        return lmdb_error(rc, "open `" + path + "`");
    TRY(backend->open_database());
    return std::unique_ptr<Backend>(std::move(backend));
}

} // namespace keel::kv
