// rootfs/verity_superblock.cpp: veritysetup's superblock read from a disk
// (one written here byte by byte, and one `veritysetup format` made when it
// is installed), malformed ones refused naming the field, parameters that
// disagree with the tree refused, the verity table line, and keel.verity.*
// from the kernel command line.
#include "rootfs/device_mapper.h"

#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <cstdlib>
#include <doctest/doctest.h>
#include <map>
#include <unistd.h>

using keel::testing::TempDir;

namespace {

void superblock_put_le(std::string& bytes, size_t at, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i)
        bytes[at + i] = char((value >> (8 * i)) & 0xFF);
}

// A superblock as veritysetup writes it: sha256, 4096-byte blocks, 100
// data blocks, a 4-byte salt.
std::string superblock_bytes() {
    std::string bytes(512, '\0');
    bytes.replace(0, 8, std::string("verity\0\0", 8));
    superblock_put_le(bytes, 8, 1, 4);  // version
    superblock_put_le(bytes, 12, 1, 4); // hash type
    for (size_t i = 0; i < 16; ++i)
        bytes[16 + i] = char(i + 1);
    bytes.replace(32, 6, "sha256");
    superblock_put_le(bytes, 64, 4096, 4);
    superblock_put_le(bytes, 68, 4096, 4);
    superblock_put_le(bytes, 72, 100, 8);
    superblock_put_le(bytes, 80, 4, 2);
    bytes.replace(88, 4, "\x01\xab\x00\xff", 4);
    return bytes;
}

keel::VerityParams good_params() {
    keel::VerityParams params;
    params.data_blocks = 100;
    params.hash_offset = 100 * 4096;
    params.salt = "01ab00ff";
    params.root_hash = std::string(64, 'a');
    return params;
}

using Lookup = std::map<std::string, std::string, std::less<>>;
auto getter(const Lookup& values) {
    return [&values](std::string_view key) -> std::optional<std::string> {
        auto it = values.find(key);
        if (it == values.end())
            return std::nullopt;
        return it->second;
    };
}

} // namespace

TEST_CASE("a superblock as veritysetup writes it is read field by field") {
    auto superblock = keel::parse_verity_superblock(superblock_bytes());
    REQUIRE(superblock);
    CHECK(superblock->version == 1);
    CHECK(superblock->hash_type == 1);
    CHECK(superblock->algorithm == "sha256");
    CHECK(superblock->data_block_size == 4096);
    CHECK(superblock->hash_block_size == 4096);
    CHECK(superblock->data_blocks == 100);
    CHECK(superblock->salt == "01ab00ff");
    CHECK(superblock->uuid[0] == 1);
    CHECK(keel::check_verity_superblock(*superblock, good_params()));
}

TEST_CASE("a malformed verity superblock is refused, naming what is wrong") {
    struct Case {
        const char* what;
        size_t at;
        uint64_t value;
        size_t size;
        const char* expected;
    };
    const Case cases[] = {
        {"magic", 0, 'V', 1, "magic"},
        {"version 2", 8, 2, 4, "version 2"},
        {"Chrome OS's hash type", 12, 0, 4, "hash type 0"},
        {"data block size 1000", 64, 1000, 4, "data block size 1000"},
        {"hash block size 8192", 68, 8192, 4, "hash block size 8192"},
        {"no data blocks", 72, 0, 8, "no data blocks"},
        {"salt of 257 bytes", 80, 257, 2, "salt of 257 bytes"},
        {"an empty algorithm", 32, 0, 8, "algorithm"},
        {"a space in the algorithm", 34, ' ', 1, "algorithm"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        std::string bytes = superblock_bytes();
        superblock_put_le(bytes, c.at, c.value, c.size);
        auto superblock = keel::parse_verity_superblock(bytes);
        REQUIRE_FALSE(superblock);
        CHECK(superblock.error().to_string().find(c.expected) != std::string::npos);
    }
    auto short_read = keel::parse_verity_superblock(superblock_bytes().substr(0, 511));
    REQUIRE_FALSE(short_read);
    CHECK(short_read.error().to_string().find("511 bytes") != std::string::npos);
}

TEST_CASE("parameters that disagree with the tree on disk are refused, each difference named") {
    auto superblock = keel::parse_verity_superblock(superblock_bytes());
    REQUIRE(superblock);
    keel::VerityParams params = good_params();
    params.data_blocks = 99;
    params.salt = "";
    params.algorithm = "sha512";
    auto checked = keel::check_verity_superblock(*superblock, params);
    REQUIRE_FALSE(checked);
    std::string text = checked.error().to_string();
    CHECK(text.find("data blocks 100 on disk, 99 expected") != std::string::npos);
    CHECK(text.find("salt 01ab00ff on disk, (none) expected") != std::string::npos);
    CHECK(text.find("algorithm sha256 on disk, sha512 expected") != std::string::npos);
}

TEST_CASE("the verity table starts the tree one hash block after the superblock") {
    keel::VerityParams params = good_params();
    auto table = keel::verity_table(params, "/dev/vda1");
    REQUIRE(table);
    CHECK(*table ==
          "1 /dev/vda1 /dev/vda1 4096 4096 100 101 sha256 " + std::string(64, 'a') + " 01ab00ff");
    params.salt = "";
    params.hash_offset = 200 * 4096;
    table = keel::verity_table(params, "254:1");
    REQUIRE(table);
    CHECK(table->ends_with(" 100 201 sha256 " + std::string(64, 'a') + " -"));
}

TEST_CASE("verity parameters that cannot make a table are refused") {
    struct Case {
        const char* what;
        void (*change)(keel::VerityParams&);
        const char* expected;
    };
    const Case cases[] = {
        {"hash offset off a block", [](keel::VerityParams& p) { p.hash_offset += 512; },
         "not on a hash block boundary"},
        {"hash offset in the data", [](keel::VerityParams& p) { p.hash_offset = 4096; },
         "inside the data"},
        {"root hash not hex", [](keel::VerityParams& p) { p.root_hash = "xyz0"; }, "root hash"},
        {"root hash odd", [](keel::VerityParams& p) { p.root_hash = "abc"; }, "root hash"},
        {"no root hash", [](keel::VerityParams& p) { p.root_hash.clear(); }, "root hash"},
        {"salt odd", [](keel::VerityParams& p) { p.salt = "a"; }, "salt"},
        {"algorithm with a space", [](keel::VerityParams& p) { p.algorithm = "sha 256"; },
         "algorithm"},
        {"block size", [](keel::VerityParams& p) { p.data_block_size = 3000; },
         "data block size 3000"},
        {"no data", [](keel::VerityParams& p) { p.data_blocks = 0; }, "no data blocks"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        keel::VerityParams params = good_params();
        c.change(params);
        auto table = keel::verity_table(params, "/dev/vda1");
        REQUIRE_FALSE(table);
        CHECK(table.error().to_string().find(c.expected) != std::string::npos);
    }
    CHECK_FALSE(keel::verity_table(good_params(), "/dev/vda 1"));
}

TEST_CASE("keel.verity.root_hash and keel.verity.hash_offset come together or not at all") {
    Lookup none;
    auto absent = keel::parse_verity_command_line(getter(none));
    REQUIRE(absent);
    CHECK(absent->root_hash.empty());

    Lookup both{{"keel.verity.root_hash", "ABCDEF01"}, {"keel.verity.hash_offset", "8192"}};
    auto given = keel::parse_verity_command_line(getter(both));
    REQUIRE(given);
    CHECK(given->root_hash == "abcdef01");
    CHECK(given->hash_offset == 8192);

    Lookup only_hash{{"keel.verity.root_hash", "abcd"}};
    auto half = keel::parse_verity_command_line(getter(only_hash));
    REQUIRE_FALSE(half);
    CHECK(half.error().to_string().find("keel.verity.hash_offset") != std::string::npos);

    Lookup bad_hash{{"keel.verity.root_hash", "abcg"}, {"keel.verity.hash_offset", "8192"}};
    auto bad = keel::parse_verity_command_line(getter(bad_hash));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("keel.verity.root_hash") != std::string::npos);

    Lookup bad_offset{{"keel.verity.root_hash", "abcd"}, {"keel.verity.hash_offset", "1000"}};
    auto off = keel::parse_verity_command_line(getter(bad_offset));
    REQUIRE_FALSE(off);
    CHECK(off.error().to_string().find("multiple of 512") != std::string::npos);
}

TEST_CASE("a tree made by veritysetup format is read and gives its table") {
    if (::access("/usr/sbin/veritysetup", X_OK) != 0 && ::access("/sbin/veritysetup", X_OK) != 0) {
        MESSAGE("skipped: veritysetup is not installed (cryptsetup-bin)");
        return;
    }
    TempDir dir;
    std::string image = dir / "root.img";
    std::string data(64 * 4096, '\0');
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = char(i * 7 + i / 4096);
    REQUIRE(keel::write_new_file(image, data));
    std::string out = dir / "format.out";
    std::string command = keel::cat("PATH=/usr/sbin:/sbin:$PATH veritysetup format --salt=0102 "
                                    "--hash-offset=",
                                    data.size(), " ", image, " ", image, " >", out, " 2>&1");
    REQUIRE(std::system(command.c_str()) == 0);
    auto report = keel::read_file(out);
    REQUIRE(report);
    size_t at = report->find("Root hash:");
    REQUIRE(at != std::string::npos);
    std::string root_hash(keel::trim(report->substr(at + 10, report->find('\n', at) - at - 10)));

    Lookup line{{"keel.verity.root_hash", root_hash},
                {"keel.verity.hash_offset", std::to_string(data.size())}};
    auto lookup = keel::verity_lookup_from_command_line(getter(line));
    auto choice = lookup(image);
    REQUIRE(choice);
    REQUIRE(choice->params);
    const keel::VerityParams& params = *choice->params;
    CHECK(params.data_blocks == 64);
    CHECK(params.salt == "0102");
    CHECK(params.algorithm == "sha256");
    CHECK(params.root_hash == root_hash);
    CHECK(choice->source.find("command line") != std::string::npos);
    auto table = keel::verity_table(params, "/dev/vda1");
    REQUIRE(table);
    CHECK(*table == keel::cat("1 /dev/vda1 /dev/vda1 4096 4096 64 65 sha256 ", root_hash, " 0102"));

    // The superblock is not where the command line says: refused.
    Lookup wrong{{"keel.verity.root_hash", root_hash}, {"keel.verity.hash_offset", "4096"}};
    auto misplaced = keel::verity_lookup_from_command_line(getter(wrong))(image);
    REQUIRE_FALSE(misplaced);
    CHECK(misplaced.error().to_string().find("magic") != std::string::npos);
    // No keel.verity.*: the root is mounted without dm-verity.
    Lookup none;
    auto plain = keel::verity_lookup_from_command_line(getter(none))(image);
    REQUIRE(plain);
    CHECK_FALSE(plain->params);
}
