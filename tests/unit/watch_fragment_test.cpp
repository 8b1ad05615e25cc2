// Watch fragments: a large WatchResponse cut into pieces as etcd cuts it.
#include "kv/watch_fragment.h"
#include "proto/etcd/rpc.pb.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

etcdserverpb::WatchResponse response_with(int events, size_t value_bytes) {
    etcdserverpb::WatchResponse response;
    response.set_watch_id(3);
    response.mutable_header()->set_revision(42);
    for (int i = 0; i < events; ++i) {
        auto* kv = response.add_events()->mutable_kv();
        kv->set_key("key" + std::to_string(i));
        kv->set_value(std::string(value_bytes, 'v'));
        kv->set_mod_revision(42);
    }
    return response;
}

std::vector<etcdserverpb::WatchResponse>
parsed_responses(const std::vector<std::string>& messages) {
    std::vector<etcdserverpb::WatchResponse> out;
    for (const std::string& bytes : messages) {
        etcdserverpb::WatchResponse response;
        REQUIRE(response.ParseFromString(bytes));
        out.push_back(response);
    }
    return out;
}

} // namespace

TEST_CASE("a watch response below the limit goes whole, without the fragment flag") {
    auto pieces = parsed_responses(fragment_watch_response(response_with(3, 100), 10000));
    REQUIRE(pieces.size() == 1);
    CHECK_FALSE(pieces[0].fragment());
    CHECK(pieces[0].events_size() == 3);
}

TEST_CASE("a large watch response is cut into fragments that join back into every event") {
    auto whole = response_with(10, 1000);
    auto pieces = parsed_responses(fragment_watch_response(whole, 3000));
    REQUIRE(pieces.size() > 1);
    int events = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
        CHECK(pieces[i].fragment() == (i + 1 < pieces.size()));
        CHECK(pieces[i].watch_id() == 3);
        CHECK(pieces[i].header().revision() == 42);
        CHECK(pieces[i].ByteSizeLong() < 3000);
        for (const auto& event : pieces[i].events())
            CHECK(event.kv().key() == "key" + std::to_string(events++));
    }
    CHECK(events == 10);
}

TEST_CASE("an event larger than the limit goes alone, and a single event is never cut") {
    auto pieces = parsed_responses(fragment_watch_response(response_with(3, 5000), 3000));
    REQUIRE(pieces.size() == 3);
    CHECK(pieces[0].fragment());
    CHECK(pieces[1].fragment());
    CHECK_FALSE(pieces[2].fragment());
    auto single = parsed_responses(fragment_watch_response(response_with(1, 5000), 3000));
    REQUIRE(single.size() == 1);
    CHECK_FALSE(single[0].fragment());
}

TEST_CASE("a response with no events is sent as it is") {
    etcdserverpb::WatchResponse progress;
    progress.set_watch_id(1);
    auto pieces = parsed_responses(fragment_watch_response(progress, 1));
    REQUIRE(pieces.size() == 1);
    CHECK_FALSE(pieces[0].fragment());
}
