// Fuzz target for kv/mvcc_snapshot.h: a snapshot from a peer. Parsing never
// crashes; what parses re-encodes to exactly the input (so nothing is
// skipped or invented), with keys in strictly ascending order.
#include "kv/mvcc_snapshot.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel::kv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto writes = parse_snapshot(input);
    if (!writes)
        return 0;
    std::string encoded = begin_snapshot();
    for (size_t i = 0; i < writes->size(); ++i) {
        const BackendWrite& write = (*writes)[i];
        FUZZ_CHECK(write.kind == BackendWrite::Kind::Put);
        if (i > 0)
            FUZZ_CHECK((*writes)[i - 1].key < write.key);
        append_snapshot_entry(encoded, write.key, write.value);
    }
    end_snapshot(encoded);
    FUZZ_CHECK(encoded == input);
    return 0;
}
