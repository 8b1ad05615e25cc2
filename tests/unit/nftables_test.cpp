// Tests: the nftables batch for table ip keel: framed as one transaction,
// the table replaced whole, a rule per published port in prerouting and
// output with the container's address and port, nothing but the table's
// removal when no bridge is left.
#include "containers/nftables.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <string>

using namespace keel::containers;

namespace {

uint16_t nft_type(int message) {
    return uint16_t((NFNL_SUBSYS_NFTABLES << 8) | message);
}

// Every message's type, in order.
std::vector<uint16_t> types_of(const std::vector<BatchRequest>& batch) {
    std::vector<uint16_t> types;
    for (const BatchRequest& request : batch)
        types.push_back(request.message.type());
    return types;
}

std::string bytes_text(std::span<const uint8_t> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

NatRuleset one_port() {
    NatRuleset ruleset;
    ruleset.bridges.push_back({*parse_subnet("10.88.0.0/16"), "keel0"});
    PortRule port;
    port.protocol = Protocol::Udp;
    port.host_port = 8080;
    port.container_port = 80;
    port.host_address = *parse_ipv4("127.0.0.1");
    port.container_address = *parse_ipv4("10.88.0.2");
    port.container_id = "web";
    ruleset.ports.push_back(port);
    return ruleset;
}

} // namespace

TEST_CASE("the rule set goes as one batch that replaces table ip keel whole") {
    auto batch = nftables_ruleset_batch(one_port());
    auto types = types_of(batch);
    REQUIRE(types.size() > 4);
    CHECK(types.front() == NFNL_MSG_BATCH_BEGIN);
    CHECK(types.back() == NFNL_MSG_BATCH_END);
    CHECK(types[1] == nft_type(NFT_MSG_NEWTABLE));
    CHECK(types[2] == nft_type(NFT_MSG_DELTABLE));
    CHECK(types[3] == nft_type(NFT_MSG_NEWTABLE));
    CHECK(std::count(types.begin(), types.end(), nft_type(NFT_MSG_NEWCHAIN)) == 4);
    // masquerade, loopback and hairpin masquerade, two forward rules, and
    // the port in prerouting and output.
    CHECK(std::count(types.begin(), types.end(), nft_type(NFT_MSG_NEWRULE)) == 7);
}

TEST_CASE("with no bridge left the batch only removes the table") {
    auto types = types_of(nftables_ruleset_batch({}));
    CHECK(types == std::vector<uint16_t>{NFNL_MSG_BATCH_BEGIN, nft_type(NFT_MSG_NEWTABLE),
                                         nft_type(NFT_MSG_DELTABLE), NFNL_MSG_BATCH_END});
}

TEST_CASE("a published port's rule matches its host address and port and DNATs to the "
          "container") {
    auto batch = nftables_ruleset_batch(one_port());
    std::vector<const BatchRequest*> port_rules;
    for (const BatchRequest& request : batch)
        if (request.what.find("8080") != std::string::npos)
            port_rules.push_back(&request);
    REQUIRE(port_rules.size() == 2);
    CHECK(port_rules[0]->what.find("prerouting") != std::string::npos);
    CHECK(port_rules[1]->what.find("output") != std::string::npos);

    auto message = port_rules[0]->message.bytes();
    auto attributes = parse_attributes(message.subspan(sizeof(nlmsghdr) + sizeof(nfgenmsg)));
    REQUIRE(attributes);
    const NetlinkAttribute* chain = find_attribute(*attributes, NFTA_RULE_CHAIN);
    REQUIRE(chain);
    CHECK(bytes_text(chain->payload) == std::string("prerouting\0", 11));
    const NetlinkAttribute* expressions = find_attribute(*attributes, NFTA_RULE_EXPRESSIONS);
    REQUIRE(expressions);
    auto elements = parse_attributes(expressions->payload);
    REQUIRE(elements);
    std::vector<std::string> names;
    std::string data;
    for (const NetlinkAttribute& element : *elements) {
        auto parts = parse_attributes(element.payload);
        REQUIRE(parts);
        const NetlinkAttribute* name = find_attribute(*parts, NFTA_EXPR_NAME);
        REQUIRE(name);
        names.emplace_back(bytes_text(name->payload).c_str());
        if (const NetlinkAttribute* expression_data = find_attribute(*parts, NFTA_EXPR_DATA))
            data += bytes_text(expression_data->payload);
    }
    CHECK(names == std::vector<std::string>{"payload", "cmp", "meta", "cmp", "payload", "cmp",
                                            "immediate", "immediate", "nat"});
    // 127.0.0.1, udp (17), 8080 and 80 in network order, 10.88.0.2.
    CHECK(data.find(std::string("\x7f\x00\x00\x01", 4)) != std::string::npos);
    CHECK(data.find(std::string("\x1f\x90", 2)) != std::string::npos);
    CHECK(data.find(std::string("\x00\x50", 2)) != std::string::npos);
    CHECK(data.find(std::string("\x0a\x58\x00\x02", 4)) != std::string::npos);
}

TEST_CASE("a port published on every address matches the host's local addresses by fib") {
    NatRuleset ruleset = one_port();
    ruleset.ports[0].host_address = {};
    auto batch = nftables_ruleset_batch(ruleset);
    bool found = false;
    for (const BatchRequest& request : batch) {
        if (request.what.find("8080") == std::string::npos)
            continue;
        found = true;
        std::string bytes = bytes_text(request.message.bytes());
        CHECK(bytes.find(std::string("fib\0", 4)) != std::string::npos);
        CHECK(bytes.find(std::string("\x7f\x00\x00\x01", 4)) == std::string::npos);
    }
    CHECK(found);
}

TEST_CASE("traffic DNATed back into the bridge (hairpin) is masqueraded by its ct status") {
    auto batch = nftables_ruleset_batch(one_port());
    auto hairpin = std::find_if(batch.begin(), batch.end(), [](const BatchRequest& request) {
        return request.what == "add hairpin masquerade rule for keel0";
    });
    REQUIRE(hairpin != batch.end());
    std::string bytes = bytes_text(hairpin->message.bytes());
    CHECK(bytes.find(std::string("postrouting\0", 12)) != std::string::npos);
    CHECK(bytes.find(std::string("keel0\0", 6)) != std::string::npos);
    CHECK(bytes.find(std::string("ct\0", 3)) != std::string::npos);
    CHECK(bytes.find(std::string("masq\0", 5)) != std::string::npos);
    // 10.88.0.0 in network order; IPS_DST_NAT (0x20) in host order.
    CHECK(bytes.find(std::string("\x0a\x58\x00\x00", 4)) != std::string::npos);
    CHECK(bytes.find(std::string("\x20\x00\x00\x00", 4)) != std::string::npos);
}
