// update/slot_footer.cpp: the signed manifest kept at a slot's end, both
// ways, and what a damaged footer is refused for.
#include "update/slot_footer.h"

#include "base/result.h"

#include <doctest/doctest.h>

#include <string>

namespace up = keel::update;

TEST_CASE("a footer written by keel reads back the manifest and the signature") {
    auto bytes = up::encode_slot_footer({"{\"format\":1}", "SIG"});
    REQUIRE(bytes);
    CHECK(bytes->size() == up::kSlotFooterHeaderSize + 12 + 3);
    std::string region = *bytes + std::string(4096, '\0');
    auto footer = up::parse_slot_footer(region);
    REQUIRE(footer);
    REQUIRE(footer->present());
    CHECK(footer->manifest == "{\"format\":1}");
    CHECK(footer->signature == "SIG");
}

TEST_CASE("a region without the magic has no footer") {
    auto zeros = up::parse_slot_footer(std::string(up::kSlotFooterSize, '\0'));
    REQUIRE(zeros);
    CHECK_FALSE(zeros->present());
    auto short_region = up::parse_slot_footer("KEEL");
    REQUIRE(short_region);
    CHECK_FALSE(short_region->present());
    auto erased = up::parse_slot_footer(up::empty_slot_footer_header());
    REQUIRE(erased);
    CHECK_FALSE(erased->present());
}

TEST_CASE("a damaged footer is refused as corrupt, not taken for none") {
    std::string good = *up::encode_slot_footer({"manifest", "signature"});
    for (size_t at : {size_t(9), size_t(17), size_t(21), size_t(25), size_t(70), good.size() - 1}) {
        std::string bad = good;
        bad[at] ^= 0x40;
        auto footer = up::parse_slot_footer(bad);
        INFO("byte ", at);
        REQUIRE_FALSE(footer);
        CHECK(footer.error().code() == int(keel::ErrorCode::DataCorrupt));
    }
    auto cut = up::parse_slot_footer(good.substr(0, good.size() - 1));
    REQUIRE_FALSE(cut);
    CHECK(cut.error().to_string().find("past the end") != std::string::npos);
}

TEST_CASE("an empty or oversized manifest or signature does not make a footer") {
    CHECK_FALSE(up::encode_slot_footer({"", "sig"}));
    CHECK_FALSE(up::encode_slot_footer({"m", ""}));
    CHECK_FALSE(up::encode_slot_footer({std::string(up::kSlotFooterSize, 'm'), "sig"}));
    CHECK_FALSE(up::encode_slot_footer({"m", std::string(2000, 's')}));
}
