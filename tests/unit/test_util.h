// Small helpers many unit tests share: the text of a Result's error, a
// substring check that shows the text when it fails, a shell command that
// must succeed, a reactor run until a condition holds, a parsed kernel
// command line and where cgroup v2 is mounted. One copy here, so that
// every test file can be built in one translation unit.
#pragma once

#include "base/cmdline.h"
#include "base/reactor.h"
#include "base/result.h"
#include "base/strings.h"
#include "base/sys.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace keel::testing {

/// The error's text, or "(no error)" when `result` holds a value.
inline std::string error_text(const auto& result) {
    return result ? std::string("(no error)") : result.error().to_string();
}

/// Whether `text` contains `part`; prints `text` when it does not, so that
/// a failed check shows what was there instead.
inline bool contains_or_show(const std::string& text, std::string_view part) {
    if (text.find(part) != std::string::npos)
        return true;
    MESSAGE(text);
    return false;
}

/// Runs `command` with /bin/sh; the test stops unless it exits 0.
inline void run_shell(const std::string& command) {
    INFO(command);
    REQUIRE(std::system(command.c_str()) == 0);
}

/// A new reactor; the test stops if it cannot be made.
inline std::unique_ptr<Reactor> make_reactor() {
    Result<std::unique_ptr<Reactor>> reactor = Reactor::create();
    REQUIRE(reactor);
    return std::move(*reactor);
}

/// Runs the loop until `done` holds; fails the test after `limit`.
inline void run_until(Reactor& reactor, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "timed out");
        REQUIRE(reactor.run_once(std::chrono::milliseconds(20)));
    }
}

/// The kernel command line `text`; the test stops if it does not parse.
inline KernelCommandLine cmdline(std::string_view text) {
    auto parsed = KernelCommandLine::parse(text);
    REQUIRE(parsed);
    return *parsed;
}

/// Where a cgroup v2 hierarchy is mounted (from mountinfo), or "".
inline std::string cgroup2_mount() {
    auto text = read_file("/proc/self/mountinfo");
    if (!text)
        return {};
    for (std::string_view line : split(*text, '\n')) {
        size_t dash = line.find(" - ");
        std::vector<std::string_view> fields = split(line, ' ');
        if (dash != std::string_view::npos && fields.size() > 4 &&
            line.substr(dash + 3).starts_with("cgroup2 "))
            return std::string(fields[4]);
    }
    return {};
}

} // namespace keel::testing
