// Tests for kv/mvcc_record.h: revision keys sort as revisions, KeyValue
// round-trips through etcd's encoding, malformed bytes are refused.
#include "kv/mvcc_record.h"

#include <doctest/doctest.h>

using namespace keel::kv;

TEST_CASE("revision keys sort in revision order and parse back") {
    std::string a = record_key({2, 5}, RecordKind::Put);
    std::string b = record_key({3, 0}, RecordKind::Tombstone);
    std::string c = record_key({256, 0}, RecordKind::Put);
    CHECK(a < b);
    CHECK(b < c);
    auto parsed = parse_record_key(b);
    REQUIRE(parsed);
    CHECK(parsed->revision == Revision{3, 0});
    CHECK(parsed->kind == RecordKind::Tombstone);
    CHECK(record_key_from(3) < b);
    CHECK(record_key_from(4) > b);
}

TEST_CASE("keys that are no revision key are refused") {
    CHECK_FALSE(parse_record_key(""));
    CHECK_FALSE(parse_record_key("mcompact_revision"));
    std::string key = record_key({1, 1}, RecordKind::Put);
    CHECK_FALSE(parse_record_key(key.substr(0, 17)));
    CHECK_FALSE(parse_record_key(key + "x"));
}

TEST_CASE("a key-value round-trips through etcd's encoding") {
    KeyValue kv{5, 7, 2, 99, "key", std::string("va\0lue", 6)};
    auto decoded = decode_key_value(encode_key_value(kv));
    REQUIRE(decoded);
    CHECK(*decoded == kv);
}

TEST_CASE("bytes that are no KeyValue are refused") {
    CHECK_FALSE(decode_key_value("\xff\xff\xff"));
    CHECK_FALSE(decode_int64("1234567"));
}
