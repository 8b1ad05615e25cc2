// Tests for the conversions between etcd's wire messages and the MVCC
// store's types (kv/etcd_convert.cpp): every field both ways, etcd's reading
// of odd values (negative limits, a compare operand in the wrong field),
// nested txns, and the bytes of messages and proposals.
#include "kv/etcd_convert.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

namespace {

KeyValue sample_kv(std::string key, int64_t revision) {
    KeyValue kv;
    kv.key = std::move(key);
    kv.value = std::string("v\0w", 3);
    kv.create_revision = revision - 1;
    kv.mod_revision = revision;
    kv.version = 2;
    kv.lease = 0x1234567890;
    return kv;
}

template <typename Wire, typename Value> Wire wire_of(const Value& value) {
    Wire wire;
    to_proto(value, &wire);
    return wire;
}

/// Through the bytes too, as a client would send or see it.
template <typename Wire, typename Value> Wire sent_as(const Value& value) {
    std::string bytes = wire_of<Wire>(value).SerializeAsString();
    GrpcResult<Wire> parsed = parse_message<Wire>(bytes);
    REQUIRE(parsed);
    return *parsed;
}

} // namespace

TEST_CASE("a range request keeps every field through the wire") {
    RangeRequest request;
    request.key = "a";
    request.range_end = std::string(1, '\0');
    request.limit = 10;
    request.revision = 7;
    request.sort_order = SortOrder::Descend;
    request.sort_target = SortTarget::Mod;
    request.keys_only = true;
    request.count_only = true;
    request.min_mod_revision = 1;
    request.max_mod_revision = 2;
    request.min_create_revision = 3;
    request.max_create_revision = 4;
    GrpcResult<RangeRequest> back = to_mvcc(sent_as<etcdserverpb::RangeRequest>(request));
    REQUIRE(back);
    CHECK(back->key == "a");
    CHECK(back->range_end == std::string(1, '\0'));
    CHECK(back->limit == 10);
    CHECK(back->revision == 7);
    CHECK(back->sort_order == SortOrder::Descend);
    CHECK(back->sort_target == SortTarget::Mod);
    CHECK(back->keys_only);
    CHECK(back->count_only);
    CHECK(back->min_mod_revision == 1);
    CHECK(back->max_mod_revision == 2);
    CHECK(back->min_create_revision == 3);
    CHECK(back->max_create_revision == 4);
}

TEST_CASE("a negative limit or revision reads as etcd reads it: no limit, the newest") {
    etcdserverpb::RangeRequest request;
    request.set_key("a");
    request.set_limit(-5);
    request.set_revision(-1);
    GrpcResult<RangeRequest> converted = to_mvcc(request);
    REQUIRE(converted);
    CHECK(converted->limit == 0);
    CHECK(converted->revision == 0);
}

TEST_CASE("put and delete requests keep every field through the wire") {
    PutRequest put;
    put.key = "k";
    put.value = std::string("\xff\0", 2);
    put.lease = 99;
    put.prev_kv = true;
    put.ignore_lease = false;
    GrpcResult<PutRequest> put_back = to_mvcc(sent_as<etcdserverpb::PutRequest>(put));
    REQUIRE(put_back);
    CHECK(put_back->key == "k");
    CHECK(put_back->value == put.value);
    CHECK(put_back->lease == 99);
    CHECK(put_back->prev_kv);
    CHECK_FALSE(put_back->ignore_value);

    PutRequest keep;
    keep.key = "k";
    keep.ignore_value = true;
    keep.ignore_lease = true;
    GrpcResult<PutRequest> keep_back = to_mvcc(sent_as<etcdserverpb::PutRequest>(keep));
    REQUIRE(keep_back);
    CHECK(keep_back->ignore_value);
    CHECK(keep_back->ignore_lease);

    DeleteRangeRequest remove;
    remove.key = "a";
    remove.range_end = "b";
    remove.prev_kv = true;
    GrpcResult<DeleteRangeRequest> remove_back =
        to_mvcc(sent_as<etcdserverpb::DeleteRangeRequest>(remove));
    REQUIRE(remove_back);
    CHECK(remove_back->key == "a");
    CHECK(remove_back->range_end == "b");
    CHECK(remove_back->prev_kv);
}

TEST_CASE("a nested txn keeps its compares and both branches through the wire") {
    TxnRequest inner;
    {
        PutRequest put;
        put.key = "x";
        put.value = "1";
        inner.failure.push_back(RequestOp{put});
    }
    TxnRequest request;
    kv::Compare by_value;
    by_value.key = "a";
    by_value.range_end = "b";
    by_value.target = CompareTarget::Value;
    by_value.result = CompareResult::NotEqual;
    by_value.value = "v";
    request.compare.push_back(by_value);
    for (CompareTarget target : {CompareTarget::Version, CompareTarget::Create, CompareTarget::Mod,
                                 CompareTarget::Lease}) {
        kv::Compare compare;
        compare.key = "k";
        compare.target = target;
        compare.result = CompareResult::Greater;
        compare.number = 40 + int64_t(target);
        request.compare.push_back(compare);
    }
    RangeRequest range;
    range.key = "r";
    DeleteRangeRequest remove;
    remove.key = "d";
    request.success = {RequestOp{range}, RequestOp{remove}, RequestOp{inner}};
    request.failure = {RequestOp{range}};

    etcdserverpb::TxnRequest wire = sent_as<etcdserverpb::TxnRequest>(request);
    CHECK(wire.compare(0).target_union_case() == etcdserverpb::Compare::kValue);
    CHECK(wire.compare(2).create_revision() == 41);
    CHECK(wire.success(2).request_txn().failure(0).request_put().key() == "x");

    GrpcResult<TxnRequest> back = to_mvcc(wire, Limits{});
    REQUIRE(back);
    REQUIRE(back->compare.size() == 5);
    CHECK(back->compare[0].target == CompareTarget::Value);
    CHECK(back->compare[0].result == CompareResult::NotEqual);
    CHECK(back->compare[0].value == "v");
    CHECK(back->compare[0].range_end == "b");
    for (size_t i = 1; i < 5; ++i) {
        CHECK(back->compare[i].number == 40 + int64_t(back->compare[i].target));
        CHECK(back->compare[i].result == CompareResult::Greater);
    }
    REQUIRE(back->success.size() == 3);
    CHECK(std::get<RangeRequest>(back->success[0].request).key == "r");
    CHECK(std::get<DeleteRangeRequest>(back->success[1].request).key == "d");
    const TxnRequest& nested = std::get<TxnRequest>(back->success[2].request);
    REQUIRE(nested.failure.size() == 1);
    CHECK(std::get<PutRequest>(nested.failure[0].request).value == "1");
    REQUIRE(back->failure.size() == 1);
    CHECK(std::holds_alternative<RangeRequest>(back->failure[0].request));
}

TEST_CASE("a compare whose operand is in another field than its target compares with zero") {
    etcdserverpb::TxnRequest wire;
    etcdserverpb::Compare* compare = wire.add_compare();
    compare->set_key("k");
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_version(5);
    etcdserverpb::Compare* by_value = wire.add_compare();
    by_value->set_key("k");
    by_value->set_target(etcdserverpb::Compare::VALUE);
    by_value->set_lease(5);
    GrpcResult<TxnRequest> converted = to_mvcc(wire, Limits{});
    REQUIRE(converted);
    CHECK(converted->compare[0].number == 0);
    CHECK(converted->compare[1].value.empty());
}

TEST_CASE("key-values and events keep every field through the wire") {
    KeyValue kv = sample_kv("k", 5);
    CHECK(to_mvcc(sent_as<mvccpb::KeyValue>(kv)) == kv);

    kv::Event put{kv::EventType::Put, kv, sample_kv("k", 3)};
    CHECK(to_mvcc(sent_as<mvccpb::Event>(put)) == put);
    kv::Event removal;
    removal.type = kv::EventType::Delete;
    removal.kv.key = "k";
    removal.kv.mod_revision = 6;
    mvccpb::Event wire = sent_as<mvccpb::Event>(removal);
    CHECK(wire.type() == mvccpb::Event::DELETE);
    CHECK_FALSE(wire.has_prev_kv());
    CHECK(to_mvcc(wire) == removal);
}

TEST_CASE("the store's answers carry their revision in the header and keep every field") {
    RangeResponse range;
    range.revision = 9;
    range.count = 3;
    range.more = true;
    range.kvs = {sample_kv("a", 4), sample_kv("b", 5)};
    etcdserverpb::RangeResponse range_wire = sent_as<etcdserverpb::RangeResponse>(range);
    CHECK(range_wire.header().revision() == 9);
    CHECK(range_wire.kvs_size() == 2);
    RangeResponse range_back = to_mvcc(range_wire);
    CHECK(range_back.revision == 9);
    CHECK(range_back.count == 3);
    CHECK(range_back.more);
    CHECK(range_back.kvs == range.kvs);

    PutResponse put;
    put.revision = 10;
    etcdserverpb::PutResponse put_wire = sent_as<etcdserverpb::PutResponse>(put);
    CHECK_FALSE(put_wire.has_prev_kv());
    CHECK(to_mvcc(put_wire).revision == 10);
    put.prev_kv = sample_kv("a", 4);
    CHECK(to_mvcc(sent_as<etcdserverpb::PutResponse>(put)).prev_kv == put.prev_kv);

    DeleteRangeResponse remove;
    remove.revision = 11;
    remove.deleted = 2;
    remove.prev_kvs = {sample_kv("a", 4)};
    DeleteRangeResponse remove_back = to_mvcc(sent_as<etcdserverpb::DeleteRangeResponse>(remove));
    CHECK(remove_back.revision == 11);
    CHECK(remove_back.deleted == 2);
    CHECK(remove_back.prev_kvs == remove.prev_kvs);
}

TEST_CASE("a txn's answer keeps each operation's answer, nested ones too") {
    TxnResponse inner;
    inner.revision = 12;
    inner.succeeded = false;
    PutResponse put;
    put.revision = 12;
    inner.responses.push_back(ResponseOp{put});
    TxnResponse response;
    response.revision = 12;
    response.succeeded = true;
    RangeResponse range;
    range.revision = 11;
    range.count = 1;
    range.kvs = {sample_kv("a", 4)};
    DeleteRangeResponse remove;
    remove.revision = 12;
    remove.deleted = 1;
    response.responses = {ResponseOp{range}, ResponseOp{remove}, ResponseOp{inner}};

    etcdserverpb::TxnResponse wire = sent_as<etcdserverpb::TxnResponse>(response);
    CHECK(wire.header().revision() == 12);
    CHECK(wire.succeeded());
    REQUIRE(wire.responses_size() == 3);
    CHECK(wire.responses(0).response_range().header().revision() == 11);
    CHECK(wire.responses(2).response_txn().responses(0).has_response_put());

    GrpcResult<TxnResponse> back = to_mvcc(wire);
    REQUIRE(back);
    CHECK(back->revision == 12);
    CHECK(back->succeeded);
    REQUIRE(back->responses.size() == 3);
    CHECK(std::get<RangeResponse>(back->responses[0].response).kvs == range.kvs);
    CHECK(std::get<DeleteRangeResponse>(back->responses[1].response).deleted == 1);
    const TxnResponse& nested = std::get<TxnResponse>(back->responses[2].response);
    CHECK_FALSE(nested.succeeded);
    CHECK(std::get<PutResponse>(nested.responses[0].response).revision == 12);

    wire.add_responses();
    CHECK(to_mvcc(wire).error().code == GrpcCode::Internal);
}

TEST_CASE("bytes protobuf cannot parse are refused as grpc-go refuses them") {
    // A length-delimited field (key) whose length runs past the end.
    std::string truncated("\x0a\x05"
                          "ab",
                          4);
    GrpcResult<etcdserverpb::RangeRequest> parsed =
        parse_message<etcdserverpb::RangeRequest>(truncated);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == GrpcCode::Internal);
    CHECK(parsed.error().message.starts_with("grpc: error unmarshalling request: "));
    // A field number of 0 is never valid.
    CHECK_FALSE(parse_message<etcdserverpb::PutRequest>(std::string("\x00\x01", 2)));
    // Empty bytes are the message with every field at its default.
    GrpcResult<etcdserverpb::PutRequest> empty = parse_message<etcdserverpb::PutRequest>("");
    REQUIRE(empty);
    CHECK(empty->key().empty());
}

TEST_CASE("parsing into a message replaces what it held") {
    etcdserverpb::PutRequest message;
    message.set_key("old");
    message.set_lease(3);
    etcdserverpb::PutRequest fresh;
    fresh.set_key("new");
    CHECK(parse_message(fresh.SerializeAsString(), message).ok());
    CHECK(message.key() == "new");
    CHECK(message.lease() == 0);
}

TEST_CASE("a proposal goes through its bytes unchanged") {
    InternalRequest request;
    request.mutable_put()->set_key("k");
    request.mutable_put()->set_value("v");
    GrpcResult<std::string> bytes = encode_proposal(request, Limits{});
    REQUIRE(bytes);
    GrpcResult<InternalRequest> back = decode_proposal(*bytes);
    REQUIRE(back);
    REQUIRE(back->has_put());
    CHECK(back->put().key() == "k");
    CHECK(back->put().value() == "v");
}

TEST_CASE("a proposal over --max-request-bytes is refused as too large") {
    InternalRequest request;
    request.mutable_put()->set_key("k");
    request.mutable_put()->set_value(std::string(100, 'x'));
    CHECK(encode_proposal(request, Limits{.max_request_bytes = 200}));
    CHECK(encode_proposal(request, Limits{.max_request_bytes = 50}).error() ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: request is too large"});
    // etcd's default: 1.5 MiB.
    request.mutable_put()->set_value(std::string(1536 * 1024, 'x'));
    CHECK_FALSE(encode_proposal(request, Limits{}));
}

TEST_CASE("an entry that is no KV request, or holds none, is refused") {
    CHECK(decode_proposal("\xff\xff").error().code == GrpcCode::Internal);
    CHECK(decode_proposal("").error().code == GrpcCode::Internal);
}
