// Membership: single-server changes (add a voter or a learner, promote a
// learner, remove a member) encoded in log entries and taking effect when
// committed, one at a time and only once the leader committed an entry of
// its own term; the leader's check that a learner to promote is in sync
// (etcd's readyPercent); and leadership transfer.
#include "base/strings.h"
#include "kv/raft_state.h"

#include <algorithm>

namespace keel::kv {

namespace {

// How far a learner's log must reach, as a fraction of the leader's, for
// it to be promoted (etcd's readyPercent).
constexpr double kLearnerReadyFraction = 0.9;

bool contains(const std::vector<NodeId>& ids, NodeId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

} // namespace

std::string encode_conf_change(const ConfChange& change) {
    std::string out;
    out.push_back(char(change.type));
    for (int shift = 0; shift < 64; shift += 8)
        out.push_back(char((change.node >> shift) & 0xff));
    out += change.context;
    return out;
}

Result<ConfChange> decode_conf_change(std::string_view data) {
    if (data.size() < 9)
        return error(cat("membership change of ", data.size(), " bytes is too short"));
    ConfChange change;
    change.type = ConfChangeType(uint8_t(data[0]));
    if (kConfChangeTypeNames.name(change.type) == "?")
        return error(cat("membership change type ", int(uint8_t(data[0])), " is unknown"));
    for (int i = 0; i < 8; ++i)
        change.node |= uint64_t(uint8_t(data[1 + i])) << (8 * i);
    if (change.node == 0)
        return error("membership change for member 0");
    change.context = std::string(data.substr(9));
    return change;
}

Result<ConfState> apply_conf_change(const ConfState& conf, const ConfChange& change) {
    ConfState out = conf;
    NodeId id = change.node;
    bool voter = contains(conf.voters, id);
    bool learner = contains(conf.learners, id);
    switch (change.type) {
    case ConfChangeType::AddVoter:
        if (voter)
            return error(cat("member ", id, " is a voter already"));
        if (learner)
            return error(cat("member ", id, " is a learner: promote it"));
        out.voters.push_back(id);
        break;
    case ConfChangeType::AddLearner:
        if (voter || learner)
            return error(cat("member ", id, " is a member already"));
        out.learners.push_back(id);
        break;
    case ConfChangeType::RemoveNode:
        if (voter && conf.voters.size() == 1)
            return error(cat("member ", id, " is the last voter"));
        if (!voter && !learner)
            return error(cat("member ", id, " is no member"));
        std::erase(out.voters, id);
        std::erase(out.learners, id);
        break;
    case ConfChangeType::PromoteLearner:
        if (!learner)
            return error(cat("member ", id, " is no learner"));
        std::erase(out.learners, id);
        out.voters.push_back(id);
        break;
    case ConfChangeType::RefusedPromotion:
        return std::unexpected(Error::from_code(
            ErrorCode::LearnerNotReady, cat("member ", id, " is not in sync with the leader")));
    }
    std::sort(out.voters.begin(), out.voters.end());
    std::sort(out.learners.begin(), out.learners.end());
    return out;
}

void RaftNode::State::set_conf(const ConfState& conf, Index index) {
    tracker.set_conf(conf, log.last_index() + 1);
    conf_history.push_back({index, conf});
    if (transferee != 0 && !tracker.is_voter(transferee))
        abort_leader_transfer();
}

void RaftNode::State::apply_conf_changes(Index from, Index to) {
    for (Index i = std::max(from, log.snapshot_index()) + 1; i <= to; ++i) {
        const Entry& entry = log.at(i);
        if (entry.type != EntryType::ConfChange)
            continue;
        // The log decides: an entry that does not apply is a no-op on
        // every member alike.
        Result<ConfChange> change = decode_conf_change(entry.data);
        if (!change)
            continue;
        Result<ConfState> conf = apply_conf_change(tracker.conf(), *change);
        if (!conf)
            continue;
        if (change->type == ConfChangeType::RemoveNode)
            tell_removed_member(change->node);
        set_conf(*conf, i);
    }
}

void RaftNode::State::tell_removed_member(NodeId id) {
    // The leader stops sending to a member once its removal applies, so
    // the commit that removes it goes out to it first: a member asked to
    // remove itself hears that it is done and can answer (etcd's leader
    // still sends to it until its application layer applies the change).
    if (role != Role::Leader || id == config.id || !tracker.find(id))
        return;
    if (!maybe_send_append(id, true))
        send_heartbeat(id, {});
}

bool RaftNode::State::learner_in_sync(NodeId id) const {
    const Progress* p = tracker.find(id);
    return p && double(p->match) >= double(log.last_index()) * kLearnerReadyFraction;
}

ConfState RaftNode::State::conf_at(Index index) const {
    ConfState conf;
    for (const auto& [at, state] : conf_history)
        if (at <= index)
            conf = state;
    return conf;
}

Result<void> RaftNode::State::leader_propose(std::vector<Entry> entries) {
    if (transferee != 0)
        return std::unexpected(Error::from_code(
            ErrorCode::ProposalDropped, cat("leadership is moving to member ", transferee)));
    if (!tracker.is_member(config.id))
        return std::unexpected(
            Error::from_code(ErrorCode::ProposalDropped, "this member was removed"));
    bool has_change = false;
    for (Entry& entry : entries) {
        if (entry.type != EntryType::ConfChange)
            continue;
        ConfChange change = TRY(decode_conf_change(entry.data));
        if (has_change || pending_conf_index > log.committed())
            return std::unexpected(Error::from_code(
                ErrorCode::ProposalDropped, "another membership change is not committed yet"));
        if (!committed_current_term())
            return std::unexpected(
                Error::from_code(ErrorCode::ProposalDropped,
                                 "the leader has not committed an entry of its term yet"));
        TRY(apply_conf_change(tracker.conf(), change));
        // Only the leader knows how far a learner got: a promotion it
        // refuses goes through the log as a refusal, so that a follower
        // that forwarded it gets the same answer as the leader's caller.
        if (change.type == ConfChangeType::PromoteLearner && !learner_in_sync(change.node)) {
            change.type = ConfChangeType::RefusedPromotion;
            entry.data = encode_conf_change(change);
        }
        has_change = true;
    }
    if (has_change)
        pending_conf_index = log.last_index() + entries.size();
    append_entries(std::move(entries));
    append_pending = true; // sent with the next Ready, with the others
    return {};
}

Result<void> RaftNode::State::handle_transfer(NodeId target) {
    if (role != Role::Leader)
        return std::unexpected(Error::from_code(ErrorCode::NoLeader, "not the leader"));
    if (target == config.id)
        return {};
    if (!tracker.is_voter(target))
        return error(cat("member ", target, " is no voter"));
    if (transferee == target)
        return {};
    transferee = target;
    // The transfer is abandoned if it does not finish within an election
    // timeout (tick_heartbeat).
    election_elapsed = 0;
    const Progress* p = tracker.find(target);
    if (p->match == log.last_index())
        send(Message{.type = MessageType::TimeoutNow, .to = target});
    else
        maybe_send_append(target, true);
    return {};
}

} // namespace keel::kv
