// Tests for base/digest.h against published SHA-256 test vectors (FIPS 180-2).
#include "base/digest.h"

#include "base/sys.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <cerrno>

using namespace keel;
using keel::testing::TempDir;

TEST_CASE("the SHA-256 of the empty string is the published value") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("the SHA-256 of abc is the published value") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("the SHA-256 of the two-block FIPS message is the published value") {
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("the SHA-256 of a million 'a' is the published value") {
    CHECK(sha256_hex(std::string(1000000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("embedded NUL bytes are hashed, not treated as the end") {
    CHECK(sha256_hex(std::string_view("a\0b", 3)) != sha256_hex("a"));
}

TEST_CASE("sha256_file hashes a file larger than its read buffer like the same bytes in memory") {
    TempDir dir;
    std::string path = dir / "blob";
    std::string data;
    for (int i = 0; i < 200000; ++i)
        data += char(i * 31 % 251);
    REQUIRE(write_new_file(path, data));
    Result<std::string> digest = sha256_file(path);
    REQUIRE(digest);
    CHECK(*digest == sha256_hex(data));

    REQUIRE(write_new_file(path, "abc"));
    CHECK(*sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256_file of a missing file names the file") {
    TempDir dir;
    Result<std::string> digest = sha256_file(dir / "missing");
    REQUIRE(!digest);
    CHECK(digest.error().code() == ENOENT);
    CHECK(digest.error().root() == "open `" + (dir / "missing") + "`");
}

TEST_CASE("the SHA-512 of abc is the published value") {
    CHECK(sha512_hex("abc") == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST_CASE("a hasher fed in pieces gives the digest of the whole, then starts over") {
    Hasher hasher;
    hasher.update("ab");
    hasher.update("");
    hasher.update("c");
    CHECK(hasher.finish_hex() == sha256_hex("abc"));
    hasher.update("abc");
    CHECK(hasher.finish_hex() == sha256_hex("abc"));
    Hasher sha512(HashFunction::Sha512);
    sha512.update("a");
    sha512.update("bc");
    CHECK(sha512.finish_hex() == sha512_hex("abc"));
}
