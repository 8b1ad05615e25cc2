// Fuzz target for update/slot_footer.cpp: the footer at the end of a slot
// partition, read by the initramfs from whatever the disk holds. Besides
// "does not crash": a footer that parses encodes to the same leading bytes.
#include "tests/fuzz/fuzz_check.h"
#include "update/slot_footer.h"

#include <cstdint>
#include <string_view>

using namespace keel::update;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto footer = parse_slot_footer(input);
    if (!footer || !footer->present())
        return 0;
    auto bytes = encode_slot_footer(*footer);
    FUZZ_CHECK(bytes.has_value());
    FUZZ_CHECK(input.substr(0, bytes->size()) == *bytes);
    return 0;
}
