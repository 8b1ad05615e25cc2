// Fuzz target for tests/cluster/history.h: parse_history() on arbitrary
// bytes, and the linearizability checker on what parses.
//
// Besides "does not crash", it checks what keel_check_history relies on:
// errors name the line, every parsed operation written back by
// format_operation() parses to an equal operation, and the checker on a
// small budget always returns a verdict.
#include "base/strings.h"
#include "tests/cluster/history.h"
#include "tests/cluster/linearizability.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Result<history::History> parsed = history::parse_history(input);
    if (!parsed) {
        FUZZ_CHECK(starts_with(parsed.error().to_string(), "line "));
        return 0;
    }
    std::string text;
    for (const history::Operation& op : *parsed)
        text += history::format_operation(op) + "\n";
    Result<history::History> again = history::parse_history(text);
    FUZZ_CHECK(again);
    FUZZ_CHECK(*again == *parsed);

    linearizability::Options options;
    options.max_steps = 20'000;
    options.max_time = std::chrono::milliseconds(500);
    linearizability::Report report = linearizability::check(*parsed, options);
    FUZZ_CHECK(!linearizability::describe(report).empty());
    return 0;
}
