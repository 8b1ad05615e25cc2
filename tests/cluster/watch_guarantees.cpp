// tests/cluster/watch_guarantees.cpp: one pass over each watcher's
// messages, segment by segment (a reconnect starts one), against the
// writes indexed by revision.
#include "tests/cluster/watch_guarantees.h"

#include "base/strings.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace keel::watch_guarantees {

bool watches(const Watcher& watcher, const std::string& key) {
    if (watcher.range_end.empty())
        return key == watcher.key;
    if (watcher.range_end == std::string(1, '\0'))
        return key >= watcher.key;
    return key >= watcher.key && key < watcher.range_end;
}

namespace {

using RevisionKey = std::pair<uint64_t, std::string>;

std::string describe_event(const Event& event) {
    std::string out = cat(kEventTypeNames.name(event.type), " ", keel::quoted(event.key));
    if (event.type == EventType::Put)
        out += cat(" = ", keel::quoted(event.value));
    return out;
}

// Checks one watcher; appends to `out`.
class WatcherCheck {
public:
    WatcherCheck(const Watcher& watcher, const std::multimap<uint64_t, const Event*>& writes,
                 const std::map<RevisionKey, const Event*>& write_at, WriteSet write_set,
                 std::vector<Violation>& out)
        : m_watcher(watcher), m_writes(writes), m_write_at(write_at), m_write_set(write_set),
          m_out(out) {}

    void run() {
        start_segment(m_watcher.start_revision, Start::Initial);
        for (const Message& message : m_watcher.messages) {
            switch (message.kind) {
            case MessageKind::Events:
                receive(message.events);
                break;
            case MessageKind::Progress:
                m_progress = std::max(m_progress, message.revision);
                break;
            case MessageKind::Resume:
                end_segment();
                start_segment(message.revision, Start::Resumed);
                break;
            }
        }
        end_segment();
    }

private:
    enum class Start : uint8_t { Initial, Resumed };

    void report(Guarantee guarantee, uint64_t revision, std::string what) {
        m_out.push_back({guarantee, revision, m_watcher.name, std::move(what)});
    }

    void start_segment(uint64_t from, Start start) {
        m_start = from;
        m_how = start;
        m_seen.clear();
        m_last = 0;
        m_progress = 0;
        m_previous_response_revisions.clear();
    }

    // etcd's clientv3 3.4 resumes a watch it reconnects by itself at the
    // revision of the last progress notify, not one past it (its
    // serveSubstream sets nextRev = Header.Revision; against etcd too):
    // when the last event seen is at that revision, the new stream sends
    // it again. A response that starts by repeating exactly the events of
    // that revision, right after such a notify, is that resume: those
    // events are passed over and the segment goes on from there. Anything
    // else repeated is still reported.
    size_t client_resume_repeats(const std::vector<Event>& events) const {
        if (events.empty() || m_progress == 0 || m_progress != m_last ||
            events.front().revision != m_progress)
            return 0;
        size_t count = 0;
        while (count < events.size() && events[count].revision == m_progress) {
            auto it = m_write_at.find({events[count].revision, events[count].key});
            bool same = m_seen.contains({events[count].revision, events[count].key}) &&
                        (it == m_write_at.end() || (it->second->type == events[count].type &&
                                                    it->second->value == events[count].value));
            if (!same)
                return 0;
            ++count;
        }
        size_t seen_at_progress = 0;
        for (const RevisionKey& seen : m_seen)
            seen_at_progress += seen.first == m_progress;
        return count == seen_at_progress ? count : 0;
    }

    void receive(const std::vector<Event>& all_events) {
        size_t repeated = client_resume_repeats(all_events);
        if (repeated > 0)
            m_progress = 0; // the new stream's notifies are its own
        std::vector<Event> events(all_events.begin() + ptrdiff_t(repeated), all_events.end());
        std::set<uint64_t> revisions;
        for (const Event& event : events) {
            uint64_t r = event.revision;
            if (m_start == 0)
                m_start = r;
            if (r < m_last)
                report(Guarantee::Ordered, r,
                       cat(describe_event(event), " arrived after revision ", m_last));
            if (r < m_start)
                report(m_how == Start::Resumed ? Guarantee::Resumable : Guarantee::Ordered, r,
                       cat(describe_event(event), " is before the start revision ", m_start));
            if (m_progress != 0 && r <= m_progress)
                report(Guarantee::Bookmarkable, r,
                       cat(describe_event(event), " arrived after progress notify at revision ",
                           m_progress));
            if (!m_seen.insert({r, event.key}).second)
                report(Guarantee::Unique, r, cat(describe_event(event), " arrived twice"));
            if (!watches(m_watcher, event.key))
                report(Guarantee::Faithful, r,
                       cat(describe_event(event), " is outside the watched range"));
            check_against_write(event);
            m_last = std::max(m_last, r);
            revisions.insert(r);
        }
        // Atomic: each revision whole in this response. With the writes
        // known, compare against them; without, a revision that an earlier
        // response already carried was split.
        for (uint64_t r : revisions) {
            auto [first, last] = m_writes.equal_range(r);
            if (first == last) {
                if (m_previous_response_revisions.contains(r))
                    report(Guarantee::Atomic, r,
                           cat("revision ", r, " was split across responses"));
                continue;
            }
            for (auto it = first; it != last; ++it) {
                const Event& write = *it->second;
                if (!watches(m_watcher, write.key))
                    continue;
                bool included = std::any_of(events.begin(), events.end(), [&](const Event& e) {
                    return e.revision == r && e.key == write.key;
                });
                if (!included)
                    report(Guarantee::Atomic, r,
                           cat("a response carried revision ", r, " without its ",
                               describe_event(write)));
            }
        }
        m_previous_response_revisions.insert(revisions.begin(), revisions.end());
    }

    void check_against_write(const Event& event) {
        auto it = m_write_at.find({event.revision, event.key});
        if (it == m_write_at.end()) {
            if (m_write_set == WriteSet::Complete)
                report(Guarantee::Faithful, event.revision,
                       cat(describe_event(event), " matches no write at that revision"));
            return;
        }
        const Event& write = *it->second;
        if (write.type != event.type || write.value != event.value)
            report(Guarantee::Faithful, event.revision,
                   cat(describe_event(event), " but the write was ", describe_event(write)));
    }

    // Reliable: every watched write from the start to the last revision
    // this segment saw (an event or a progress notify) was delivered.
    void end_segment() {
        uint64_t upper = std::max(m_last, m_progress);
        if (m_start == 0 || upper == 0)
            return;
        for (auto it = m_writes.lower_bound(m_start); it != m_writes.end() && it->first <= upper;
             ++it) {
            const Event& write = *it->second;
            if (watches(m_watcher, write.key) && !m_seen.contains({write.revision, write.key}))
                report(Guarantee::Reliable, write.revision,
                       cat(describe_event(write),
                           " was not delivered (the watcher saw up to "
                           "revision ",
                           upper, ")"));
        }
    }

    const Watcher& m_watcher;
    const std::multimap<uint64_t, const Event*>& m_writes;
    const std::map<RevisionKey, const Event*>& m_write_at;
    WriteSet m_write_set;
    std::vector<Violation>& m_out;

    uint64_t m_start = 0;
    Start m_how = Start::Initial;
    std::set<RevisionKey> m_seen;
    uint64_t m_last = 0;
    uint64_t m_progress = 0;
    std::set<uint64_t> m_previous_response_revisions;
};

} // namespace

std::vector<Violation> check(const std::vector<Watcher>& watchers, const std::vector<Event>& writes,
                             WriteSet write_set) {
    std::multimap<uint64_t, const Event*> by_revision;
    std::map<RevisionKey, const Event*> write_at;
    for (const Event& write : writes) {
        by_revision.emplace(write.revision, &write);
        write_at.emplace(RevisionKey{write.revision, write.key}, &write);
    }
    std::vector<Violation> violations;
    for (const Watcher& watcher : watchers)
        WatcherCheck(watcher, by_revision, write_at, write_set, violations).run();
    return violations;
}

std::string describe(const Violation& violation) {
    return cat("watcher ", keel::quoted(violation.watcher), ", revision ", violation.revision, ": ",
               kGuaranteeNames.name(violation.guarantee), ": ", violation.what);
}

} // namespace keel::watch_guarantees
