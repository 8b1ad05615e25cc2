// Tests for the in-memory Backend (kv/memory_backend.cpp): ordered scans
// with bounds and early stop, puts and deletes in one commit.
#include "kv/mvcc_backend.h"

#include <doctest/doctest.h>

using namespace keel::kv;

TEST_CASE("the memory backend scans in byte order within bounds and stops when told") {
    auto backend = make_memory_backend();
    std::vector<BackendWrite> writes = {{BackendWrite::Kind::Put, "b", "2"},
                                        {BackendWrite::Kind::Put, "a", "1"},
                                        {BackendWrite::Kind::Put, "\xff", "3"},
                                        {BackendWrite::Kind::Put, "c", "4"},
                                        {BackendWrite::Kind::Delete, "c", ""}};
    REQUIRE(backend->commit(writes));
    std::string seen;
    REQUIRE(backend->scan("a", "", [&](std::string_view key, std::string_view) {
        seen += key;
        return ScanStep::Continue;
    }));
    CHECK(seen == "ab\xff");
    seen.clear();
    REQUIRE(backend->scan("b", "c", [&](std::string_view key, std::string_view) {
        seen += key;
        return ScanStep::Continue;
    }));
    CHECK(seen == "b");
    seen.clear();
    REQUIRE(backend->scan("", "", [&](std::string_view key, std::string_view) {
        seen += key;
        return ScanStep::Stop;
    }));
    CHECK(seen == "a");
    CHECK_FALSE(*backend->get("c"));
    CHECK(**backend->get("b") == "2");
}
