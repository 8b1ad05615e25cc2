// Helpers for the MVCC store's tests: a store on the in-memory backend and
// one-line puts, deletes and reads that fail the test on an error, and the
// operations of a txn.
#pragma once

#include "kv/mvcc.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace keel::testing {

inline std::unique_ptr<kv::MvccStore> open_memory_store() {
    auto store = kv::MvccStore::open(kv::make_memory_backend());
    REQUIRE_MESSAGE(store, (store ? std::string() : store.error().to_string()));
    return std::move(*store);
}

inline kv::Written<kv::PutResponse> put(kv::MvccStore& store, std::string key, std::string value,
                                        int64_t lease = 0) {
    kv::PutRequest request;
    request.key = std::move(key);
    request.value = std::move(value);
    request.lease = lease;
    request.prev_kv = true;
    auto written = store.put(request);
    REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
    return std::move(*written);
}

inline kv::Written<kv::DeleteRangeResponse> remove(kv::MvccStore& store, std::string key,
                                                   std::string range_end = {}) {
    kv::DeleteRangeRequest request;
    request.key = std::move(key);
    request.range_end = std::move(range_end);
    request.prev_kv = true;
    auto written = store.delete_range(request);
    REQUIRE_MESSAGE(written, (written ? std::string() : written.error().to_string()));
    return std::move(*written);
}

inline kv::RangeResponse read(const kv::MvccStore& store, kv::RangeRequest request) {
    auto response = store.range(request);
    REQUIRE_MESSAGE(response, (response ? std::string() : response.error().to_string()));
    return std::move(*response);
}

/// The key `key` alone, at `revision` (0 = now).
inline std::optional<kv::KeyValue> get(const kv::MvccStore& store, std::string key,
                                       int64_t revision = 0) {
    kv::RangeRequest request;
    request.key = std::move(key);
    request.revision = revision;
    kv::RangeResponse response = read(store, request);
    if (response.kvs.empty())
        return std::nullopt;
    return response.kvs.front();
}

/// The keys a range returned, in order.
inline std::vector<std::string> keys(const kv::RangeResponse& response) {
    std::vector<std::string> out;
    for (const kv::KeyValue& kv : response.kvs)
        out.push_back(kv.key);
    return out;
}

/// The operations of a txn: a put (with a lease, when not 0), a delete of
/// `key` or of [key, range_end), and a read of `key`.
inline kv::RequestOp put_op(std::string key, std::string value, int64_t lease = 0) {
    kv::PutRequest request;
    request.key = std::move(key);
    request.value = std::move(value);
    request.lease = lease;
    return kv::RequestOp{request};
}

inline kv::RequestOp delete_op(std::string key, std::string range_end = {}) {
    kv::DeleteRangeRequest request;
    request.key = std::move(key);
    request.range_end = std::move(range_end);
    return kv::RequestOp{request};
}

inline kv::RequestOp range_op(std::string key) {
    kv::RangeRequest request;
    request.key = std::move(key);
    return kv::RequestOp{request};
}

} // namespace keel::testing
