// Transactions of the MVCC store (MvccStore::txn): etcd's refusal of a
// branch that writes one key twice, the compares (all evaluated against the
// store as the txn begins, nested ones included, as etcd does), the checks of
// the chosen operations before anything changes, and their application as
// one revision.
#include "kv/mvcc_state.h"

namespace keel::kv {

namespace {

std::unexpected<Error> duplicate_key_error() {
    return std::unexpected(Error::from_code(ErrorCode::DuplicateKey,
                                            "etcdserver: duplicate key given in txn request"));
}

/// A delete's key interval as etcd's duplicate check sees it: [key,
/// range_end) compared as plain bytes, a point when range_end is empty.
/// (So a range_end of "\0" holds nothing here, exactly as in etcd.)
struct DeleteInterval {
    std::string key;
    std::string range_end;

    bool holds(std::string_view candidate) const {
        if (range_end.empty())
            return candidate == key;
        return key <= candidate && candidate < range_end;
    }
};

struct BranchWrites {
    std::set<std::string, std::less<>> puts;
    std::vector<DeleteInterval> deletes;

    bool deletes_hold(std::string_view key) const {
        for (const DeleteInterval& interval : deletes)
            if (interval.holds(key))
                return true;
        return false;
    }
};

/// etcd's checkIntervals: within one branch a key is put at most once and
/// never also deleted; the two branches of a nested txn may put the same
/// key (only one of them runs).
Result<BranchWrites> check_branch(const std::vector<RequestOp>& ops) {
    BranchWrites level;
    for (const RequestOp& op : ops)
        if (auto* remove = std::get_if<DeleteRangeRequest>(&op.request))
            level.deletes.push_back({remove->key, remove->range_end});
    for (const RequestOp& op : ops) {
        auto* nested = std::get_if<TxnRequest>(&op.request);
        if (!nested)
            continue;
        BranchWrites then_writes = TRY(check_branch(nested->success));
        BranchWrites else_writes = TRY(check_branch(nested->failure));
        for (const std::string& key : then_writes.puts) {
            if (level.puts.contains(key) || level.deletes_hold(key))
                return duplicate_key_error();
            level.puts.insert(key);
        }
        for (const std::string& key : else_writes.puts) {
            if (level.puts.contains(key) && !then_writes.puts.contains(key))
                return duplicate_key_error();
            if (level.deletes_hold(key))
                return duplicate_key_error();
            level.puts.insert(key);
        }
        level.deletes.insert(level.deletes.end(), then_writes.deletes.begin(),
                             then_writes.deletes.end());
        level.deletes.insert(level.deletes.end(), else_writes.deletes.begin(),
                             else_writes.deletes.end());
    }
    for (const RequestOp& op : ops) {
        auto* put = std::get_if<PutRequest>(&op.request);
        if (!put)
            continue;
        if (level.puts.contains(put->key) || level.deletes_hold(put->key))
            return duplicate_key_error();
        level.puts.insert(put->key);
    }
    return level;
}

/// etcd's compareKV on one key-value (all zero for a missing key).
bool compare_holds(const Compare& compare, const KeyValue& kv) {
    auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
    int result = 0;
    switch (compare.target) {
    case CompareTarget::Value:
        result = three_way(std::string_view(kv.value), std::string_view(compare.value));
        break;
    case CompareTarget::Create:
        result = three_way(kv.create_revision, compare.number);
        break;
    case CompareTarget::Mod:
        result = three_way(kv.mod_revision, compare.number);
        break;
    case CompareTarget::Version:
        result = three_way(kv.version, compare.number);
        break;
    case CompareTarget::Lease:
        result = three_way(kv.lease, compare.number);
        break;
    }
    switch (compare.result) {
    case CompareResult::Equal:
        return result == 0;
    case CompareResult::NotEqual:
        return result != 0;
    case CompareResult::Greater:
        return result > 0;
    case CompareResult::Less:
        return result < 0;
    }
    return true;
}

/// A compare over its key or range: every key must satisfy it; no key
/// compares as a zero key-value, except that a Value compare then fails
/// (a missing value cannot be told from an empty one).
Result<bool> evaluate(const ReadView& view, const Compare& compare) {
    RangeRequest request;
    request.key = compare.key;
    request.range_end = compare.range_end;
    RangeResponse found = TRY(read_range(view, request));
    if (found.kvs.empty())
        return compare.target != CompareTarget::Value && compare_holds(compare, KeyValue{});
    for (const KeyValue& kv : found.kvs)
        if (!compare_holds(compare, kv))
            return false;
    return true;
}

/// etcd's compareToPath: the outcome of this txn's compares and of every
/// nested txn on the chosen branches, in pre-order, all against `view`.
Result<void> choose_path(const ReadView& view, const TxnRequest& txn, std::vector<bool>& path) {
    bool succeeded = true;
    for (const Compare& compare : txn.compare)
        if (!TRY(evaluate(view, compare))) {
            succeeded = false;
            break;
        }
    path.push_back(succeeded);
    for (const RequestOp& op : succeeded ? txn.success : txn.failure)
        if (auto* nested = std::get_if<TxnRequest>(&op.request))
            TRY(choose_path(view, *nested, path));
    return {};
}

/// etcd's checkRequests: the chosen operations that would fail, fail before
/// anything changes.
Result<void> check_ops(const ReadView& view, const TxnRequest& txn, const std::vector<bool>& path,
                       size_t& step) {
    bool succeeded = path[step++];
    for (const RequestOp& op : succeeded ? txn.success : txn.failure) {
        if (auto* range = std::get_if<RangeRequest>(&op.request)) {
            if (range->revision > view.revision)
                return future_revision_error();
            // etcd compares with its first revision, -1 before any
            // compaction: so a negative revision in a txn is refused too.
            int64_t first = view.compact_revision == 0 ? -1 : view.compact_revision;
            if (range->revision != 0 && range->revision < first)
                return compacted_error();
        } else if (auto* put = std::get_if<PutRequest>(&op.request)) {
            if (put->ignore_value || put->ignore_lease) {
                auto found = view.index.find(put->key);
                if (found == view.index.end() || !found->second.current())
                    return std::unexpected(
                        Error::from_code(ErrorCode::KeyNotFound, "etcdserver: key not found"));
            }
        } else if (auto* nested = std::get_if<TxnRequest>(&op.request)) {
            TRY(check_ops(view, *nested, path, step));
        }
    }
    return {};
}

} // namespace

namespace {

/// Every answer in a txn, nested ones too, reports the revision the txn
/// ends at.
void set_revision(TxnResponse& response, int64_t revision) {
    response.revision = revision;
    for (ResponseOp& answer : response.responses) {
        if (auto* nested = std::get_if<TxnResponse>(&answer.response))
            set_revision(*nested, revision);
        else
            std::visit([&](auto& inner) { inner.revision = revision; }, answer.response);
    }
}

} // namespace

Result<Written<TxnResponse>> MvccStore::txn(const TxnRequest& request, Index applied) {
    TRY(check_branch(request.success));
    TRY(check_branch(request.failure));
    WriteTxn write(*this);
    std::vector<bool> path;
    TRY(choose_path(write.view(), request, path));
    size_t step = 0;
    TRY(check_ops(write.view(), request, path, step));
    step = 0;
    TxnResponse response = TRY(apply_ops(write, request, path, step));
    TRY(write.commit(applied));
    set_revision(response, write.revision_after());
    return Written<TxnResponse>{std::move(response), write.take_events()};
}

Result<TxnResponse> MvccStore::apply_ops(WriteTxn& write, const TxnRequest& txn,
                                         const std::vector<bool>& path, size_t& step) {
    TxnResponse response;
    response.succeeded = path[step++];
    for (const RequestOp& op : response.succeeded ? txn.success : txn.failure) {
        ResponseOp answer;
        if (auto* range = std::get_if<RangeRequest>(&op.request))
            answer.response = TRY(read_range(write.view(), *range));
        else if (auto* put = std::get_if<PutRequest>(&op.request))
            answer.response = TRY(write.put(*put));
        else if (auto* remove = std::get_if<DeleteRangeRequest>(&op.request))
            answer.response = TRY(write.delete_range(*remove));
        else if (auto* nested = std::get_if<TxnRequest>(&op.request))
            answer.response = TRY(apply_ops(write, *nested, path, step));
        response.responses.push_back(std::move(answer));
    }
    return response;
}

} // namespace keel::kv
