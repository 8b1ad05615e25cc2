// Fuzz target for containers/run_state.cpp: state.json (a file under the
// state root keel run writes and ps, inspect and rm read back), the options
// container.json records (read back by `keel container start`) and a
// cgroup's memory.events. Besides "does not crash": an accepted state is
// written back to text that reads as the same state.
#include "containers/containers.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)keel::containers::parse_oom_kills(text);
    (void)keel::containers::recorded_run_options(text);
    auto state = keel::containers::parse_run_state(text);
    if (!state)
        return 0;
    std::string written = keel::containers::run_state_json(*state);
    auto again = keel::containers::parse_run_state(written);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(keel::containers::run_state_json(*again) == written);
    return 0;
}
