// Tests for kv/mvcc_snapshot.h: a snapshot parses back to its entries, and
// malformed snapshots (cut, damaged, reordered, trailing bytes) are refused
// with the offset.
#include "kv/mvcc_snapshot.h"

#include <doctest/doctest.h>

using namespace keel::kv;

namespace {

std::string two_entries() {
    std::string out = begin_snapshot();
    append_snapshot_entry(out, "a", "1");
    append_snapshot_entry(out, "b", std::string(300, 'x'));
    end_snapshot(out);
    return out;
}

} // namespace

TEST_CASE("a snapshot parses back to its entries in order") {
    auto writes = parse_snapshot(two_entries());
    REQUIRE(writes);
    REQUIRE(writes->size() == 2);
    CHECK((*writes)[0].key == "a");
    CHECK((*writes)[1].value.size() == 300);
}

TEST_CASE("every cut of a snapshot is refused") {
    std::string whole = two_entries();
    for (size_t size = 0; size < whole.size(); ++size)
        CHECK_FALSE(parse_snapshot(std::string_view(whole).substr(0, size)));
}

TEST_CASE("a flipped byte, trailing bytes or keys out of order are refused") {
    std::string damaged = two_entries();
    damaged[20] ^= 1;
    auto parsed = parse_snapshot(damaged);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().root().find("at byte") != std::string::npos);

    CHECK_FALSE(parse_snapshot(two_entries() + "x"));

    std::string reordered = begin_snapshot();
    append_snapshot_entry(reordered, "b", "1");
    append_snapshot_entry(reordered, "a", "1");
    end_snapshot(reordered);
    CHECK_FALSE(parse_snapshot(reordered));

    std::string wrong_version = two_entries();
    wrong_version[8] = 2;
    CHECK_FALSE(parse_snapshot(wrong_version));
}
