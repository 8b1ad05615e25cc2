// The MVCC store's backend layout (kv/mvcc_record.h): revision record keys,
// KeyValue serialization through etcd's mvccpb message and meta integers.
#include "kv/mvcc_record.h"

#include "proto/etcd/kv.pb.h"

namespace keel::kv {

namespace {

void append_big_endian(std::string& out, uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(char((value >> shift) & 0xff));
}

uint64_t read_big_endian(std::string_view bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i)
        value = (value << 8) | uint8_t(bytes[i]);
    return value;
}

} // namespace

std::string record_key(Revision revision, RecordKind kind) {
    std::string key(1, kRecordPrefix);
    append_big_endian(key, uint64_t(revision.main));
    key.push_back('_');
    append_big_endian(key, uint64_t(revision.sub));
    if (kind == RecordKind::Tombstone)
        key.push_back('t');
    return key;
}

std::string record_key_from(int64_t main) {
    std::string key(1, kRecordPrefix);
    append_big_endian(key, uint64_t(main));
    return key;
}

std::string aux_key(std::string_view name) {
    std::string key(1, kAuxPrefix);
    key += name;
    return key;
}

std::optional<RecordKey> parse_record_key(std::string_view key) {
    if ((key.size() != 18 && key.size() != 19) || key[0] != kRecordPrefix || key[9] != '_')
        return std::nullopt;
    RecordKey parsed;
    parsed.revision.main = int64_t(read_big_endian(key.substr(1, 8)));
    parsed.revision.sub = int64_t(read_big_endian(key.substr(10, 8)));
    if (key.size() == 19) {
        if (key[18] != 't')
            return std::nullopt;
        parsed.kind = RecordKind::Tombstone;
    }
    return parsed;
}

std::string encode_key_value(const KeyValue& kv) {
    mvccpb::KeyValue message;
    message.set_key(kv.key);
    message.set_create_revision(kv.create_revision);
    message.set_mod_revision(kv.mod_revision);
    message.set_version(kv.version);
    message.set_value(kv.value);
    message.set_lease(kv.lease);
    std::string bytes;
    message.SerializeToString(&bytes);
    return bytes;
}

Result<KeyValue> decode_key_value(std::string_view bytes) {
    mvccpb::KeyValue message;
    if (!message.ParseFromArray(bytes.data(), int(bytes.size())))
        return error("not a serialized mvccpb.KeyValue");
    KeyValue kv;
    kv.key = message.key();
    kv.create_revision = message.create_revision();
    kv.mod_revision = message.mod_revision();
    kv.version = message.version();
    kv.value = message.value();
    kv.lease = message.lease();
    return kv;
}

std::string encode_int64(int64_t value) {
    std::string bytes;
    append_big_endian(bytes, uint64_t(value));
    return bytes;
}

Result<int64_t> decode_int64(std::string_view bytes) {
    if (bytes.size() != 8)
        return error("a meta integer of " + std::to_string(bytes.size()) + " bytes, not 8");
    return int64_t(read_big_endian(bytes));
}

} // namespace keel::kv
