// rootfs/gpt_write.cpp: partition attribute words written to both GPT
// copies, a damaged (or stale) copy rebuilt from the other, a damaged pair refused,
// and a stop at any write leaving an intact copy with the old or the new
// words (FakeStorage stops the machine at each call in turn).
#include "rootfs/rootfs.h"

#include "base/sys.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/gpt_test_disk.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

using keel::testing::CutWrite;
using keel::testing::FakeStorage;
using keel::testing::StorageCall;
using keel::testing::TempDir;
using namespace keel::testing::gpt;

namespace {

constexpr uint64_t kNewWord = (uint64_t(3) << 48) | (uint64_t(2) << 52) | 1;

std::string write_disk(const TempDir& dir, const TestDisk& disk) {
    std::string path = dir / "disk.img";
    REQUIRE(keel::write_new_file(path, disk.bytes));
    return path;
}

std::string file_bytes(const std::string& path) {
    auto bytes = keel::read_file(path);
    REQUIRE(bytes);
    return *bytes;
}

// The attribute word of partition `number` in the copy whose header is at `lba`.
uint64_t word_in_copy(const std::string& bytes, uint64_t lba, uint32_t number) {
    auto header =
        keel::parse_gpt_header(std::string_view(bytes).substr(size_t(lba) * kSector, kSector), lba);
    REQUIRE_MESSAGE(header, (header ? std::string() : header.error().to_string()));
    auto entries = keel::parse_gpt_entries(
        *header, std::string_view(bytes).substr(size_t(header->entries_lba) * kSector));
    REQUIRE_MESSAGE(entries, (entries ? std::string() : entries.error().to_string()));
    for (const keel::GptPartition& partition : *entries)
        if (partition.number == number)
            return partition.attributes;
    FAIL("no partition ", number);
    return 0;
}

void damage_header(std::string& bytes, uint64_t lba) {
    bytes[size_t(lba) * kSector + 40] ^= 0x5A; // inside the header: its CRC no longer matches
}

const keel::GptAttributeChange kChange[] = {{1, kNewWord}};

} // namespace

TEST_CASE("a partition's new attribute word is in both GPT copies, with their CRCs right") {
    TempDir dir;
    std::string path = write_disk(dir, make_disk());
    auto copies = keel::set_gpt_attributes(keel::system_storage(), path, kChange);
    REQUIRE_MESSAGE(copies, (copies ? std::string() : copies.error().to_string()));
    CHECK(*copies == keel::GptCopies::Both);
    std::string bytes = file_bytes(path);
    CHECK(word_in_copy(bytes, 1, 1) == kNewWord);
    CHECK(word_in_copy(bytes, kSectors - 1, 1) == kNewWord);
    CHECK(word_in_copy(bytes, 1, 3) == 0); // STATE untouched
    auto table = keel::read_gpt(path);
    REQUIRE(table);
    CHECK(table->partitions[0].name == "ROOT-A");
    CHECK(table->partitions[0].attributes == kNewWord);
}

TEST_CASE("a damaged primary GPT is rebuilt from the backup when attributes change") {
    TempDir dir;
    TestDisk disk = make_disk();
    damage_header(disk.bytes, 1);
    std::string path = write_disk(dir, disk);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::BackupOnly);
    auto copies = keel::set_gpt_attributes(keel::system_storage(), path, kChange);
    REQUIRE_MESSAGE(copies, (copies ? std::string() : copies.error().to_string()));
    CHECK(*copies == keel::GptCopies::BackupOnly);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::Both);
    std::string bytes = file_bytes(path);
    CHECK(word_in_copy(bytes, 1, 1) == kNewWord);
    CHECK(word_in_copy(bytes, kSectors - 1, 1) == kNewWord);
}

TEST_CASE("a damaged backup GPT is rebuilt from the primary") {
    TempDir dir;
    TestDisk disk = make_disk();
    disk.bytes[size_t(kSectors - 33) * kSector + 60] ^= 1; // the backup's entry array
    std::string path = write_disk(dir, disk);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::PrimaryOnly);
    auto copies = keel::set_gpt_attributes(keel::system_storage(), path, kChange);
    REQUIRE_MESSAGE(copies, (copies ? std::string() : copies.error().to_string()));
    CHECK(*copies == keel::GptCopies::PrimaryOnly);
    std::string bytes = file_bytes(path);
    CHECK(word_in_copy(bytes, kSectors - 1, 1) == kNewWord);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::Both);
}

TEST_CASE("a backup GPT that disagrees with the primary (a change cut between the two copies) is "
          "stale: the primary's words count and the next change rewrites the backup") {
    TempDir dir;
    TestDisk disk = make_disk();
    std::string path = write_disk(dir, disk);
    REQUIRE(keel::set_gpt_attributes(keel::system_storage(), path, kChange));
    // The old disk with the new backup copy (its array and header): sound
    // CRCs on both sides, different words.
    std::string mixed = disk.bytes;
    size_t backup = size_t(kSectors - 33) * kSector;
    mixed.replace(backup, mixed.size() - backup, file_bytes(path).substr(backup));
    REQUIRE(keel::write_existing_file(path, mixed));
    uint64_t old_word = default_partitions()[0].attributes;
    CHECK(word_in_copy(mixed, kSectors - 1, 1) == kNewWord);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::PrimaryOnly);
    auto table = keel::read_gpt(path);
    REQUIRE(table);
    CHECK(table->partitions[0].attributes == old_word);
    const keel::GptAttributeChange back[] = {{1, old_word}};
    auto copies = keel::set_gpt_attributes(keel::system_storage(), path, back);
    REQUIRE_MESSAGE(copies, (copies ? std::string() : copies.error().to_string()));
    CHECK(*copies == keel::GptCopies::PrimaryOnly);
    CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::Both);
    CHECK(file_bytes(path) == disk.bytes);
}

TEST_CASE("a GPT with both copies damaged is refused and not written") {
    TempDir dir;
    TestDisk disk = make_disk();
    damage_header(disk.bytes, 1);
    damage_header(disk.bytes, kSectors - 1);
    std::string path = write_disk(dir, disk);
    auto copies = keel::set_gpt_attributes(keel::system_storage(), path, kChange);
    REQUIRE_FALSE(copies);
    CHECK(copies.error().to_string().find("both copies are damaged") != std::string::npos);
    CHECK(copies.error().to_string().find("not rewritten") != std::string::npos);
    CHECK(file_bytes(path) == disk.bytes);
    CHECK_FALSE(keel::check_gpt_copies(keel::system_storage(), path));
}

TEST_CASE("an attribute change for an unused or missing entry is refused and nothing is written") {
    TempDir dir;
    TestDisk disk = make_disk();
    std::string path = write_disk(dir, disk);
    const keel::GptAttributeChange unused[] = {{1, kNewWord}, {2, kNewWord}};
    auto refused = keel::set_gpt_attributes(keel::system_storage(), path, unused);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("partition 2 is not in use") != std::string::npos);
    const keel::GptAttributeChange missing[] = {{129, kNewWord}};
    refused = keel::set_gpt_attributes(keel::system_storage(), path, missing);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().to_string().find("no partition 129 (128 entries)") != std::string::npos);
    CHECK(file_bytes(path) == disk.bytes);
}

TEST_CASE("writing the attribute words a disk already has writes nothing") {
    TempDir dir;
    std::string path = write_disk(dir, make_disk());
    REQUIRE(keel::set_gpt_attributes(keel::system_storage(), path, kChange));
    FakeStorage storage;
    REQUIRE(keel::set_gpt_attributes(storage, path, kChange));
    CHECK(storage.calls(StorageCall::Pwrite) == 0);
    CHECK(storage.calls(StorageCall::Fdatasync) == 0);
}

TEST_CASE("a stop at any call of an attribute change leaves a GPT with the old or the new word") {
    TempDir dir;
    TestDisk disk = make_disk();
    uint64_t old_word = default_partitions()[0].attributes;
    FakeStorage counting;
    std::string path = write_disk(dir, disk);
    REQUIRE(keel::set_gpt_attributes(counting, path, kChange));
    int total = counting.total_calls();
    REQUIRE(total > 4);
    for (int crash = 1; crash <= total; ++crash) {
        CAPTURE(crash);
        REQUIRE(keel::write_new_file(path, disk.bytes));
        FakeStorage storage;
        storage.crash_at_call(crash);
        CHECK_FALSE(keel::set_gpt_attributes(storage, path, kChange));
        auto table = keel::read_gpt(path);
        REQUIRE_MESSAGE(table, (table ? std::string() : table.error().to_string()));
        uint64_t word = table->partitions[0].attributes;
        CHECK((word == old_word || word == kNewWord));
        // The next change finishes the job, whatever was left.
        REQUIRE(keel::set_gpt_attributes(keel::system_storage(), path, kChange));
        CHECK(*keel::check_gpt_copies(keel::system_storage(), path) == keel::GptCopies::Both);
    }
    // A write torn at any sector boundary, in each of the four writes.
    for (int write = 1; write <= 4; ++write) {
        for (size_t accepted : {size_t(0), size_t(kSector), size_t(3 * kSector)}) {
            CAPTURE(write);
            CAPTURE(accepted);
            REQUIRE(keel::write_new_file(path, disk.bytes));
            FakeStorage storage;
            storage.cut_write(StorageCall::Pwrite, write, accepted, CutWrite::Fail);
            CHECK_FALSE(keel::set_gpt_attributes(storage, path, kChange));
            auto table = keel::read_gpt(path);
            REQUIRE_MESSAGE(table, (table ? std::string() : table.error().to_string()));
            uint64_t word = table->partitions[0].attributes;
            CHECK((word == old_word || word == kNewWord));
        }
    }
}
