// Fuzz target for base/mountinfo.cpp: /proc/self/mountinfo, read by PID 1
// at boot and at the end of the system. Besides "does not crash": an error
// names its line, and a table has one entry per non-empty line.
#include "base/mountinfo.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto entries = keel::parse_mountinfo(text);
    if (!entries) {
        FUZZ_CHECK(entries.error().to_string().starts_with("mountinfo line "));
        return 0;
    }
    size_t lines = 0;
    for (std::string_view rest = text; !rest.empty();) {
        size_t end = rest.find('\n');
        lines += (end == std::string_view::npos ? rest.size() : end) > 0;
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    }
    FUZZ_CHECK(entries->size() == lines);
    for (const keel::MountEntry& entry : *entries) // unescaping only shortens
        FUZZ_CHECK(entry.root.size() + entry.point.size() + entry.source.size() <= size);
    return 0;
}
