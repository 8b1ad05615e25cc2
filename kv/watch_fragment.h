// Watch fragments (WatchCreateRequest.fragment): a WatchResponse larger
// than the server's limit is sent as several, each with as many whole
// events as fit, fragment=true on all but the last, and clientv3 joins them
// back into one. Cut as etcd 3.4 cuts them, so clients see the same pieces.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace etcdserverpb {
class WatchResponse;
}

namespace keel::kv {

/// `response` serialized as one message, or as fragments when it is at
/// least `max_bytes` long and has two events or more: each fragment takes
/// events while it stays below `max_bytes` (a single event larger than that
/// goes alone), and every fragment but the last says fragment=true.
std::vector<std::string> fragment_watch_response(const etcdserverpb::WatchResponse& response,
                                                 size_t max_bytes);

} // namespace keel::kv
