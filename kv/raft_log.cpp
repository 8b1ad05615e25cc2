// The Raft core's in-memory log: entries after the snapshot and the
// committed / applied / persisted positions in it.
#include "kv/raft_log.h"

#include <algorithm>

namespace keel::kv {

void RaftLog::restore(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries,
                      Index commit, Index applied) {
    m_snapshot_index = snapshot_index;
    m_snapshot_term = snapshot_term;
    m_entries = std::move(entries);
    m_persisted = last_index();
    m_unstable_from = last_index() + 1;
    m_committed = std::clamp(commit, snapshot_index, last_index());
    m_applied = std::clamp(applied, snapshot_index, m_committed);
    m_applying = m_applied;
}

Term RaftLog::last_term() const {
    return m_entries.empty() ? m_snapshot_term : m_entries.back().term;
}

std::optional<Term> RaftLog::term(Index index) const {
    if (index == m_snapshot_index)
        return m_snapshot_term;
    if (index < m_snapshot_index || index > last_index())
        return std::nullopt;
    return at(index).term;
}

bool RaftLog::matches(Index index, Term term) const {
    std::optional<Term> ours = this->term(index);
    return ours && *ours == term;
}

bool RaftLog::is_up_to_date(Index index, Term term) const {
    return term > last_term() || (term == last_term() && index >= last_index());
}

std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term term) const {
    index = std::min(index, last_index());
    while (index > m_snapshot_index) {
        Term ours = at(index).term;
        if (ours <= term)
            return {index, ours};
        --index;
    }
    return {m_snapshot_index, m_snapshot_term};
}

std::vector<Entry> RaftLog::slice(Index low, Index high, size_t max_bytes) const {
    std::vector<Entry> out;
    size_t bytes = 0;
    for (Index i = low; i <= high; ++i) {
        const Entry& entry = at(i);
        bytes += entry.data.size();
        if (!out.empty() && bytes > max_bytes)
            break;
        out.push_back(entry);
    }
    return out;
}

void RaftLog::append(std::vector<Entry> entries) {
    for (Entry& entry : entries)
        m_entries.push_back(std::move(entry));
}

Index RaftLog::append_after(Index prev_index, const std::vector<Entry>& entries) {
    Index last_new = prev_index + entries.size();
    size_t i = 0;
    // Skip what we have (a duplicated or reordered Append must not cut
    // the log), and entries the snapshot already covers.
    for (; i < entries.size(); ++i) {
        const Entry& entry = entries[i];
        if (entry.index <= m_snapshot_index)
            continue;
        if (entry.index > last_index() || at(entry.index).term != entry.term)
            break;
    }
    if (i == entries.size())
        return last_new;
    Index from = entries[i].index;
    // Only an uncommitted suffix may be replaced (the leader's log holds
    // every committed entry).
    m_entries.resize(from - first_index());
    m_unstable_from = std::min(m_unstable_from, from);
    m_persisted = std::min(m_persisted, from - 1);
    for (; i < entries.size(); ++i)
        m_entries.push_back(entries[i]);
    return last_new;
}

void RaftLog::reset_to_snapshot(Index index, Term term) {
    m_entries.clear();
    m_snapshot_index = index;
    m_snapshot_term = term;
    m_committed = index;
    m_applying = index;
    m_unstable_from = index + 1;
    m_persisted = std::min(m_persisted, index);
}

void RaftLog::compact(Index index, Term term) {
    m_entries.erase(m_entries.begin(), m_entries.begin() + (index - m_snapshot_index));
    m_snapshot_index = index;
    m_snapshot_term = term;
}

bool RaftLog::commit_to(Index index) {
    index = std::min(index, last_index());
    if (index <= m_committed)
        return false;
    m_committed = index;
    return true;
}

std::vector<Entry> RaftLog::hand_out_committed() {
    std::vector<Entry> out;
    Index from = std::max(m_applying + 1, first_index());
    for (Index i = from; i <= m_committed; ++i)
        out.push_back(at(i));
    m_applying = std::max(m_applying, m_committed);
    return out;
}

void RaftLog::applied_to(Index index) {
    m_applied = std::max(m_applied, std::min(index, m_applying));
}

std::vector<Entry> RaftLog::hand_out_unstable() {
    std::vector<Entry> out;
    for (Index i = std::max(m_unstable_from, first_index()); i <= last_index(); ++i)
        out.push_back(at(i));
    m_unstable_from = last_index() + 1;
    return out;
}

void RaftLog::persisted_to(Index index, Term term) {
    // Entries handed out and then replaced before advance() are not on
    // disk in the form the log now has: only a still-matching end counts.
    if (index > m_persisted && matches(index, term) && index < m_unstable_from)
        m_persisted = index;
}

void RaftLog::snapshot_persisted(Index index) {
    if (index == m_snapshot_index)
        m_persisted = std::max(m_persisted, index);
}

} // namespace keel::kv
