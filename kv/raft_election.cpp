// Terms, roles and elections: the term rules every message passes first,
// pre-vote and vote rounds, the check-quorum lease, and the ticks that
// start elections (followers) or heartbeats and step-downs (leaders).
#include "kv/raft_state.h"

namespace keel::kv {

namespace {

void reset_role_state(RaftNode::State& s, Term term) {
    if (s.term != term) {
        s.term = term;
        s.vote = 0;
    }
    s.leader = 0;
    s.election_elapsed = 0;
    s.heartbeat_elapsed = 0;
    s.reset_randomized_election_timeout();
    s.abort_leader_transfer();
    s.votes.clear();
    s.pending_reads.clear();
    s.reads_waiting_for_commit.clear();
}

} // namespace

void RaftNode::State::become_follower(Term new_term, NodeId new_leader) {
    reset_role_state(*this, new_term);
    role = Role::Follower;
    leader = new_leader;
}

void RaftNode::State::become_pre_candidate() {
    // The term and vote stay: nothing changes unless a quorum would vote.
    role = Role::PreCandidate;
    leader = 0;
    votes.clear();
}

void RaftNode::State::become_candidate() {
    reset_role_state(*this, term + 1);
    vote = config.id;
    role = Role::Candidate;
}

void RaftNode::State::become_leader() {
    reset_role_state(*this, term);
    role = Role::Leader;
    leader = config.id;
    tracker.reset(log.last_index() + 1);
    if (Progress* self = tracker.find(config.id)) {
        self->maybe_update(log.persisted());
        self->become_replicate();
    }
    // No membership change until everything in the log before this term
    // is committed (and, checked at proposal, an entry of this term is):
    // the fix for the single-server-change bug.
    pending_conf_index = log.last_index();
    // An empty entry of the new term: committing it commits everything
    // before it (Raft §5.4.2) and lets reads be served.
    append_entries({Entry{}});
    broadcast_append();
}

void RaftNode::State::campaign(CampaignKind kind) {
    if (config.pre_vote && kind == CampaignKind::Election) {
        become_pre_candidate();
        votes.record(config.id, true);
        if (votes.result(tracker.conf()) == VoteResult::Won) {
            campaign_vote(kind);
            return;
        }
        for (NodeId id : tracker.conf().voters)
            if (id != config.id)
                send(Message{.type = MessageType::PreVote,
                             .to = id,
                             .term = term + 1,
                             .log_term = log.last_term(),
                             .index = log.last_index(),
                             .campaign = kind});
        return;
    }
    campaign_vote(kind);
}

void RaftNode::State::campaign_vote(CampaignKind kind) {
    become_candidate();
    votes.record(config.id, true);
    if (votes.result(tracker.conf()) == VoteResult::Won) {
        become_leader();
        return;
    }
    for (NodeId id : tracker.conf().voters)
        if (id != config.id)
            send(Message{.type = MessageType::Vote,
                         .to = id,
                         .term = term,
                         .log_term = log.last_term(),
                         .index = log.last_index(),
                         .campaign = kind});
}

void RaftNode::State::tick_election() {
    ++election_elapsed;
    if (promotable() && election_elapsed >= randomized_election_timeout) {
        election_elapsed = 0;
        campaign(CampaignKind::Election);
    }
}

void RaftNode::State::tick_heartbeat() {
    ++heartbeat_elapsed;
    ++election_elapsed;
    if (election_elapsed >= config.election_ticks) {
        election_elapsed = 0;
        if (config.check_quorum) {
            if (!tracker.quorum_active(config.id)) {
                // Cut off from a quorum: stop accepting proposals and
                // reads a new leader may already be serving.
                become_follower(term, 0);
                return;
            }
            tracker.clear_recent_active(config.id);
        }
        abort_leader_transfer();
    }
    if (heartbeat_elapsed >= config.heartbeat_ticks) {
        heartbeat_elapsed = 0;
        broadcast_heartbeat(pending_reads.empty() ? std::string() : pending_reads.back().context);
    }
}

bool RaftNode::State::step_term(const Message& m) {
    if (m.term == 0)
        return true; // forwarded requests belong to no term
    bool vote_request = m.type == MessageType::Vote || m.type == MessageType::PreVote;
    if (m.term > term) {
        if (vote_request) {
            // A member that heard from a leader within the election timeout
            // ignores elections: a rejoining member cannot depose a healthy
            // leader (a transfer is the exception).
            bool in_lease =
                config.check_quorum && leader != 0 && election_elapsed < config.election_ticks;
            if (m.campaign != CampaignKind::Transfer && in_lease)
                return false;
        }
        if (m.type == MessageType::PreVote) {
            // A pre-vote never raises the term.
        } else if (m.type == MessageType::PreVoteResponse && !m.reject) {
            // Granted pre-votes carry the term to be; it is raised on winning.
        } else {
            bool from_leader = m.type == MessageType::Append || m.type == MessageType::Heartbeat ||
                               m.type == MessageType::Snapshot;
            become_follower(m.term, from_leader ? m.from : 0);
        }
        return true;
    }
    if (m.term < term) {
        if ((config.check_quorum || config.pre_vote) &&
            (m.type == MessageType::Append || m.type == MessageType::Heartbeat)) {
            // A leader from an older term (partitioned, then healed) learns
            // the current term and steps down.
            send(Message{.type = MessageType::AppendResponse, .to = m.from});
        } else if (m.type == MessageType::PreVote) {
            send(Message{.type = MessageType::PreVoteResponse, .to = m.from, .reject = true});
        }
        return false;
    }
    return true;
}

void RaftNode::State::handle_vote_request(const Message& m) {
    MessageType response =
        m.type == MessageType::Vote ? MessageType::VoteResponse : MessageType::PreVoteResponse;
    bool can_vote = vote == m.from || (vote == 0 && leader == 0) ||
                    (m.type == MessageType::PreVote && m.term > term);
    if (can_vote && log.is_up_to_date(m.index, m.log_term)) {
        send(Message{.type = response, .to = m.from, .term = m.term});
        if (m.type == MessageType::Vote) {
            election_elapsed = 0;
            vote = m.from;
        }
    } else {
        send(Message{.type = response, .to = m.from, .term = term, .reject = true});
    }
}

void RaftNode::State::handle_vote_response(const Message& m) {
    bool ours = (role == Role::PreCandidate && m.type == MessageType::PreVoteResponse) ||
                (role == Role::Candidate && m.type == MessageType::VoteResponse);
    if (!ours)
        return;
    votes.record(m.from, !m.reject);
    switch (votes.result(tracker.conf())) {
    case VoteResult::Won:
        if (role == Role::PreCandidate)
            campaign_vote(CampaignKind::Election);
        else
            become_leader();
        break;
    case VoteResult::Lost:
        become_follower(term, 0);
        break;
    case VoteResult::Pending:
        break;
    }
}

void RaftNode::State::handle_timeout_now(const Message& m) {
    (void)m;
    if (promotable() && role != Role::Leader)
        campaign(CampaignKind::Transfer);
}

} // namespace keel::kv
