// The automatic compaction policy and the parsing of its retention.
#include "kv/auto_compaction.h"

#include "base/go_duration.h"
#include "base/strings.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace keel::kv {

namespace {

using namespace std::chrono_literals;

// etcd samples ten times a period, and compacts at least hourly.
constexpr int kSamplesPerPeriod = 10;
constexpr std::chrono::milliseconds kLongestWait = 1h;

} // namespace

Result<std::optional<CompactionRetention>> parse_compaction_retention(AutoCompactionMode mode,
                                                                      std::string_view text) {
    if (text.empty())
        text = "0";
    CompactionRetention retention;
    retention.mode = mode;
    int64_t count = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (ec == std::errc() && end == text.data() + text.size() && count >= 0) {
        if (count == 0)
            return std::nullopt;
        if (mode == AutoCompactionMode::Revision)
            retention.revisions = count;
        else if (count > 24 * 365 * 100)
            return error(cat("--auto-compaction-retention `", text, "`: too many hours"));
        else
            retention.period = std::chrono::hours(count);
        return retention;
    }
    auto duration = parse_go_duration(text);
    if (!duration)
        return std::unexpected(
            std::move(duration).error().wrap("--auto-compaction-retention (hours, or a duration "
                                             "such as 30m or 1h30m)"));
    retention.mode = AutoCompactionMode::Periodic;
    retention.period = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
    if (retention.period <= 0ms)
        return std::nullopt;
    return retention;
}

AutoCompactor::AutoCompactor(CompactionRetention retention,
                             std::chrono::steady_clock::time_point start)
    : m_retention(retention), m_last_success(start), m_wait(retention.period) {}

std::chrono::milliseconds AutoCompactor::interval() const {
    if (m_retention.mode == AutoCompactionMode::Revision)
        return kRevisionCompactionInterval;
    return std::max(std::chrono::milliseconds(1),
                    std::min(m_retention.period, kLongestWait) / kSamplesPerPeriod);
}

std::optional<int64_t> AutoCompactor::due(std::chrono::steady_clock::time_point now,
                                          int64_t revision) {
    if (m_retention.mode == AutoCompactionMode::Revision) {
        int64_t at = revision - m_retention.revisions;
        if (at <= 0 || at == m_last_revision)
            return std::nullopt;
        return at;
    }
    // The oldest sample is the revision of about one period ago: samples
    // are one interval apart and a period's worth are kept.
    std::optional<int64_t> at;
    if (now - m_last_success >= m_wait && !m_samples.empty())
        at = m_samples.front();
    m_samples.push_back(revision);
    auto keep = static_cast<size_t>(m_retention.period / interval()) + 1;
    while (m_samples.size() > keep)
        m_samples.pop_front();
    return at;
}

void AutoCompactor::compacted(int64_t revision, std::chrono::steady_clock::time_point now) {
    m_last_revision = revision;
    m_last_success = now;
    m_wait = std::min(m_retention.period, kLongestWait);
}

} // namespace keel::kv
