// Tests for update/channel.h: versions, the channel document's strict
// parser (malformed input refused with the field named), RFC 3339 times,
// the choice of a release under pinning and bounds, and the staged
// rollout's per-machine delay and its spread over 1000 machine-ids.
#include "update/channel.h"

#include "base/strings.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>

using namespace keel;
using namespace keel::update;

namespace {

Version version(std::string_view text) {
    Result<Version> parsed = parse_version(text);
    REQUIRE(parsed);
    return *parsed;
}

std::string release_json(std::string_view v, std::string_view extra = "") {
    return cat(R"({"version":")", v, R"(","manifest":"releases/)", v,
               R"(/manifest.json","signature":"releases/)", v,
               R"(/manifest.json.sig","image":"releases/)", v, R"(/root.img")", extra, "}");
}

std::string channel_json(std::vector<std::string> releases, std::string_view name = "stable") {
    std::string list;
    for (const std::string& release : releases)
        list += cat(list.empty() ? "" : ",", release);
    return cat(R"({"channel":")", name, R"(","releases":[)", list, "]}");
}

Channel channel(std::vector<std::string> releases) {
    Result<Channel> parsed = parse_channel(channel_json(std::move(releases)));
    REQUIRE_MESSAGE(parsed, (parsed ? "" : parsed.error().to_string()));
    return *parsed;
}

std::string channel_error(std::string_view text) {
    Result<Channel> parsed = parse_channel(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().to_string();
}

// A machine-id of 32 hex digits made from `n`.
std::string machine_id(unsigned n) {
    std::string hex = cat(n);
    return std::string(32 - hex.size(), 'a') + hex;
}

constexpr int64_t kRolloutStart = 1796580000; // 2026-12-06T18:00:00Z

} // namespace

TEST_CASE("versions compare number by number, not as text") {
    CHECK(version("1.10") > version("1.9"));
    CHECK(version("2") > version("1.99.99"));
    CHECK(version("1.2") == version("1.2.0"));
    CHECK(version("1.2.1") > version("1.2"));
    CHECK(version("1.02") == version("1.2"));
    CHECK(version("2026.12.6").text == "2026.12.6");
}

TEST_CASE("a version that is not dotted numbers is refused, naming it") {
    for (std::string_view bad : {"", "v1", "1..2", "1.", ".1", "1.2-rc1", "1.2.3.4.5.6.7.8.9",
                                 "1234567890", "1 .2", "-1"}) {
        Result<Version> parsed = parse_version(bad);
        CHECK_MESSAGE(!parsed, bad);
        if (!parsed)
            CHECK(parsed.error().to_string().find("version") != std::string::npos);
    }
}

TEST_CASE("a channel document lists its releases with their paths and rollout waves") {
    Result<Channel> parsed = parse_channel(channel_json(
        {release_json("1.0.0"),
         release_json("1.1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":"6h"})"),
         release_json("1.2.0", R"(,"rollout":{"start":"2026-12-06T18:00:00.5Z","window":90})")}));
    REQUIRE_MESSAGE(parsed, (parsed ? "" : parsed.error().to_string()));
    CHECK(parsed->name == "stable");
    REQUIRE(parsed->releases.size() == 3);
    CHECK(parsed->releases[0].version.text == "1.0.0");
    CHECK(parsed->releases[0].manifest == "releases/1.0.0/manifest.json");
    CHECK(parsed->releases[0].signature == "releases/1.0.0/manifest.json.sig");
    CHECK(parsed->releases[0].image == "releases/1.0.0/root.img");
    CHECK_FALSE(parsed->releases[0].rollout);
    REQUIRE(parsed->releases[1].rollout);
    CHECK(parsed->releases[1].rollout->start == kRolloutStart);
    CHECK(parsed->releases[1].rollout->window_seconds == 6 * 3600);
    REQUIRE(parsed->releases[2].rollout);
    CHECK(parsed->releases[2].rollout->window_seconds == 90);
}

TEST_CASE("a malformed channel document is refused with the field named") {
    CHECK(channel_error("") != "");
    CHECK(channel_error("[]") != "");
    CHECK(channel_error(R"({"releases":[]})").find("channel: missing") != std::string::npos);
    CHECK(channel_error(R"({"channel":"stable"})").find("releases: missing") != std::string::npos);
    CHECK(channel_error(R"({"channel":"","releases":[]})").find("channel: empty") !=
          std::string::npos);
    CHECK(channel_error(R"({"channel":"stable","releases":[],"extra":1})").find("extra: unknown") !=
          std::string::npos);
    CHECK(channel_error(channel_json({R"({"version":"1.0"})"}))
              .find("releases[0].manifest: missing") != std::string::npos);
    CHECK(channel_error(channel_json({release_json("1.0", R"(,"size":5)")}))
              .find("releases[0].size: unknown field") != std::string::npos);
    CHECK(channel_error(channel_json({release_json("1.0"), release_json("one")}))
              .find("releases[1].version") != std::string::npos);
    CHECK(channel_error(channel_json({release_json("1.0"), release_json("1.0.0")}))
              .find("more than once") != std::string::npos);
    CHECK(channel_error(channel_json({release_json("1.0", R"(,"rollout":{"start":"2026-12-06"})")}))
              .find("releases[0].rollout.start") != std::string::npos);
    CHECK(channel_error(
              channel_json({release_json("1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z"})")}))
              .find("releases[0].rollout.window: missing") != std::string::npos);
    CHECK(channel_error(channel_json({release_json(
                            "1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":-1})")}))
              .find("releases[0].rollout.window") != std::string::npos);
    CHECK(channel_error(channel_json({release_json(
                            "1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":"x"})")}))
              .find("releases[0].rollout.window") != std::string::npos);
    CHECK(channel_error(
              channel_json({release_json(
                  "1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":"infinity"})")}))
              .find("infinite") != std::string::npos);
    CHECK(channel_error(
              channel_json({release_json(
                  "1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":"400d"})")}))
              .find("longer than a year") != std::string::npos);
    CHECK(
        channel_error(channel_json({release_json(
                          "1.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":true})")}))
            .find("expected seconds or a time span") != std::string::npos);
    CHECK(channel_error(R"({"channel":"stable","releases":[],"expires":"next week"})")
              .find("expires: time `next week`") != std::string::npos);
    CHECK(channel_error(R"({"channel":"stable","releases":[],"expires":1})").find("expires") !=
          std::string::npos);
}

TEST_CASE("a channel's expires is read as RFC 3339 UTC") {
    Result<Channel> channel =
        parse_channel(R"({"channel":"stable","releases":[],"expires":"2026-12-14T12:00:00Z"})");
    REQUIRE_MESSAGE(channel, (channel ? "" : channel.error().to_string()));
    CHECK(channel->expires == parse_rfc3339_utc("2026-12-14T12:00:00Z").value());
    CHECK_FALSE(parse_channel(R"({"channel":"stable","releases":[]})")->expires);
}

TEST_CASE("a release's paths must stay inside the source's directory") {
    auto with_image = [](std::string_view image) {
        return channel_json(
            {cat(R"({"version":"1.0","manifest":"m","signature":"s","image":")", image, R"("})")});
    };
    CHECK(parse_channel(with_image("a/b-1.0+x_y~z.img")));
    for (std::string_view bad : {"/etc/shadow", "../other/root.img", "a/../../b", "a//b", "./a",
                                 "http://evil/x", "a?b=1", "a#b", "a b", "a%2e"}) {
        Result<Channel> parsed = parse_channel(with_image(bad));
        CHECK_MESSAGE(!parsed, bad);
        if (!parsed)
            CHECK(parsed.error().to_string().find("releases[0].image") != std::string::npos);
    }
}

TEST_CASE("RFC 3339 times in UTC are read and written back") {
    CHECK(parse_rfc3339_utc("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339_utc("2026-12-06T18:00:00Z") == kRolloutStart);
    CHECK(parse_rfc3339_utc("2024-02-29T23:59:59.999Z") == 1709251199);
    CHECK(format_rfc3339_utc(kRolloutStart) == "2026-12-06T18:00:00Z");
    CHECK(format_rfc3339_utc(1709251199) == "2024-02-29T23:59:59Z");
    for (std::string_view bad :
         {"", "2026-12-06", "2026-12-06T18:00:00", "2026-12-06T18:00:00+01:00",
          "2026-12-06 18:00:00Z", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
          "2026-12-06T24:00:00Z", "2026-12-06T18:00:60Z", "2026-12-06T18:00:00.Z",
          "2026-12-06T18:00:00Zjunk", "2026-12-06t18:00:00z"})
        CHECK_MESSAGE(!parse_rfc3339_utc(bad), bad);
}

TEST_CASE("the newest release above the running version is offered") {
    Channel offered = channel(
        {release_json("1.0"), release_json("1.2"), release_json("1.10"), release_json("1.9")});
    Decision decision = choose_update(offered, version("1.2"), {}, machine_id(1), kRolloutStart);
    CHECK(decision.verdict == update::Verdict::Update);
    REQUIRE(decision.release);
    CHECK(decision.release->version.text == "1.10");
    CHECK(decision.release->image == "releases/1.10/root.img");
}

TEST_CASE("a machine running the newest release is up to date") {
    Channel offered = channel({release_json("1.0"), release_json("1.1")});
    CHECK(choose_update(offered, version("1.1"), {}, machine_id(1), kRolloutStart).verdict ==
          update::Verdict::UpToDate);
    CHECK(choose_update(offered, version("2.0"), {}, machine_id(1), kRolloutStart).verdict ==
          update::Verdict::UpToDate);
    CHECK(choose_update(channel({}), version("1.0"), {}, machine_id(1), kRolloutStart).verdict ==
          update::Verdict::UpToDate);
}

TEST_CASE("MaxVersion holds back newer releases and MinVersion skips older ones") {
    Channel offered = channel({release_json("1.1"), release_json("1.2"), release_json("2.0")});
    VersionPolicy policy;
    policy.maximum = version("1.9");
    Decision decision =
        choose_update(offered, version("1.0"), policy, machine_id(1), kRolloutStart);
    REQUIRE(decision.release);
    CHECK(decision.release->version.text == "1.2");

    decision = choose_update(offered, version("1.2"), policy, machine_id(1), kRolloutStart);
    CHECK(decision.verdict == update::Verdict::UpToDate);
    CHECK(decision.reason == "2.0 is above MaxVersion=1.9");

    VersionPolicy minimum;
    minimum.minimum = version("3.0");
    CHECK(choose_update(offered, version("1.0"), minimum, machine_id(1), kRolloutStart).verdict ==
          update::Verdict::UpToDate);
}

TEST_CASE("a pinned version is installed exactly, even when it is older") {
    Channel offered = channel({release_json("1.0"), release_json("1.1"), release_json("1.2")});
    VersionPolicy policy;
    policy.pinned = version("1.1");
    Decision decision =
        choose_update(offered, version("1.2"), policy, machine_id(1), kRolloutStart);
    CHECK(decision.verdict == update::Verdict::Update);
    REQUIRE(decision.release);
    CHECK(decision.release->version.text == "1.1");
    CHECK(decision.reason == "pinned to 1.1");

    decision = choose_update(offered, version("1.1.0"), policy, machine_id(1), kRolloutStart);
    CHECK(decision.verdict == update::Verdict::UpToDate);
    CHECK(decision.reason == "pinned to 1.1, which is running");

    policy.pinned = version("1.5");
    decision = choose_update(offered, version("1.0"), policy, machine_id(1), kRolloutStart);
    CHECK(decision.verdict == update::Verdict::PinnedNotOffered);
    CHECK_FALSE(decision.release);
    CHECK(decision.reason == "pinned to 1.5, which channel `stable` does not offer");
}

TEST_CASE("a release in a rollout wave waits for this machine's turn, then is offered") {
    Channel offered = channel(
        {release_json("2.0", R"(,"rollout":{"start":"2026-12-06T18:00:00Z","window":"1d"})")});
    std::string id = machine_id(7);
    uint64_t delay = rollout_delay_seconds(id, version("2.0"), 86400);
    CHECK(delay < 86400);

    Decision before = choose_update(offered, version("1.0"), {}, id, kRolloutStart - 3600);
    CHECK(before.verdict == update::Verdict::Waiting);
    CHECK(before.eligible_at == kRolloutStart + int64_t(delay));
    REQUIRE(before.release);
    CHECK(before.release->version.text == "2.0");

    Decision just_before =
        choose_update(offered, version("1.0"), {}, id, kRolloutStart + int64_t(delay) - 1);
    CHECK(just_before.verdict == update::Verdict::Waiting);
    Decision at_turn =
        choose_update(offered, version("1.0"), {}, id, kRolloutStart + int64_t(delay));
    CHECK(at_turn.verdict == update::Verdict::Update);
}

TEST_CASE("a machine's rollout delay is stable, and differs between versions and machines") {
    uint64_t first = rollout_delay_seconds(machine_id(1), version("2.0"), 86400);
    CHECK(rollout_delay_seconds(machine_id(1), version("2.0"), 86400) == first);
    CHECK(rollout_delay_seconds(machine_id(1) + "\n", version("2.0.0"), 86400) == first);
    CHECK(rollout_delay_seconds(machine_id(1), version("2.1"), 86400) != first);
    CHECK(rollout_delay_seconds(machine_id(2), version("2.0"), 86400) != first);
    CHECK(rollout_delay_seconds(machine_id(1), version("2.0"), 0) == 0);
}

TEST_CASE("rollout delays of 1000 machines spread evenly over the window") {
    constexpr uint64_t kWindow = 10000;
    constexpr size_t kBuckets = 10;
    std::array<int, kBuckets> counts{};
    uint64_t earliest = kWindow;
    uint64_t latest = 0;
    for (unsigned n = 0; n < 1000; ++n) {
        uint64_t delay = rollout_delay_seconds(machine_id(n), version("3.1.4"), kWindow);
        REQUIRE(delay < kWindow);
        ++counts[delay * kBuckets / kWindow];
        earliest = std::min(earliest, delay);
        latest = std::max(latest, delay);
    }
    // 100 expected per tenth; a uniform spread is within 100 +- 40 with
    // overwhelming probability (about 4 standard deviations).
    for (size_t bucket = 0; bucket < kBuckets; ++bucket) {
        CHECK_MESSAGE(counts[bucket] >= 60, "tenth ", bucket, ": ", counts[bucket]);
        CHECK_MESSAGE(counts[bucket] <= 140, "tenth ", bucket, ": ", counts[bucket]);
    }
    CHECK(earliest < kWindow / 50);
    CHECK(latest > kWindow - kWindow / 50);
}
