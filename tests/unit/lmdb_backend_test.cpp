// Tests for the LMDB Backend (kv/lmdb_backend.cpp) and the MVCC store on it:
// reopening the same file gives the same store (revision, compaction,
// consistent index, every key, leases), and a full file is ENOSPC.
#include "kv/mvcc.h"

#include "tests/unit/mvcc_fixture.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::get;
using keel::testing::put;
using keel::testing::remove;
using keel::testing::TempDir;

namespace {

std::unique_ptr<MvccStore> open_lmdb_store(const std::string& path) {
    auto backend = open_lmdb_backend(path, 64 << 20, LmdbSync::NoMetaSync);
    REQUIRE_MESSAGE(backend, (backend ? std::string() : backend.error().to_string()));
    auto store = MvccStore::open(std::move(*backend));
    REQUIRE_MESSAGE(store, (store ? std::string() : store.error().to_string()));
    return std::move(*store);
}

/// The revision another process sees in the file (LMDB forbids a second
/// environment on one file in the same process).
int revision_seen_by_another_process(const std::string& path) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto backend = open_lmdb_backend(path, 64 << 20, LmdbSync::NoMetaSync);
        if (!backend)
            ::_exit(100);
        auto store = MvccStore::open(std::move(*backend));
        ::_exit(store ? int((*store)->revision()) : 101);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

} // namespace

TEST_CASE("reopening the LMDB file gives the same store") {
    TempDir dir;
    std::string path = dir / "mvcc.lmdb";
    uint32_t hash = 0;
    {
        auto store = open_lmdb_store(path);
        put(*store, "a", "1", 8); // 2
        put(*store, "b", "2");    // 3
        put(*store, "a", "3", 8); // 4
        remove(*store, "b");      // 5
        REQUIRE(store->compact(4));
        PutRequest request;
        request.key = "c";
        request.value = "4";
        REQUIRE(store->put(request, 77)); // 6
        hash = store->hash_kv(0)->hash;
    }
    auto store = open_lmdb_store(path);
    CHECK(store->revision() == 6);
    CHECK(store->compact_revision() == 4);
    CHECK(store->consistent_index() == 77);
    CHECK(get(*store, "a")->value == "3");
    CHECK(get(*store, "a")->version == 2);
    CHECK(get(*store, "a", 4)->value == "3");
    CHECK_FALSE(get(*store, "b"));
    CHECK(get(*store, "c")->mod_revision == 6);
    CHECK(store->keys_of_lease(8) == std::vector<std::string>{"a"});
    CHECK(store->hash_kv(0)->hash == hash);
    put(*store, "d", "5");
    CHECK(store->revision() == 7);
}

TEST_CASE("after compacting away every record the revision does not go back on reopen") {
    TempDir dir;
    std::string path = dir / "mvcc.lmdb";
    {
        auto store = open_lmdb_store(path);
        put(*store, "a", "1");
        remove(*store, "a");
        REQUIRE(store->compact(3));
    }
    auto store = open_lmdb_store(path);
    CHECK(store->revision() == 3);
    CHECK(put(*store, "a", "2").response.revision == 4);
}

TEST_CASE("the consistent index is only on disk with the data of its entry") {
    TempDir dir;
    std::string path = dir / "mvcc.lmdb";
    {
        auto store = open_lmdb_store(path);
        PutRequest request;
        request.key = "k";
        request.value = "v";
        REQUIRE(store->put(request, 5));
        store->mark_applied(6); // a read-only entry: nothing to commit
    }
    auto store = open_lmdb_store(path);
    CHECK(store->consistent_index() == 5);
    CHECK(get(*store, "k"));
}

TEST_CASE("a commit past the LMDB size limit fails with ENOSPC and leaves the store as it was") {
    TempDir dir;
    auto backend = open_lmdb_backend(dir / "small.lmdb", 1 << 20, LmdbSync::NoMetaSync);
    REQUIRE(backend);
    auto opened = MvccStore::open(std::move(*backend));
    REQUIRE(opened);
    MvccStore& store = **opened;
    PutRequest request;
    request.key = "big";
    request.value = std::string(2 << 20, 'x');
    auto written = store.put(request);
    REQUIRE_FALSE(written);
    CHECK(written.error().code() == ENOSPC);
    CHECK(store.revision() == 1);
    CHECK_FALSE(get(store, "big"));
    put(store, "small", "ok");
    CHECK(store.revision() == 2);
}

TEST_CASE("batched commits are read at once, survive a failed commit and reach the file on flush") {
    TempDir dir;
    std::string path = dir / "batched.lmdb";
    auto backend = open_lmdb_backend(path, 1 << 20, LmdbSync::NoMetaSync, LmdbCommit::Batched);
    REQUIRE(backend);
    auto opened = MvccStore::open(std::move(*backend));
    REQUIRE(opened);
    MvccStore& store = **opened;
    put(store, "a", "1");
    put(store, "b", "2");
    CHECK(get(store, "a")->value == "1");

    PutRequest big;
    big.key = "big";
    big.value = std::string(2 << 20, 'x');
    auto failed = store.put(big);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code() == ENOSPC);
    CHECK(get(store, "b")->value == "2");

    // The file holds the batch only once flushed.
    CHECK(revision_seen_by_another_process(path) == 1);
    REQUIRE(store.flush());
    CHECK(revision_seen_by_another_process(path) == 3);
}

TEST_CASE("a batched commit that fails after its first write leaves none of its writes and "
          "every earlier commit of the batch") {
    TempDir dir;
    std::string path = dir / "batched.lmdb";
    auto opened = open_lmdb_backend(path, 1 << 20, LmdbSync::NoMetaSync, LmdbCommit::Batched);
    REQUIRE(opened);
    Backend& backend = **opened;
    auto value_of = [&](std::string_view key) -> std::optional<std::string> {
        auto got = backend.get(key);
        REQUIRE_MESSAGE(got, (got ? std::string() : got.error().to_string()));
        return *got;
    };
    for (int i = 0; i < 50; ++i)
        REQUIRE(backend.commit(
            std::vector<BackendWrite>{{BackendWrite::Kind::Put, "key" + std::to_string(i),
                                       std::string(100, char('a' + i % 26))}}));
    REQUIRE(backend.commit(std::vector<BackendWrite>{{BackendWrite::Kind::Delete, "key7", ""}}));

    std::vector<BackendWrite> too_big{
        {BackendWrite::Kind::Put, "first", "written before the failure"},
        {BackendWrite::Kind::Delete, "key8", ""},
        {BackendWrite::Kind::Put, "huge", std::string(2 << 20, 'x')},
    };
    auto failed = backend.commit(too_big);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code() == ENOSPC);
    CHECK_FALSE(value_of("first"));
    CHECK(value_of("key8") == std::string(100, 'i'));
    CHECK_FALSE(value_of("key7"));
    CHECK(value_of("key49") == std::string(100, 'x'));

    // The batch goes on and reaches the file whole.
    REQUIRE(backend.commit(std::vector<BackendWrite>{{BackendWrite::Kind::Put, "after", "1"}}));
    REQUIRE(backend.flush());
    opened->reset();
    auto reopened = open_lmdb_backend(path, 1 << 20, LmdbSync::NoMetaSync);
    REQUIRE(reopened);
    auto after = (*reopened)->get("after");
    REQUIRE(after);
    CHECK(*after == "1");
    auto key0 = (*reopened)->get("key0");
    REQUIRE(key0);
    CHECK(*key0 == std::string(100, 'a'));
    auto key7 = (*reopened)->get("key7");
    REQUIRE(key7);
    CHECK_FALSE(*key7);
    auto first = (*reopened)->get("first");
    REQUIRE(first);
    CHECK_FALSE(*first);
}

TEST_CASE("an LMDB path in a missing directory is an error naming it") {
    auto backend = open_lmdb_backend("/nonexistent-dir/x.lmdb", 1 << 20, LmdbSync::Durable);
    REQUIRE_FALSE(backend);
    CHECK(backend.error().to_string().find("/nonexistent-dir/x.lmdb") != std::string::npos);
}

TEST_CASE("the bytes in use grow with the data and come down after a compaction frees it") {
    TempDir dir;
    auto store = open_lmdb_store(dir / "mvcc.lmdb");
    auto empty = store->size_in_use();
    REQUIRE(empty);
    std::string value(20000, 'v');
    for (int i = 0; i < 50; ++i)
        put(*store, "k", value);
    auto full = store->size_in_use();
    REQUIRE(full);
    CHECK(*full > *empty + 50 * 20000);
    REQUIRE(store->compact(store->revision()));
    auto compacted = store->size_in_use();
    REQUIRE(compacted);
    CHECK(*compacted < *full / 4); // one value is left of fifty
}
