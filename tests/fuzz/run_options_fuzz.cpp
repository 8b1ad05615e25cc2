// Fuzz target for containers/run_spec.h's readers of `keel run`'s input:
// the option values (--memory, --cpus, --ulimit, -v, -p, --tmpfs, the
// durations), --env-file files and seccomp profile files. The first byte
// picks the reader; what a reader accepts must be well formed.
#include "base/strings.h"
#include "containers/run_spec.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::containers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 9) {
    case 0:
        if (auto bytes = parse_memory_size(input))
            FUZZ_CHECK(*bytes >= 0);
        break;
    case 1:
        if (auto micros = parse_cpus(input))
            FUZZ_CHECK(*micros >= 10000);
        break;
    case 2:
        if (auto rlimit = parse_ulimit(input))
            FUZZ_CHECK(rlimit->soft <= rlimit->hard);
        break;
    case 3:
        if (auto volume = parse_volume(input)) {
            FUZZ_CHECK(volume->source.starts_with('/'));
            FUZZ_CHECK(volume->destination.starts_with('/'));
        }
        break;
    case 4:
        if (auto port = parse_port(input))
            FUZZ_CHECK(port->container_port != 0);
        break;
    case 5:
        if (auto tmpfs = parse_tmpfs(input))
            FUZZ_CHECK(tmpfs->destination.starts_with('/'));
        break;
    case 6:
        if (auto duration = parse_duration(input))
            FUZZ_CHECK(duration->count() >= 0);
        break;
    case 7: {
        auto env = parse_env_file(input, "env", nullptr);
        if (env) {
            for (const std::string& entry : *env) {
                FUZZ_CHECK(entry.find('=') != std::string::npos);
                FUZZ_CHECK(entry.find('\n') == std::string::npos);
            }
        } else {
            FUZZ_CHECK(starts_with(env.error().to_string(), "env:"));
        }
        break;
    }
    default:
        if (auto profile = read_seccomp_profile(input, default_capabilities()))
            for (const oci::SeccompRule& rule : profile->syscalls)
                FUZZ_CHECK(!rule.names.empty());
        break;
    }
    return 0;
}
