// Fuzz target for tests/cluster/watch_log.h: parse_watch_log() on
// arbitrary bytes, and the watch checker on what parses.
//
// Besides "does not crash": errors name the line, a parsed log written
// back by format_watch_log() parses to an equal log, and the checker
// describes every violation it reports.
#include "base/strings.h"
#include "tests/cluster/watch_guarantees.h"
#include "tests/cluster/watch_log.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    Result<watch_log::WatchLog> parsed = watch_log::parse_watch_log(input);
    if (!parsed) {
        FUZZ_CHECK(starts_with(parsed.error().to_string(), "line "));
        return 0;
    }
    Result<watch_log::WatchLog> again =
        watch_log::parse_watch_log(watch_log::format_watch_log(*parsed));
    FUZZ_CHECK(again);
    FUZZ_CHECK(again->write_set == parsed->write_set);
    FUZZ_CHECK(again->writes == parsed->writes);
    FUZZ_CHECK(again->watchers.size() == parsed->watchers.size());
    for (size_t i = 0; i < parsed->watchers.size(); ++i) {
        FUZZ_CHECK(again->watchers[i].name == parsed->watchers[i].name);
        FUZZ_CHECK(again->watchers[i].messages.size() == parsed->watchers[i].messages.size());
    }
    for (const watch_guarantees::Violation& violation :
         watch_guarantees::check(parsed->watchers, parsed->writes, parsed->write_set))
        FUZZ_CHECK(!watch_guarantees::describe(violation).empty());
    return 0;
}
