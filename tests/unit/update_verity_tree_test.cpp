// update/verity_tree.cpp: keel's dm-verity tree is the one `veritysetup
// format` makes. The vectors below were made by veritysetup 2.6.1 with
// --salt=0102...20 --uuid=12345678-1234-4234-8234-123456789abc
// --hash-offset=<data size> on the same data: the root hash and the
// SHA-256 of everything from the superblock on.
#include "update/verity_tree.h"

#include "base/digest.h"
#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <string>

namespace up = keel::update;
using keel::testing::TempDir;

namespace {

up::VerityOptions fixed_options() {
    up::VerityOptions options;
    for (int i = 0; i < 32; ++i)
        options.salt.push_back(char(i + 1));
    options.uuid = {0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x42, 0x34,
                    0x82, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
    return options;
}

// `blocks` blocks, block i filled with fill(i).
template <typename Fill> std::string data_of(int blocks, Fill fill) {
    std::string data;
    for (int i = 0; i < blocks; ++i)
        data += std::string(4096, char(fill(i)));
    return data;
}

} // namespace

TEST_CASE("a one-level tree matches veritysetup's byte for byte") {
    auto tree = up::build_verity_tree(data_of(3, [](int i) { return 'a' + i; }), fixed_options());
    REQUIRE_MESSAGE(tree, (tree ? std::string() : tree.error().to_string()));
    CHECK(tree->params.root_hash ==
          "5ffb4580235e1f10df977b4a4f2a14a528be44bd83c24d18088862d18e641a12");
    CHECK(tree->params.hash_offset == 3 * 4096);
    CHECK(tree->params.data_blocks == 3);
    CHECK(tree->params.salt == "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
    CHECK(tree->bytes.size() == 2 * 4096);
    CHECK(keel::sha256_hex(tree->bytes) ==
          "1485b8ef837e5136f626746360e5460e7b3464c42d54ae8179b1c58b0482a2d2");
}

TEST_CASE("a two-level tree matches veritysetup's byte for byte") {
    auto tree = up::build_verity_tree(data_of(200, [](int i) { return i % 251; }), fixed_options());
    REQUIRE(tree);
    CHECK(tree->params.root_hash ==
          "1e73c18b7c79a62392babc010ef983ce9b0fb60adec81caf909f2e2cd95820eb");
    CHECK(tree->bytes.size() == 4 * 4096); // superblock, top block, two leaf blocks
    CHECK(keel::sha256_hex(tree->bytes) ==
          "967259b536e63033e751cde0470dbdbc392ec725827d1cf5ad0da50574ae4cab");
}

TEST_CASE("a single data block has no tree levels, as veritysetup makes it") {
    auto tree = up::build_verity_tree(std::string(4096, 'z'), fixed_options());
    REQUIRE(tree);
    CHECK(tree->params.root_hash ==
          "4d0fe014fd144a74414bbf43dc6bb488fa411aac4e57e7c0acaa8a04a50f320f");
    CHECK(keel::sha256_hex(tree->bytes) ==
          "aad29b1d3114f6b815c19a5217b26f706174f2482b1369b27e3cab23bc73aea5");
}

TEST_CASE("data that is not whole blocks, or a salt too long, is refused") {
    CHECK_FALSE(up::build_verity_tree("", fixed_options()));
    CHECK_FALSE(up::build_verity_tree(std::string(4095, 'x'), fixed_options()));
    up::VerityOptions options = fixed_options();
    options.salt.assign(257, 's');
    CHECK_FALSE(up::build_verity_tree(std::string(4096, 'x'), options));
}

TEST_CASE("a tree appended to an image file is found good, and a changed byte is found") {
    TempDir dir;
    std::string image = dir / "root.img";
    std::string data = data_of(3, [](int i) { return 'a' + i; }) + "tail";
    REQUIRE(keel::write_new_file(image, data));
    auto params = up::append_verity_tree(image, fixed_options());
    REQUIRE_MESSAGE(params, (params ? std::string() : params.error().to_string()));
    CHECK(params->hash_offset == 4 * 4096); // the tail padded to a whole block
    CHECK(params->data_blocks == 4);
    auto written = keel::read_file(image);
    REQUIRE(written);
    CHECK(written->size() == 4 * 4096 + 2 * 4096);
    CHECK(written->substr(3 * 4096, 5) == std::string("tail") + '\0');
    CHECK(up::check_verity_tree(image, *params));

    (*written)[5000] ^= 1;
    REQUIRE(keel::write_existing_file(image, *written));
    auto bad = up::check_verity_tree(image, *params);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string().find("root hash") != std::string::npos);
}

TEST_CASE("random options give a 32-byte salt and a version 4 UUID") {
    auto options = up::random_verity_options();
    REQUIRE(options);
    CHECK(options->salt.size() == 32);
    CHECK((options->uuid[6] >> 4) == 4);
    auto other = up::random_verity_options();
    REQUIRE(other);
    CHECK(other->salt != options->salt);
}
