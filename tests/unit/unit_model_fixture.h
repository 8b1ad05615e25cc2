// Helpers shared by the unit model's tests (unit_model, specifiers,
// conditions, unit_catalog, unit_links): a fixed SpecifierContext, parsing
// a unit from text, and writing a file with its directories.
#pragma once

#include "base/sys.h"
#include "init/unit_model.h"

#include <doctest/doctest.h>
#include <string>
#include <string_view>
#include <vector>

namespace keel::testing {

inline keel::SpecifierContext context() {
    keel::SpecifierContext c;
    c.hostname = "node1";
    c.machine_id = "0123456789abcdef0123456789abcdef";
    c.boot_id = "fedcba9876543210fedcba9876543210";
    c.kernel_release = "6.1.0-test";
    return c;
}

inline keel::Result<keel::Unit> parse(std::string_view text, std::vector<std::string>& warnings,
                                      std::string name = "web.service",
                                      std::vector<std::string_view> dropins = {}) {
    auto file = keel::UnitFile::parse(text, name);
    REQUIRE(file);
    std::vector<keel::UnitFile> parsed;
    int n = 0;
    for (std::string_view dropin : dropins) {
        auto d = keel::UnitFile::parse(dropin, "override" + std::to_string(++n) + ".conf");
        REQUIRE(d);
        parsed.push_back(std::move(*d));
    }
    return keel::parse_unit(name, *file, parsed, context(), warnings);
}

inline keel::Result<keel::Unit> parse(std::string_view text) {
    std::vector<std::string> warnings;
    return parse(text, warnings);
}

inline void write(const std::string& path, std::string_view text) {
    REQUIRE(keel::make_directories(path.substr(0, path.rfind('/'))));
    REQUIRE(keel::write_new_file(path, text));
}

} // namespace keel::testing
