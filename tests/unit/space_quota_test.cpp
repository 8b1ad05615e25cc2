// The space quota's estimates (etcd's) and its check.
#include "kv/space_quota.h"
#include "proto/etcd/rpc.pb.h"

#include <doctest/doctest.h>

using namespace keel::kv;

TEST_CASE("a put is estimated at its key and value plus etcd's 256 bytes") {
    etcdserverpb::PutRequest put;
    put.set_key("key");
    put.set_value(std::string(1000, 'v'));
    CHECK(quota_cost(put) == 3 + 1000 + 256);
}

TEST_CASE("a txn is estimated at its costlier branch's puts, nested txns and deletes not counted") {
    etcdserverpb::TxnRequest txn;
    CHECK(quota_cost(txn) == 0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key("a");
    put->set_value("12345");
    txn.add_success()->mutable_request_delete_range()->set_key("b");
    auto* nested = txn.add_failure()->mutable_request_txn();
    auto* nested_put = nested->add_success()->mutable_request_put();
    nested_put->set_key("c");
    nested_put->set_value(std::string(5000, 'x'));
    CHECK(quota_cost(txn) == 1 + 5 + 256);
    auto* bigger = txn.add_failure()->mutable_request_put();
    bigger->set_key("d");
    bigger->set_value(std::string(100, 'y'));
    CHECK(quota_cost(txn) == 1 + 100 + 256);
}

TEST_CASE("a write fits only while the store stays below the quota; a free request always fits") {
    CHECK(quota_admits(1000, 100, 2000));
    CHECK_FALSE(quota_admits(1900, 100, 2000)); // reaching the quota is already too much
    CHECK_FALSE(quota_admits(5000, lease_grant_quota_cost(), 2000));
    CHECK(quota_admits(5000, 0, 2000));
    CHECK(lease_grant_quota_cost() == 64);
}
