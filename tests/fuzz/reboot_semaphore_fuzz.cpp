// Fuzz target for update/reboot_semaphore.cpp: the reboot lock's value as
// the KV holds it (anyone may have written it). Besides "does not crash":
// what parses writes back to the same semaphore, and take, release and
// set-max keep units + holders = max, each holder once.
#include "tests/fuzz/fuzz_check.h"
#include "update/update.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::update;

namespace {

bool adds_up(const RebootSemaphore& semaphore) {
    for (const std::string& holder : semaphore.holders)
        if (std::count(semaphore.holders.begin(), semaphore.holders.end(), holder) != 1)
            return false;
    return semaphore.semaphore + int64_t(semaphore.holders.size()) == semaphore.max;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto semaphore = parse_reboot_semaphore(input);
    if (!semaphore)
        return 0;
    FUZZ_CHECK(adds_up(*semaphore));
    auto again = parse_reboot_semaphore(encode_reboot_semaphore(*semaphore));
    FUZZ_CHECK(again && again->semaphore == semaphore->semaphore && again->max == semaphore->max &&
               again->holders == semaphore->holders);
    if (auto taken = take_reboot_lock(*semaphore, "fuzz-holder"))
        FUZZ_CHECK(adds_up(*taken));
    if (!semaphore->holders.empty())
        FUZZ_CHECK(adds_up(release_reboot_lock(*semaphore, semaphore->holders.front())));
    if (auto raised = set_reboot_lock_max(*semaphore, semaphore->max + 1))
        FUZZ_CHECK(adds_up(*raised));
    return 0;
}
