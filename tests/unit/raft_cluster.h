// A small in-memory cluster of RaftNodes for the Raft unit tests: every
// Ready is taken at once (nothing is modelled on disk), messages go
// through one queue, and members can be cut off. The deterministic
// simulation with faults is tests/sim/raft_sim.cpp.
#pragma once

#include "kv/raft.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace keel::kv::testing {

struct Cluster {
    std::map<NodeId, std::unique_ptr<RaftNode>> nodes;
    std::vector<Message> queue;
    std::set<NodeId> isolated;
    /// Drop the messages this says to (in addition to isolation).
    std::function<bool(const Message&)> drop;
    std::map<NodeId, std::vector<Entry>> applied;
    std::map<NodeId, std::vector<ReadState>> reads;

    static RaftConfig config(NodeId id) {
        return RaftConfig{.id = id, .election_ticks = 10, .heartbeat_ticks = 1, .seed = 7};
    }

    /// A new cluster of `voters` (and `learners`).
    explicit Cluster(std::vector<NodeId> voters, std::vector<NodeId> learners = {}) {
        for (NodeId id : voters)
            add(id, RestoreState{.initial = {voters, learners}});
        for (NodeId id : learners)
            add(id, RestoreState{.initial = {voters, learners}});
        deliver();
    }
    /// A cluster whose members start from the given states, with at most
    /// `max_size_per_msg` bytes of entries per Append.
    Cluster(size_t max_size_per_msg, std::map<NodeId, RestoreState> states) {
        for (auto& [id, state] : states) {
            RaftConfig c = config(id);
            c.max_size_per_msg = max_size_per_msg;
            nodes[id] = std::make_unique<RaftNode>(c, std::move(state));
        }
    }

    void add(NodeId id, RestoreState state) {
        nodes[id] = std::make_unique<RaftNode>(config(id), std::move(state));
    }
    RaftNode& operator[](NodeId id) { return *nodes.at(id); }
    RaftStatus status(NodeId id) { return nodes.at(id)->status(); }

    /// Takes every Ready: messages to the queue, committed entries applied.
    void flush() {
        for (bool any = true; any;) {
            any = false;
            for (auto& [id, node] : nodes) {
                if (!node->has_ready())
                    continue;
                any = true;
                Ready ready = node->ready();
                for (Message& m : ready.messages)
                    queue.push_back(m);
                for (Message& m : ready.messages_after_persist)
                    queue.push_back(m);
                for (Entry& e : ready.committed)
                    applied[id].push_back(e);
                for (ReadState& r : ready.read_states)
                    reads[id].push_back(r);
                node->advance(ready);
            }
        }
    }
    /// Delivers messages until none is left.
    void deliver() {
        for (int round = 0; round < 1000; ++round) {
            flush();
            if (queue.empty())
                return;
            std::vector<Message> batch = std::move(queue);
            queue.clear();
            for (const Message& m : batch) {
                if (isolated.contains(m.from) || isolated.contains(m.to) || !nodes.contains(m.to))
                    continue;
                if (drop && drop(m))
                    continue;
                Result<void> r = nodes[m.to]->step(m);
                REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().to_string()));
            }
        }
        FAIL("messages kept flowing");
    }
    /// Ticks every member `count` times, delivering after each tick.
    void tick(int count = 1) {
        for (int i = 0; i < count; ++i) {
            for (auto& [id, node] : nodes)
                node->tick();
            deliver();
        }
    }
    /// Ticks only `id` until it campaigns, and delivers: with nobody else
    /// ticking, it wins if it can.
    void campaign(NodeId id) {
        for (int i = 0; i < 20 && status(id).role == Role::Follower; ++i)
            nodes[id]->tick();
        deliver();
    }
    /// The leader with the highest term among members not cut off (0: none).
    NodeId leader() {
        NodeId best = 0;
        Term term = 0;
        for (auto& [id, node] : nodes) {
            RaftStatus s = node->status();
            if (!isolated.contains(id) && s.role == Role::Leader && s.term >= term) {
                best = id;
                term = s.term;
            }
        }
        return best;
    }
    /// Whether `id` applied an entry with `data`.
    bool has_applied(NodeId id, const std::string& data) {
        for (const Entry& e : applied[id])
            if (e.data == data)
                return true;
        return false;
    }
};

} // namespace keel::kv::testing
