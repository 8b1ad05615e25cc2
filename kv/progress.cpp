// The leader's per-member progress and flow control, and the quorum
// arithmetic over the voters.
#include "kv/progress.h"

#include <algorithm>
#include <vector>

namespace keel::kv {

void Progress::become_probe() {
    // After a snapshot, the follower holds at least what it covered.
    if (state == ProgressState::Snapshot)
        next = std::max(match + 1, pending_snapshot + 1);
    else
        next = match + 1;
    state = ProgressState::Probe;
    probe_sent = false;
    pending_snapshot = 0;
    inflights.clear();
}

void Progress::become_replicate() {
    state = ProgressState::Replicate;
    next = match + 1;
    probe_sent = false;
    pending_snapshot = 0;
    inflights.clear();
}

void Progress::become_snapshot(Index index) {
    state = ProgressState::Snapshot;
    pending_snapshot = index;
    probe_sent = false;
    inflights.clear();
}

bool Progress::maybe_update(Index index) {
    bool moved = index > match;
    if (moved) {
        match = index;
        probe_sent = false;
    }
    next = std::max(next, index + 1);
    while (!inflights.empty() && inflights.front() <= index)
        inflights.pop_front();
    return moved;
}

bool Progress::maybe_decrease(Index rejected, Index probe_at) {
    if (state == ProgressState::Replicate) {
        // Pipelined: only a rejection above what is known to match means
        // the optimistic next was wrong.
        if (rejected <= match)
            return false;
        next = match + 1;
        return true;
    }
    // Probe: only the rejection of the last probe counts.
    if (next - 1 != rejected)
        return false;
    next = std::max(std::min(rejected, probe_at + 1), match + 1);
    probe_sent = false;
    return true;
}

void Progress::sent_entries(Index last, size_t count) {
    if (state == ProgressState::Replicate) {
        if (count > 0) {
            next = last + 1;
            inflights.push_back(last);
        }
    } else if (state == ProgressState::Probe) {
        probe_sent = true;
    }
}

bool Progress::paused(size_t max_inflight) const {
    switch (state) {
    case ProgressState::Probe:
        return probe_sent;
    case ProgressState::Replicate:
        return inflights.size() >= max_inflight;
    case ProgressState::Snapshot:
        return true;
    }
    return true;
}

bool ProgressTracker::is_voter(NodeId id) const {
    return std::find(m_conf.voters.begin(), m_conf.voters.end(), id) != m_conf.voters.end();
}

bool ProgressTracker::is_learner(NodeId id) const {
    return std::find(m_conf.learners.begin(), m_conf.learners.end(), id) != m_conf.learners.end();
}

void ProgressTracker::set_conf(const ConfState& conf, Index next) {
    m_conf = conf;
    std::map<NodeId, Progress> progress;
    auto add = [&](NodeId id, bool learner) {
        auto old = m_progress.find(id);
        Progress p;
        if (old != m_progress.end()) {
            p = old->second;
        } else {
            p.next = next;
            p.recent_active = true; // a new member gets a round to show up
        }
        p.learner = learner;
        progress.emplace(id, std::move(p));
    };
    for (NodeId id : conf.voters)
        add(id, false);
    for (NodeId id : conf.learners)
        add(id, true);
    m_progress = std::move(progress);
}

Progress* ProgressTracker::find(NodeId id) {
    auto it = m_progress.find(id);
    return it == m_progress.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::find(NodeId id) const {
    auto it = m_progress.find(id);
    return it == m_progress.end() ? nullptr : &it->second;
}

void ProgressTracker::reset(Index next) {
    for (auto& [id, p] : m_progress) {
        bool learner = p.learner;
        p = Progress{};
        p.next = next;
        p.learner = learner;
        p.recent_active = true;
    }
}

Index ProgressTracker::quorum_match() const {
    if (m_conf.voters.empty())
        return 0;
    std::vector<Index> matches;
    for (NodeId id : m_conf.voters) {
        const Progress* p = find(id);
        matches.push_back(p ? p->match : 0);
    }
    std::sort(matches.begin(), matches.end(), std::greater<>());
    return matches[quorum() - 1];
}

bool ProgressTracker::quorum_active(NodeId self) const {
    size_t active = 0;
    for (NodeId id : m_conf.voters) {
        const Progress* p = find(id);
        if (id == self || (p && p->recent_active))
            ++active;
    }
    return active >= quorum();
}

void ProgressTracker::clear_recent_active(NodeId self) {
    for (auto& [id, p] : m_progress)
        p.recent_active = id == self;
}

VoteResult VoteTally::result(const ConfState& conf) const {
    size_t granted = 0;
    size_t rejected = 0;
    for (NodeId id : conf.voters) {
        auto it = m_votes.find(id);
        if (it == m_votes.end())
            continue;
        (it->second ? granted : rejected)++;
    }
    size_t quorum = conf.voters.size() / 2 + 1;
    if (granted >= quorum)
        return VoteResult::Won;
    if (rejected > conf.voters.size() - quorum)
        return VoteResult::Lost;
    return VoteResult::Pending;
}

} // namespace keel::kv
