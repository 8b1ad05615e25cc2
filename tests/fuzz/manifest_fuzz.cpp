// Fuzz target for update/manifest.cpp: an update's manifest.json, parsed
// before (and after) its signature is checked. Besides "does not crash":
// what parses holds together (a hash per chunk, the dm-verity tree inside
// the image) and writes back to text that parses to the same manifest.
#include "tests/fuzz/fuzz_check.h"
#include "update/manifest.h"

#include <cstdint>
#include <string_view>

using namespace keel::update;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto manifest = parse_manifest(input);
    if (!manifest)
        return 0;
    FUZZ_CHECK(manifest->image.chunks.size() ==
               Manifest::chunk_count(manifest->image.size, manifest->image.chunk_size));
    FUZZ_CHECK(manifest->verity.hash_offset + manifest->verity.hash_block_size <=
               manifest->image.size);
    FUZZ_CHECK(manifest->verity.data_blocks * manifest->verity.data_block_size <=
               manifest->verity.hash_offset);
    std::string text = encode_manifest(*manifest);
    auto again = parse_manifest(text);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(encode_manifest(*again) == text);
    (void)compare_versions(manifest->version, "1.0");
    return 0;
}
