// Tests for base/go_duration.h: Go's duration syntax, as etcd's flags and
// locksmith's reboot windows write it.
#include "base/go_duration.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds go_duration(std::string_view text) {
    keel::Result<std::chrono::nanoseconds> parsed = keel::parse_go_duration(text);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()));
    return *parsed;
}

std::string go_duration_error(std::string_view text) {
    keel::Result<std::chrono::nanoseconds> parsed = keel::parse_go_duration(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().to_string();
}

} // namespace

TEST_CASE("Go durations add up their parts, each unit as Go's") {
    CHECK(go_duration("0") == 0ns);
    CHECK(go_duration("0s") == 0ns);
    CHECK(go_duration("300ms") == 300ms);
    CHECK(go_duration("2us") == 2us);
    CHECK(go_duration("2\xc2\xb5s") == 2us);
    CHECK(go_duration("2\xce\xbcs") == 2us);
    CHECK(go_duration("7ns") == 7ns);
    CHECK(go_duration("1h30m") == 90min);
    CHECK(go_duration("2h45m10s") == 9910s);
    CHECK(go_duration("1m1ms") == 60001ms);
}

TEST_CASE("Go duration fractions are exact to the nanosecond") {
    CHECK(go_duration("1.5h") == 5400s);
    CHECK(go_duration("1.5s") == 1500ms);
    CHECK(go_duration(".5s") == 500ms);
    CHECK(go_duration("1.s") == 1s);
    CHECK(go_duration("0.000000001s") == 1ns);
    CHECK(go_duration("0.0000000019s") == 1ns); // below a nanosecond: dropped
    CHECK(go_duration("1.1us") == 1100ns);
    // About the int64 limit, where a double would be off.
    CHECK(go_duration("2562047h47m16.854775807s") == std::chrono::nanoseconds(INT64_MAX));
}

TEST_CASE("a malformed Go duration is refused saying what is wrong") {
    CHECK(go_duration_error("") == "invalid duration ``: empty");
    CHECK(go_duration_error("h") == "invalid duration `h`: expected a number at `h`");
    CHECK(go_duration_error("90") ==
          "invalid duration `90`: `90` has no unit (ns, us, ms, s, m, h)");
    CHECK(go_duration_error("5x") ==
          "invalid duration `5x`: unknown unit `x` (ns, us, ms, s, m, h)");
    CHECK(go_duration_error("5mins").find("unknown unit `mins`") != std::string::npos);
    CHECK(go_duration_error("1h 30m") ==
          "invalid duration `1h 30m`: unknown unit `h ` (ns, us, ms, s, m, h)");
    CHECK(go_duration_error("1h.") == "invalid duration `1h.`: expected a number at `.`");
    CHECK(go_duration_error("-1s").find("expected a number") != std::string::npos);
    CHECK(go_duration_error("1..5h").find("`1.` has no unit") != std::string::npos);
    CHECK(go_duration_error("2562047h47m16.854775808s") ==
          "invalid duration `2562047h47m16.854775808s`: too long");
    CHECK(go_duration_error("99999999999999999999999h").find("too long") != std::string::npos);
}
