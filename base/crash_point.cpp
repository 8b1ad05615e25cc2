// crash_point(): KEEL_CRASH_POINT read once, then a count of hits of the
// point it names.
#include "base/crash_point.h"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace keel {

namespace {

struct CrashPlan {
    std::string name; // empty: no crash point is armed
    long hit = 1;
    std::atomic<long> seen{0};
};

CrashPlan& crash_plan() {
    static CrashPlan* plan = [] {
        auto* made = new CrashPlan;
        const char* text = std::getenv("KEEL_CRASH_POINT");
        std::string_view spec = text ? text : "";
        if (auto colon = spec.rfind(':'); colon != std::string_view::npos) {
            long hit = 0;
            auto [end, ec] =
                std::from_chars(spec.data() + colon + 1, spec.data() + spec.size(), hit);
            if (ec == std::errc() && end == spec.data() + spec.size() && hit > 0) {
                made->hit = hit;
                spec = spec.substr(0, colon);
            }
        }
        made->name = spec;
        return made;
    }();
    return *plan;
}

} // namespace

void crash_point(std::string_view name) {
    CrashPlan& plan = crash_plan();
    if (plan.name.empty() || plan.name != name)
        return;
    if (plan.seen.fetch_add(1) + 1 != plan.hit)
        return;
    std::string line = "keel: crash point " + std::string(name) + " reached: SIGKILL\n";
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
    ::kill(::getpid(), SIGKILL);
    ::_exit(137); // not reached
}

} // namespace keel
