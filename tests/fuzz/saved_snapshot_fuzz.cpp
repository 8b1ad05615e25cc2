// Fuzz target for kv/saved_snapshot.h: a file handed to `keel kv snapshot
// restore` or `status`. Reading never crashes; what passes the hash check
// also passes without it, to the same bytes; what is found is a whole MVCC
// snapshot (parse_snapshot() takes it) taken from the input itself.
#include "kv/mvcc_snapshot.h"
#include "kv/saved_snapshot.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel::kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto verified = read_saved_snapshot(input, HashCheck::Verify);
    auto skipped = read_saved_snapshot(input, HashCheck::Skip);
    if (verified) {
        FUZZ_CHECK(skipped);
        FUZZ_CHECK(*verified == *skipped);
        FUZZ_CHECK(verified->data() == input.data());
    }
    if (skipped) {
        FUZZ_CHECK(skipped->data() >= input.data() &&
                   skipped->data() + skipped->size() <= input.data() + input.size());
        FUZZ_CHECK(parse_snapshot(*skipped));
    }
    // A stream made from what was found reads back to it.
    if (skipped) {
        std::string stream(*skipped);
        append_snapshot_trailer(stream);
        auto again = read_saved_snapshot(stream, HashCheck::Verify);
        FUZZ_CHECK(again && *again == *skipped);
    }
    return 0;
}
