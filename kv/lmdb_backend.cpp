// The persistent Backend (kv/mvcc_backend.h) on LMDB: one file, one unnamed
// database, a write transaction per commit or one per batch of commits
// (which keeps a copy of the batch's writes to redo it without a failed
// commit). LMDB's copy-on-write B+tree
// gives the all-or-nothing commit the MVCC store needs (its records and its
// consistent index land together) and never needs a stop-the-world
// compaction of its own: freed pages are reused.
#include "kv/mvcc_backend.h"

#include "base/crash_point.h"
#include "base/endian.h"

#include <lmdb.h>

#include <cerrno>
#include <utility>

namespace keel::kv {

namespace {

// Above this, the replay buffer is given back after a flush.
constexpr size_t kReplayKeptBytes = 1u << 20;

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
    LmdbTxn(LmdbTxn&& other) noexcept : m_txn(std::exchange(other.m_txn, nullptr)) {}
    LmdbTxn& operator=(LmdbTxn&& other) noexcept {
        if (this != &other) {
            if (m_txn)
                mdb_txn_abort(m_txn);
            m_txn = std::exchange(other.m_txn, nullptr);
        }
        return *this;
    }
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
    LmdbBackend(MDB_env* env, std::string path, LmdbCommit commits)
        : m_env(env), m_commits(commits), m_path(std::move(path)) {}
    ~LmdbBackend() override {
        (void)flush(); // a failure here is a crash's loss: the log replays it
        mdb_env_close(m_env);
    }

    Result<void> open_database() {
        // A read transaction: opening must not wait for another process's
        // open batch.
        LmdbTxn txn;
        if (int rc = mdb_txn_begin(m_env, nullptr, MDB_RDONLY, txn.out()))
            return lmdb_error(rc, "begin a transaction on `" + m_path + "`");
        if (int rc = mdb_dbi_open(txn.get(), nullptr, 0, &m_dbi))
            return lmdb_error(rc, "open the database in `" + m_path + "`");
        if (int rc = txn.commit())
            return lmdb_error(rc, "commit on `" + m_path + "`");
        return {};
    }

    Result<std::optional<std::string>> get(std::string_view key) const override {
        LmdbTxn own;
        MDB_txn* txn = TRY(reader(own));
        MDB_val key_val = to_val(key);
        MDB_val value;
        int rc = mdb_get(txn, m_dbi, &key_val, &value);
        if (rc == MDB_NOTFOUND)
            return std::optional<std::string>();
        if (rc)
            return lmdb_error(rc, "read `" + m_path + "`");
        return std::optional<std::string>(std::string(to_view(value)));
    }

    Result<void> scan(std::string_view from, std::string_view to,
                      const ScanVisitor& visit) const override {
        LmdbTxn own;
        MDB_txn* txn = TRY(reader(own));
        MDB_cursor* cursor = nullptr;
        if (int rc = mdb_cursor_open(txn, m_dbi, &cursor))
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
        if (m_commits == LmdbCommit::Each) {
            LmdbTxn txn;
            if (int rc = mdb_txn_begin(m_env, nullptr, 0, txn.out()))
                return lmdb_error(rc, "begin a write on `" + m_path + "`");
            TRY(write_all(txn.get(), writes));
            if (int rc = txn.commit())
                return lmdb_error(rc, "commit to `" + m_path + "`");
            return {};
        }
        if (!m_batch.get()) {
            if (int rc = mdb_txn_begin(m_env, nullptr, 0, m_batch.out()))
                return lmdb_error(rc, "begin a write on `" + m_path + "`");
        }
        // Straight into the batch: a nested transaction per commit would
        // cost LMDB 3 MiB of fresh lists and a copy of every page the
        // batch already touched. A failure breaks the whole LMDB
        // transaction instead, so the batch is begun again from the
        // commits it held (kept in m_replay until the flush).
        if (Result<void> written = write_all(m_batch.get(), writes); !written) {
            TRY_CTX(rebuild_batch(), "after " + written.error().to_string());
            return written;
        }
        for (const BackendWrite& write : writes)
            keep_for_replay(write);
        if (++m_batched >= kLmdbBatchLimit)
            return flush();
        return {};
    }

    Result<void> flush() override {
        if (!m_batch.get())
            return {};
        m_batched = 0;
        m_replay.clear();
        // A burst's buffer is not kept for the quiet that follows it.
        if (m_replay.capacity() > kReplayKeptBytes)
            std::string().swap(m_replay);
        crash_point("kv.store.flush"); // the batch of applied writes not yet in the file
        if (int rc = m_batch.commit())
            return lmdb_error(rc, "commit to `" + m_path + "`");
        return {};
    }

    Result<uint64_t> size_in_use() const override {
        // The pages of the data's tree and of LMDB's free list, and the
        // two meta pages: the free pages themselves are not counted, so a
        // compaction brings this down although the file stays as large.
        LmdbTxn own;
        MDB_txn* txn = TRY(reader(own));
        MDB_stat data{};
        MDB_stat free_list{};
        if (int rc = mdb_stat(txn, m_dbi, &data))
            return lmdb_error(rc, "measure `" + m_path + "`");
        if (int rc = mdb_stat(txn, MDB_dbi(0), &free_list)) // 0: LMDB's free list
            return lmdb_error(rc, "measure the free list of `" + m_path + "`");
        auto pages = [](const MDB_stat& stat) {
            return uint64_t(stat.ms_branch_pages) + stat.ms_leaf_pages + stat.ms_overflow_pages;
        };
        return (2 + pages(data) + pages(free_list)) * data.ms_psize;
    }

private:
    Result<void> write_all(MDB_txn* txn, std::span<const BackendWrite> writes) {
        for (const BackendWrite& write : writes) {
            MDB_val key = to_val(write.key);
            if (write.kind == BackendWrite::Kind::Put) {
                MDB_val value = to_val(write.value);
                if (int rc = mdb_put(txn, m_dbi, &key, &value, 0))
                    return lmdb_error(rc, "write `" + m_path + "`");
            } else {
                int rc = mdb_del(txn, m_dbi, &key, nullptr);
                if (rc && rc != MDB_NOTFOUND)
                    return lmdb_error(rc, "delete in `" + m_path + "`");
            }
        }
        return {};
    }

    // m_replay holds each write of the open batch as its kind (one byte),
    // the key's and the value's sizes (u32 each) and the bytes.
    void keep_for_replay(const BackendWrite& write) {
        m_replay.push_back(char(write.kind));
        put_u32(m_replay, uint32_t(write.key.size()));
        put_u32(m_replay, uint32_t(write.value.size()));
        m_replay += write.key;
        m_replay += write.value;
    }

    // After a failed commit: the open batch is aborted and begun again with
    // the commits that had succeeded in it, which fit before and so fit
    // again. Failing here leaves no batch and the error to the caller (the
    // Raft driver stops; its log replays the lost commits on restart).
    Result<void> rebuild_batch() {
        m_batch = LmdbTxn();
        m_batched = 0;
        std::string replay = std::exchange(m_replay, {});
        if (int rc = mdb_txn_begin(m_env, nullptr, 0, m_batch.out()))
            return lmdb_error(rc, "begin a write on `" + m_path + "`");
        BackendWrite write;
        for (size_t at = 0; at < replay.size();) {
            write.kind = BackendWrite::Kind(replay[at]);
            uint32_t key_size = get_u32(replay, at + 1);
            uint32_t value_size = get_u32(replay, at + 5);
            at += 9;
            write.key.assign(replay, at, key_size);
            at += key_size;
            write.value.assign(replay, at, value_size);
            at += value_size;
            if (Result<void> written = write_all(m_batch.get(), std::span(&write, 1)); !written) {
                m_batch = LmdbTxn();
                return std::unexpected(
                    std::move(written).error().wrap("redo the batch's earlier commits"));
            }
        }
        m_replay = std::move(replay);
        return {};
    }

    /// The transaction reads go through: the open batch (so reads see its
    /// commits), else a read-only one begun in `own`.
    Result<MDB_txn*> reader(LmdbTxn& own) const {
        if (m_batch.get())
            return m_batch.get();
        if (int rc = mdb_txn_begin(m_env, nullptr, MDB_RDONLY, own.out()))
            return lmdb_error(rc, "begin a read on `" + m_path + "`");
        return own.get();
    }

    MDB_env* m_env;
    MDB_dbi m_dbi = 0;
    LmdbCommit m_commits;
    LmdbTxn m_batch; // the open batch, when batching
    int m_batched = 0;
    std::string m_replay; // the open batch's writes, to redo after a failure
    std::string m_path;
};

} // namespace

Result<std::unique_ptr<Backend>> open_lmdb_backend(const std::string& path, uint64_t map_size,
                                                   LmdbSync sync, LmdbCommit commits) {
    MDB_env* env = nullptr;
    if (int rc = mdb_env_create(&env))
        return lmdb_error(rc, "create an LMDB environment for `" + path + "`");
    auto backend = std::make_unique<LmdbBackend>(env, path, commits); // closes env from here on
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
