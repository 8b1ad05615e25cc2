// Tests for etcd's checks of a KV request (kv/etcd_check.cpp): each refusal
// with etcd's exact code and text, the txn size limit as nested txns share
// it, and the duplicate-key rules of a txn's branches.
#include "kv/etcd_convert.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

namespace {

etcdserverpb::RequestOp etcd_put_op(const std::string& key) {
    etcdserverpb::RequestOp op;
    op.mutable_request_put()->set_key(key);
    op.mutable_request_put()->set_value("v");
    return op;
}

etcdserverpb::RequestOp etcd_delete_op(const std::string& key, const std::string& range_end = "") {
    etcdserverpb::RequestOp op;
    op.mutable_request_delete_range()->set_key(key);
    op.mutable_request_delete_range()->set_range_end(range_end);
    return op;
}

etcdserverpb::RequestOp etcd_range_op(const std::string& key) {
    etcdserverpb::RequestOp op;
    op.mutable_request_range()->set_key(key);
    return op;
}

etcdserverpb::RequestOp txn_op(std::vector<etcdserverpb::RequestOp> success,
                               std::vector<etcdserverpb::RequestOp> failure = {}) {
    etcdserverpb::RequestOp op;
    op.mutable_request_txn(); // set, even when both branches are empty
    for (auto& request : success)
        *op.mutable_request_txn()->add_success() = std::move(request);
    for (auto& request : failure)
        *op.mutable_request_txn()->add_failure() = std::move(request);
    return op;
}

etcdserverpb::TxnRequest txn(std::vector<etcdserverpb::RequestOp> success,
                             std::vector<etcdserverpb::RequestOp> failure = {}) {
    etcdserverpb::TxnRequest request;
    for (auto& op : success)
        *request.add_success() = std::move(op);
    for (auto& op : failure)
        *request.add_failure() = std::move(op);
    return request;
}

GrpcStatus check_txn(const etcdserverpb::TxnRequest& request, size_t max_txn_ops = 128) {
    return check_request(request, Limits{.max_txn_ops = max_txn_ops});
}

const GrpcStatus kOk{};

} // namespace

TEST_CASE("a range, put or delete without a key is refused as etcd refuses it") {
    GrpcStatus empty_key{GrpcCode::InvalidArgument, "etcdserver: key is not provided"};
    CHECK(check_request(etcdserverpb::RangeRequest{}) == empty_key);
    CHECK(check_request(etcdserverpb::PutRequest{}) == empty_key);
    CHECK(check_request(etcdserverpb::DeleteRangeRequest{}) == empty_key);
    CHECK(to_mvcc(etcdserverpb::RangeRequest{}).error() == empty_key);
    CHECK(to_mvcc(etcdserverpb::PutRequest{}).error() == empty_key);
    CHECK(to_mvcc(etcdserverpb::DeleteRangeRequest{}).error() == empty_key);
}

TEST_CASE("a range with a sort order or target etcd does not know is an invalid sort option") {
    GrpcStatus invalid{GrpcCode::InvalidArgument, "etcdserver: invalid sort option"};
    etcdserverpb::RangeRequest request;
    request.set_key("a");
    request.set_sort_order(etcdserverpb::RangeRequest_SortOrder(3));
    CHECK(check_request(request) == invalid);
    request.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
    request.set_sort_target(etcdserverpb::RangeRequest_SortTarget(5));
    CHECK(check_request(request) == invalid);
    request.set_sort_target(etcdserverpb::RangeRequest_SortTarget(-1));
    CHECK(check_request(request) == invalid);
    request.set_sort_target(etcdserverpb::RangeRequest::VALUE);
    CHECK(check_request(request) == kOk);
}

TEST_CASE("a put that keeps the value or lease but names one is refused") {
    etcdserverpb::PutRequest request;
    request.set_key("a");
    request.set_ignore_value(true);
    CHECK(check_request(request) == kOk);
    request.set_value("v");
    CHECK(check_request(request) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: value is provided"});
    request.clear_value();
    request.set_ignore_lease(true);
    request.set_lease(7);
    CHECK(check_request(request) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: lease is provided"});
}

TEST_CASE("a txn with more compares or operations than --max-txn-ops is refused") {
    GrpcStatus too_many{GrpcCode::InvalidArgument,
                        "etcdserver: too many operations in txn request"};
    CHECK(check_txn(txn({etcd_put_op("a"), etcd_put_op("b")}), 2) == kOk);
    CHECK(check_txn(txn({etcd_put_op("a"), etcd_put_op("b"), etcd_put_op("c")}), 2) == too_many);
    CHECK(check_txn(txn({}, {etcd_range_op("a"), etcd_range_op("b"), etcd_range_op("c")}), 2) ==
          too_many);
    etcdserverpb::TxnRequest compares = txn({});
    for (const char* key : {"a", "b", "c"})
        compares.add_compare()->set_key(key);
    CHECK(check_txn(compares, 2) == too_many);
    // The default is etcd's: 128.
    etcdserverpb::TxnRequest big;
    for (int i = 0; i < 129; ++i)
        *big.add_success() = etcd_range_op("k");
    CHECK(check_txn(big) == too_many);
    big.mutable_success()->RemoveLast();
    CHECK(check_txn(big) == kOk);
}

TEST_CASE("a nested txn may hold only what its parent leaves of the limit") {
    GrpcStatus too_many{GrpcCode::InvalidArgument,
                        "etcdserver: too many operations in txn request"};
    // The parent's longest list is 2 of 3: a nested txn may hold 1.
    CHECK(check_txn(txn({etcd_range_op("a"), txn_op({etcd_range_op("b")})}), 3) == kOk);
    CHECK(check_txn(txn({etcd_range_op("a"), txn_op({etcd_range_op("b"), etcd_range_op("c")})}),
                    3) == too_many);
    // A parent at the limit leaves nothing, though an empty nested txn is fine.
    CHECK(check_txn(txn({etcd_range_op("a"), txn_op({})}), 2) == kOk);
    CHECK(check_txn(txn({etcd_range_op("a"), txn_op({etcd_range_op("b")})}), 2) == too_many);
}

TEST_CASE("a txn whose compare or operation has no key is refused, nested ones too") {
    GrpcStatus empty_key{GrpcCode::InvalidArgument, "etcdserver: key is not provided"};
    etcdserverpb::TxnRequest request = txn({etcd_put_op("a")});
    request.add_compare();
    CHECK(check_txn(request) == empty_key);
    CHECK(check_txn(txn({etcd_put_op("")})) == empty_key);
    CHECK(check_txn(txn({}, {etcd_delete_op("")})) == empty_key);
    CHECK(check_txn(txn({txn_op({etcd_range_op("")})})) == empty_key);
    CHECK(to_mvcc(txn({etcd_put_op("")}), Limits{}).error() == empty_key);
}

TEST_CASE("an empty operation in a txn is answered with etcd's `key not found`") {
    etcdserverpb::TxnRequest request = txn({etcd_put_op("a")});
    request.add_success();
    CHECK(check_txn(request) == GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: key not found"});
}

TEST_CASE("a txn's operations get their own checks") {
    etcdserverpb::RequestOp put = etcd_put_op("a");
    put.mutable_request_put()->set_ignore_value(true);
    CHECK(check_txn(txn({put})) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: value is provided"});
    etcdserverpb::RequestOp range = etcd_range_op("a");
    range.mutable_request_range()->set_sort_order(etcdserverpb::RangeRequest_SortOrder(9));
    CHECK(check_txn(txn({}, {range})) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: invalid sort option"});
}

TEST_CASE("a compare with an unknown result or target is refused") {
    etcdserverpb::TxnRequest request = txn({});
    etcdserverpb::Compare* compare = request.add_compare();
    compare->set_key("a");
    compare->set_result(etcdserverpb::Compare_CompareResult(4));
    CHECK(check_txn(request).code == GrpcCode::InvalidArgument);
    compare->set_result(etcdserverpb::Compare::LESS);
    compare->set_target(etcdserverpb::Compare_CompareTarget(5));
    CHECK(check_txn(request).code == GrpcCode::InvalidArgument);
    compare->set_target(etcdserverpb::Compare::LEASE);
    CHECK(check_txn(request) == kOk);
}

TEST_CASE("a txn branch that writes a key twice is refused as a duplicate key") {
    GrpcStatus duplicate{GrpcCode::InvalidArgument,
                         "etcdserver: duplicate key given in txn request"};
    CHECK(check_txn(txn({etcd_put_op("a"), etcd_put_op("a")})) == duplicate);
    CHECK(check_txn(txn({}, {etcd_put_op("a"), etcd_put_op("a")})) == duplicate);
    CHECK(check_txn(txn({etcd_put_op("a"), etcd_delete_op("a")})) == duplicate);
    CHECK(check_txn(txn({etcd_delete_op("a", "c"), etcd_put_op("b")})) == duplicate);
    CHECK(check_txn(txn({etcd_put_op("a"), txn_op({etcd_put_op("a")})})) == duplicate);
    CHECK(check_txn(txn({etcd_delete_op("a"), txn_op({}, {etcd_put_op("a")})})) == duplicate);
    CHECK(check_txn(txn({txn_op({etcd_delete_op("a")}), etcd_put_op("a")})) == duplicate);
    CHECK(to_mvcc(txn({etcd_put_op("a"), etcd_put_op("a")}), Limits{}).error() == duplicate);
}

TEST_CASE("what etcd lets a txn write more than once is accepted") {
    // One key in each branch: only one of them runs.
    CHECK(check_txn(txn({etcd_put_op("a")}, {etcd_put_op("a")})) == kOk);
    // The two branches of a nested txn.
    CHECK(check_txn(txn({txn_op({etcd_put_op("a")}, {etcd_put_op("a")})})) == kOk);
    // Deleting twice, and reading what is written.
    CHECK(check_txn(txn({etcd_delete_op("a"), etcd_delete_op("a"), etcd_range_op("a")})) == kOk);
    // A delete range ends before its end, and "\0" marks no range here.
    CHECK(check_txn(txn({etcd_delete_op("a", "c"), etcd_put_op("c")})) == kOk);
    CHECK(check_txn(txn({etcd_delete_op("a", std::string(1, '\0')), etcd_put_op("b")})) == kOk);
}
