// Message and Hello <-> protobuf wire format (proto/kv/peer.proto): varints
// and length-delimited fields, written in field order with proto3's rule
// that zero values are left out, and read with every field checked.
#include "kv/raft_codec.h"

#include "base/strings.h"

#include <optional>

namespace keel::kv {

namespace {

enum class WireType : uint8_t { Varint = 0, Fixed64 = 1, Delimited = 2, Fixed32 = 5 };

void put_varint(std::string& out, uint64_t value) {
    while (value >= 0x80) {
        out += char(uint8_t(value) | 0x80);
        value >>= 7;
    }
    out += char(uint8_t(value));
}

void put_tag(std::string& out, uint32_t field, WireType type) {
    put_varint(out, (uint64_t(field) << 3) | uint64_t(type));
}

void put_number(std::string& out, uint32_t field, uint64_t value) {
    if (value == 0)
        return;
    put_tag(out, field, WireType::Varint);
    put_varint(out, value);
}

void put_delimited(std::string& out, uint32_t field, std::string_view bytes) {
    put_tag(out, field, WireType::Delimited);
    put_varint(out, bytes.size());
    out += bytes;
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
    if (!bytes.empty())
        put_delimited(out, field, bytes);
}

void put_packed(std::string& out, uint32_t field, const std::vector<NodeId>& values) {
    if (values.empty())
        return;
    std::string packed;
    for (NodeId value : values)
        put_varint(packed, value);
    put_delimited(out, field, packed);
}

/// One field as it is on the wire.
struct Field {
    uint32_t number = 0;
    WireType type = WireType::Varint;
    uint64_t value = 0;     // Varint
    std::string_view bytes; // Delimited
};

/// Walks the fields of one message; `what` names it in errors.
class FieldReader {
public:
    FieldReader(std::string_view input, std::string_view what) : m_input(input), m_what(what) {}

    bool done() const { return m_at >= m_input.size(); }

    Result<Field> next() {
        uint64_t tag = TRY(varint());
        Field field;
        uint64_t number = tag >> 3;
        if (number == 0 || number > (1u << 29) - 1)
            return error(cat(m_what, ": field number ", number, " is out of range"));
        field.number = uint32_t(number);
        switch (tag & 7) {
        case 0:
            field.type = WireType::Varint;
            field.value = TRY(varint());
            break;
        case 1:
            field.type = WireType::Fixed64;
            TRY(skip(8));
            break;
        case 2: {
            field.type = WireType::Delimited;
            uint64_t length = TRY(varint());
            if (length > m_input.size() - m_at)
                return error(cat(m_what, ": field ", number, " claims ", length, " bytes but only ",
                                 m_input.size() - m_at, " remain"));
            field.bytes = m_input.substr(m_at, size_t(length));
            m_at += size_t(length);
            break;
        }
        case 5:
            field.type = WireType::Fixed32;
            TRY(skip(4));
            break;
        default:
            return error(cat(m_what, ": field ", number, " has unsupported wire type ", tag & 7));
        }
        return field;
    }

    /// Reads one varint from the message (also used inside packed fields).
    Result<uint64_t> varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (m_at >= m_input.size())
                return error(cat(m_what, ": truncated varint"));
            uint8_t byte = uint8_t(m_input[m_at++]);
            if (shift == 63 && byte > 1)
                return error(cat(m_what, ": varint overflows 64 bits"));
            value |= uint64_t(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0)
                return value;
        }
        return error(cat(m_what, ": varint longer than 10 bytes"));
    }

private:
    Result<void> skip(size_t count) {
        if (count > m_input.size() - m_at)
            return error(cat(m_what, ": truncated fixed-width field"));
        m_at += count;
        return {};
    }

    std::string_view m_input;
    std::string_view m_what;
    size_t m_at = 0;
};

/// Checks that a known field came with the wire type its schema says.
Result<void> expect(const Field& field, WireType type, std::string_view name) {
    if (field.type != type)
        return error(cat(name, ": wrong wire type ", int(field.type)));
    return {};
}

Result<uint64_t> number_field(const Field& field, std::string_view name) {
    TRY(expect(field, WireType::Varint, name));
    return field.value;
}

Result<std::string_view> bytes_field(const Field& field, std::string_view name) {
    TRY(expect(field, WireType::Delimited, name));
    return field.bytes;
}

/// A repeated uint64, packed (what proto3 writes) or one value per field.
Result<void> read_ids(const Field& field, std::string_view name, std::vector<NodeId>& out) {
    if (field.type == WireType::Varint) {
        out.push_back(field.value);
        return {};
    }
    TRY(expect(field, WireType::Delimited, name));
    FieldReader packed(field.bytes, name);
    while (!packed.done())
        out.push_back(TRY(packed.varint()));
    return {};
}

// MessageType <-> wire: the wire value is the enum's plus one (0 is
// MESSAGE_TYPE_UNSPECIFIED).
constexpr uint64_t kMessageTypeCount = uint64_t(MessageType::TimeoutNow) + 1;

Result<Entry> decode_entry(std::string_view bytes) {
    Entry entry;
    FieldReader reader(bytes, "RaftMessage.entries");
    while (!reader.done()) {
        Field field = TRY(reader.next());
        switch (field.number) {
        case 1:
            entry.term = TRY(number_field(field, "Entry.term"));
            break;
        case 2:
            entry.index = TRY(number_field(field, "Entry.index"));
            break;
        case 3: {
            uint64_t type = TRY(number_field(field, "Entry.type"));
            if (type > uint64_t(EntryType::ConfChange))
                return error(cat("Entry.type: unknown value ", type));
            entry.type = EntryType(type);
            break;
        }
        case 4:
            entry.data = TRY(bytes_field(field, "Entry.data"));
            break;
        default:
            break;
        }
    }
    return entry;
}

Result<SnapshotMeta> decode_snapshot_meta(std::string_view bytes) {
    SnapshotMeta meta;
    FieldReader reader(bytes, "Snapshot.meta");
    while (!reader.done()) {
        Field field = TRY(reader.next());
        switch (field.number) {
        case 1:
            meta.index = TRY(number_field(field, "SnapshotMeta.index"));
            break;
        case 2:
            meta.term = TRY(number_field(field, "SnapshotMeta.term"));
            break;
        case 3:
            TRY(read_ids(field, "SnapshotMeta.voters", meta.conf.voters));
            break;
        case 4:
            TRY(read_ids(field, "SnapshotMeta.learners", meta.conf.learners));
            break;
        default:
            break;
        }
    }
    for (NodeId id : meta.conf.voters)
        if (id == 0)
            return error("SnapshotMeta.voters: member id 0");
    for (NodeId id : meta.conf.learners)
        if (id == 0)
            return error("SnapshotMeta.learners: member id 0");
    return meta;
}

Result<Snapshot> decode_snapshot(std::string_view bytes) {
    Snapshot snapshot;
    FieldReader reader(bytes, "RaftMessage.snapshot");
    while (!reader.done()) {
        Field field = TRY(reader.next());
        switch (field.number) {
        case 1:
            snapshot.meta = TRY(decode_snapshot_meta(TRY(bytes_field(field, "Snapshot.meta"))));
            break;
        case 2:
            snapshot.data = TRY(bytes_field(field, "Snapshot.data"));
            break;
        default:
            break;
        }
    }
    return snapshot;
}

Result<Message> decode_message_fields(std::string_view bytes) {
    Message message;
    std::optional<uint64_t> type;
    FieldReader reader(bytes, "RaftMessage");
    while (!reader.done()) {
        Field field = TRY(reader.next());
        switch (field.number) {
        case 1:
            type = TRY(number_field(field, "RaftMessage.type"));
            break;
        case 2:
            message.from = TRY(number_field(field, "RaftMessage.from"));
            break;
        case 3:
            message.to = TRY(number_field(field, "RaftMessage.to"));
            break;
        case 4:
            message.term = TRY(number_field(field, "RaftMessage.term"));
            break;
        case 5:
            message.log_term = TRY(number_field(field, "RaftMessage.log_term"));
            break;
        case 6:
            message.index = TRY(number_field(field, "RaftMessage.index"));
            break;
        case 7:
            message.commit = TRY(number_field(field, "RaftMessage.commit"));
            break;
        case 8:
            message.reject_hint = TRY(number_field(field, "RaftMessage.reject_hint"));
            break;
        case 9:
            message.reject = TRY(number_field(field, "RaftMessage.reject")) != 0;
            break;
        case 10: {
            uint64_t campaign = TRY(number_field(field, "RaftMessage.campaign"));
            if (campaign > uint64_t(CampaignKind::Transfer))
                return error(cat("RaftMessage.campaign: unknown value ", campaign));
            message.campaign = CampaignKind(campaign);
            break;
        }
        case 11:
            message.entries.push_back(
                TRY(decode_entry(TRY(bytes_field(field, "RaftMessage.entries")))));
            break;
        case 12:
            message.snapshot =
                TRY(decode_snapshot(TRY(bytes_field(field, "RaftMessage.snapshot"))));
            break;
        case 13:
            message.context = TRY(bytes_field(field, "RaftMessage.context"));
            break;
        default:
            break;
        }
    }
    if (!type)
        return error("RaftMessage.type: missing");
    if (*type == 0 || *type > kMessageTypeCount)
        return error(cat("RaftMessage.type: unknown value ", *type));
    message.type = MessageType(*type - 1);
    if (message.from == 0)
        return error("RaftMessage.from: member id 0");
    if (message.to == 0)
        return error("RaftMessage.to: member id 0");
    return message;
}

} // namespace

std::string encode_hello(const PeerHello& hello) {
    std::string out;
    put_number(out, 1, hello.cluster_id);
    put_number(out, 2, hello.from);
    put_number(out, 3, hello.to);
    put_number(out, 4, hello.protocol_version);
    put_number(out, 5, uint64_t(hello.purpose));
    put_number(out, 6, uint64_t(hello.revision));
    return out;
}

Result<PeerHello> decode_hello(std::string_view bytes) {
    PeerHello hello;
    hello.protocol_version = 0;
    FieldReader reader(bytes, "Hello");
    auto fields = [&]() -> Result<void> {
        while (!reader.done()) {
            Field field = TRY(reader.next());
            switch (field.number) {
            case 1:
                hello.cluster_id = TRY(number_field(field, "Hello.cluster_id"));
                break;
            case 2:
                hello.from = TRY(number_field(field, "Hello.from"));
                break;
            case 3:
                hello.to = TRY(number_field(field, "Hello.to"));
                break;
            case 4:
                hello.protocol_version = TRY(number_field(field, "Hello.protocol_version"));
                if (hello.protocol_version > UINT32_MAX)
                    return error("Hello.protocol_version: out of range");
                break;
            case 5: {
                uint64_t purpose = TRY(number_field(field, "Hello.purpose"));
                if (purpose > uint64_t(HelloPurpose::HashKv))
                    return error(cat("Hello.purpose: unknown value ", purpose));
                hello.purpose = HelloPurpose(purpose);
                break;
            }
            case 6:
                // int64 on the wire: a negative revision is ten bytes.
                hello.revision = int64_t(TRY(number_field(field, "Hello.revision")));
                if (hello.revision < 0)
                    return error(cat("Hello.revision: negative (", hello.revision, ")"));
                break;
            default:
                break;
            }
        }
        // A joining member knows neither the cluster's id nor its own.
        bool query = hello.purpose == HelloPurpose::Members;
        if (hello.cluster_id == 0 && !query)
            return error("Hello.cluster_id: 0");
        if (hello.from == 0 && !query)
            return error("Hello.from: member id 0");
        if (hello.to == 0 && !query)
            return error("Hello.to: member id 0");
        if (hello.protocol_version == 0)
            return error("Hello.protocol_version: missing");
        return {};
    };
    TRY_CTX(fields(), "decode peer Hello");
    return hello;
}

std::string encode_cluster_members(const ClusterMembers& members) {
    std::string out;
    put_number(out, 1, members.cluster_id);
    for (const ClusterMember& member : members.members) {
        std::string bytes;
        put_number(bytes, 1, member.id);
        put_bytes(bytes, 2, member.name);
        for (const std::string& url : member.peer_urls)
            put_delimited(bytes, 3, url);
        for (const std::string& url : member.client_urls)
            put_delimited(bytes, 4, url);
        put_number(bytes, 5, member.is_learner ? 1 : 0);
        put_delimited(out, 2, bytes);
    }
    return out;
}

namespace {

Result<ClusterMember> decode_cluster_member(std::string_view bytes) {
    ClusterMember member;
    FieldReader reader(bytes, "ClusterMember");
    while (!reader.done()) {
        Field field = TRY(reader.next());
        switch (field.number) {
        case 1:
            member.id = TRY(number_field(field, "ClusterMember.id"));
            break;
        case 2:
            member.name = TRY(bytes_field(field, "ClusterMember.name"));
            break;
        case 3:
            member.peer_urls.emplace_back(TRY(bytes_field(field, "ClusterMember.peer_urls")));
            break;
        case 4:
            member.client_urls.emplace_back(TRY(bytes_field(field, "ClusterMember.client_urls")));
            break;
        case 5:
            member.is_learner = TRY(number_field(field, "ClusterMember.is_learner")) != 0;
            break;
        default:
            break;
        }
    }
    if (member.id == 0)
        return error("ClusterMember.id: member id 0");
    if (member.peer_urls.empty())
        return error("ClusterMember.peer_urls: none");
    return member;
}

} // namespace

Result<ClusterMembers> decode_cluster_members(std::string_view bytes) {
    ClusterMembers members;
    FieldReader reader(bytes, "ClusterMembers");
    auto fields = [&]() -> Result<void> {
        while (!reader.done()) {
            Field field = TRY(reader.next());
            switch (field.number) {
            case 1:
                members.cluster_id = TRY(number_field(field, "ClusterMembers.cluster_id"));
                break;
            case 2:
                members.members.push_back(
                    TRY(decode_cluster_member(TRY(bytes_field(field, "ClusterMembers.members")))));
                break;
            default:
                break;
            }
        }
        if (members.cluster_id == 0)
            return error("ClusterMembers.cluster_id: 0");
        return {};
    };
    TRY_CTX(fields(), "decode peer ClusterMembers");
    return members;
}

std::string encode_peer_hash_kv(const PeerHashKv& answer) {
    std::string out;
    put_number(out, 1, answer.member_id);
    put_number(out, 2, uint64_t(answer.revision));
    put_number(out, 3, uint64_t(answer.compact_revision));
    put_number(out, 4, answer.hash);
    put_bytes(out, 5, answer.error);
    return out;
}

Result<PeerHashKv> decode_peer_hash_kv(std::string_view bytes) {
    PeerHashKv answer;
    FieldReader reader(bytes, "PeerHashKv");
    auto fields = [&]() -> Result<void> {
        while (!reader.done()) {
            Field field = TRY(reader.next());
            switch (field.number) {
            case 1:
                answer.member_id = TRY(number_field(field, "PeerHashKv.member_id"));
                break;
            case 2:
                answer.revision = int64_t(TRY(number_field(field, "PeerHashKv.revision")));
                break;
            case 3:
                answer.compact_revision =
                    int64_t(TRY(number_field(field, "PeerHashKv.compact_revision")));
                break;
            case 4: {
                uint64_t hash = TRY(number_field(field, "PeerHashKv.hash"));
                if (hash > UINT32_MAX)
                    return error("PeerHashKv.hash: out of range");
                answer.hash = uint32_t(hash);
                break;
            }
            case 5:
                answer.error = TRY(bytes_field(field, "PeerHashKv.error"));
                break;
            default:
                break;
            }
        }
        if (answer.member_id == 0)
            return error("PeerHashKv.member_id: member id 0");
        if (answer.revision < 0 || answer.compact_revision < 0)
            return error("PeerHashKv.revision: negative");
        return {};
    };
    TRY_CTX(fields(), "decode peer PeerHashKv");
    return answer;
}

std::string encode_raft_message(const Message& message) {
    std::string out;
    put_number(out, 1, uint64_t(message.type) + 1);
    put_number(out, 2, message.from);
    put_number(out, 3, message.to);
    put_number(out, 4, message.term);
    put_number(out, 5, message.log_term);
    put_number(out, 6, message.index);
    put_number(out, 7, message.commit);
    put_number(out, 8, message.reject_hint);
    put_number(out, 9, message.reject ? 1 : 0);
    put_number(out, 10, uint64_t(message.campaign));
    for (const Entry& entry : message.entries) {
        std::string bytes;
        put_number(bytes, 1, entry.term);
        put_number(bytes, 2, entry.index);
        put_number(bytes, 3, uint64_t(entry.type));
        put_bytes(bytes, 4, entry.data);
        put_delimited(out, 11, bytes);
    }
    const Snapshot& snapshot = message.snapshot;
    if (snapshot != Snapshot{}) {
        std::string meta;
        put_number(meta, 1, snapshot.meta.index);
        put_number(meta, 2, snapshot.meta.term);
        put_packed(meta, 3, snapshot.meta.conf.voters);
        put_packed(meta, 4, snapshot.meta.conf.learners);
        std::string bytes;
        if (!meta.empty())
            put_delimited(bytes, 1, meta);
        put_bytes(bytes, 2, snapshot.data);
        put_delimited(out, 12, bytes);
    }
    put_bytes(out, 13, message.context);
    return out;
}

Result<Message> decode_raft_message(std::string_view bytes) {
    return TRY_CTX(decode_message_fields(bytes), "decode Raft message");
}

} // namespace keel::kv
