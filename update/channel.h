// update/channel: what an update source offers and which of it a machine
// takes, without I/O. A channel document (BASE/channels/CHANNEL.json, see
// docs/update.md "Update source") lists releases: a version, the paths of
// its signed manifest, the signature and the root image, and an optional
// rollout wave. choose_update() picks the newest release above the running
// version within the operator's pinning and bounds, and holds it back until
// this machine's turn in the wave: a delay in [0, window) derived from the
// machine-id and the version, the same on every check, spread evenly over
// the machines. The HTTP side is update/source.h.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::update {

/// A release's version: dotted decimal numbers ("1.2.10"), compared number
/// by number, a missing part counting as 0 ("1.2" == "1.2.0" < "1.10").
struct Version {
    /// The numbers, most significant first; never empty.
    std::vector<uint64_t> parts;
    /// As written ("1.2.10"), for messages and the rollout hash.
    std::string text;

    friend std::strong_ordering operator<=>(const Version& a, const Version& b);
    friend bool operator==(const Version& a, const Version& b);
};

/// The most numbers a version has, and the most digits of each: a version
/// fits in a few 64-bit integers.
inline constexpr size_t kMaxVersionParts = 8;
inline constexpr size_t kMaxVersionDigits = 9;

/// Parses a version: 1 to 8 dot-separated decimal numbers, each 1 to 9
/// digits ("1", "2026.12.6", "1.02" too). Anything else ("v1", "1..2",
/// "1.2-rc1", "") is an error naming it.
Result<Version> parse_version(std::string_view text);

/// When a release reaches the machines: each starts at `start` plus its own
/// delay in [0, window_seconds).
struct RolloutWave {
    /// Seconds since the epoch (from RFC 3339 UTC).
    int64_t start = 0;
    /// The wave's length; 0: every machine at `start`.
    uint64_t window_seconds = 0;
};

/// One release a channel offers. Paths are relative to the source's base
/// URL ("releases/1.2.0/manifest.json").
struct Release {
    std::optional<RolloutWave> rollout;
    Version version;
    /// The signed manifest.
    std::string manifest;
    /// The manifest's detached signature.
    std::string signature;
    /// The root image (the bytes installed into the inactive slot).
    std::string image;
};

/// A channel document: its name and releases, in the document's order.
struct Channel {
    std::string name;
    std::vector<Release> releases;
    /// Until when the channel is current (seconds since the epoch, from
    /// "expires", RFC 3339 UTC): a channel past it is refused, so that a
    /// source nobody renews (a stale mirror, updates withheld) is seen.
    std::optional<int64_t> expires;
};

/// The longest channel document accepted (bytes).
inline constexpr size_t kMaxChannelBytes = 1024 * 1024;
/// The longest rollout window accepted: a year.
inline constexpr uint64_t kMaxRolloutWindowSeconds = 366ULL * 24 * 3600;

/// Parses a channel document strictly: an object with "channel" (its name)
/// and "releases" (an array of objects with "version", "manifest",
/// "signature", "image" and optionally "rollout": {"start": RFC 3339 UTC,
/// "window": seconds or a time span such as "6h" or "1h 30min"}), and
/// optionally "expires" (RFC 3339 UTC). Unknown
/// members, a version listed twice, and paths that are absolute, hold "..",
/// a scheme, a query or characters outside [A-Za-z0-9._~+-/] are refused;
/// errors name the field ("releases[1].rollout.start: ...").
Result<Channel> parse_channel(std::string_view text);

/// Parses an RFC 3339 time in UTC ("2026-12-06T18:00:00Z", fractional
/// seconds allowed and dropped) into seconds since the epoch. Other offsets
/// than Z are refused.
Result<int64_t> parse_rfc3339_utc(std::string_view text);
/// Seconds since the epoch as RFC 3339 UTC ("2026-12-06T18:00:00Z").
std::string format_rfc3339_utc(int64_t seconds);

/// This machine's delay into a wave of `window_seconds` for `version`: the
/// first 64 bits of SHA-256 over the machine-id and the version, modulo the
/// window (0 for a window of 0). Stable for a machine and version, and
/// spread evenly over machine-ids.
uint64_t rollout_delay_seconds(std::string_view machine_id, const Version& version,
                               uint64_t window_seconds);

/// Which versions this machine may take (from the [Update] config or the
/// command line). All optional.
struct VersionPolicy {
    /// Version=: exactly this one, up or down, and nothing else.
    std::optional<Version> pinned;
    /// MinVersion=: nothing older.
    std::optional<Version> minimum;
    /// MaxVersion=: nothing newer.
    std::optional<Version> maximum;
};

/// What check decided.
enum class Verdict {
    /// Nothing to install: no release newer than the running one within the
    /// policy (or the pinned version is running).
    UpToDate,
    /// Install Decision::release now.
    Update,
    /// Decision::release is for this machine at Decision::eligible_at.
    Waiting,
    /// The pinned version is not in the channel.
    PinnedNotOffered,
};

inline constexpr auto kVerdictNames = name_table<Verdict>({
    {Verdict::UpToDate, "up-to-date"},
    {Verdict::Update, "update"},
    {Verdict::Waiting, "waiting"},
    {Verdict::PinnedNotOffered, "pinned-not-offered"},
});

/// choose_update()'s answer.
struct Decision {
    Verdict verdict = Verdict::UpToDate;
    /// Waiting: when this machine's turn comes (seconds since the epoch).
    int64_t eligible_at = 0;
    /// Update and Waiting: the release.
    std::optional<Release> release;
    /// Why, in words, for `keel update check` ("pinned to 1.2.0", "1.4.0
    /// is above MaxVersion=1.3"); may be empty.
    std::string reason;
};

/// Picks what to install: with a pinned version, that release when it is
/// not the running one; otherwise the newest release above `running`,
/// at or above the minimum and at or below the maximum. The chosen
/// release waits for this machine's turn when it has a rollout wave and
/// `now` (seconds since the epoch) is before start + rollout_delay_seconds().
/// Pure: the same arguments, the same decision.
Decision choose_update(const Channel& channel, const Version& running, const VersionPolicy& policy,
                       std::string_view machine_id, int64_t now);

} // namespace keel::update
