// Linearizable reads (ReadIndex, Raft §6.4): the leader records its commit
// index, confirms with a heartbeat round that a quorum still follows it,
// then answers; a leader that has not committed an entry of its own term
// yet holds reads back, since its commit index may be behind the cluster's.
#include "kv/raft_state.h"

namespace keel::kv {

namespace {

void answer(RaftNode::State& s, NodeId to, Index index, std::string context) {
    if (to == s.config.id)
        s.read_states.push_back(ReadState{index, std::move(context)});
    else
        s.send(Message{.type = MessageType::ReadIndexResponse,
                       .to = to,
                       .index = index,
                       .context = std::move(context)});
}

} // namespace

bool RaftNode::State::committed_current_term() const {
    return log.term(log.committed()) == term;
}

void RaftNode::State::handle_read_index(const Message& m) {
    if (!committed_current_term()) {
        reads_waiting_for_commit.push_back(m);
        return;
    }
    if (tracker.conf().voters.size() == 1 && tracker.is_voter(config.id)) {
        answer(*this, m.from, log.committed(), m.context);
        return;
    }
    for (const PendingRead& read : pending_reads)
        if (read.context == m.context)
            return; // already waiting
    pending_reads.push_back(PendingRead{log.committed(), m.from, {config.id}, m.context});
    broadcast_heartbeat(m.context);
}

void RaftNode::State::ack_read(NodeId from, const std::string& context) {
    if (!tracker.is_voter(from))
        return;
    auto it = pending_reads.begin();
    while (it != pending_reads.end() && it->context != context)
        ++it;
    if (it == pending_reads.end())
        return;
    it->acks.insert(from);
    size_t votes = 0;
    for (NodeId id : it->acks)
        if (tracker.is_voter(id))
            ++votes;
    if (votes < tracker.quorum())
        return;
    // The heartbeat for this read went out after every earlier read was
    // recorded: the quorum confirms them too.
    auto end = std::next(it);
    std::vector<PendingRead> done(std::make_move_iterator(pending_reads.begin()),
                                  std::make_move_iterator(end));
    pending_reads.erase(pending_reads.begin(), end);
    for (PendingRead& read : done)
        answer(*this, read.from, read.index, std::move(read.context));
}

void RaftNode::State::release_reads_waiting_for_commit() {
    if (reads_waiting_for_commit.empty() || !committed_current_term())
        return;
    std::vector<Message> waiting = std::move(reads_waiting_for_commit);
    reads_waiting_for_commit.clear();
    for (const Message& m : waiting)
        handle_read_index(m);
}

void RaftNode::State::handle_read_index_response(const Message& m) {
    read_states.push_back(ReadState{m.index, m.context});
}

} // namespace keel::kv
