// Fuzz target for kv/etcd_convert.h: etcd v3 requests (and answers and Raft
// proposals) as bytes from the network, parsed, checked and converted to the
// store's types. The first byte picks the message type. Besides "does not
// crash": a request the checks accept converts back to a wire message that
// is accepted again and converts to the same thing (compared as bytes), and
// a refusal is never an Ok status.
#include "kv/etcd_convert.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <optional>
#include <string_view>

using namespace keel::kv;

namespace {

/// Request types with a plain to_mvcc(request).
template <typename Wire> void round_trip_request(std::string_view bytes) {
    GrpcResult<Wire> parsed = parse_message<Wire>(bytes);
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().ok());
        return;
    }
    auto converted = to_mvcc(*parsed);
    FUZZ_CHECK(converted.has_value() == check_request(*parsed).ok());
    if (!converted) {
        FUZZ_CHECK(!converted.error().ok());
        return;
    }
    Wire wire;
    to_proto(*converted, &wire);
    auto again = to_mvcc(wire);
    FUZZ_CHECK(again.has_value());
    Wire wire_again;
    to_proto(*again, &wire_again);
    FUZZ_CHECK(wire.SerializeAsString() == wire_again.SerializeAsString());
}

void round_trip_txn(std::string_view bytes, const Limits& limits) {
    GrpcResult<etcdserverpb::TxnRequest> parsed = parse_message<etcdserverpb::TxnRequest>(bytes);
    if (!parsed)
        return;
    GrpcResult<TxnRequest> converted = to_mvcc(*parsed, limits);
    FUZZ_CHECK(converted.has_value() == check_request(*parsed, limits).ok());
    if (!converted) {
        FUZZ_CHECK(!converted.error().ok());
        return;
    }
    etcdserverpb::TxnRequest wire;
    to_proto(*converted, &wire);
    GrpcResult<TxnRequest> again = to_mvcc(wire, limits);
    FUZZ_CHECK(again.has_value());
    etcdserverpb::TxnRequest wire_again;
    to_proto(*again, &wire_again);
    FUZZ_CHECK(wire.SerializeAsString() == wire_again.SerializeAsString());
}

/// An answer in the store's type, or nullopt when it does not convert.
template <typename Wire> auto convert_response(const Wire& wire) {
    auto converted = to_mvcc(wire);
    if constexpr (requires { converted.error(); }) {
        using Value = typename decltype(converted)::value_type;
        return converted ? std::optional<Value>(std::move(*converted)) : std::nullopt;
    } else {
        return std::optional<decltype(converted)>(std::move(converted));
    }
}

/// Answer types: converting to the store's type and back is stable after
/// the first time (the first drops what the store's types do not hold).
template <typename Wire> void round_trip_response(std::string_view bytes) {
    GrpcResult<Wire> parsed = parse_message<Wire>(bytes);
    if (!parsed)
        return;
    auto converted = convert_response(*parsed);
    if (!converted)
        return;
    Wire wire;
    to_proto(*converted, &wire);
    auto again = convert_response(wire);
    FUZZ_CHECK(again.has_value());
    Wire wire_again;
    to_proto(*again, &wire_again);
    FUZZ_CHECK(wire.SerializeAsString() == wire_again.SerializeAsString());
}

void round_trip_proposal(std::string_view bytes) {
    GrpcResult<InternalRequest> request = decode_proposal(bytes);
    if (!request)
        return;
    GrpcResult<std::string> encoded = encode_proposal(*request, Limits{});
    if (!encoded)
        return;
    GrpcResult<InternalRequest> again = decode_proposal(*encoded);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->SerializeAsString() == *encoded);
    if (request->has_txn())
        (void)to_mvcc(request->txn(), Limits{});
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 11) {
    case 0:
        round_trip_request<etcdserverpb::RangeRequest>(bytes);
        break;
    case 1:
        round_trip_request<etcdserverpb::PutRequest>(bytes);
        break;
    case 2:
        round_trip_request<etcdserverpb::DeleteRangeRequest>(bytes);
        break;
    case 3:
        round_trip_txn(bytes, Limits{});
        break;
    case 4:
        // A small limit, so nested txns run out of it.
        round_trip_txn(bytes, Limits{.max_txn_ops = 3});
        break;
    case 5:
        round_trip_proposal(bytes);
        break;
    case 6:
        round_trip_response<etcdserverpb::RangeResponse>(bytes);
        break;
    case 7:
        round_trip_response<etcdserverpb::PutResponse>(bytes);
        break;
    case 8:
        round_trip_response<etcdserverpb::DeleteRangeResponse>(bytes);
        break;
    case 9:
        round_trip_response<etcdserverpb::TxnResponse>(bytes);
        break;
    case 10:
        round_trip_response<mvccpb::Event>(bytes);
        break;
    }
    return 0;
}
