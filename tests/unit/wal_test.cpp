// Tests for kv/wal.h: a log written, synced and read back; Raft's
// truncation; segments cut and released; the metadata check; recovery from
// a torn tail and refusal of damage; and crash points: the "machine" stopped
// at every Storage call of a scenario of appends, syncs, segment cuts and
// snapshot saves, and a write torn at every byte of the last record.
#include "kv/wal.h"

#include "base/strings.h"
#include "base/sys.h"
#include "kv/snapshot_file.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/kv_storage_fixture.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

// GCC 12 at -O1 and above warns that a moved std::variant<..., Entry, ...>
// may read Entry::type uninitialized where a WalSnapshot is put into one (a
// false positive: every member has an initializer, and only the active
// alternative is moved). Clang and GCC at -O0 see nothing.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

using namespace keel;
using namespace keel::kv;
using keel::testing::CutWrite;
using keel::testing::FakeStorage;
using keel::testing::make_entries;
using keel::testing::make_entry;
using keel::testing::StorageCall;
using keel::testing::TempDir;
using keel::testing::UnsyncedStorage;

namespace {

constexpr WalMetadata kMetadata{.cluster_id = 0x1f, .member_id = 0x2a};
constexpr char kFirstSegment[] = "0000000000000001-0000000000000001.wal";

Wal create_log(const std::string& directory, WalOptions options = {}) {
    auto wal = Wal::create(directory, kMetadata, options);
    REQUIRE_MESSAGE(wal, (wal ? std::string() : wal.error().to_string()));
    return std::move(*wal);
}

Wal open_log(const std::string& directory, WalOptions options = {}) {
    auto wal = Wal::open(directory, options);
    REQUIRE_MESSAGE(wal, (wal ? std::string() : wal.error().to_string()));
    return std::move(*wal);
}

// Entries 1 to `last` (a multiple of 4) of term 1, 50 bytes of padding
// each, appended and synced four at a time.
void append_in_fours(Wal& wal, kv::Index last) {
    for (kv::Index index = 1; index <= last; index += 4) {
        REQUIRE(wal.append(make_entries(index, index + 3, 1, 50)));
        REQUIRE(wal.sync());
    }
}

std::vector<Entry> log_of(const WalState& state) {
    auto after = entries_after(state, state.snapshot.index);
    return {after.begin(), after.end()};
}

std::vector<std::string> segment_names(const std::string& directory) {
    auto names = list_directory(directory);
    REQUIRE(names);
    std::vector<std::string> segments;
    for (const std::string& name : *names)
        if (name.ends_with(".wal"))
            segments.push_back(name);
    return segments;
}

// The records of a segment file, as recovery reads them.
std::vector<FramedRecord> records_in(const std::string& path, std::string& data) {
    auto read = read_file(path);
    REQUIRE(read);
    data = std::move(*read);
    return scan_segment(data, SegmentPlace::Last).records;
}

void corrupt_byte(const std::string& path, uint64_t offset) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(fd);
    char byte = 0;
    REQUIRE(::pread(fd.get(), &byte, 1, off_t(offset)) == 1);
    byte = char(byte ^ 0x40);
    REQUIRE(::pwrite(fd.get(), &byte, 1, off_t(offset)) == 1);
}

} // namespace

TEST_CASE("a synced log reads back its metadata, entries and latest hard state") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto first = make_entries(1, 3, 1);
        REQUIRE(wal.append(first, HardState{.term = 1, .vote = 2, .commit = 1}));
        REQUIRE(wal.sync());
        auto second = make_entries(4, 5, 1);
        REQUIRE(wal.append(second, HardState{.term = 1, .vote = 2, .commit = 4}));
        REQUIRE(wal.sync());
        CHECK(wal.last_index() == 5);
    }
    Wal wal = open_log(dir / "wal");
    CHECK(wal.metadata() == kMetadata);
    CHECK(wal.recovered().hard_state == HardState{.term = 1, .vote = 2, .commit = 4});
    CHECK(wal.recovered().snapshot == WalSnapshot{});
    CHECK(log_of(wal.recovered()) == make_entries(1, 5, 1));
    CHECK(wal.last_index() == 5);
    CHECK(segment_names(dir / "wal") == std::vector<std::string>{kFirstSegment});
}

TEST_CASE("what was appended but never synced is not in the log") {
    TempDir dir;
    Wal wal = create_log(dir / "wal");
    auto synced = make_entries(1, 2, 1);
    REQUIRE(wal.append(synced));
    REQUIRE(wal.sync());
    auto unsynced = make_entries(3, 4, 1);
    REQUIRE(wal.append(unsynced, HardState{.term = 1, .vote = 0, .commit = 3}));
    Wal reopened = open_log(dir / "wal");
    CHECK(log_of(reopened.recovered()) == make_entries(1, 2, 1));
    CHECK(reopened.recovered().hard_state == HardState{});
}

TEST_CASE("a new log refuses a directory that already holds one, and exists() tells them apart") {
    TempDir dir;
    CHECK(Wal::exists(dir / "wal") == false);
    create_log(dir / "wal");
    CHECK(Wal::exists(dir / "wal") == true);
    auto again = Wal::create(dir / "wal", kMetadata);
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == EEXIST);
    auto missing = Wal::open(dir / "nothing");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code() == ENOENT);
}

TEST_CASE("an entry at an index already written replaces it and every entry after it") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto old_leader = make_entries(1, 6, 1);
        REQUIRE(wal.append(old_leader));
        REQUIRE(wal.sync());
        auto new_leader = make_entries(4, 5, 2);
        REQUIRE(wal.append(new_leader));
        REQUIRE(wal.sync());
        CHECK(wal.last_index() == 5);
    }
    Wal wal = open_log(dir / "wal");
    auto expected = make_entries(1, 3, 1);
    for (Entry& entry : make_entries(4, 5, 2))
        expected.push_back(entry);
    CHECK(log_of(wal.recovered()) == expected);
}

TEST_CASE("a snapshot marker beyond the log starts the log over after it") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto entries = make_entries(1, 3, 1);
        REQUIRE(wal.append(entries));
        REQUIRE(wal.append_snapshot({.index = 100, .term = 4}));
        auto after = make_entries(101, 102, 4);
        REQUIRE(wal.append(after));
        REQUIRE(wal.sync());
    }
    Wal wal = open_log(dir / "wal");
    CHECK(wal.recovered().snapshot == WalSnapshot{.index = 100, .term = 4});
    CHECK(wal.recovered().entries == make_entries(101, 102, 4));
    CHECK(wal.last_index() == 102);
}

TEST_CASE("segments are cut when full, each standing alone, and the log reads across them") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    {
        Wal wal = create_log(dir / "wal", options);
        for (kv::Index index = 1; index <= 40; index += 4) {
            auto entries = make_entries(index, index + 3, 1, 50);
            REQUIRE(wal.append(entries, HardState{.term = 1, .vote = 1, .commit = index}));
            REQUIRE(wal.sync());
        }
        CHECK(wal.segment_count() > 3);
    }
    auto names = segment_names(dir / "wal");
    REQUIRE(names.size() > 3);
    CHECK(names[0] == kFirstSegment);
    CHECK(names[1].starts_with("0000000000000002-"));
    for (const std::string& name : names) {
        std::string data;
        auto records = records_in(dir / "wal/" + name, data);
        REQUIRE_FALSE(records.empty());
        CHECK(records[0].type == RecordType::Metadata);
    }
    Wal wal = open_log(dir / "wal", options);
    CHECK(log_of(wal.recovered()) == make_entries(1, 40, 1, 50));
    CHECK(wal.recovered().hard_state.commit == 37);
}

TEST_CASE("a record larger than a segment gets a segment of its own") {
    TempDir dir;
    WalOptions options{.segment_bytes = 512};
    {
        Wal wal = create_log(dir / "wal", options);
        std::vector<Entry> entries{make_entry(1, 1), make_entry(2, 1, 2000), make_entry(3, 1)};
        REQUIRE(wal.append(entries));
        REQUIRE(wal.sync());
    }
    Wal wal = open_log(dir / "wal", options);
    CHECK(log_of(wal.recovered()) ==
          std::vector<Entry>{make_entry(1, 1), make_entry(2, 1, 2000), make_entry(3, 1)});
}

TEST_CASE("release removes the segments a snapshot covers and keeps the rest readable") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    Wal wal = create_log(dir / "wal", options);
    append_in_fours(wal, 60);
    size_t before = wal.segment_count();
    // Nothing is released past the latest snapshot marker.
    REQUIRE(wal.release(60));
    CHECK(wal.segment_count() == before);

    REQUIRE(wal.append_snapshot({.index = 30, .term = 1}));
    REQUIRE(wal.sync());
    REQUIRE(wal.release(30));
    CHECK(wal.segment_count() < before);
    CHECK(segment_names(dir / "wal").size() == wal.segment_count());
    CHECK(segment_names(dir / "wal")[0] != kFirstSegment);

    Wal reopened = open_log(dir / "wal", options);
    CHECK(reopened.recovered().snapshot == WalSnapshot{.index = 30, .term = 1});
    CHECK(log_of(reopened.recovered()) == make_entries(31, 60, 1, 50));
    // The entries still there before the snapshot are all ones it covers.
    CHECK(reopened.recovered().entries.front().index <= 31);
}

TEST_CASE("an append that would leave a gap in the log is refused") {
    TempDir dir;
    Wal wal = create_log(dir / "wal");
    auto first = make_entries(1, 2, 1);
    REQUIRE(wal.append(first));
    auto gap = make_entries(4, 4, 1);
    auto appended = wal.append(gap);
    REQUIRE_FALSE(appended);
    CHECK(appended.error().to_string() == "kv/wal: append: entry 4 would follow entry 2");
    REQUIRE(wal.sync());
    CHECK(log_of(open_log(dir / "wal").recovered()) == make_entries(1, 2, 1));
}

TEST_CASE("a log of another cluster or member is refused with a code the server can show") {
    TempDir dir;
    Wal wal = create_log(dir / "wal");
    CHECK(wal.check_metadata(kMetadata));
    auto other_cluster = wal.check_metadata({.cluster_id = 0x3b, .member_id = 0x2a});
    REQUIRE_FALSE(other_cluster);
    CHECK(other_cluster.error().code() == int(ErrorCode::ForeignDataDir));
    CHECK(other_cluster.error().to_string() ==
          cat("kv/wal: data dir ", keel::quoted(dir / "wal"),
              " belongs to another cluster (cluster 1f, member 2a; expected cluster 3b, member "
              "2a)"));
    auto other_member = wal.check_metadata({.cluster_id = 0x1f, .member_id = 7});
    REQUIRE_FALSE(other_member);
    CHECK(other_member.error().code() == int(ErrorCode::ForeignDataDir));
    CHECK(other_member.error().to_string().find("belongs to another member") != std::string::npos);
}

TEST_CASE("a torn last record is cut off and the log continues from there") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto entries = make_entries(1, 3, 1);
        REQUIRE(wal.append(entries));
        REQUIRE(wal.sync());
    }
    std::string path = dir / "wal/" + kFirstSegment;
    std::string data;
    auto records = records_in(path, data);
    uint64_t end = records.back().offset + records.back().size;
    // Half of a fourth record, as a crash in the middle of its write leaves it.
    std::string torn = encode_record(make_entry(4, 1, 100));
    {
        Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(::pwrite(fd.get(), torn.data(), torn.size() / 2, off_t(end)) ==
                ssize_t(torn.size() / 2));
    }
    {
        Wal wal = open_log(dir / "wal");
        CHECK(log_of(wal.recovered()) == make_entries(1, 3, 1));
        auto next = make_entries(4, 4, 2);
        REQUIRE(wal.append(next));
        REQUIRE(wal.sync());
    }
    auto tail = read_file(path);
    REQUIRE(tail);
    // The torn bytes after the new record were zeroed.
    CHECK(tail->find_last_not_of('\0') < end + encode_record(make_entry(4, 2)).size());
    Wal wal = open_log(dir / "wal");
    auto expected = make_entries(1, 3, 1);
    expected.push_back(make_entry(4, 2));
    CHECK(log_of(wal.recovered()) == expected);
}

TEST_CASE("a damaged last record with nothing after it counts as torn") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto entries = make_entries(1, 3, 1);
        REQUIRE(wal.append(entries));
        REQUIRE(wal.sync());
    }
    std::string path = dir / "wal/" + kFirstSegment;
    std::string data;
    auto records = records_in(path, data);
    corrupt_byte(path, records.back().offset + 20);
    Wal wal = open_log(dir / "wal");
    CHECK(log_of(wal.recovered()) == make_entries(1, 2, 1));
}

TEST_CASE("a damaged record followed by valid ones is refused, naming the file and offset") {
    TempDir dir;
    {
        Wal wal = create_log(dir / "wal");
        auto entries = make_entries(1, 5, 1);
        REQUIRE(wal.append(entries));
        REQUIRE(wal.sync());
    }
    std::string path = dir / "wal/" + kFirstSegment;
    std::string data;
    auto records = records_in(path, data);
    REQUIRE(records.size() == 6); // metadata and five entries
    uint64_t offset = records[2].offset;
    corrupt_byte(path, offset + kRecordHeaderBytes + 3);
    auto wal = Wal::open(dir / "wal");
    REQUIRE_FALSE(wal);
    CHECK(wal.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(wal.error().to_string() ==
          cat("kv/wal: ", kFirstSegment, " at offset ", offset, ": checksum mismatch"));

    SUBCASE("a damaged length is refused as well") {
        corrupt_byte(path, offset + kRecordHeaderBytes + 3); // undo
        corrupt_byte(path, offset + 3);                      // length's high byte
        auto again = Wal::open(dir / "wal");
        REQUIRE_FALSE(again);
        CHECK(again.error().to_string() ==
              cat("kv/wal: ", kFirstSegment, " at offset ", offset, ": impossible record length"));
    }
}

TEST_CASE("written entries are read back from the files, across segments and after reopening") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    {
        Wal wal = create_log(dir / "wal", options);
        append_in_fours(wal, 40);
        REQUIRE(wal.segment_count() > 3);
        auto read = wal.read_entries(1, 40, 1 << 20);
        REQUIRE_MESSAGE(read, (read ? std::string() : read.error().to_string()));
        CHECK(*read == make_entries(1, 40, 1, 50));
        // Appended but not written: not there to read.
        auto more = make_entries(41, 41, 1);
        REQUIRE(wal.append(more));
        auto unwritten = wal.read_entries(41, 41, 1 << 20);
        REQUIRE_FALSE(unwritten);
        CHECK(unwritten.error().to_string() == "kv/wal: entry 41 is not in the log");
    }
    Wal wal = open_log(dir / "wal", options);
    auto read = wal.read_entries(5, 40, 1 << 20);
    REQUIRE(read);
    CHECK(*read == make_entries(5, 40, 1, 50));
    // The byte limit: at least one entry, then no more than the limit.
    auto one = wal.read_entries(7, 40, 1);
    REQUIRE(one);
    CHECK(*one == make_entries(7, 7, 1, 50));
    size_t entry_bytes = make_entry(7, 1, 50).data.size();
    auto three = wal.read_entries(7, 40, 3 * entry_bytes);
    REQUIRE(three);
    CHECK(three->size() == 3);
    // Past the end: what there is.
    auto tail = wal.read_entries(39, 45, 1 << 20);
    REQUIRE(tail);
    CHECK(*tail == make_entries(39, 40, 1, 50));
}

TEST_CASE("the read path sees Raft's truncation and forgets released segments") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    Wal wal = create_log(dir / "wal", options);
    append_in_fours(wal, 60);
    auto replaced = make_entries(50, 52, 2);
    REQUIRE(wal.append(replaced));
    REQUIRE(wal.sync());
    auto read = wal.read_entries(48, 60, 1 << 20);
    REQUIRE(read);
    std::vector<Entry> expected = make_entries(48, 49, 1, 50);
    expected.insert(expected.end(), replaced.begin(), replaced.end());
    CHECK(*read == expected);

    REQUIRE(wal.append_snapshot({.index = 30, .term = 1}));
    REQUIRE(wal.sync());
    REQUIRE(wal.release(30));
    CHECK_FALSE(wal.read_entries(1, 1, 1 << 20));
    kv::Index first = wal.entry_index().first();
    CHECK(first > 1);
    CHECK(first <= 31);
    auto kept = wal.read_entries(31, 52, 1 << 20);
    REQUIRE(kept);
    CHECK(kept->back() == replaced.back());

    Wal reopened = open_log(dir / "wal", options);
    CHECK(reopened.entry_index().first() == first);
    CHECK(reopened.entry_index().last() == 52);
    auto again = reopened.read_entries(31, 52, 1 << 20);
    REQUIRE(again);
    CHECK(*again == *kept);
}

TEST_CASE("a snapshot marker beyond the log leaves nothing to read before it") {
    TempDir dir;
    Wal wal = create_log(dir / "wal");
    auto entries = make_entries(1, 3, 1);
    REQUIRE(wal.append(entries));
    REQUIRE(wal.append_snapshot({.index = 10, .term = 2}));
    auto after = make_entries(11, 12, 2);
    REQUIRE(wal.append(after));
    REQUIRE(wal.sync());
    CHECK_FALSE(wal.read_entries(2, 2, 1 << 20));
    auto read = wal.read_entries(11, 12, 1 << 20);
    REQUIRE(read);
    CHECK(*read == after);
    Wal reopened = open_log(dir / "wal");
    CHECK(reopened.entry_index().first() == 11);
    CHECK_FALSE(reopened.read_entries(2, 2, 1 << 20));
}

TEST_CASE("a record damaged after it was written is refused on the read path, naming file and "
          "offset") {
    TempDir dir;
    Wal wal = create_log(dir / "wal");
    auto entries = make_entries(1, 5, 1, 20);
    REQUIRE(wal.append(entries));
    REQUIRE(wal.sync());
    std::string path = dir / "wal/" + kFirstSegment;
    std::string data;
    auto records = records_in(path, data);
    REQUIRE(records.size() == 6);        // metadata and five entries
    uint64_t offset = records[3].offset; // entry 3
    corrupt_byte(path, offset + kRecordHeaderBytes + 20);
    auto read = wal.read_entries(1, 5, 1 << 20);
    REQUIRE_FALSE(read);
    CHECK(read.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(read.error().to_string() == cat("kv/wal: ", kFirstSegment, " at offset ", offset,
                                          ": checksum mismatch (reading entry 3)"));
    // The entries before it are fine on their own.
    auto before = wal.read_entries(1, 2, 1 << 20);
    REQUIRE(before);
    CHECK(before->size() == 2);

    SUBCASE("a damaged length") {
        corrupt_byte(path, offset + kRecordHeaderBytes + 20); // undo
        corrupt_byte(path, offset + 3);
        auto again = wal.read_entries(3, 3, 1 << 20);
        REQUIRE_FALSE(again);
        CHECK(again.error().to_string() == cat("kv/wal: ", kFirstSegment, " at offset ", offset,
                                               ": impossible record length (reading entry 3)"));
    }
    SUBCASE("a record that is not the entry the index says") {
        corrupt_byte(path, offset + kRecordHeaderBytes + 20); // undo
        // Entry 4's record where entry 3's was: as if the file were
        // rewritten under the log.
        std::string moved(data.substr(records[4].offset, records[4].size));
        Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(fd);
        REQUIRE(::pwrite(fd.get(), moved.data(), moved.size(), off_t(offset)) ==
                ssize_t(moved.size()));
        auto again = wal.read_entries(3, 3, 1 << 20);
        REQUIRE_FALSE(again);
        CHECK(again.error().to_string() == cat("kv/wal: ", kFirstSegment, " at offset ", offset,
                                               ": holds entry 4 (reading entry 3)"));
    }
}

TEST_CASE("the entry index replaces a truncated suffix and starts over after a gap") {
    WalEntryIndex index;
    CHECK(index.last() == 0);
    CHECK_FALSE(index.find(1));
    index.add(1, 1, 100);
    index.add(2, 1, 200);
    index.add(3, 2, 50); // the next segment
    index.add(4, 2, 90);
    CHECK(index.first() == 1);
    CHECK(index.last() == 4);
    CHECK(index.find(2)->offset == 200);
    CHECK(index.find(4)->sequence == 2);
    index.add(2, 2, 130); // replaces 2, 3 and 4
    CHECK(index.last() == 2);
    CHECK(index.find(1)->sequence == 1);
    CHECK(index.find(2)->sequence == 2);
    CHECK(index.find(2)->offset == 130);
    CHECK_FALSE(index.find(3));
    index.release_before(2);
    CHECK_FALSE(index.find(1));
    CHECK(index.first() == 2);
    index.add(9, 3, 40); // a gap: only what follows is indexed
    CHECK(index.first() == 9);
    CHECK_FALSE(index.find(2));
}

TEST_CASE("damage at the end of an earlier segment is refused, not taken for a torn tail") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    {
        Wal wal = create_log(dir / "wal", options);
        append_in_fours(wal, 20);
    }
    auto names = segment_names(dir / "wal");
    REQUIRE(names.size() >= 2);
    std::string data;
    auto records = records_in(dir / "wal/" + names[0], data);
    corrupt_byte(dir / "wal/" + names[0], records.back().offset + 12);
    auto wal = Wal::open(dir / "wal", options);
    REQUIRE_FALSE(wal);
    CHECK(wal.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(wal.error().to_string() ==
          cat("kv/wal: ", names[0], " at offset ", records.back().offset, ": checksum mismatch"));
}

TEST_CASE("a missing segment in the middle of the log is refused") {
    TempDir dir;
    WalOptions options{.segment_bytes = 1024};
    {
        Wal wal = create_log(dir / "wal", options);
        append_in_fours(wal, 40);
    }
    auto names = segment_names(dir / "wal");
    REQUIRE(names.size() >= 3);
    REQUIRE(::unlink((dir / "wal/" + names[1]).c_str()) == 0);
    auto wal = Wal::open(dir / "wal", options);
    REQUIRE_FALSE(wal);
    CHECK(wal.error().code() == int(ErrorCode::DataCorrupt));
    CHECK(wal.error().to_string().find("segment 2 is missing") != std::string::npos);
}

TEST_CASE(
    "write() puts what was appended in the file without syncing, and the next sync syncs it") {
    TempDir dir;
    FakeStorage storage;
    Wal wal = create_log(dir / "wal", {.storage = &storage});
    auto entries = make_entries(1, 2, 1);
    REQUIRE(wal.append(entries));
    REQUIRE(wal.sync());
    int syncs = storage.calls(StorageCall::Fdatasync);
    REQUIRE(wal.append({}, HardState{.term = 1, .vote = 0, .commit = 2}));
    REQUIRE(wal.write());
    CHECK(storage.calls(StorageCall::Fdatasync) == syncs);
    // In the file: a process killed now (not the machine) keeps it.
    Wal reopened = open_log(dir / "wal");
    CHECK(reopened.recovered().hard_state == HardState{.term = 1, .vote = 0, .commit = 2});
    // Nothing new appended, and still the next sync makes it durable.
    REQUIRE(wal.sync());
    CHECK(storage.calls(StorageCall::Fdatasync) == syncs + 1);
    REQUIRE(wal.sync());
    CHECK(storage.calls(StorageCall::Fdatasync) == syncs + 1);
}

TEST_CASE("after a failed sync the log takes no more writes until it is reopened") {
    TempDir dir;
    FakeStorage storage;
    Wal wal = create_log(dir / "wal", {.storage = &storage});
    auto first = make_entries(1, 1, 1);
    REQUIRE(wal.append(first));
    storage.fail_next(StorageCall::Fdatasync, EIO);
    auto synced = wal.sync();
    REQUIRE_FALSE(synced);
    CHECK(synced.error().code() == EIO);
    auto second = make_entries(2, 2, 1);
    CHECK_FALSE(wal.append(second));
    CHECK_FALSE(wal.sync());
    Wal reopened = open_log(dir / "wal");
    CHECK(reopened.last_index() <= 1);
}

// ---- crash points ----

namespace {

// The state a log should read back after some prefix of the records
// appended to it, computed independently of the log's own replay.
struct WalModel {
    HardState hard_state;
    WalSnapshot snapshot;
    std::vector<Entry> entries;

    void apply(const RecordValue& record) {
        if (auto* entry = std::get_if<Entry>(&record)) {
            std::erase_if(entries, [&](const Entry& e) { return e.index >= entry->index; });
            entries.push_back(*entry);
        } else if (auto* state = std::get_if<HardState>(&record)) {
            hard_state = *state;
        } else if (auto* marker = std::get_if<WalSnapshot>(&record)) {
            snapshot = *marker;
        }
    }
    std::vector<Entry> log() const {
        std::vector<Entry> after;
        for (const Entry& entry : entries)
            if (entry.index > snapshot.index)
                after.push_back(entry);
        return after;
    }
};

// What a scenario did before the machine stopped: every record appended, in
// order, and how many of them a successful sync acknowledged.
struct Trace {
    std::vector<RecordValue> appended;
    size_t acknowledged = 0;
};

constexpr uint64_t kCrashSegmentBytes = 1024;

std::string snapshot_data(kv::Index index) {
    return cat("the state machine at ", index);
}

// Appends, syncs, cuts segments, saves two snapshots (each followed by its
// marker, a release and a prune) and ends with a batch of one entry; stops
// at the first failure, as a crashed machine would.
Result<void> run_scenario(Storage& storage, const std::string& root, Trace& trace) {
    WalOptions options{.segment_bytes = kCrashSegmentBytes, .storage = &storage};
    Wal wal = TRY(Wal::create(root + "/wal", kMetadata, options));
    auto batch = [&](std::vector<Entry> entries, std::optional<HardState> state) -> Result<void> {
        TRY(wal.append(entries, state));
        for (Entry& entry : entries)
            trace.appended.push_back(std::move(entry));
        if (state)
            trace.appended.push_back(*state);
        TRY(wal.sync());
        trace.acknowledged = trace.appended.size();
        return {};
    };
    auto snapshot = [&](kv::Index index, Term term) -> Result<void> {
        Snapshot saved{.meta = {.index = index, .term = term, .conf = {.voters = {1, 2, 3}}},
                       .data = snapshot_data(index)};
        TRY(save_snapshot_file(storage, root + "/snap", saved));
        TRY(wal.append_snapshot({.index = index, .term = term}));
        trace.appended.push_back(WalSnapshot{.index = index, .term = term});
        TRY(wal.sync());
        trace.acknowledged = trace.appended.size();
        TRY(wal.release(index));
        return prune_snapshot_files(storage, root + "/snap", 1);
    };
    for (kv::Index index = 1; index <= 12; index += 3)
        TRY(batch(make_entries(index, index + 2, 1, 60),
                  HardState{.term = 1, .vote = 1, .commit = index}));
    // A new leader's log replaces entries 11 and 12.
    TRY(batch(make_entries(11, 13, 2, 60), HardState{.term = 2, .vote = 3, .commit = 10}));
    TRY(snapshot(10, 1));
    for (kv::Index index = 14; index <= 25; index += 3)
        TRY(batch(make_entries(index, index + 2, 2, 60),
                  HardState{.term = 2, .vote = 3, .commit = index}));
    TRY(snapshot(20, 2));
    TRY(batch(make_entries(26, 26, 2, 60), std::nullopt));
    return {};
}

// Reopens the log the scenario left and checks it against the trace: it
// reads as the records appended up to some point no earlier than the last
// acknowledged sync; the snapshot files back it; and it takes more writes.
void check_recovery(const std::string& root, const Trace& trace) {
    UnsyncedStorage disk;
    WalOptions options{.segment_bytes = kCrashSegmentBytes, .storage = &disk};
    auto exists = Wal::exists(root + "/wal", disk);
    REQUIRE(exists);
    if (!*exists) {
        REQUIRE(trace.acknowledged == 0);
        auto created = Wal::create(root + "/wal", kMetadata, options);
        REQUIRE_MESSAGE(created, (created ? std::string() : created.error().to_string()));
        return;
    }
    auto opened = Wal::open(root + "/wal", options);
    REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().to_string()));
    const WalState& state = opened->recovered();
    CHECK(state.metadata == kMetadata);

    WalModel model;
    bool matched = false;
    for (size_t count = 0; count <= trace.appended.size() && !matched; ++count) {
        if (count > 0)
            model.apply(trace.appended[count - 1]);
        matched = count >= trace.acknowledged && model.hard_state == state.hard_state &&
                  model.snapshot == state.snapshot && model.log() == log_of(state);
    }
    CHECK_MESSAGE(matched, "the log does not read as any point at or after the last sync; ",
                  trace.acknowledged, " of ", trace.appended.size(),
                  " records acknowledged; recovered last index ", opened->last_index());

    auto loaded = load_snapshot_file(disk, root + "/snap", state);
    REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
    if (state.snapshot.index != 0) {
        REQUIRE(loaded->has_value());
        CHECK((*loaded)->data == snapshot_data((*loaded)->meta.index));
        CHECK((*loaded)->meta.index <= state.snapshot.index);
    }

    kv::Index next = opened->last_index() + 1;
    auto more = make_entries(next, next, 9);
    REQUIRE(opened->append(more));
    REQUIRE(opened->sync());
    auto again = Wal::open(root + "/wal", options);
    REQUIRE_MESSAGE(again, (again ? std::string() : again.error().to_string()));
    CHECK(log_of(again->recovered()) == [&] {
        std::vector<Entry> expected = log_of(state);
        expected.push_back(make_entry(next, 9));
        return expected;
    }());
}

} // namespace

TEST_CASE("a crash at any storage call loses no acknowledged record and invents none") {
    UnsyncedStorage disk;
    int total = 0;
    int last_pwrite = 0;
    {
        TempDir dir;
        FakeStorage counting(disk);
        Trace trace;
        auto ran = run_scenario(counting, dir.path(), trace);
        REQUIRE_MESSAGE(ran, (ran ? std::string() : ran.error().to_string()));
        REQUIRE(trace.acknowledged == trace.appended.size());
        total = counting.total_calls();
        last_pwrite = counting.calls(StorageCall::Pwrite);
        check_recovery(dir.path(), trace);
    }
    REQUIRE(total > 50); // the scenario did cut segments and save snapshots
    for (int crash = 1; crash <= total; ++crash) {
        CAPTURE(crash);
        TempDir dir;
        FakeStorage storage(disk);
        storage.crash_at_call(crash);
        Trace trace;
        CHECK_FALSE(run_scenario(storage, dir.path(), trace));
        check_recovery(dir.path(), trace);
    }

    // The last write of the scenario, one entry, torn after every byte.
    size_t record_size = encode_record(make_entry(26, 2, 60)).size();
    for (size_t cut = 0; cut < record_size; ++cut) {
        CAPTURE(cut);
        TempDir dir;
        FakeStorage storage(disk);
        storage.cut_write(StorageCall::Pwrite, last_pwrite, cut, CutWrite::Fail);
        storage.crash_at(StorageCall::Pwrite, last_pwrite + 1);
        Trace trace;
        CHECK_FALSE(run_scenario(storage, dir.path(), trace));
        REQUIRE(trace.appended.size() == trace.acknowledged + 1);
        check_recovery(dir.path(), trace);
    }
}
