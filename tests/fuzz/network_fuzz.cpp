// Fuzz target for the bridge network's parsers of outside input: `-p`
// specs, resolv.conf, lease files (containers/network.h), and kernel
// netlink replies, their attributes and error messages (netlink.h). What
// is accepted must be well formed and write back to what reads the same.
#include "base/strings.h"
#include "containers/netlink.h"
#include "containers/network.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <span>
#include <string_view>

using namespace keel;
using namespace keel::containers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::span<const uint8_t> bytes(data, size);

    if (auto mapping = parse_port_mapping(input)) {
        // Host port 0: a free one is picked at attach (`-p CTR`, `-p IP::CTR`).
        FUZZ_CHECK(mapping->container_port != 0);
        auto again = parse_port_mapping(format_port_mapping(*mapping));
        FUZZ_CHECK(again);
        FUZZ_CHECK(format_port_mapping(*again) == format_port_mapping(*mapping));
    }

    std::string conf = container_resolv_conf(input);
    for (std::string_view line : split(conf, '\n')) {
        std::string_view text = trim(line);
        if (text.starts_with("nameserver ") || text.starts_with("nameserver\t"))
            FUZZ_CHECK(!trim(text.substr(10)).starts_with("127."));
    }
    FUZZ_CHECK(conf.find("nameserver") != std::string::npos);

    if (auto attachment = parse_attachment_json(input)) {
        auto again = parse_attachment_json(attachment_json(*attachment));
        FUZZ_CHECK(again);
        FUZZ_CHECK(attachment_json(*again) == attachment_json(*attachment));
        FUZZ_CHECK(attachment->host_interface.size() <= 15);
    }

    if (auto replies = parse_replies(bytes)) {
        for (const NetlinkReply& reply : *replies) {
            FUZZ_CHECK(reply.payload.data() >= data &&
                       reply.payload.data() + reply.payload.size() <= data + size);
            if (auto ack = parse_ack(reply))
                FUZZ_CHECK(ack->error >= 0 && ack->error <= 4095);
            (void)parse_attributes(reply.payload);
        }
    }
    if (auto attributes = parse_attributes(bytes)) {
        for (const NetlinkAttribute& attribute : *attributes)
            FUZZ_CHECK(attribute.payload.data() + attribute.payload.size() <= data + size);
    }
    return 0;
}
