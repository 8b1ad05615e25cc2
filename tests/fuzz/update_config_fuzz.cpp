// Fuzz target for update/update_config.h: the update role's settings and
// reboot windows. The input's first line is /proc/cmdline's text, the rest
// is /etc/keel/update.conf. Besides "does not crash": a config that parses
// has a window no longer than its period, a health timeout no shorter than
// HealthyFor, and at any moment the next reboot time is now (inside a
// window, which then ends later) or a start within one period.
#include "tests/fuzz/fuzz_check.h"
#include "update/update_config.h"

#include <algorithm>
#include <cstdint>
#include <string>

using namespace keel;
using namespace keel::update;

namespace {

constexpr int64_t kDay = 24 * 60 * 60;

void check_window(const RebootWindow& window, uint64_t seed) {
    int64_t period = window.day ? 7 * kDay : kDay;
    FUZZ_CHECK(window.length.count() > 0 && window.length.count() <= period);
    FUZZ_CHECK(window.start_minute < 24 * 60);
    // A few moments from 1970 to 2100.
    for (int i = 0; i < 4; ++i) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        std::chrono::sys_seconds now{std::chrono::seconds(int64_t(seed % 4102444800ULL))};
        // A time zone from UTC-12 to UTC+14, in quarter hours.
        std::chrono::seconds zone(int64_t((seed >> 40) % 105) * 900 - 12 * 3600);
        std::chrono::sys_seconds next = next_reboot_time(now, window, zone);
        auto end = reboot_window_end(now, window, zone);
        FUZZ_CHECK(next >= now);
        FUZZ_CHECK(next - now < std::chrono::seconds(period));
        FUZZ_CHECK((next == now) == end.has_value());
        if (end) {
            FUZZ_CHECK(*end > now);
            FUZZ_CHECK(*end - now <= window.length);
        } else {
            // The next start is inside a window.
            FUZZ_CHECK(next_reboot_time(next, window, zone) == next);
            FUZZ_CHECK(reboot_window_end(next, window, zone) == next + window.length);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t newline = std::min(input.find('\n'), input.size());
    std::string_view file = newline < input.size() ? input.substr(newline + 1) : std::string_view();
    uint64_t seed = 1469598103934665603ULL;
    for (char c : input)
        seed = (seed ^ uint8_t(c)) * 1099511628211ULL;

    // The window syntax on its own: the file's first two lines.
    size_t second = std::min(file.find('\n'), file.size());
    std::string_view rest = second < file.size() ? file.substr(second + 1) : std::string_view();
    auto window = parse_reboot_window(file.substr(0, second),
                                      rest.substr(0, std::min(rest.find('\n'), rest.size())));
    if (window)
        check_window(*window, seed);

    auto cmdline = KernelCommandLine::parse(input.substr(0, newline));
    if (!cmdline)
        return 0;
    auto config = parse_update_config(file, "update.conf", *cmdline);
    if (!config)
        return 0;
    FUZZ_CHECK(config->healthy_for.count() >= 0);
    if (config->health_timeout)
        FUZZ_CHECK(*config->health_timeout >= config->healthy_for);
    FUZZ_CHECK(!config->kv_endpoints.empty());
    for (const std::string& unit : config->health_units)
        FUZZ_CHECK(!unit.empty() && unit.find('/') == std::string::npos &&
                   unit.find('.') != std::string::npos);
    if (config->window)
        check_window(*config->window, seed);
    return 0;
}
