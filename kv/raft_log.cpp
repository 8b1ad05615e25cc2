// The Raft core's in-memory log: the terms of the entries after the
// snapshot, a window of the entries themselves (older ones come from the
// entry source), and the committed / applied / persisted positions.
#include "kv/raft_log.h"

#include "base/strings.h"
#include "kv/raft.h"

#include <algorithm>

namespace keel::kv {

void RaftLog::restore(Index snapshot_index, Term snapshot_term, std::vector<Entry> entries,
                      Index commit, Index applied) {
    m_snapshot_index = snapshot_index;
    m_snapshot_term = snapshot_term;
    m_last_index = snapshot_index;
    m_terms.clear();
    m_entries.clear();
    m_memory_from = snapshot_index + 1;
    m_memory_bytes = 0;
    for (Entry& entry : entries)
        push_entry(std::move(entry));
    m_persisted = last_index();
    m_unstable_from = last_index() + 1;
    m_committed = std::clamp(commit, snapshot_index, last_index());
    m_applied = std::clamp(applied, snapshot_index, m_committed);
    m_applying = m_applied;
}

Term RaftLog::last_term() const {
    return m_terms.empty() ? m_snapshot_term : m_terms.back().term;
}

std::vector<RaftLog::TermRun>::const_iterator RaftLog::run_of(Index index) const {
    auto after = std::upper_bound(m_terms.begin(), m_terms.end(), index,
                                  [](Index i, const TermRun& run) { return i < run.first; });
    return after - 1;
}

std::optional<Term> RaftLog::term(Index index) const {
    if (index == m_snapshot_index)
        return m_snapshot_term;
    if (index < m_snapshot_index || index > last_index())
        return std::nullopt;
    if (index >= m_memory_from)
        return at(index).term;
    return run_of(index)->term;
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
        auto run = run_of(index);
        if (run->term <= term)
            return {index, run->term};
        // Every entry of this run is newer than `term`: skip them all.
        index = run->first - 1;
    }
    return {m_snapshot_index, m_snapshot_term};
}

Result<std::vector<Entry>> RaftLog::slice(Index low, Index high, size_t max_bytes) const {
    std::vector<Entry> out;
    if (low < m_memory_from) {
        // The entries before the window come from disk, in a message of
        // their own; the window's follow in the next.
        if (!m_source)
            return error(cat("raft log: entry ", low, " is not in memory and there is no source"));
        Index source_high = std::min(high, m_memory_from - 1);
        out = TRY(m_source->entries(low, source_high, max_bytes));
        if (out.empty())
            return error(
                cat("raft log: the entry source has no entries ", low, " to ", source_high));
        for (size_t i = 0; i < out.size(); ++i) {
            const Entry& entry = out[i];
            if (entry.index != low + i || entry.index > source_high)
                return std::unexpected(Error::from_code(
                    ErrorCode::DataCorrupt,
                    cat("raft log: the entry source gave entry ", entry.index, " for ", low + i)));
            if (term(entry.index) != entry.term)
                return std::unexpected(Error::from_code(
                    ErrorCode::DataCorrupt,
                    cat("raft log: the entry source's entry ", entry.index, " has term ",
                        entry.term, ", the log's ", term(entry.index).value_or(0))));
        }
        return out;
    }
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

void RaftLog::push_entry(Entry entry) {
    if (m_terms.empty() || m_terms.back().term != entry.term)
        m_terms.push_back({entry.index, entry.term});
    m_last_index = entry.index;
    m_memory_bytes += entry.data.size();
    m_entries.push_back(std::move(entry));
}

void RaftLog::truncate_from(Index index) {
    if (index >= m_memory_from) {
        while (m_entries.size() > index - m_memory_from) {
            m_memory_bytes -= m_entries.back().data.size();
            m_entries.pop_back();
        }
    } else {
        // Not for committed entries (those a correct leader never
        // replaces), but the log stays consistent if it happens: the new
        // entries are held from here on.
        m_entries.clear();
        m_memory_bytes = 0;
        m_memory_from = index;
    }
    while (!m_terms.empty() && m_terms.back().first >= index)
        m_terms.pop_back();
    m_last_index = index - 1;
}

void RaftLog::append(std::vector<Entry> entries) {
    for (Entry& entry : entries)
        push_entry(std::move(entry));
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
        if (entry.index > last_index() || term(entry.index) != entry.term)
            break;
    }
    if (i == entries.size())
        return last_new;
    Index from = entries[i].index;
    // Only an uncommitted suffix may be replaced (the leader's log holds
    // every committed entry).
    truncate_from(from);
    m_unstable_from = std::min(m_unstable_from, from);
    m_persisted = std::min(m_persisted, from - 1);
    for (; i < entries.size(); ++i)
        push_entry(entries[i]);
    return last_new;
}

void RaftLog::reset_to_snapshot(Index index, Term term) {
    m_entries.clear();
    m_terms.clear();
    m_memory_bytes = 0;
    m_memory_from = index + 1;
    m_last_index = index;
    m_snapshot_index = index;
    m_snapshot_term = term;
    m_committed = index;
    m_applying = index;
    m_unstable_from = index + 1;
    m_persisted = std::min(m_persisted, index);
}

void RaftLog::compact(Index index, Term term) {
    while (!m_entries.empty() && m_memory_from <= index) {
        m_memory_bytes -= m_entries.front().data.size();
        m_entries.pop_front();
        ++m_memory_from;
    }
    m_memory_from = std::max(m_memory_from, index + 1);
    if (index >= m_last_index) {
        m_terms.clear();
    } else {
        auto run = m_terms.begin() + (run_of(index + 1) - m_terms.cbegin());
        run->first = index + 1;
        m_terms.erase(m_terms.begin(), run);
    }
    m_snapshot_index = index;
    m_snapshot_term = term;
}

void RaftLog::release(size_t max_entries, size_t max_bytes) {
    if (!m_source)
        return;
    // Only what the disk has (the source reads it back) and what the
    // application has (it is never handed out again).
    Index limit = std::min(m_applied, m_persisted);
    while (!m_entries.empty() && m_memory_from <= limit &&
           (m_entries.size() > max_entries || m_memory_bytes > max_bytes)) {
        m_memory_bytes -= m_entries.front().data.size();
        m_entries.pop_front();
        ++m_memory_from;
    }
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
