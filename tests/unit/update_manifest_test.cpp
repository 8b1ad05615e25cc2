// update/manifest.cpp: the manifest's JSON both ways, what the strict
// parser refuses (each error naming the field), and version comparison.
#include "update/manifest.h"

#include <doctest/doctest.h>

#include <string>

namespace up = keel::update;

namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

// A valid manifest: 3 chunks of 4096 over 12288 bytes, data 2 blocks, tree after.
up::Manifest sample_manifest() {
    up::Manifest manifest;
    manifest.version = "1.4.12";
    manifest.channel = "stable";
    manifest.image.size = 12288;
    manifest.image.chunk_size = 4096;
    manifest.image.sha256 = kHashA;
    manifest.image.chunks = {kHashA, kHashB, kHashA};
    manifest.verity.data_blocks = 2;
    manifest.verity.hash_offset = 8192;
    manifest.verity.salt = "00ff";
    manifest.verity.root_hash = kHashB;
    return manifest;
}

// The error of parsing `json`, or "" when it parses.
std::string manifest_error(const std::string& json) {
    auto parsed = up::parse_manifest(json);
    return parsed ? std::string() : parsed.error().to_string();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("a manifest written by keel reads back the same") {
    up::Manifest manifest = sample_manifest();
    std::string text = up::encode_manifest(manifest);
    auto parsed = up::parse_manifest(text);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    CHECK(parsed->version == "1.4.12");
    CHECK(parsed->channel == "stable");
    CHECK(parsed->image.size == 12288);
    CHECK(parsed->image.chunks == manifest.image.chunks);
    CHECK(parsed->verity.hash_offset == 8192);
    CHECK(parsed->verity.salt == "00ff");
    CHECK(parsed->verity.root_hash == kHashB);
    CHECK(up::encode_manifest(*parsed) == text);
}

TEST_CASE("a short last chunk is counted and measured") {
    CHECK(up::Manifest::chunk_count(10000, 4096) == 3);
    CHECK(up::Manifest::chunk_count(8192, 4096) == 2);
    up::Manifest manifest = sample_manifest();
    manifest.image.size = 10000;
    CHECK(manifest.chunk_length(2) == 10000 - 8192);
    CHECK(manifest.chunk_length(3) == 0);
}

TEST_CASE("a manifest of an unknown format is refused, naming the format") {
    std::string text =
        replaced(up::encode_manifest(sample_manifest()), "\"format\":1", "\"format\":2");
    CHECK(manifest_error(text).find("format: 2 is not known") != std::string::npos);
}

TEST_CASE("missing, mistyped and unknown fields are refused by name") {
    std::string text = up::encode_manifest(sample_manifest());
    CHECK(manifest_error(replaced(text, "\"channel\":\"stable\",", "")).find("channel: missing") !=
          std::string::npos);
    CHECK(manifest_error(replaced(text, "\"size\":12288", "\"size\":\"12288\""))
              .find("image.size: expected") != std::string::npos);
    CHECK(manifest_error(replaced(text, "\"channel\"", "\"extra\":1,\"channel\""))
              .find("extra: unknown field") != std::string::npos);
    CHECK(manifest_error(replaced(text, "\"algorithm\":\"sha256\"", "\"algorithm\":\"md5\""))
              .find("verity.algorithm") != std::string::npos);
    CHECK(manifest_error(replaced(text, "\"root_hash\"", "\"rot_hash\"")).find("verity.rot_hash") !=
          std::string::npos);
    CHECK(manifest_error("[]").find("manifest") != std::string::npos);
    CHECK(manifest_error("{\"format\":1").find("manifest") != std::string::npos);
}

TEST_CASE("a chunk list that does not match the image size is refused") {
    up::Manifest manifest = sample_manifest();
    manifest.image.chunks.pop_back();
    std::string error = manifest_error(up::encode_manifest(manifest));
    CHECK(error.find("image.chunks: 2 chunk hashes") != std::string::npos);
    CHECK(error.find("are 3 chunks") != std::string::npos);
}

TEST_CASE("bad hex in a hash or the salt is refused, naming the field") {
    up::Manifest manifest = sample_manifest();
    manifest.image.chunks[1] = std::string(64, 'G');
    CHECK(manifest_error(up::encode_manifest(manifest)).find("image.chunks[1]: expected 64") !=
          std::string::npos);
    manifest = sample_manifest();
    manifest.image.sha256 = std::string(63, 'a');
    CHECK(manifest_error(up::encode_manifest(manifest)).find("image.sha256") != std::string::npos);
    manifest = sample_manifest();
    manifest.verity.salt = "abc";
    CHECK(manifest_error(up::encode_manifest(manifest)).find("verity.salt") != std::string::npos);
    manifest = sample_manifest();
    manifest.verity.root_hash = std::string(64, 'A');
    CHECK(manifest_error(up::encode_manifest(manifest)).find("verity.root_hash") !=
          std::string::npos);
}

TEST_CASE("dm-verity parameters that do not fit the image are refused") {
    up::Manifest manifest = sample_manifest();
    manifest.verity.hash_offset = 12288; // no room for the superblock
    CHECK(manifest_error(up::encode_manifest(manifest)).find("verity.hash_offset") !=
          std::string::npos);
    manifest = sample_manifest();
    manifest.verity.data_blocks = 3; // runs into the tree
    CHECK(manifest_error(up::encode_manifest(manifest)).find("verity.data_blocks") !=
          std::string::npos);
    manifest = sample_manifest();
    manifest.verity.hash_offset = 8000;
    CHECK(manifest_error(up::encode_manifest(manifest)).find("verity.") != std::string::npos);
    manifest = sample_manifest();
    manifest.image.chunk_size = 5000;
    manifest.image.chunks = {kHashA, kHashA, kHashA};
    CHECK(manifest_error(up::encode_manifest(manifest)).find("power of two") != std::string::npos);
}

TEST_CASE("a version or channel that is not well formed is refused") {
    up::Manifest manifest = sample_manifest();
    manifest.version = "1.x";
    CHECK(manifest_error(up::encode_manifest(manifest)).find("version") != std::string::npos);
    manifest.version = "1..2";
    CHECK_FALSE(manifest_error(up::encode_manifest(manifest)).empty());
    manifest = sample_manifest();
    manifest.channel = "Stable Channel";
    CHECK(manifest_error(up::encode_manifest(manifest)).find("channel") != std::string::npos);
}

TEST_CASE("versions compare number by number, not as text") {
    CHECK(*up::compare_versions("1.10", "1.9") > 0);
    CHECK(*up::compare_versions("1.9", "1.10") < 0);
    CHECK(*up::compare_versions("2", "10") < 0);
    CHECK(*up::compare_versions("1.2", "1.2.0") == 0);
    CHECK(*up::compare_versions("1.2.0.1", "1.2") > 0);
    CHECK(*up::compare_versions("007", "7") == 0);
    CHECK_FALSE(up::compare_versions("1.-2", "1"));
    CHECK_FALSE(up::compare_versions("", "1"));
    CHECK_FALSE(up::compare_versions("1", "v1"));
    CHECK_FALSE(up::check_version("1.2.3.4.5.6.7.8.9"));
    CHECK_FALSE(up::check_version("1234567890"));
}
