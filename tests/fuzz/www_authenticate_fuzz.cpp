// Fuzz target for net/http_auth.h: parse_www_authenticate() and base64 on
// arbitrary bytes.
//
// Besides "does not crash": every challenge has a non-empty lower-case
// token scheme, parameter names are lower case, and base64 round-trips.
#include "net/http_auth.h"
#include "tests/fuzz/fuzz_check.h"

#include <cctype>
#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (auto challenges = parse_www_authenticate(input)) {
        FUZZ_CHECK(!challenges->empty());
        for (const Challenge& challenge : *challenges) {
            FUZZ_CHECK(!challenge.scheme.empty());
            for (char c : challenge.scheme)
                FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)));
            FUZZ_CHECK(challenge.token68.empty() || challenge.params.empty());
            for (const auto& [name, value] : challenge.params) {
                FUZZ_CHECK(!name.empty());
                for (char c : name)
                    FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)));
            }
        }
    }
    FUZZ_CHECK(base64_decode(base64_encode(input)) == std::string(input));
    (void)base64_decode(input);
    return 0;
}
