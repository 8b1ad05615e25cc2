// Log replication, both sides: the leader's Appends (batched by size,
// pipelined in Replicate, one at a time in Probe, a snapshot when the
// entries are compacted away), heartbeats, the follower's acceptance or
// rejection with a backtracking hint, and the commit rule (a quorum of
// matches, entries of the current term only).
#include "base/strings.h"
#include "kv/raft_state.h"

#include <algorithm>

namespace keel::kv {

bool RaftNode::State::maybe_send_append(NodeId to, bool send_if_empty) {
    Progress* p = tracker.find(to);
    if (!p || to == config.id || p->paused(config.max_inflight_msgs))
        return false;
    Index previous = p->next - 1;
    std::optional<Term> previous_term = log.term(previous);
    if (!previous_term) {
        // The entries this follower needs were compacted: send the snapshot.
        if (!snapshot || previous > log.last_index())
            return false;
        send(Message{.type = MessageType::Snapshot, .to = to, .snapshot = *snapshot});
        p->become_snapshot(snapshot->meta.index);
        return true;
    }
    std::vector<Entry> entries;
    if (p->next <= log.last_index()) {
        Result<std::vector<Entry>> slice =
            log.slice(p->next, log.last_index(), config.max_size_per_msg);
        if (!slice) {
            // Nothing goes out rather than something wrong; the driver
            // hears why (take_entry_source_error).
            entry_source_error = std::move(slice).error();
            return false;
        }
        entries = std::move(*slice);
    }
    if (entries.empty() && !send_if_empty)
        return false;
    Index last = entries.empty() ? 0 : entries.back().index;
    size_t count = entries.size();
    send(Message{.type = MessageType::Append,
                 .to = to,
                 .log_term = *previous_term,
                 .index = previous,
                 .commit = log.committed(),
                 .entries = std::move(entries)});
    p->sent_entries(last, count);
    return true;
}

void RaftNode::State::broadcast_append() {
    for (const auto& [id, p] : tracker.all())
        if (id != config.id)
            maybe_send_append(id, true);
}

void RaftNode::State::send_pending_appends() {
    if (!append_pending)
        return;
    append_pending = false;
    if (role != Role::Leader)
        return;
    // Not when empty: an Append that went out since (answering a
    // response) may have carried the entries already.
    for (const auto& [id, p] : tracker.all())
        if (id != config.id)
            maybe_send_append(id, false);
}

void RaftNode::State::send_heartbeat(NodeId to, const std::string& context) {
    const Progress* p = tracker.find(to);
    if (!p)
        return;
    // Never more than the follower is known to hold: its log after
    // `match` may still differ from ours.
    send(Message{.type = MessageType::Heartbeat,
                 .to = to,
                 .commit = std::min(p->match, log.committed()),
                 .context = context});
}

void RaftNode::State::broadcast_heartbeat(const std::string& context) {
    for (const auto& [id, p] : tracker.all())
        if (id != config.id)
            send_heartbeat(id, context);
}

void RaftNode::State::append_entries(std::vector<Entry> entries) {
    Index index = log.last_index();
    for (Entry& entry : entries) {
        entry.term = term;
        entry.index = ++index;
    }
    log.append(std::move(entries));
}

bool RaftNode::State::maybe_commit() {
    Index index = tracker.quorum_match();
    // Only an entry of the current term is committed by counting replicas
    // (Raft §5.4.2); earlier ones are committed with it.
    if (index <= log.committed() || log.term(index) != term)
        return false;
    commit_to(index);
    return true;
}

void RaftNode::State::commit_to(Index index) {
    Index before = log.committed();
    if (log.commit_to(index))
        apply_conf_changes(before, log.committed());
}

void RaftNode::State::leader_committed() {
    broadcast_append();
    release_reads_waiting_for_commit();
    if (!tracker.is_voter(config.id)) {
        // Our removal committed (and the commit index just went out).
        become_follower(term, 0);
    }
}

void RaftNode::State::self_persisted() {
    Progress* self = tracker.find(config.id);
    if (self && self->maybe_update(log.persisted()) && maybe_commit())
        leader_committed();
}

void RaftNode::State::handle_append(const Message& m) {
    if (m.index < log.committed()) {
        send(Message{.type = MessageType::AppendResponse, .to = m.from, .index = log.committed()});
        return;
    }
    if (!log.matches(m.index, m.log_term)) {
        // Tell the leader where to look: our last index with a term no
        // newer than its previous entry's, so it skips a whole term of
        // conflicting entries per round trip.
        Index from = std::min(m.index, log.last_index());
        auto [hint, hint_term] = log.find_conflict_by_term(from, m.log_term);
        send(Message{.type = MessageType::AppendResponse,
                     .to = m.from,
                     .log_term = hint_term,
                     .index = m.index,
                     .reject_hint = hint,
                     .reject = true});
        return;
    }
    Index last_new = log.append_after(m.index, m.entries);
    commit_to(std::min(m.commit, last_new));
    send(Message{.type = MessageType::AppendResponse, .to = m.from, .index = last_new});
}

void RaftNode::State::handle_heartbeat(const Message& m) {
    commit_to(m.commit);
    send(Message{.type = MessageType::HeartbeatResponse, .to = m.from, .context = m.context});
}

void RaftNode::State::handle_snapshot(const Message& m) {
    const SnapshotMeta& meta = m.snapshot.meta;
    if (meta.index <= log.committed()) {
        send(Message{.type = MessageType::AppendResponse, .to = m.from, .index = log.committed()});
        return;
    }
    if (log.matches(meta.index, meta.term)) {
        // We hold what it covers: just commit up to it.
        commit_to(meta.index);
        send(Message{.type = MessageType::AppendResponse, .to = m.from, .index = log.committed()});
        return;
    }
    log.reset_to_snapshot(meta.index, meta.term);
    conf_history.clear();
    set_conf(meta.conf, meta.index);
    // The data (the state machine's whole state) is handed out once; kept
    // is the position, and a Snapshot this member sends later gets its data
    // from the application (Snapshot messages with no data).
    snapshot = Snapshot{meta, {}};
    snapshot_to_hand_out = m.snapshot;
    send(Message{.type = MessageType::AppendResponse, .to = m.from, .index = meta.index});
}

void RaftNode::State::handle_append_response(const Message& m, Progress& p) {
    p.recent_active = true;
    if (m.reject) {
        Index probe_at = m.reject_hint;
        if (m.log_term > 0)
            probe_at = log.find_conflict_by_term(m.reject_hint, m.log_term).first;
        if (p.maybe_decrease(m.index, probe_at)) {
            if (p.state == ProgressState::Replicate)
                p.become_probe();
            maybe_send_append(m.from, true);
        }
        return;
    }
    bool was_paused = p.paused(config.max_inflight_msgs);
    if (!p.maybe_update(m.index))
        return;
    if (p.state == ProgressState::Probe)
        p.become_replicate();
    else if (p.state == ProgressState::Snapshot && p.match >= p.pending_snapshot)
        p.become_replicate();
    if (maybe_commit()) {
        // (A membership change may have committed: `p` is stale now.)
        leader_committed();
        if (role != Role::Leader)
            return;
    } else if (was_paused) {
        maybe_send_append(m.from, true);
    }
    while (maybe_send_append(m.from, false)) {
    }
    const Progress* now = tracker.find(m.from);
    if (now && m.from == transferee && now->match == log.last_index())
        send(Message{.type = MessageType::TimeoutNow, .to = m.from});
}

void RaftNode::State::handle_heartbeat_response(const Message& m, Progress& p) {
    p.recent_active = true;
    p.probe_sent = false;
    // Appends may have been lost: let one more go out, which the follower
    // either takes or rejects (and the rejection resets `next`).
    if (p.state == ProgressState::Replicate && p.inflights.size() >= config.max_inflight_msgs)
        p.inflights.pop_front();
    if (p.match < log.last_index())
        maybe_send_append(m.from, true);
    if (!m.context.empty())
        ack_read(m.from, m.context);
}

} // namespace keel::kv
