// The cluster's reboot lock in the KV: locksmith's semaphore
// (reboot_semaphore.cpp) read from any etcd v3 KV and changed by
// compare-and-swap on the key's mod revision, so that two machines taking
// the last unit at once cannot both get it.
#include "update/update.h"

#include "base/strings.h"
#include "kv/grpc_client.h"
#include "proto/etcd/rpc.pb.h"

namespace keel::update {

namespace {

// A compare-and-swap lost to another machine is read and tried again, this
// many times in all.
constexpr int kMaxAttempts = 20;

Error grpc_error(std::string_view what, const kv::GrpcStatus& status) {
    return Error::message(
        cat(what, ": ", kv::kGrpcCodeNames.name(status.code), ": ", status.message));
}

// The semaphore as the KV holds it, and the key's mod revision (0: no key).
struct StoredSemaphore {
    RebootSemaphore semaphore;
    int64_t mod_revision = 0; // last: no tail padding in a Result
};

Result<StoredSemaphore> read_semaphore(kv::GrpcClient& client, const std::string& key,
                                       std::chrono::milliseconds timeout) {
    etcdserverpb::RangeRequest request;
    request.set_key(key);
    auto reply = client.unary("/etcdserverpb.KV/Range", request.SerializeAsString(), timeout);
    if (!reply)
        return std::unexpected(grpc_error(cat("read ", key), reply.error()));
    etcdserverpb::RangeResponse response;
    if (!response.ParseFromString(*reply))
        return error(cat("read ", key, ": the KV's answer does not parse"));
    StoredSemaphore stored;
    if (response.kvs_size() == 0)
        return stored;
    stored.semaphore =
        TRY_CTX(parse_reboot_semaphore(response.kvs(0).value()), cat("the value of ", key));
    stored.mod_revision = response.kvs(0).mod_revision();
    return stored;
}

// Writes `semaphore` if the key is still at `mod_revision` (0: still
// missing); false when another change came first.
Result<bool> swap_semaphore(kv::GrpcClient& client, const std::string& key, int64_t mod_revision,
                            const RebootSemaphore& semaphore, std::chrono::milliseconds timeout) {
    etcdserverpb::TxnRequest request;
    etcdserverpb::Compare* compare = request.add_compare();
    compare->set_key(key);
    compare->set_result(etcdserverpb::Compare::EQUAL);
    if (mod_revision == 0) {
        compare->set_target(etcdserverpb::Compare::VERSION);
        compare->set_version(0);
    } else {
        compare->set_target(etcdserverpb::Compare::MOD);
        compare->set_mod_revision(mod_revision);
    }
    etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(encode_reboot_semaphore(semaphore));
    auto reply = client.unary("/etcdserverpb.KV/Txn", request.SerializeAsString(), timeout);
    if (!reply)
        return std::unexpected(grpc_error(cat("write ", key), reply.error()));
    etcdserverpb::TxnResponse response;
    if (!response.ParseFromString(*reply))
        return error(cat("write ", key, ": the KV's answer does not parse"));
    return response.succeeded();
}

} // namespace

Result<RebootSemaphore> reboot_lock_status(const RebootLockOptions& options) {
    auto client = TRY(kv::GrpcClient::connect(options.endpoint));
    StoredSemaphore stored =
        TRY(read_semaphore(*client, reboot_lock_key(options.group), options.timeout));
    return stored.semaphore;
}

Result<RebootSemaphore> change_reboot_lock(const RebootLockOptions& options,
                                           RebootLockChange change, std::string_view holder,
                                           int64_t max) {
    auto client = TRY(kv::GrpcClient::connect(options.endpoint));
    std::string key = reboot_lock_key(options.group);
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        StoredSemaphore stored = TRY(read_semaphore(*client, key, options.timeout));
        RebootSemaphore next;
        switch (change) {
        case RebootLockChange::Take:
            next = TRY(take_reboot_lock(stored.semaphore, holder));
            break;
        case RebootLockChange::Release:
            next = release_reboot_lock(stored.semaphore, holder);
            break;
        case RebootLockChange::SetMax:
            next = TRY(set_reboot_lock_max(stored.semaphore, max));
            break;
        }
        bool unchanged = next.semaphore == stored.semaphore.semaphore &&
                         next.max == stored.semaphore.max &&
                         next.holders == stored.semaphore.holders;
        if (unchanged && stored.mod_revision != 0)
            return next;
        if (TRY(swap_semaphore(*client, key, stored.mod_revision, next, options.timeout)))
            return next;
    }
    return error(cat(key, ": changed by others ", kMaxAttempts,
                     " times while this change was "
                     "tried; try again"));
}

} // namespace keel::update
