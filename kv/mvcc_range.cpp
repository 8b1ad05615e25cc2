// Range reads of the MVCC store (kv/mvcc_state.h's read_range): revision
// checks, counting, limit + more, the min/max filters, sorting and
// keys_only, in the order etcd's server applies them.
#include "kv/mvcc_state.h"

#include <algorithm>

namespace keel::kv {

namespace {

/// <0, 0, >0 as `a`'s sort target is below, equal to or above `b`'s.
int compare_by(SortTarget target, const KeyValue& a, const KeyValue& b) {
    auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
    switch (target) {
    case SortTarget::Key:
        return three_way(a.key, b.key);
    case SortTarget::Version:
        return three_way(a.version, b.version);
    case SortTarget::Create:
        return three_way(a.create_revision, b.create_revision);
    case SortTarget::Mod:
        return three_way(a.mod_revision, b.mod_revision);
    case SortTarget::Value:
        return three_way(a.value, b.value);
    }
    return 0;
}

} // namespace

Result<KeyValue> ReadView::read(Revision revision) const {
    std::string key = record_key(revision, RecordKind::Put);
    if (pending) {
        auto found = pending->find(key);
        if (found != pending->end())
            return decode_key_value(found->second);
    }
    std::optional<std::string> bytes = TRY(backend.get(key));
    if (!bytes)
        return error("the record of revision " + std::to_string(revision.main) + "." +
                     std::to_string(revision.sub) + " is missing from the backend");
    return TRY_CTX(decode_key_value(*bytes), "the record of revision " +
                                                 std::to_string(revision.main) + "." +
                                                 std::to_string(revision.sub));
}

bool range_holds(std::string_view key, std::string_view range_end, std::string_view candidate) {
    if (range_end.empty())
        return candidate == key;
    if (candidate < key)
        return false;
    return range_end == std::string_view("\0", 1) || candidate < range_end;
}

Result<RangeResponse> read_range(const ReadView& view, const RangeRequest& request) {
    if (request.revision > view.revision)
        return future_revision_error();
    int64_t at = request.revision <= 0 ? view.revision : request.revision;
    if (at < view.compact_revision)
        return compacted_error();

    std::vector<Revision> visible;
    for_each_in_range(view.index, request.key, request.range_end,
                      [&](const std::string&, const KeyHistory& history) {
                          if (std::optional<Revision> revision = history.visible_at(at))
                              visible.push_back(*revision);
                      });
    RangeResponse response;
    response.revision = view.revision;
    response.count = int64_t(visible.size());
    if (request.count_only)
        return response;

    bool filtered = request.min_mod_revision != 0 || request.max_mod_revision != 0 ||
                    request.min_create_revision != 0 || request.max_create_revision != 0;
    // As etcd: sorting or filtering needs every kv; otherwise one past the
    // limit is enough to tell whether there are more.
    size_t wanted = visible.size();
    if (request.limit > 0 && request.sort_order == SortOrder::None && !filtered)
        wanted = std::min(wanted, size_t(request.limit) + 1);
    response.kvs.reserve(wanted);
    for (size_t i = 0; i < wanted; ++i)
        response.kvs.push_back(TRY(view.read(visible[i])));

    if (filtered) {
        std::erase_if(response.kvs, [&](const KeyValue& kv) {
            return (request.max_mod_revision != 0 && kv.mod_revision > request.max_mod_revision) ||
                   (request.min_mod_revision != 0 && kv.mod_revision < request.min_mod_revision) ||
                   (request.max_create_revision != 0 &&
                    kv.create_revision > request.max_create_revision) ||
                   (request.min_create_revision != 0 &&
                    kv.create_revision < request.min_create_revision);
        });
    }

    // Results come in key order; a target other than the key sorts
    // ascending unless told otherwise (etcd's rule).
    SortOrder order = request.sort_order;
    if (request.sort_target != SortTarget::Key && order == SortOrder::None)
        order = SortOrder::Ascend;
    if (order == SortOrder::Ascend && request.sort_target != SortTarget::Key)
        std::stable_sort(response.kvs.begin(), response.kvs.end(),
                         [&](const KeyValue& a, const KeyValue& b) {
                             return compare_by(request.sort_target, a, b) < 0;
                         });
    else if (order == SortOrder::Descend)
        std::stable_sort(response.kvs.begin(), response.kvs.end(),
                         [&](const KeyValue& a, const KeyValue& b) {
                             return compare_by(request.sort_target, a, b) > 0;
                         });

    if (request.limit > 0 && int64_t(response.kvs.size()) > request.limit) {
        response.kvs.resize(size_t(request.limit));
        response.more = true;
    }
    if (request.keys_only)
        for (KeyValue& kv : response.kvs)
            kv.value.clear();
    return response;
}

} // namespace keel::kv
