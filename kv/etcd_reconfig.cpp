// etcd's strict reconfiguration check: counting the voters this member has
// been connected to long enough, as etcd's numConnectedSince does.
#include "kv/etcd_reconfig.h"

namespace keel::kv {

namespace {

// The voters (self included) connected since the health interval began.
size_t connected_voters(const ReconfigView& view) {
    auto since = view.now - kReconfigHealthInterval;
    size_t connected = 0;
    for (NodeId id : view.voters) {
        if (id == view.self) {
            ++connected;
            continue;
        }
        auto up = view.connected_since(id);
        if (up && *up <= since)
            ++connected;
    }
    return connected;
}

} // namespace

bool may_add_voter(const ReconfigView& view) {
    return connected_voters(view) == view.voters.size();
}

bool may_remove_voter(const ReconfigView& view, NodeId removed) {
    if (removed != view.self && !view.connected_since(removed))
        return true;
    if (view.voters.empty())
        return true;
    size_t quorum = 1 + (view.voters.size() - 1) / 2;
    return connected_voters(view) >= quorum + 1;
}

} // namespace keel::kv
