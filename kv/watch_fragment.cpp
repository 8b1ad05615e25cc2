// Splitting a WatchResponse into fragments (etcd's sendFragments).
#include "kv/watch_fragment.h"

#include "proto/etcd/rpc.pb.h"

namespace keel::kv {

std::vector<std::string> fragment_watch_response(const etcdserverpb::WatchResponse& response,
                                                 size_t max_bytes) {
    if (response.ByteSizeLong() < max_bytes || response.events_size() < 2)
        return {response.SerializeAsString()};
    etcdserverpb::WatchResponse empty = response;
    empty.clear_events();
    empty.set_fragment(true);
    std::vector<std::string> out;
    int next = 0;
    while (next < response.events_size()) {
        etcdserverpb::WatchResponse piece = empty;
        // Adds events while the piece stays below the limit; the one that
        // takes it there starts the next piece, unless it is alone.
        while (next < response.events_size()) {
            *piece.add_events() = response.events(next);
            if (piece.events_size() > 1 && piece.ByteSizeLong() >= max_bytes) {
                piece.mutable_events()->RemoveLast();
                break;
            }
            ++next;
        }
        if (next == response.events_size())
            piece.set_fragment(false);
        out.push_back(piece.SerializeAsString());
    }
    return out;
}

} // namespace keel::kv
