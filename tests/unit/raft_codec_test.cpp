// Tests for kv/raft_codec.h: Raft messages and Hellos survive the trip to
// bytes and back, the bytes are peer.proto's (the generated parser reads
// them), and malformed bytes are refused with the field named.
#include "kv/raft_codec.h"
#include "proto/kv/peer.pb.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

namespace {

kv::Message full_message() {
    kv::Message message;
    message.type = MessageType::Snapshot;
    message.from = 0x1111;
    message.to = 0x2222;
    message.term = 7;
    message.log_term = 6;
    message.index = 1000;
    message.commit = 999;
    message.reject_hint = 12;
    message.reject = true;
    message.campaign = CampaignKind::Transfer;
    message.entries.push_back({6, 1001, EntryType::Normal, "put a=1"});
    message.entries.push_back({7, 1002, EntryType::ConfChange, std::string("\0\1\2", 3)});
    message.entries.push_back({7, 1003, EntryType::Normal, ""});
    message.snapshot.meta = {900, 5, {{1, 2, 3}, {4}}};
    message.snapshot.data = std::string(100000, 'x');
    message.context = "read-42";
    return message;
}

void check_same(const kv::Message& a, const kv::Message& b) {
    CHECK(a.type == b.type);
    CHECK(a.from == b.from);
    CHECK(a.to == b.to);
    CHECK(a.term == b.term);
    CHECK(a.log_term == b.log_term);
    CHECK(a.index == b.index);
    CHECK(a.commit == b.commit);
    CHECK(a.reject_hint == b.reject_hint);
    CHECK(a.reject == b.reject);
    CHECK(a.campaign == b.campaign);
    CHECK(a.entries == b.entries);
    CHECK(a.snapshot == b.snapshot);
    CHECK(a.context == b.context);
}

std::string decode_error(std::string_view bytes) {
    Result<kv::Message> decoded = decode_raft_message(bytes);
    REQUIRE_FALSE(decoded.has_value());
    return decoded.error().to_string();
}

} // namespace

TEST_CASE("a Raft message with every field set comes back from its bytes unchanged") {
    kv::Message message = full_message();
    kv::Message decoded = decode_raft_message(encode_raft_message(message)).value();
    check_same(decoded, message);
}

TEST_CASE("every message type survives encoding") {
    for (const auto& entry : kMessageTypeNames.entries()) {
        kv::Message message;
        message.type = entry.value;
        message.from = 1;
        message.to = 2;
        CHECK(decode_raft_message(encode_raft_message(message)).value().type == entry.value);
    }
}

TEST_CASE("the codec's bytes are peer.proto's RaftMessage, both ways") {
    kv::Message message = full_message();
    keel::kv::peer::RaftMessage parsed;
    REQUIRE(parsed.ParseFromString(encode_raft_message(message)));
    CHECK(parsed.type() == keel::kv::peer::SNAPSHOT);
    CHECK(parsed.from() == 0x1111);
    CHECK(parsed.to() == 0x2222);
    CHECK(parsed.reject());
    CHECK(parsed.campaign() == keel::kv::peer::CAMPAIGN_TRANSFER);
    REQUIRE(parsed.entries_size() == 3);
    CHECK(parsed.entries(1).type() == keel::kv::peer::ENTRY_CONF_CHANGE);
    CHECK(parsed.entries(1).data() == std::string("\0\1\2", 3));
    CHECK(parsed.snapshot().meta().voters_size() == 3);
    CHECK(parsed.snapshot().meta().learners(0) == 4);
    CHECK(parsed.snapshot().data().size() == 100000);
    CHECK(parsed.context() == "read-42");

    // And what the generated code writes, the codec reads.
    check_same(decode_raft_message(parsed.SerializeAsString()).value(), message);
}

TEST_CASE("voters written one per field instead of packed are read too") {
    keel::kv::peer::RaftMessage parsed;
    parsed.set_type(keel::kv::peer::APPEND);
    parsed.set_from(1);
    parsed.set_to(2);
    std::string bytes = parsed.SerializeAsString();
    // Snapshot{meta{voters: 5 (unpacked, field 3 varint), voters: 6}}.
    std::string meta = "\x18\x05\x18\x06";
    std::string snapshot = std::string("\x0a") + char(meta.size()) + meta;
    bytes += std::string("\x62") + char(snapshot.size()) + snapshot;
    kv::Message decoded = decode_raft_message(bytes).value();
    CHECK(decoded.snapshot.meta.conf.voters == std::vector<NodeId>{5, 6});
}

TEST_CASE("unknown fields from a newer member are skipped") {
    kv::Message message;
    message.type = MessageType::Heartbeat;
    message.from = 3;
    message.to = 4;
    message.commit = 9;
    std::string bytes = encode_raft_message(message);
    bytes += "\xa0\x06\x01";             // field 100, varint 1
    bytes += "\xaa\x06\x02hi";           // field 101, bytes "hi"
    bytes += "\xb5\x06\x01\x02\x03\x04"; // field 102, fixed32
    kv::Message decoded = decode_raft_message(bytes).value();
    CHECK(decoded.commit == 9);
}

TEST_CASE("a message without a type, with an unknown type or with member 0 is refused") {
    keel::kv::peer::RaftMessage parsed;
    parsed.set_from(1);
    parsed.set_to(2);
    CHECK(decode_error(parsed.SerializeAsString()).find("RaftMessage.type: missing") !=
          std::string::npos);
    parsed.set_type(keel::kv::peer::MessageType(99));
    CHECK(decode_error(parsed.SerializeAsString()).find("RaftMessage.type: unknown value 99") !=
          std::string::npos);
    parsed.set_type(keel::kv::peer::VOTE);
    parsed.set_from(0);
    CHECK(decode_error(parsed.SerializeAsString()).find("RaftMessage.from") != std::string::npos);
    parsed.set_from(1);
    parsed.set_to(0);
    CHECK(decode_error(parsed.SerializeAsString()).find("RaftMessage.to") != std::string::npos);
    parsed.set_to(2);
    parsed.set_campaign(keel::kv::peer::Campaign(5));
    CHECK(decode_error(parsed.SerializeAsString()).find("RaftMessage.campaign: unknown value 5") !=
          std::string::npos);
}

TEST_CASE("an entry of an unknown type or a snapshot naming member 0 is refused") {
    keel::kv::peer::RaftMessage parsed;
    parsed.set_type(keel::kv::peer::APPEND);
    parsed.set_from(1);
    parsed.set_to(2);
    parsed.add_entries()->set_type(keel::kv::peer::EntryType(7));
    CHECK(decode_error(parsed.SerializeAsString()).find("Entry.type: unknown value 7") !=
          std::string::npos);
    parsed.clear_entries();
    parsed.mutable_snapshot()->mutable_meta()->add_learners(0);
    CHECK(decode_error(parsed.SerializeAsString()).find("SnapshotMeta.learners") !=
          std::string::npos);
}

TEST_CASE("bytes that are no protobuf are refused, not crashed on") {
    kv::Message message = full_message();
    std::string bytes = encode_raft_message(message);
    // Every truncation of a valid message either decodes or fails cleanly.
    for (size_t length = 0; length < 200; ++length)
        (void)decode_raft_message(std::string_view(bytes).substr(0, length));
    CHECK(decode_error(std::string_view(bytes).substr(0, 30)).find("claims") != std::string::npos);
    CHECK(decode_error("\x08").find("truncated varint") != std::string::npos);
    CHECK(decode_error("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f").find("overflows") !=
          std::string::npos);
    CHECK(decode_error("\x0b").find("wire type 3") != std::string::npos); // a group
    CHECK(decode_error(std::string("\x00\x01", 2)).find("field number 0") != std::string::npos);
    CHECK(decode_error("\x12\x01x").find("RaftMessage.from: wrong wire type") != std::string::npos);
}

TEST_CASE("a Hello names its cluster, both members and the protocol version") {
    PeerHello hello{0xabc, 1, 2, kPeerProtocolVersion};
    PeerHello decoded = decode_hello(encode_hello(hello)).value();
    CHECK(decoded.cluster_id == 0xabc);
    CHECK(decoded.from == 1);
    CHECK(decoded.to == 2);
    CHECK(decoded.protocol_version == kPeerProtocolVersion);

    keel::kv::peer::Hello parsed;
    REQUIRE(parsed.ParseFromString(encode_hello(hello)));
    CHECK(parsed.cluster_id() == 0xabc);
    CHECK(parsed.protocol_version() == kPeerProtocolVersion);
}

TEST_CASE("a Hello without a cluster, a member or a version is refused") {
    CHECK(decode_hello(encode_hello({0, 1, 2, 1})).error().to_string().find("Hello.cluster_id") !=
          std::string::npos);
    CHECK(decode_hello(encode_hello({9, 0, 2, 1})).error().to_string().find("Hello.from") !=
          std::string::npos);
    CHECK(decode_hello(encode_hello({9, 1, 0, 1})).error().to_string().find("Hello.to") !=
          std::string::npos);
    CHECK(decode_hello(encode_hello({9, 1, 2, 0}))
              .error()
              .to_string()
              .find("Hello.protocol_version: missing") != std::string::npos);
    CHECK_FALSE(decode_hello("garbage!").has_value());
}

TEST_CASE("a members query is a Hello that may leave the cluster and both members out") {
    PeerHello query;
    query.purpose = HelloPurpose::Members;
    PeerHello decoded = decode_hello(encode_hello(query)).value();
    CHECK(decoded.purpose == HelloPurpose::Members);
    CHECK(decoded.cluster_id == 0);
    CHECK(decoded.protocol_version == kPeerProtocolVersion);

    keel::kv::peer::Hello parsed;
    REQUIRE(parsed.ParseFromString(encode_hello(query)));
    CHECK(parsed.purpose() == keel::kv::peer::HELLO_PURPOSE_MEMBERS);
    // A Raft Hello still needs them, and says nothing of a purpose on the
    // wire (what a member without the field sent).
    CHECK(decode_hello(encode_hello({0, 1, 2, 1})).error().to_string().find("Hello.cluster_id") !=
          std::string::npos);
    CHECK(encode_hello({9, 1, 2, 1}).find('\x28') == std::string::npos);
}

TEST_CASE("a Hello with a purpose this member does not know is refused") {
    keel::kv::peer::Hello hello;
    hello.set_cluster_id(9);
    hello.set_from(1);
    hello.set_to(2);
    hello.set_protocol_version(1);
    hello.set_purpose(static_cast<keel::kv::peer::HelloPurpose>(7));
    auto decoded = decode_hello(hello.SerializeAsString());
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().to_string().find("Hello.purpose: unknown value 7") != std::string::npos);
}

TEST_CASE("the cluster's members survive the trip to bytes and back, as peer.proto reads them") {
    ClusterMembers members;
    members.cluster_id = 0xc1;
    members.members.push_back(
        {0xa1, false, "m1", {"http://127.0.0.1:2380"}, {"http://127.0.0.1:2379"}});
    members.members.push_back({0xa2, true, "", {"http://127.0.0.1:2390", "http://[::1]:2390"}, {}});
    ClusterMembers decoded = decode_cluster_members(encode_cluster_members(members)).value();
    CHECK(decoded.cluster_id == 0xc1);
    REQUIRE(decoded.members.size() == 2);
    CHECK(decoded.members[0].id == 0xa1);
    CHECK(decoded.members[0].name == "m1");
    CHECK(decoded.members[0].client_urls == std::vector<std::string>{"http://127.0.0.1:2379"});
    CHECK_FALSE(decoded.members[0].is_learner);
    CHECK(decoded.members[1].is_learner);
    CHECK(decoded.members[1].peer_urls ==
          std::vector<std::string>{"http://127.0.0.1:2390", "http://[::1]:2390"});

    keel::kv::peer::ClusterMembers parsed;
    REQUIRE(parsed.ParseFromString(encode_cluster_members(members)));
    CHECK(parsed.cluster_id() == 0xc1);
    REQUIRE(parsed.members_size() == 2);
    CHECK(parsed.members(1).peer_urls(1) == "http://[::1]:2390");
    CHECK(parsed.members(1).is_learner());
}

TEST_CASE("a members answer without a cluster, with member 0 or a member without URLs is refused") {
    auto decode_error = [](const ClusterMembers& members) {
        auto decoded = decode_cluster_members(encode_cluster_members(members));
        REQUIRE_FALSE(decoded.has_value());
        return decoded.error().to_string();
    };
    CHECK(decode_error({0, {{1, false, "a", {"http://127.0.0.1:1"}, {}}}})
              .find("ClusterMembers.cluster_id: 0") != std::string::npos);
    CHECK(
        decode_error({9, {{0, false, "a", {"http://127.0.0.1:1"}, {}}}}).find("ClusterMember.id") !=
        std::string::npos);
    CHECK(decode_error({9, {{1, false, "a", {}, {}}}}).find("ClusterMember.peer_urls: none") !=
          std::string::npos);
    CHECK_FALSE(decode_cluster_members("\x12\x05\x08").has_value());     // cut short
    CHECK_FALSE(decode_cluster_members("\x12\x02\x10\x01").has_value()); // a name as a number
}

TEST_CASE("a HashKV query is a Hello with the revision to hash, its answer a PeerHashKv") {
    PeerHello query{9, 1, 2, kPeerProtocolVersion, 42, HelloPurpose::HashKv};
    PeerHello decoded = decode_hello(encode_hello(query)).value();
    CHECK(decoded.purpose == HelloPurpose::HashKv);
    CHECK(decoded.revision == 42);
    keel::kv::peer::Hello parsed;
    REQUIRE(parsed.ParseFromString(encode_hello(query)));
    CHECK(parsed.purpose() == keel::kv::peer::HELLO_PURPOSE_HASH_KV);
    CHECK(parsed.revision() == 42);
    // Unlike a members query, it must name the cluster and both members.
    CHECK(decode_hello(encode_hello({0, 1, 2, 1, 42, HelloPurpose::HashKv}))
              .error()
              .to_string()
              .find("Hello.cluster_id") != std::string::npos);
    parsed.set_revision(-1);
    CHECK(decode_hello(parsed.SerializeAsString()).error().to_string().find("Hello.revision") !=
          std::string::npos);

    PeerHashKv answer{2, 17, 5, 0xdeadbeef, ""};
    PeerHashKv back = decode_peer_hash_kv(encode_peer_hash_kv(answer)).value();
    CHECK(back.member_id == 2);
    CHECK(back.revision == 17);
    CHECK(back.compact_revision == 5);
    CHECK(back.hash == 0xdeadbeef);
    CHECK(back.error.empty());
    keel::kv::peer::PeerHashKv proto;
    REQUIRE(proto.ParseFromString(encode_peer_hash_kv(answer)));
    CHECK(proto.hash() == 0xdeadbeef);
    CHECK(proto.compact_revision() == 5);
    PeerHashKv lagging{3, 4, 0, 0, "etcdserver: mvcc: required revision is a future revision"};
    CHECK(decode_peer_hash_kv(encode_peer_hash_kv(lagging)).value().error == lagging.error);
}

TEST_CASE(
    "a PeerHashKv from member 0, with a hash past 32 bits or a negative revision is refused") {
    CHECK(decode_peer_hash_kv(encode_peer_hash_kv({0, 1, 0, 7, ""}))
              .error()
              .to_string()
              .find("PeerHashKv.member_id") != std::string::npos);
    keel::kv::peer::PeerHashKv proto;
    proto.set_member_id(2);
    proto.set_revision(-3);
    CHECK(decode_peer_hash_kv(proto.SerializeAsString()).error().to_string().find("negative") !=
          std::string::npos);
    // uint32 hash = 4 written as a 64-bit varint.
    std::string wide =
        encode_peer_hash_kv({2, 1, 0, 0, ""}) + std::string("\x20\x80\x80\x80\x80\x20", 6);
    CHECK(decode_peer_hash_kv(wide).error().to_string().find("PeerHashKv.hash: out of range") !=
          std::string::npos);
    CHECK_FALSE(decode_peer_hash_kv("\xff\xff").has_value());
}
