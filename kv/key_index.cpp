// A key's generations and revisions (kv/key_index.h): recording puts and
// deletes, the revision visible at a store revision, and compaction with
// etcd's rules for what survives.
#include "kv/key_index.h"

#include <algorithm>

namespace keel::kv {

void KeyHistory::put(Revision revision, int64_t created, int64_t version) {
    if (m_generations.empty() || m_generations.back().revisions.empty()) {
        if (m_generations.empty())
            m_generations.emplace_back();
        m_generations.back().created = created;
    }
    Generation& life = m_generations.back();
    life.version = version;
    life.revisions.push_back(revision);
}

void KeyHistory::tombstone(Revision revision) {
    if (m_generations.empty() || m_generations.back().revisions.empty())
        return; // nothing to end: the caller deletes only existing keys
    m_generations.back().revisions.push_back(revision);
    m_generations.emplace_back(); // the next life, not yet begun
}

std::optional<KeyHistory::Current> KeyHistory::current() const {
    if (m_generations.empty() || m_generations.back().revisions.empty())
        return std::nullopt;
    const Generation& life = m_generations.back();
    return Current{life.revisions.back(), life.created, life.version};
}

std::optional<Revision> KeyHistory::visible_at(int64_t at) const {
    // Newest life first: the first life that began at or before `at` holds it.
    for (auto life = m_generations.rbegin(); life != m_generations.rend(); ++life) {
        const std::vector<Revision>& revisions = life->revisions;
        if (revisions.empty() || revisions.front().main > at)
            continue;
        auto after = std::upper_bound(revisions.begin(), revisions.end(), Revision{at, INT64_MAX});
        bool ended = &*life != &m_generations.back();
        if (ended && after == revisions.end())
            return std::nullopt; // `at` is at or after the delete
        return *(after - 1);
    }
    return std::nullopt;
}

void KeyHistory::compact(int64_t at, std::vector<RevisionRecord>& dropped) {
    if (m_generations.empty())
        return;
    // Lives that ended at or before `at` are gone, delete included; the last
    // (current) life always stays, even when empty.
    size_t first_kept = 0;
    while (first_kept + 1 < m_generations.size() &&
           m_generations[first_kept].revisions.back().main <= at) {
        const std::vector<Revision>& ended = m_generations[first_kept].revisions;
        for (size_t i = 0; i < ended.size(); ++i)
            dropped.push_back(
                {ended[i], i + 1 == ended.size() ? RecordKind::Tombstone : RecordKind::Put});
        ++first_kept;
    }
    std::vector<Revision>& revisions = m_generations[first_kept].revisions;
    auto after = std::upper_bound(revisions.begin(), revisions.end(), Revision{at, INT64_MAX});
    if (after != revisions.begin()) {
        // Keep the latest revision at or below `at`: reads at `at` see it.
        auto keep = after - 1;
        // (Never the delete: in this life it comes after `at`, or not yet.)
        for (auto it = revisions.begin(); it != keep; ++it)
            dropped.push_back({*it, RecordKind::Put});
        revisions.erase(revisions.begin(), keep);
    }
    m_generations.erase(m_generations.begin(), m_generations.begin() + long(first_kept));
}

bool KeyHistory::empty() const {
    return m_generations.empty() ||
           (m_generations.size() == 1 && m_generations.front().revisions.empty());
}

} // namespace keel::kv
