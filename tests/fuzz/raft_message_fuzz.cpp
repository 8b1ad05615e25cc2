// Fuzz target for kv/raft_codec.h: the bytes a peer sends on a Raft
// connection. The first input byte picks what the rest is: one RaftMessage,
// one Hello, a connection's stream (length-prefixed frames, a Hello first,
// as kv/peer_transport.cpp reads them), the answer to a members query, or
// the answer to a HashKV query. Besides "does not crash":
// whatever decodes re-encodes to bytes that decode to the same value, and a
// decoded message never names member 0 or an unknown type.
#include "base/framing.h"
#include "kv/raft_codec.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::kv;

namespace {

void check_message(std::string_view bytes) {
    auto message = decode_raft_message(bytes);
    if (!message)
        return;
    FUZZ_CHECK(message->from != 0 && message->to != 0);
    FUZZ_CHECK(kMessageTypeNames.name(message->type) != "?");
    auto again = decode_raft_message(encode_raft_message(*message));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->type == message->type && again->from == message->from &&
               again->to == message->to && again->term == message->term &&
               again->log_term == message->log_term && again->index == message->index &&
               again->commit == message->commit && again->reject_hint == message->reject_hint &&
               again->reject == message->reject && again->campaign == message->campaign &&
               again->entries == message->entries && again->snapshot == message->snapshot &&
               again->context == message->context);
}

void check_hello(std::string_view bytes) {
    auto hello = decode_hello(bytes);
    if (!hello)
        return;
    FUZZ_CHECK(hello->purpose == HelloPurpose::Members ||
               (hello->cluster_id != 0 && hello->from != 0 && hello->to != 0));
    FUZZ_CHECK(kHelloPurposeNames.name(hello->purpose) != "?");
    auto again = decode_hello(encode_hello(*hello));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->cluster_id == hello->cluster_id && again->from == hello->from &&
               again->to == hello->to && again->protocol_version == hello->protocol_version &&
               again->purpose == hello->purpose && again->revision == hello->revision);
}

void check_members(std::string_view bytes) {
    auto members = decode_cluster_members(bytes);
    if (!members)
        return;
    FUZZ_CHECK(members->cluster_id != 0);
    for (const ClusterMember& member : members->members)
        FUZZ_CHECK(member.id != 0 && !member.peer_urls.empty());
    auto again = decode_cluster_members(encode_cluster_members(*members));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->cluster_id == members->cluster_id &&
               again->members.size() == members->members.size());
    for (size_t i = 0; i < members->members.size(); ++i) {
        const ClusterMember& a = again->members[i];
        const ClusterMember& b = members->members[i];
        FUZZ_CHECK(a.id == b.id && a.is_learner == b.is_learner && a.name == b.name &&
                   a.peer_urls == b.peer_urls && a.client_urls == b.client_urls);
    }
}

void check_hash_kv(std::string_view bytes) {
    auto answer = decode_peer_hash_kv(bytes);
    if (!answer)
        return;
    FUZZ_CHECK(answer->member_id != 0 && answer->revision >= 0 && answer->compact_revision >= 0);
    auto again = decode_peer_hash_kv(encode_peer_hash_kv(*answer));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->member_id == answer->member_id && again->revision == answer->revision &&
               again->compact_revision == answer->compact_revision && again->hash == answer->hash &&
               again->error == answer->error);
}

void check_stream(std::string_view bytes) {
    FrameDecoder decoder(1 << 16);
    // Fed in uneven pieces, as a socket delivers them.
    size_t at = 0;
    bool first = true;
    for (size_t piece = 1; at < bytes.size(); piece = piece * 3 % 1021 + 1) {
        decoder.feed(bytes.substr(at, piece));
        at += std::min(piece, bytes.size() - at);
        while (true) {
            auto frame = decoder.next();
            if (!frame || !*frame)
                break;
            if (first)
                check_hello(**frame);
            else
                check_message(**frame);
            first = false;
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 5) {
    case 0:
        check_message(bytes);
        break;
    case 1:
        check_hello(bytes);
        break;
    case 3:
        check_members(bytes);
        break;
    case 4:
        check_hash_kv(bytes);
        break;
    default:
        check_stream(bytes);
        break;
    }
    return 0;
}
