// Fuzz target for containers/image_ref.h: parse_image_reference() on
// arbitrary bytes.
//
// An accepted reference must be stable: what keel stores (str()) and what
// it shows (familiar()) both parse back to the same reference, which is
// what lets the store key images by str().
#include "containers/image_ref.h"

#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Result<ImageReference> reference = parse_image_reference(input);
    if (!reference) {
        FUZZ_CHECK(!reference.error().to_string().empty());
        return 0;
    }
    FUZZ_CHECK(!reference->registry.empty());
    FUZZ_CHECK(!reference->repository.empty());
    FUZZ_CHECK(!reference->tag.empty() || reference->digest);
    FUZZ_CHECK(reference->tag.size() <= 128);
    std::string stored = reference->str();
    Result<ImageReference> again = parse_image_reference(stored);
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->str() == stored);
    Result<ImageReference> shown = parse_image_reference(reference->familiar());
    FUZZ_CHECK(shown);
    FUZZ_CHECK(shown->str() == stored);
    return 0;
}
