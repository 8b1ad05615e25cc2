// Fuzz target for update/channel.cpp: a channel document as an update
// source serves it (anyone who controls the server or the network path may
// have written it). Besides "does not crash": every path accepted stays
// inside the source's directory, no version is listed twice, a decision
// only ever offers a release of the channel, and a rollout delay lies in
// its window. The same input is also read as a version and an RFC 3339
// time, which must round-trip.
#include "tests/fuzz/fuzz_check.h"
#include "update/channel.h"

#include "base/strings.h"

#include <cstdint>
#include <string_view>

using namespace keel;
using namespace keel::update;

namespace {

// No absolute path, no scheme or query, and no "." or ".." segment (a
// name like "a..b" is fine).
bool inside_directory(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.find(':') != std::string::npos ||
        path.find('?') != std::string::npos)
        return false;
    for (std::string_view segment : split(path, '/'))
        if (segment.empty() || segment == "." || segment == "..")
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto version = parse_version(input)) {
        FUZZ_CHECK(!version->parts.empty());
        FUZZ_CHECK(*version == *parse_version(version->text));
    }
    if (auto time = parse_rfc3339_utc(input)) {
        auto again = parse_rfc3339_utc(format_rfc3339_utc(*time));
        FUZZ_CHECK(again && *again == *time);
    }

    auto channel = parse_channel(input);
    if (!channel)
        return 0;
    FUZZ_CHECK(!channel->name.empty());
    for (size_t i = 0; i < channel->releases.size(); ++i) {
        const Release& release = channel->releases[i];
        FUZZ_CHECK(inside_directory(release.manifest));
        FUZZ_CHECK(inside_directory(release.signature));
        FUZZ_CHECK(inside_directory(release.image));
        for (size_t j = 0; j < i; ++j)
            FUZZ_CHECK(!(channel->releases[j].version == release.version));
        if (release.rollout) {
            FUZZ_CHECK(release.rollout->window_seconds <= kMaxRolloutWindowSeconds);
            uint64_t delay =
                rollout_delay_seconds("0123456789abcdef0123456789abcdef", release.version,
                                      release.rollout->window_seconds);
            FUZZ_CHECK(release.rollout->window_seconds == 0 ||
                       delay < release.rollout->window_seconds);
        }
    }
    Version running = *parse_version("1.0");
    VersionPolicy policy;
    Decision decision = choose_update(*channel, running, policy, "machine", 0);
    if (decision.release) {
        FUZZ_CHECK(decision.release->version > running);
        bool listed = false;
        for (const Release& release : channel->releases)
            listed = listed || release.version == decision.release->version;
        FUZZ_CHECK(listed);
    } else {
        for (const Release& release : channel->releases)
            FUZZ_CHECK(!(release.version > running));
    }
    return 0;
}
