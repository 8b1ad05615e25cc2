// Tests: netlink messages built byte for byte, kernel replies and their
// attributes read, malformed replies refused.
#include "containers/netlink.h"

#include <doctest/doctest.h>

#include <cstring>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <vector>

using namespace keel::containers;

namespace {

std::vector<uint8_t> bytes_of(std::span<const uint8_t> span) {
    return {span.begin(), span.end()};
}

// A reply datagram: one message of `type` with `payload`.
std::vector<uint8_t> reply(uint16_t type, uint16_t flags, uint32_t sequence,
                           const std::vector<uint8_t>& payload) {
    nlmsghdr header{};
    header.nlmsg_len = uint32_t(sizeof header + payload.size());
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = sequence;
    // Sized once and filled by memcpy: GCC 12's -O2 misjudges a vector
    // insert after the header (array-bounds).
    std::vector<uint8_t> out(sizeof header + payload.size());
    std::memcpy(out.data(), &header, sizeof header);
    if (!payload.empty())
        std::memcpy(out.data() + sizeof header, payload.data(), payload.size());
    return out;
}

} // namespace

TEST_CASE("a netlink message carries its length, and attributes are padded to four bytes") {
    NetlinkMessage message(RTM_NEWLINK, NLM_F_CREATE);
    message.attribute_string(IFLA_IFNAME, "keel0");
    auto bytes = bytes_of(message.bytes());
    // 16 header + 4 attribute header + "keel0\0" (6) padded to 8.
    REQUIRE(bytes.size() == 28);
    uint32_t length = 0;
    std::memcpy(&length, bytes.data(), 4);
    CHECK(length == 28);
    uint16_t attribute_length = 0;
    std::memcpy(&attribute_length, bytes.data() + 16, 2);
    CHECK(attribute_length == 10);
    CHECK(std::memcmp(bytes.data() + 20, "keel0\0\0\0", 8) == 0);
}

TEST_CASE("a nested attribute's length covers what was appended inside it") {
    NetlinkMessage message(RTM_NEWLINK, 0);
    size_t info = message.begin_nested(IFLA_LINKINFO);
    message.attribute_string(IFLA_INFO_KIND, "veth");
    message.attribute_be32(2, 0x01020304);
    message.end_nested(info);
    auto attributes = parse_attributes(message.bytes().subspan(sizeof(nlmsghdr)));
    REQUIRE(attributes);
    REQUIRE(attributes->size() == 1);
    CHECK((*attributes)[0].type == IFLA_LINKINFO); // NLA_F_NESTED masked off
    auto inner = parse_attributes((*attributes)[0].payload);
    REQUIRE(inner);
    REQUIRE(inner->size() == 2);
    CHECK(std::string_view(reinterpret_cast<const char*>((*inner)[0].payload.data())) == "veth");
    CHECK(bytes_of((*inner)[1].payload) == std::vector<uint8_t>{1, 2, 3, 4});
}

TEST_CASE("an attribute whose length runs past the message is refused") {
    std::vector<uint8_t> data = {12, 0, 1, 0, 'a', 'b'}; // claims 12 bytes, has 6
    auto parsed = parse_attributes(data);
    REQUIRE(!parsed);
    CHECK(parsed.error().to_string().find("does not fit") != std::string::npos);
    std::vector<uint8_t> too_short = {2, 0, 1, 0};
    CHECK(!parse_attributes(too_short));
    std::vector<uint8_t> stub = {8, 0};
    CHECK(!parse_attributes(stub));
}

TEST_CASE("the last attribute may lack its padding") {
    std::vector<uint8_t> data = {5, 0, 3, 0, 'x'};
    auto parsed = parse_attributes(data);
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 1);
    CHECK(parsed->front().payload.size() == 1);
}

TEST_CASE("a datagram of several messages is split, and a truncated one refused") {
    auto first = reply(RTM_NEWLINK, 0, 7, {1, 2, 3, 4});
    auto second = reply(NLMSG_DONE, 0, 7, {0, 0, 0, 0});
    std::vector<uint8_t> datagram = first;
    datagram.insert(datagram.end(), second.begin(), second.end());
    auto replies = parse_replies(datagram);
    REQUIRE(replies);
    REQUIRE(replies->size() == 2);
    CHECK((*replies)[0].type == RTM_NEWLINK);
    CHECK((*replies)[0].sequence == 7);
    CHECK(bytes_of((*replies)[0].payload) == std::vector<uint8_t>{1, 2, 3, 4});
    CHECK((*replies)[1].type == NLMSG_DONE);

    datagram.pop_back();
    CHECK(!parse_replies(datagram));
    std::vector<uint8_t> tiny = {1, 2, 3};
    CHECK(!parse_replies(tiny));
    auto zero_length = reply(RTM_NEWLINK, 0, 1, {});
    std::memset(zero_length.data(), 0, 4);
    CHECK(!parse_replies(zero_length));
}

TEST_CASE("an acknowledgement reads as error 0, a refusal as its errno and the kernel's text") {
    std::vector<uint8_t> ack_payload(4 + sizeof(nlmsghdr), 0);
    auto ack = parse_ack({NLMSG_ERROR, NLM_F_CAPPED, 1, ack_payload});
    REQUIRE(ack);
    CHECK(ack->error == 0);

    std::vector<uint8_t> payload(4 + sizeof(nlmsghdr), 0);
    int32_t code = -17; // EEXIST
    std::memcpy(payload.data(), &code, 4);
    const char text[] = "Bridge exists";
    nlattr header{uint16_t(4 + sizeof text), NLMSGERR_ATTR_MSG};
    payload.insert(payload.end(), reinterpret_cast<uint8_t*>(&header),
                   reinterpret_cast<uint8_t*>(&header) + 4);
    payload.insert(payload.end(), text, text + sizeof text);
    auto refusal = parse_ack({NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1, payload});
    REQUIRE(refusal);
    CHECK(refusal->error == 17);
    CHECK(refusal->message == "Bridge exists");
}

TEST_CASE("malformed error messages are refused") {
    std::vector<uint8_t> short_payload = {0, 0, 0, 0};
    CHECK(!parse_ack({NLMSG_ERROR, 0, 1, short_payload}));
    std::vector<uint8_t> positive(4 + sizeof(nlmsghdr), 0);
    positive[0] = 5;
    CHECK(!parse_ack({NLMSG_ERROR, 0, 1, positive}));
    // Uncapped, the echoed request claims more than there is.
    std::vector<uint8_t> uncapped(4 + sizeof(nlmsghdr), 0);
    uncapped[0] = 0xea; // -22
    uncapped[1] = uncapped[2] = uncapped[3] = 0xff;
    uncapped[4] = 200;
    CHECK(!parse_ack({NLMSG_ERROR, NLM_F_ACK_TLVS, 1, uncapped}));
}
