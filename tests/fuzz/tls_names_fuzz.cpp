// Fuzz target for kv/tls_names.h: any bytes as a certificate's extensions.
// Besides "does not crash or read out of bounds": what is read as
// addresses is IP-sized or shown as "?", and the bytes with the [3]
// wrapper around them read the same.
#include "kv/tls_names.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    auto addresses = keel::kv::certificate_ip_addresses(bytes);
    if (!addresses)
        return 0;
    for (const std::string& address : *addresses)
        FUZZ_CHECK(address.size() == 4 || address.size() == 16 ||
                   keel::kv::ip_address_text(address) == "?");
    if (size > 0 && size < 128 && data[0] == 0x30) {
        std::string wrapped = std::string(1, '\xa3') + char(size) + bytes;
        auto again = keel::kv::certificate_ip_addresses(wrapped);
        FUZZ_CHECK(again && *again == *addresses);
    }
    return 0;
}
