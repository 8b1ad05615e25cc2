// Fuzz target for net/resolver.h's DNS codec and file parsers:
// parse_dns_response() on arbitrary packets (the first bytes choose the
// query it answers), and resolv.conf and /etc/hosts text.
//
// Besides "does not crash" (compression loops, lengths past the end):
// every address found has the family of the type asked for.
#include "net/resolver.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    uint16_t id = size >= 2 ? uint16_t(data[0] << 8 | data[1]) : 0;
    for (uint16_t type : {kDnsTypeA, kDnsTypeAaaa}) {
        for (std::string_view name : {"registry.test", "a", "x.y.z.example"}) {
            auto answer = parse_dns_response(input, id, name, type);
            if (!answer)
                continue;
            for (const IpAddress& address : answer->addresses)
                FUZZ_CHECK(address.family == (type == kDnsTypeA ? AF_INET : AF_INET6));
        }
    }
    ResolvConf conf = parse_resolv_conf(input);
    FUZZ_CHECK(conf.attempts >= 1 && conf.timeout_seconds >= 1);
    (void)lookup_hosts(input, "registry.test");
    return 0;
}
