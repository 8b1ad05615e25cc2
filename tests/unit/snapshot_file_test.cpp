// Tests for kv/snapshot_file.h: a snapshot saved and loaded back; the choice
// of the file to start from when the newest is damaged (an older one only
// while the log still has the entries after it); files newer than the log's
// marker; pruning; malformed files; and a crash at every call of a save.
#include "kv/snapshot_file.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/kv_storage_fixture.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::FakeStorage;
using keel::testing::make_entries;
using keel::testing::TempDir;
using keel::testing::UnsyncedStorage;

namespace {

Snapshot make_snapshot(kv::Index index, Term term) {
    return Snapshot{
        .meta = {.index = index, .term = term, .conf = {.voters = {1, 2, 3}, .learners = {4}}},
        .data = cat("state at ", index)};
}

// A log state whose marker is at `marker` and whose entries run from
// `first` to `last`.
WalState log_state(kv::Index marker, Term term, kv::Index first, kv::Index last) {
    WalState state;
    state.snapshot = {.index = marker, .term = term};
    if (first <= last)
        state.entries = make_entries(first, last, term);
    return state;
}

void save(const std::string& directory, const Snapshot& snapshot) {
    auto saved = save_snapshot_file(system_storage(), directory, snapshot);
    REQUIRE_MESSAGE(saved, (saved ? std::string() : saved.error().to_string()));
}

void damage(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(::pwrite(fd.get(), "X", 1, 40) == 1);
}

} // namespace

TEST_CASE("a saved snapshot loads back whole under its term and index") {
    TempDir dir;
    save(dir / "snap", make_snapshot(100, 3));
    CHECK(list_directory(dir / "snap") ==
          std::vector<std::string>{"0000000000000003-0000000000000064.snap"});
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(100, 3, 101, 105));
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    REQUIRE(loaded->has_value());
    CHECK(**loaded == make_snapshot(100, 3));
}

TEST_CASE("a log without a snapshot marker needs no snapshot file") {
    TempDir dir;
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(0, 0, 1, 5));
    REQUIRE(loaded);
    CHECK_FALSE(loaded->has_value());
}

TEST_CASE(
    "a damaged newest snapshot falls back to an older one while the log has what follows it") {
    TempDir dir;
    save(dir / "snap", make_snapshot(50, 2));
    save(dir / "snap", make_snapshot(100, 3));
    damage(dir / "snap/0000000000000003-0000000000000064.snap");
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(100, 3, 40, 120));
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->meta.index == 50);
}

TEST_CASE("a damaged newest snapshot without the log behind an older one is an error naming it") {
    TempDir dir;
    save(dir / "snap", make_snapshot(50, 2));
    save(dir / "snap", make_snapshot(100, 3));
    damage(dir / "snap/0000000000000003-0000000000000064.snap");
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(100, 3, 90, 120));
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(loaded.error().to_string() ==
          cat("kv/snap: ", keel::quoted(dir / "snap"),
              ": 0000000000000003-0000000000000064.snap: checksum mismatch, and no older "
              "snapshot can stand in for the log's snapshot at index 100, term 3"));
}

TEST_CASE("a missing snapshot file for the log's marker is an error") {
    TempDir dir;
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(100, 3, 101, 101));
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(loaded.error().to_string().ends_with(
        "no snapshot file for the log's snapshot at index 100, term 3"));
}

TEST_CASE("a snapshot newer than the log's marker is a save that did not finish and is ignored") {
    TempDir dir;
    save(dir / "snap", make_snapshot(50, 2));
    save(dir / "snap", make_snapshot(100, 3));
    auto loaded = load_snapshot_file(system_storage(), dir / "snap", log_state(50, 2, 40, 120));
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->meta.index == 50);
}

TEST_CASE("pruning keeps the newest snapshots and removes leftovers of unfinished saves") {
    TempDir dir;
    for (kv::Index index : {10, 20, 30, 40})
        save(dir / "snap", make_snapshot(index, 1));
    REQUIRE(write_new_file(dir / "snap/0000000000000001-0000000000000032.snap.tmp", "half"));
    REQUIRE(prune_snapshot_files(system_storage(), dir / "snap", 2));
    CHECK(list_directory(dir / "snap") ==
          std::vector<std::string>{"0000000000000001-000000000000001e.snap",
                                   "0000000000000001-0000000000000028.snap"});
}

TEST_CASE("malformed snapshot files are refused with what is wrong") {
    std::string good = encode_snapshot_file(make_snapshot(7, 1));
    REQUIRE(decode_snapshot_file(good) == make_snapshot(7, 1));
    CHECK(decode_snapshot_file("") ==
          std::unexpected(std::string("cut short at 0 bytes (the header is 24)")));
    CHECK(decode_snapshot_file(std::string(good).replace(0, 4, "JUNK")) ==
          std::unexpected(std::string("not a snapshot file")));
    CHECK(decode_snapshot_file(good.substr(0, good.size() - 1)) ==
          std::unexpected(cat("cut short at ", good.size() - 1, " of ", good.size(), " bytes")));
    std::string flipped = good;
    flipped.back() ^= 1;
    CHECK(decode_snapshot_file(flipped) == std::unexpected(std::string("checksum mismatch")));
    std::string version = good;
    version[8] = 9;
    CHECK(decode_snapshot_file(version) ==
          std::unexpected(std::string("format version 9 (this keel reads version 1)")));
}

TEST_CASE("a crash at any call of a save leaves the previous snapshot loadable") {
    UnsyncedStorage disk;
    int total = 0;
    {
        TempDir dir;
        FakeStorage counting(disk);
        REQUIRE(save_snapshot_file(counting, dir / "snap", make_snapshot(50, 2)));
        int before = counting.total_calls();
        REQUIRE(save_snapshot_file(counting, dir / "snap", make_snapshot(100, 3)));
        total = counting.total_calls() - before;
    }
    REQUIRE(total >= 5);
    for (int crash = 1; crash <= total; ++crash) {
        CAPTURE(crash);
        TempDir dir;
        FakeStorage storage(disk);
        REQUIRE(save_snapshot_file(storage, dir / "snap", make_snapshot(50, 2)));
        storage.crash_at_call(storage.total_calls() + crash);
        CHECK_FALSE(save_snapshot_file(storage, dir / "snap", make_snapshot(100, 3)));
        // The log's marker still says 50: the save was never acknowledged.
        auto loaded = load_snapshot_file(disk, dir / "snap", log_state(50, 2, 51, 120));
        REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
        REQUIRE(loaded->has_value());
        CHECK(**loaded == make_snapshot(50, 2));
        REQUIRE(prune_snapshot_files(disk, dir / "snap", 1));
    }
}
