// RaftNode: construction from what is on disk (or a new cluster's
// membership), ticks, message dispatch, the public requests, and the Ready
// cycle (what is handed out, what advance() marks done).
#include "kv/raft.h"

#include "base/strings.h"
#include "kv/raft_state.h"

#include <algorithm>

namespace keel::kv {

namespace {

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool sent_after_persist(MessageType type) {
    // Vote requests promise the candidate's own vote; the responses promise
    // a vote or entries on disk.
    return type == MessageType::Vote || type == MessageType::VoteResponse ||
           type == MessageType::PreVoteResponse || type == MessageType::AppendResponse;
}

} // namespace

void RaftNode::State::send(Message message) {
    message.from = config.id;
    bool forwarded = message.type == MessageType::Propose || message.type == MessageType::ReadIndex;
    if (forwarded)
        message.term = 0;
    else if (message.term == 0)
        message.term = term;
    if (!forwarded && message.term == 0)
        return; // a member that never saw a term has nothing to say
    if (sent_after_persist(message.type))
        messages_after_persist.push_back(std::move(message));
    else
        messages.push_back(std::move(message));
}

uint64_t RaftNode::State::next_random() {
    return splitmix64(rng);
}

void RaftNode::State::reset_randomized_election_timeout() {
    int ticks = std::max(config.election_ticks, 1);
    randomized_election_timeout = ticks + int(next_random() % uint64_t(ticks));
}

RaftNode::RaftNode(RaftConfig config, RestoreState restore) : m_state(std::make_unique<State>()) {
    State& s = *m_state;
    s.config = config;
    s.log.set_entry_source(config.entry_source);
    s.rng = config.seed ^ (config.id * 0x2545f4914f6cdd1dULL);
    s.conf_history.push_back({0, ConfState{}});

    bool fresh = !restore.snapshot && restore.entries.empty() && restore.hard == HardState{};
    if (fresh && !restore.initial.voters.empty()) {
        // A new cluster: the membership goes into the log as committed
        // entries of term 1, identical on every initial member, so that a
        // member added later replays it from the log.
        std::vector<Entry> bootstrap;
        auto add = [&](ConfChangeType type, NodeId id) {
            Index index = bootstrap.size() + 1;
            auto context = restore.initial_contexts.find(id);
            std::string data =
                context == restore.initial_contexts.end() ? std::string() : context->second;
            bootstrap.push_back({1, index, EntryType::ConfChange,
                                 encode_conf_change(ConfChange{type, id, std::move(data)})});
        };
        std::vector<NodeId> voters = restore.initial.voters;
        std::vector<NodeId> learners = restore.initial.learners;
        std::sort(voters.begin(), voters.end());
        std::sort(learners.begin(), learners.end());
        for (NodeId id : voters)
            add(ConfChangeType::AddVoter, id);
        for (NodeId id : learners)
            add(ConfChangeType::AddLearner, id);
        s.log.append(std::move(bootstrap));
        s.term = 1;
        s.commit_to(s.log.last_index());
    } else {
        Index snapshot_index = 0;
        Term snapshot_term = 0;
        if (restore.snapshot) {
            snapshot_index = restore.snapshot->meta.index;
            snapshot_term = restore.snapshot->meta.term;
            s.conf_history.clear();
            s.set_conf(restore.snapshot->meta.conf, snapshot_index);
            s.snapshot = std::move(restore.snapshot);
        }
        // Entries the snapshot covers may linger on disk: skip them.
        std::erase_if(restore.entries, [&](const Entry& e) { return e.index <= snapshot_index; });
        s.log.restore(snapshot_index, snapshot_term, std::move(restore.entries),
                      restore.hard.commit, restore.applied);
        s.term = restore.hard.term;
        s.vote = restore.hard.vote;
        s.apply_conf_changes(snapshot_index, s.log.committed());
        s.handed_out_hard = restore.hard;
    }
    NodeId vote = s.vote;
    s.become_follower(s.term, 0);
    s.vote = vote;
    s.handed_out_role = Role::Follower;
    // What the disk and the application have leaves memory from the start.
    s.log.release(config.max_entries_in_memory, config.max_bytes_in_memory);
}

RaftNode::~RaftNode() = default;
RaftNode::RaftNode(RaftNode&&) noexcept = default;
RaftNode& RaftNode::operator=(RaftNode&&) noexcept = default;

NodeId RaftNode::id() const {
    return m_state->config.id;
}

void RaftNode::tick() {
    if (m_state->role == Role::Leader)
        m_state->tick_heartbeat();
    else
        m_state->tick_election();
}

Result<void> RaftNode::step(const Message& m) {
    State& s = *m_state;
    TRY(validate_message(m, s.config.id));
    if ((m.type == MessageType::AppendResponse || m.type == MessageType::HeartbeatResponse) &&
        m.term == s.term && s.role == Role::Leader && !m.reject && m.index > s.log.last_index())
        return error(cat("raft ", kMessageTypeNames.name(m.type), " from ", m.from,
                         ": acknowledges index ", m.index, " beyond the leader's last ",
                         s.log.last_index()));
    if (!s.step_term(m))
        return {};
    switch (m.type) {
    case MessageType::PreVote:
    case MessageType::Vote:
        s.handle_vote_request(m);
        break;
    case MessageType::PreVoteResponse:
    case MessageType::VoteResponse:
        s.handle_vote_response(m);
        break;
    case MessageType::Append:
    case MessageType::Heartbeat:
    case MessageType::Snapshot:
        if (s.role == Role::Leader)
            return error(cat("raft ", kMessageTypeNames.name(m.type), " from ", m.from,
                             ": a second leader in term ", m.term));
        if (s.role != Role::Follower || s.leader != m.from)
            s.become_follower(m.term, m.from);
        s.election_elapsed = 0;
        if (m.type == MessageType::Append)
            s.handle_append(m);
        else if (m.type == MessageType::Heartbeat)
            s.handle_heartbeat(m);
        else
            s.handle_snapshot(m);
        break;
    case MessageType::AppendResponse:
    case MessageType::HeartbeatResponse: {
        if (s.role != Role::Leader)
            break;
        Progress* progress = s.tracker.find(m.from);
        if (!progress)
            break;
        if (m.type == MessageType::AppendResponse)
            s.handle_append_response(m, *progress);
        else
            s.handle_heartbeat_response(m, *progress);
        break;
    }
    case MessageType::Propose:
        // A follower forwards once; a non-leader drops a forwarded
        // proposal rather than bounce it around (the client retries).
        if (s.role == Role::Leader)
            (void)s.leader_propose(m.entries);
        break;
    case MessageType::ReadIndex:
        if (s.role == Role::Leader)
            s.handle_read_index(m);
        break;
    case MessageType::ReadIndexResponse:
        s.handle_read_index_response(m);
        break;
    case MessageType::TimeoutNow:
        s.handle_timeout_now(m);
        break;
    }
    return {};
}

Result<void> RaftNode::propose(std::string data) {
    State& s = *m_state;
    std::vector<Entry> entries{Entry{0, 0, EntryType::Normal, std::move(data)}};
    if (s.role == Role::Leader)
        return s.leader_propose(std::move(entries));
    if (s.leader == 0)
        return std::unexpected(Error::from_code(ErrorCode::NoLeader, "no leader"));
    // Proposals made before the next Ready travel in one message (up to
    // max_size_per_msg): the leader appends and replicates them together.
    // A membership change keeps a message of its own, so that a refused one
    // takes no other entry with it.
    if (!s.messages.empty()) {
        Message& last = s.messages.back();
        if (last.type == MessageType::Propose && last.to == s.leader &&
            last.entries.front().type == EntryType::Normal) {
            size_t bytes = entries.front().data.size();
            for (const Entry& entry : last.entries)
                bytes += entry.data.size();
            if (bytes <= s.config.max_size_per_msg) {
                last.entries.push_back(std::move(entries.front()));
                return {};
            }
        }
    }
    s.send(Message{.type = MessageType::Propose, .to = s.leader, .entries = std::move(entries)});
    return {};
}

Result<void> RaftNode::propose_conf_change(const ConfChange& change) {
    State& s = *m_state;
    if (change.node == 0)
        return error("a membership change needs a member id");
    std::vector<Entry> entries{Entry{0, 0, EntryType::ConfChange, encode_conf_change(change)}};
    if (s.role == Role::Leader)
        return s.leader_propose(std::move(entries));
    if (s.leader == 0)
        return std::unexpected(Error::from_code(ErrorCode::NoLeader, "no leader"));
    s.send(Message{.type = MessageType::Propose, .to = s.leader, .entries = std::move(entries)});
    return {};
}

Result<void> RaftNode::read_index(std::string context) {
    State& s = *m_state;
    if (s.role == Role::Leader) {
        s.handle_read_index(Message{.type = MessageType::ReadIndex,
                                    .from = s.config.id,
                                    .to = s.config.id,
                                    .context = std::move(context)});
        return {};
    }
    if (s.leader == 0)
        return std::unexpected(Error::from_code(ErrorCode::NoLeader, "no leader"));
    s.send(Message{.type = MessageType::ReadIndex, .to = s.leader, .context = std::move(context)});
    return {};
}

Result<void> RaftNode::transfer_leadership(NodeId target) {
    return m_state->handle_transfer(target);
}

bool RaftNode::has_ready() const {
    const State& s = *m_state;
    return s.hard_state() != s.handed_out_hard || s.log.has_unstable() || s.snapshot_to_hand_out ||
           s.append_pending || !s.messages.empty() || !s.messages_after_persist.empty() ||
           s.log.has_committed_to_hand_out() || !s.read_states.empty() ||
           s.leader != s.handed_out_leader || s.role != s.handed_out_role;
}

Ready RaftNode::ready() {
    State& s = *m_state;
    s.send_pending_appends();
    Ready ready;
    HardState hard = s.hard_state();
    if (hard != s.handed_out_hard) {
        ready.hard_state = hard;
        s.handed_out_hard = hard;
    }
    if (s.snapshot_to_hand_out) {
        ready.snapshot = std::move(s.snapshot_to_hand_out);
        s.snapshot_to_hand_out.reset();
    }
    ready.entries = s.log.hand_out_unstable();
    ready.messages = std::move(s.messages);
    s.messages.clear();
    ready.messages_after_persist = std::move(s.messages_after_persist);
    s.messages_after_persist.clear();
    ready.committed = s.log.hand_out_committed();
    ready.read_states = std::move(s.read_states);
    s.read_states.clear();
    ready.leader = s.handed_out_leader = s.leader;
    ready.role = s.handed_out_role = s.role;
    return ready;
}

void RaftNode::advance(const Ready& ready) {
    State& s = *m_state;
    if (ready.snapshot) {
        s.log.snapshot_persisted(ready.snapshot->meta.index);
        s.log.applied_to(ready.snapshot->meta.index);
    }
    if (!ready.entries.empty())
        s.log.persisted_to(ready.entries.back().index, ready.entries.back().term);
    if (!ready.committed.empty())
        s.log.applied_to(ready.committed.back().index);
    if (s.role == Role::Leader)
        s.self_persisted();
    s.log.release(s.config.max_entries_in_memory, s.config.max_bytes_in_memory);
}

void RaftNode::report_unreachable(NodeId peer) {
    State& s = *m_state;
    if (s.role != Role::Leader)
        return;
    if (Progress* p = s.tracker.find(peer); p && p->state == ProgressState::Replicate)
        p->become_probe();
}

void RaftNode::report_snapshot(NodeId peer, SnapshotStatus status) {
    State& s = *m_state;
    if (s.role != Role::Leader)
        return;
    Progress* p = s.tracker.find(peer);
    if (!p || p->state != ProgressState::Snapshot)
        return;
    if (status == SnapshotStatus::Failure)
        p->pending_snapshot = 0;
    p->become_probe();
    // Wait for the next heartbeat response before probing.
    p->probe_sent = true;
}

Result<SnapshotMeta> RaftNode::compact(Index index, std::string data) {
    State& s = *m_state;
    if (index <= s.log.snapshot_index())
        return error(cat("compact to ", index, ": the log is compacted to ", s.log.snapshot_index(),
                         " already"));
    if (index > s.log.applied())
        return error(cat("compact to ", index, ": only ", s.log.applied(), " is applied"));
    SnapshotMeta meta{index, *s.log.term(index), s.conf_at(index)};
    s.log.compact(index, meta.term);
    std::erase_if(s.conf_history, [&](const auto& change) { return change.first <= index; });
    s.conf_history.insert(s.conf_history.begin(), {index, meta.conf});
    s.snapshot = Snapshot{meta, std::move(data)};
    return meta;
}

RaftStatus RaftNode::status() const {
    const State& s = *m_state;
    RaftStatus status{
        .id = s.config.id,
        .term = s.term,
        .vote = s.vote,
        .role = s.role,
        .leader = s.leader,
        .commit = s.log.committed(),
        .applied = s.log.applied(),
        .first_index = s.log.first_index(),
        .last_index = s.log.last_index(),
        .first_in_memory = s.log.first_in_memory(),
        .transferee = s.transferee,
        .conf = s.tracker.conf(),
    };
    if (s.role == Role::Leader)
        for (const auto& [id, p] : s.tracker.all())
            status.peers.push_back(PeerStatus{id, p.match, p.next, p.state, p.learner,
                                              p.recent_active, p.inflights.size()});
    return status;
}

std::vector<Entry> RaftNode::log_entries() const {
    const std::deque<Entry>& entries = m_state->log.entries();
    return {entries.begin(), entries.end()};
}

std::optional<Term> RaftNode::log_term(Index index) const {
    return m_state->log.term(index);
}

std::optional<Error> RaftNode::take_entry_source_error() {
    std::optional<Error> taken = std::move(m_state->entry_source_error);
    m_state->entry_source_error.reset();
    return taken;
}

} // namespace keel::kv
