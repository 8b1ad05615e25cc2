// keel_raft_sim: deterministic simulation of the Raft core (kv/raft.h).
//
// A cluster of 3-5 RaftNodes on a simulated network that loses, delays,
// reorders and duplicates messages and splits into partitions; members
// crash (keeping only what they persisted: the disk is modelled, including
// a crash between sending a Ready's early messages and its write) and
// restart; clients propose and read; members are added, promoted and
// removed; logs are compacted and snapshots sent; leadership is
// transferred. Everything is driven by one seeded PRNG, so a seed replays
// exactly. After every step the Raft safety properties are checked:
// election safety, log matching, leader completeness, state machine safety,
// commit and applied never going back, and read indexes never behind what
// was committed when the read began. At the end everything heals and the
// cluster must elect a leader and apply every acknowledged proposal on
// every member.
//
//   keel_raft_sim [--seeds N] [--first S] [--steps K] [--verbose]
#include "kv/raft.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

using namespace keel;
using namespace keel::kv;

namespace {

class Rng {
public:
    explicit Rng(uint64_t seed) : m_state(seed) {}
    uint64_t next() {
        uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n).
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
    /// True with probability per_mille / 1000.
    bool chance(int per_mille) { return int(below(1000)) < per_mille; }

private:
    uint64_t m_state;
};

uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0x100000001b3ULL;
}

uint64_t hash_data(std::string_view data) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : data)
        h = (h ^ uint8_t(c)) * 0x100000001b3ULL;
    return h;
}

/// What a member has on disk.
struct Disk {
    HardState hard;
    std::optional<Snapshot> snapshot;
    std::vector<Entry> entries;
    // The state machine's own store (the KV's LMDB), committed now and then
    // after applying: a restart goes on from it, past the snapshot, so the
    // core is restored with an applied index (and lets go of the entries
    // up to it at once).
    Index machine_applied = 0;
    uint64_t machine_state = 0;
};

/// The core's entry source: what the member's disk holds.
struct DiskEntries : RaftEntrySource {
    const Disk* disk = nullptr;
    uint64_t reads = 0;
    Result<std::vector<Entry>> entries(Index low, Index high, size_t max_bytes) override {
        ++reads;
        std::vector<Entry> out;
        size_t bytes = 0;
        for (const Entry& e : disk->entries) {
            if (e.index < low + out.size())
                continue;
            if (e.index != low + out.size() || e.index > high)
                break;
            bytes += e.data.size();
            if (!out.empty() && bytes > max_bytes)
                break;
            out.push_back(e);
        }
        if (out.empty())
            return error("entry " + std::to_string(low) + " is not on the disk");
        return out;
    }
};

struct SimNode {
    NodeId id = 0;
    std::unique_ptr<RaftNode> raft; // null while crashed
    Disk disk;
    DiskEntries source;
    bool initial = false; // a member of the first cluster (bootstraps)
    // The state machine: the index applied and a hash over all entries
    // applied so far.
    Index applied = 0;
    uint64_t state = 0;
    // Per incarnation: never go back.
    Index seen_commit = 0;
    Index seen_applied = 0;
    int group = 0;                // partition
    std::optional<Ready> writing; // a Ready whose disk write is under way
};

struct InFlight {
    uint64_t deliver_at = 0;
    Message message;
};

struct LogRecord {
    uint64_t data = 0;
    Term previous_term = 0;
    bool previous_known = false;
};

struct CommitRecord {
    Term term = 0;
    uint64_t data = 0;
    Term known_in_term = 0; // the lowest term of a member seen knowing it
};

struct Options {
    uint64_t steps = 1000;
    bool verbose = false;
};

/// What the runs exercised, summed over seeds (printed at the end, so a
/// change that stops the simulation from reaching something shows).
struct Coverage {
    uint64_t leaders = 0;
    uint64_t committed = 0;
    uint64_t snapshots_installed = 0;
    uint64_t membership_changes = 0;
    uint64_t reads_answered = 0;
    uint64_t crashes = 0;
    uint64_t rejected_appends = 0;
    uint64_t entry_source_reads = 0;
    /// Snapshots a member held without data (received from a leader) and
    /// sent with its disk's, and those whose data its disk did not hold.
    uint64_t snapshots_filled_from_disk = 0;
    uint64_t snapshots_not_on_disk = 0;
    /// Restarts whose state machine store was past the snapshot.
    uint64_t restarts_past_snapshot = 0;
};
Coverage g_coverage;

class Simulation {
public:
    Simulation(uint64_t seed, Options options) : m_rng(seed), m_options(options) {}

    /// Runs the seed; returns the failure, or an empty string.
    std::string run();

private:
    // Setup and membership of the simulation.
    void create_node(NodeId id, bool initial);
    void start(SimNode& node);
    void crash(SimNode& node);
    SimNode* node(NodeId id) {
        return id >= 1 && id <= m_nodes.size() ? &m_nodes[id - 1] : nullptr;
    }
    SimNode* leader();

    // The Ready cycle and the network.
    void process_readies();
    void process_ready(SimNode& node);
    void finish_ready(SimNode& node, const Ready& ready);
    /// Completes some of the writes in progress (all once healed).
    void finish_writes();
    void send(Message message);
    void deliver(InFlight item);
    void deliver_due();

    // Actions.
    void act();
    void propose();
    void change_membership();
    void transfer();
    void compact();
    void read();
    void partition();
    void heal();

    // Checks.
    void check();
    void check_node(SimNode& node);
    void apply(SimNode& node, const Entry& entry);
    void fail(std::string why) {
        if (m_failure.empty())
            m_failure = std::move(why);
    }
    void trace(const std::string& what) {
        if (m_options.verbose)
            std::printf("[%llu t%llu] %s\n", (unsigned long long)m_step, (unsigned long long)m_now,
                        what.c_str());
    }
    bool liveness();

    Rng m_rng;
    Options m_options;
    std::vector<SimNode> m_nodes;
    std::vector<InFlight> m_network;
    uint64_t m_now = 0;
    uint64_t m_step = 0;
    int m_loss = 0; // per mille
    int m_duplicate = 0;
    int m_max_delay = 0;
    int m_crash_in_ready = 0; // per mille
    int m_slow_disk = 0;      // per mille
    bool m_check_quorum = true;
    bool m_pre_vote = true;
    // The window of entries a member holds in memory (0: no entry source,
    // everything is held).
    size_t m_memory_entries = 0;
    size_t m_memory_bytes = 0;
    NodeId m_max_ids = 0;
    std::set<NodeId> m_removed;
    uint64_t m_proposals = 0;
    std::map<std::string, Index> m_reads; // context -> least acceptable index
    std::map<Term, NodeId> m_leaders;
    std::unordered_map<uint64_t, LogRecord> m_log_records; // (index, term)
    std::map<Index, CommitRecord> m_committed;
    std::map<Index, uint64_t> m_state_after; // state machine hash after index
    Index m_acknowledged = 0;
    bool m_final_applied = false;
    bool m_healed = false; // the liveness phase: no more faults
    std::string m_failure;
};

std::string describe(const Message& m) {
    std::string out = std::string(kMessageTypeNames.name(m.type)) + " " + std::to_string(m.from) +
                      "->" + std::to_string(m.to) + " t" + std::to_string(m.term) + " i" +
                      std::to_string(m.index) + " lt" + std::to_string(m.log_term) + " c" +
                      std::to_string(m.commit) + " n" + std::to_string(m.entries.size());
    if (m.reject)
        out += " reject hint " + std::to_string(m.reject_hint);
    return out;
}

void Simulation::create_node(NodeId id, bool initial) {
    SimNode& n = m_nodes[id - 1];
    n.id = id;
    n.initial = initial;
    n.disk = Disk{};
    start(n);
}

void Simulation::start(SimNode& n) {
    RaftConfig config{
        .id = n.id,
        .election_ticks = 10,
        .heartbeat_ticks = 1,
        .pre_vote = m_pre_vote,
        .check_quorum = m_check_quorum,
        .max_size_per_msg = 48,
        .max_inflight_msgs = 4,
        .seed = m_rng.next(),
        .entry_source = m_memory_entries ? &n.source : nullptr,
        .max_entries_in_memory = m_memory_entries,
        .max_bytes_in_memory = m_memory_bytes,
    };
    n.source.disk = &n.disk;
    RestoreState restore{
        .hard = n.disk.hard, .snapshot = n.disk.snapshot, .entries = n.disk.entries};
    Index snapshot_index = n.disk.snapshot ? n.disk.snapshot->meta.index : 0;
    bool machine_ahead = n.disk.machine_applied > snapshot_index;
    if (machine_ahead) {
        restore.applied = n.disk.machine_applied;
        ++g_coverage.restarts_past_snapshot;
    }
    if (n.initial)
        for (NodeId id = 1; id <= m_max_ids && node(id)->initial; ++id)
            restore.initial.voters.push_back(id);
    n.raft = std::make_unique<RaftNode>(config, std::move(restore));
    // The state machine comes back from its store, or from the snapshot
    // when that is newer; the rest is applied again from the log.
    n.applied = 0;
    n.state = 0;
    if (machine_ahead) {
        n.applied = n.disk.machine_applied;
        n.state = n.disk.machine_state;
    } else if (n.disk.snapshot) {
        n.applied = n.disk.snapshot->meta.index;
        n.state = std::strtoull(n.disk.snapshot->data.c_str(), nullptr, 10);
    }
    n.seen_commit = 0;
    n.seen_applied = 0;
    trace("start " + std::to_string(n.id));
}

void Simulation::crash(SimNode& n) {
    g_coverage.entry_source_reads += n.source.reads;
    n.source.reads = 0;
    n.raft.reset();
    n.writing.reset();
    ++g_coverage.crashes;
    trace("crash " + std::to_string(n.id));
}

SimNode* Simulation::leader() {
    SimNode* best = nullptr;
    Term best_term = 0;
    for (SimNode& n : m_nodes) {
        if (!n.raft)
            continue;
        RaftStatus s = n.raft->status();
        if (s.role == Role::Leader && s.term >= best_term) {
            best = &n;
            best_term = s.term;
        }
    }
    return best;
}

void Simulation::send(Message m) {
    // A snapshot the core holds without its data (one it received): the
    // data of the sender's disk, as the driver fills it from the file.
    if (m.type == MessageType::Snapshot && m.snapshot.data.empty()) {
        SimNode* from = node(m.from);
        const std::optional<Snapshot>& stored = from->disk.snapshot;
        if (!stored || stored->meta.index != m.snapshot.meta.index ||
            stored->meta.term != m.snapshot.meta.term) {
            ++g_coverage.snapshots_not_on_disk;
            from->raft->report_snapshot(m.to, SnapshotStatus::Failure);
            return;
        }
        m.snapshot.data = stored->data;
        ++g_coverage.snapshots_filled_from_disk;
    }
    if (m_rng.chance(m_loss)) {
        if (m.type == MessageType::Snapshot)
            if (SimNode* from = node(m.from); from && from->raft)
                from->raft->report_snapshot(m.to, SnapshotStatus::Failure);
        return;
    }
    int copies = m_rng.chance(m_duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i)
        m_network.push_back(InFlight{m_now + m_rng.below(uint64_t(m_max_delay) + 1), m});
}

void Simulation::deliver(InFlight item) {
    const Message& m = item.message;
    SimNode* to = node(m.to);
    SimNode* from = node(m.from);
    bool delivered = to && to->raft && from && to->group == from->group;
    if (m.type == MessageType::Snapshot && from && from->raft)
        from->raft->report_snapshot(m.to,
                                    delivered ? SnapshotStatus::Finish : SnapshotStatus::Failure);
    if (!delivered)
        return;
    trace("deliver " + describe(m));
    if (m.type == MessageType::AppendResponse && m.reject)
        ++g_coverage.rejected_appends;
    Result<void> stepped = to->raft->step(m);
    if (!stepped)
        fail("member " + std::to_string(m.to) + " refused " + describe(m) + ": " +
             stepped.error().to_string());
}

void Simulation::deliver_due() {
    std::vector<InFlight> due;
    std::vector<InFlight> later;
    for (InFlight& item : m_network)
        (item.deliver_at <= m_now ? due : later).push_back(std::move(item));
    m_network = std::move(later);
    for (InFlight& item : due)
        deliver(std::move(item));
}

void Simulation::process_readies() {
    for (int round = 0; round < 50; ++round) {
        bool any = false;
        for (SimNode& n : m_nodes) {
            if (n.raft && !n.writing && n.raft->has_ready()) {
                any = true;
                process_ready(n);
            }
        }
        if (!any)
            return;
    }
}

void Simulation::process_ready(SimNode& n) {
    Ready ready = n.raft->ready();
    for (const Message& m : ready.messages)
        send(m);
    if (!m_healed && m_rng.chance(m_crash_in_ready)) {
        // Crash after the early messages went out, before the write.
        crash(n);
        return;
    }
    if (!m_healed && m_rng.chance(m_slow_disk)) {
        // The write takes a while; messages keep arriving meanwhile.
        n.writing = std::move(ready);
        return;
    }
    finish_ready(n, ready);
}

void Simulation::finish_writes() {
    for (SimNode& n : m_nodes) {
        if (!n.raft || !n.writing)
            continue;
        if (!m_healed && !m_rng.chance(500))
            continue;
        Ready ready = std::move(*n.writing);
        n.writing.reset();
        finish_ready(n, ready);
    }
}

void Simulation::finish_ready(SimNode& n, const Ready& ready) {
    Disk& disk = n.disk;
    if (ready.snapshot) {
        disk.snapshot = *ready.snapshot;
        disk.entries.clear();
    }
    if (!ready.entries.empty()) {
        Index first = ready.entries.front().index;
        std::erase_if(disk.entries, [&](const Entry& e) { return e.index >= first; });
        if (!disk.entries.empty() && disk.entries.back().index + 1 != first)
            fail("member " + std::to_string(n.id) + " persists entries from " +
                 std::to_string(first) + " after " + std::to_string(disk.entries.back().index));
        disk.entries.insert(disk.entries.end(), ready.entries.begin(), ready.entries.end());
    }
    if (ready.hard_state) {
        if (ready.hard_state->term < disk.hard.term)
            fail("member " + std::to_string(n.id) + " persists a lower term");
        disk.hard = *ready.hard_state;
    }
    for (const Message& m : ready.messages_after_persist)
        send(m);
    if (ready.snapshot) {
        ++g_coverage.snapshots_installed;
        const Snapshot& snap = *ready.snapshot;
        n.applied = snap.meta.index;
        n.state = std::strtoull(snap.data.c_str(), nullptr, 10);
        auto known = m_state_after.find(snap.meta.index);
        if (known != m_state_after.end() && known->second != n.state)
            fail("member " + std::to_string(n.id) + " restored a snapshot at " +
                 std::to_string(snap.meta.index) + " that differs from the applied state");
    }
    for (const Entry& e : ready.committed)
        apply(n, e);
    // Now and then the store commits what was applied (a snapshot
    // installed is in it too).
    if ((!ready.committed.empty() || ready.snapshot) && m_rng.chance(333)) {
        disk.machine_applied = n.applied;
        disk.machine_state = n.state;
    }
    for (const ReadState& rs : ready.read_states) {
        ++g_coverage.reads_answered;
        auto it = m_reads.find(rs.context);
        if (it == m_reads.end()) {
            fail("member " + std::to_string(n.id) + " answered an unknown read " + rs.context);
            continue;
        }
        if (rs.index < it->second)
            fail("read " + rs.context + " at index " + std::to_string(rs.index) +
                 " is behind commit index " + std::to_string(it->second) + " known when it began");
    }
    n.raft->advance(ready);
}

void Simulation::apply(SimNode& n, const Entry& e) {
    if (e.index != n.applied + 1) {
        fail("member " + std::to_string(n.id) + " applies " + std::to_string(e.index) + " after " +
             std::to_string(n.applied));
        return;
    }
    n.state = mix(mix(n.state, e.term), hash_data(e.data));
    n.applied = e.index;
    auto [it, inserted] = m_state_after.emplace(e.index, n.state);
    if (inserted) {
        ++g_coverage.committed;
        if (e.type == EntryType::ConfChange)
            ++g_coverage.membership_changes;
    }
    if (!inserted && it->second != n.state)
        fail("state machine safety: member " + std::to_string(n.id) + " applied a different " +
             "entry at " + std::to_string(e.index));
    if (e.data.starts_with("p"))
        m_acknowledged = std::max(m_acknowledged, e.index);
    if (e.data == "pfinal")
        m_final_applied = true;
}

void Simulation::propose() {
    std::vector<SimNode*> live;
    for (SimNode& n : m_nodes)
        if (n.raft)
            live.push_back(&n);
    if (live.empty())
        return;
    SimNode* n = live[m_rng.below(live.size())];
    std::string data = "p" + std::to_string(++m_proposals);
    data.resize(1 + m_rng.below(40), '.');
    Result<void> r = n->raft->propose(data);
    trace("propose at " + std::to_string(n->id) + (r ? "" : ": " + r.error().to_string()));
}

void Simulation::change_membership() {
    SimNode* l = leader();
    if (!l)
        return;
    RaftStatus s = l->raft->status();
    ConfChange change;
    uint64_t pick = m_rng.below(4);
    NodeId fresh = 0;
    for (NodeId id = 1; id <= m_nodes.size(); ++id)
        if (m_nodes[id - 1].id == 0) {
            fresh = id;
            break;
        }
    if (pick == 0 && fresh) {
        change = {ConfChangeType::AddLearner, fresh, {}};
    } else if (pick == 1 && fresh) {
        change = {ConfChangeType::AddVoter, fresh, {}};
    } else if (pick == 2 && !s.conf.learners.empty()) {
        change = {ConfChangeType::PromoteLearner,
                  s.conf.learners[m_rng.below(s.conf.learners.size())],
                  {}};
    } else if (pick == 3) {
        std::vector<NodeId> members = s.conf.voters;
        members.insert(members.end(), s.conf.learners.begin(), s.conf.learners.end());
        NodeId victim = members[m_rng.below(members.size())];
        bool voter =
            std::find(s.conf.voters.begin(), s.conf.voters.end(), victim) != s.conf.voters.end();
        if (voter && s.conf.voters.size() <= 2)
            return;
        change = {ConfChangeType::RemoveNode, victim, {}};
    } else {
        return;
    }
    Result<void> r = l->raft->propose_conf_change(change);
    trace("conf change " + std::string(kConfChangeTypeNames.name(change.type)) + " " +
          std::to_string(change.node) + " at " + std::to_string(l->id) +
          (r ? "" : ": " + r.error().to_string()));
    if (!r)
        return;
    if (change.node == fresh)
        create_node(fresh, false);
    if (change.type == ConfChangeType::RemoveNode)
        m_removed.insert(change.node);
}

void Simulation::transfer() {
    SimNode* l = leader();
    if (!l)
        return;
    RaftStatus s = l->raft->status();
    NodeId target = s.conf.voters[m_rng.below(s.conf.voters.size())];
    Result<void> r = l->raft->transfer_leadership(target);
    trace("transfer " + std::to_string(l->id) + " -> " + std::to_string(target) +
          (r ? "" : ": " + r.error().to_string()));
}

void Simulation::compact() {
    SimNode& n = m_nodes[m_rng.below(m_nodes.size())];
    if (!n.raft)
        return;
    RaftStatus s = n.raft->status();
    if (s.applied < s.first_index + 8 || n.applied != s.applied)
        return;
    std::string data = std::to_string(n.state);
    Result<SnapshotMeta> meta = n.raft->compact(s.applied, data);
    if (!meta) {
        fail("compact at " + std::to_string(n.id) + ": " + meta.error().to_string());
        return;
    }
    n.disk.snapshot = Snapshot{*meta, data};
    std::erase_if(n.disk.entries, [&](const Entry& e) { return e.index <= meta->index; });
    trace("compact " + std::to_string(n.id) + " to " + std::to_string(meta->index));
}

void Simulation::read() {
    SimNode& n = m_nodes[m_rng.below(m_nodes.size())];
    if (!n.raft)
        return;
    // A linearizable read must see everything committed before it began.
    Index committed = m_committed.empty() ? 0 : m_committed.rbegin()->first;
    std::string context = "r" + std::to_string(m_step) + "-" + std::to_string(n.id);
    m_reads[context] = committed;
    Result<void> r = n.raft->read_index(context);
    trace("read at " + std::to_string(n.id) + (r ? "" : ": " + r.error().to_string()));
}

void Simulation::partition() {
    uint64_t kind = m_rng.below(3);
    if (kind == 0) {
        // Cut the leader off: a new one is elected while it still thinks
        // it leads (until check-quorum catches up).
        SimNode* l = leader();
        for (SimNode& n : m_nodes)
            n.group = l && &n == l ? 1 : 0;
    } else if (kind == 1) {
        SimNode& alone = m_nodes[m_rng.below(m_nodes.size())];
        for (SimNode& n : m_nodes)
            n.group = &n == &alone ? 1 : 0;
    } else {
        for (SimNode& n : m_nodes)
            n.group = int(m_rng.below(2));
    }
    trace("partition");
}

void Simulation::heal() {
    for (SimNode& n : m_nodes)
        n.group = 0;
    trace("heal");
}

void Simulation::act() {
    uint64_t roll = m_rng.below(100);
    if (roll < 33) {
        ++m_now;
        for (SimNode& n : m_nodes)
            if (n.raft)
                n.raft->tick();
        deliver_due();
    } else if (roll < 50) {
        if (!m_network.empty()) {
            size_t i = m_rng.below(m_network.size());
            InFlight item = std::move(m_network[i]);
            m_network.erase(m_network.begin() + long(i));
            deliver(std::move(item));
        }
    } else if (roll < 63) {
        propose();
    } else if (roll < 66) {
        size_t crashed = 0;
        for (SimNode& n : m_nodes)
            crashed += n.id != 0 && !n.raft;
        SimNode& n = m_nodes[m_rng.below(m_nodes.size())];
        if (n.raft && crashed < 2)
            crash(n);
    } else if (roll < 70) {
        for (SimNode& n : m_nodes)
            if (n.id != 0 && !n.raft) {
                start(n);
                break;
            }
    } else if (roll < 74) {
        partition();
    } else if (roll < 77) {
        heal();
    } else if (roll < 80) {
        change_membership();
    } else if (roll < 83) {
        transfer();
    } else if (roll < 89) {
        compact();
    } else {
        read();
    }
}

void Simulation::check_node(SimNode& n) {
    RaftStatus s = n.raft->status();
    std::string who = "member " + std::to_string(n.id);
    if (s.role == Role::Leader) {
        auto [it, inserted] = m_leaders.emplace(s.term, n.id);
        g_coverage.leaders += inserted;
        if (!inserted && it->second != n.id)
            fail("election safety: " + who + " and member " + std::to_string(it->second) +
                 " both lead term " + std::to_string(s.term));
    }
    if (s.commit < n.seen_commit)
        fail(who + "'s commit index went back");
    if (s.applied < n.seen_applied)
        fail(who + "'s applied index went back");
    n.seen_commit = s.commit;
    n.seen_applied = s.applied;

    if (std::optional<Error> failed = n.raft->take_entry_source_error())
        fail(who + "'s entry source failed: " + failed->to_string());
    // Entries no longer in memory keep their terms: they must still be
    // what the disk holds.
    const std::vector<Entry>& disk = n.disk.entries;
    for (Index index = s.first_index; index < s.first_in_memory; ++index) {
        std::optional<Term> term = n.raft->log_term(index);
        // The disk's entries are contiguous.
        size_t at = disk.empty() || index < disk.front().index ? disk.size()
                                                               : size_t(index - disk.front().index);
        if (at >= disk.size() || disk[at].index != index || !term || disk[at].term != *term)
            fail(who + " released entry " + std::to_string(index) +
                 " from memory that its disk does not hold as its log does");
    }
    std::vector<Entry> log = n.raft->log_entries();
    if (!log.empty() && log.front().index != s.first_in_memory)
        fail(who + "'s entries in memory do not start at " + std::to_string(s.first_in_memory));
    for (size_t i = 0; i < log.size(); ++i) {
        const Entry& e = log[i];
        uint64_t key = e.index * 1000003ULL + e.term;
        std::optional<Term> previous_term = n.raft->log_term(e.index - 1);
        bool previous_known = i > 0 || (previous_term && e.index - 1 >= s.first_index);
        LogRecord record{hash_data(e.data), previous_known ? previous_term.value_or(0) : 0,
                         previous_known};
        auto [it, inserted] = m_log_records.emplace(key, record);
        if (!inserted) {
            if (it->second.data != record.data)
                fail("log matching: " + who + " holds a different entry at (" +
                     std::to_string(e.index) + ", " + std::to_string(e.term) + ")");
            if (it->second.previous_known && record.previous_known &&
                it->second.previous_term != record.previous_term)
                fail("log matching: " + who + " has a different entry before (" +
                     std::to_string(e.index) + ", " + std::to_string(e.term) + ")");
            if (!it->second.previous_known && record.previous_known)
                it->second = record;
        }
        if (e.index <= s.commit) {
            auto [c, fresh] =
                m_committed.emplace(e.index, CommitRecord{e.term, record.data, s.term});
            if (!fresh) {
                if (c->second.term != e.term || c->second.data != record.data)
                    fail("safety: " + who + " commits a different entry at " +
                         std::to_string(e.index));
                c->second.known_in_term = std::min(c->second.known_in_term, s.term);
            }
        }
    }
    if (s.role == Role::Leader) {
        // Leader completeness: an entry known committed in term T is in
        // the log of every leader of a later term.
        for (auto it = m_committed.lower_bound(s.first_index); it != m_committed.end(); ++it) {
            if (it->second.known_in_term >= s.term)
                continue;
            Index index = it->first;
            if (index > s.last_index || n.raft->log_term(index) != it->second.term)
                fail("leader completeness: " + who + " leads term " + std::to_string(s.term) +
                     " without committed entry " + std::to_string(index));
        }
    }
}

void Simulation::check() {
    for (SimNode& n : m_nodes)
        if (n.raft)
            check_node(n);
}

bool Simulation::liveness() {
    heal();
    m_healed = true;
    m_loss = 0;
    m_duplicate = 0;
    m_max_delay = 1;
    for (SimNode& n : m_nodes)
        if (n.id != 0 && !n.raft)
            start(n);
    bool final_proposed = false;
    Index final_index = 0;
    for (int tick = 0; tick < 600 && m_failure.empty(); ++tick) {
        ++m_now;
        for (SimNode& n : m_nodes)
            if (n.raft)
                n.raft->tick();
        deliver_due();
        finish_writes();
        process_readies();
        check();
        SimNode* l = leader();
        if (!l)
            continue;
        RaftStatus s = l->raft->status();
        if (!final_proposed || tick % 50 == 0) {
            // A proposal of the final leader's own: it must commit too.
            if (l->raft->propose("pfinal"))
                final_proposed = true;
            continue;
        }
        final_index = std::max(final_index, m_acknowledged);
        bool everywhere = true;
        for (NodeId id : s.conf.voters)
            everywhere &= node(id)->applied >= final_index;
        for (NodeId id : s.conf.learners)
            everywhere &= node(id)->applied >= final_index;
        if (everywhere && m_final_applied && s.commit >= final_index)
            return true;
    }
    if (m_failure.empty()) {
        std::string why = "liveness: after healing, no leader applied everything everywhere";
        if (SimNode* l = leader()) {
            RaftStatus s = l->raft->status();
            why += " (leader " + std::to_string(l->id) + " term " + std::to_string(s.term) +
                   " commit " + std::to_string(s.commit) + ", acknowledged " +
                   std::to_string(m_acknowledged) + "; applied:";
            for (SimNode& n : m_nodes)
                if (n.id)
                    why += " " + std::to_string(n.id) + "=" + std::to_string(n.applied);
            why += ")";
        }
        for (SimNode& n : m_nodes) {
            if (!n.raft)
                continue;
            RaftStatus s = n.raft->status();
            why += "\n  member " + std::to_string(n.id) + ": " +
                   std::string(kRoleNames.name(s.role)) + " term " + std::to_string(s.term) +
                   " vote " + std::to_string(s.vote) + " leader " + std::to_string(s.leader) +
                   " log " + std::to_string(s.first_index) + ".." + std::to_string(s.last_index) +
                   " commit " + std::to_string(s.commit) + " voters";
            for (NodeId id : s.conf.voters)
                why += " " + std::to_string(id);
            why += " learners";
            for (NodeId id : s.conf.learners)
                why += " " + std::to_string(id);
            for (const PeerStatus& p : s.peers)
                why += "\n    peer " + std::to_string(p.id) + " match " + std::to_string(p.match) +
                       " next " + std::to_string(p.next) + " " +
                       std::string(kProgressStateNames.name(p.state));
        }
        fail(why);
    }
    return false;
}

std::string Simulation::run() {
    size_t initial = 3 + m_rng.below(3);
    m_max_ids = initial + 3;
    m_nodes.resize(m_max_ids);
    m_pre_vote = !m_rng.chance(200);
    m_loss = int(m_rng.below(100));
    m_duplicate = int(m_rng.below(50));
    m_max_delay = int(m_rng.below(4));
    m_crash_in_ready = int(m_rng.below(20));
    m_slow_disk = m_rng.chance(500) ? int(m_rng.below(600)) : 0;
    m_check_quorum = !m_rng.chance(250);
    if (!m_rng.chance(200)) {
        // A small window, so that followers that lag are regularly sent
        // entries read back from the disk.
        m_memory_entries = 1 + m_rng.below(8);
        m_memory_bytes = 20 + m_rng.below(200);
    }
    for (NodeId id = 1; id <= initial; ++id) {
        m_nodes[id - 1].id = id;
        m_nodes[id - 1].initial = true;
    }
    for (NodeId id = 1; id <= initial; ++id)
        start(m_nodes[id - 1]);
    for (m_step = 0; m_step < m_options.steps && m_failure.empty(); ++m_step) {
        act();
        finish_writes();
        process_readies();
        check();
    }
    if (m_failure.empty())
        liveness();
    for (SimNode& n : m_nodes)
        g_coverage.entry_source_reads += n.source.reads;
    return m_failure;
}

std::optional<uint64_t> parse_number(std::string_view text) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

int main(int argc, char** argv) {
    uint64_t seeds = 100;
    uint64_t first = 1;
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> uint64_t {
            std::optional<uint64_t> v = i + 1 < argc ? parse_number(argv[++i]) : std::nullopt;
            if (!v) {
                std::fprintf(stderr, "keel_raft_sim: %s needs a number\n",
                             std::string(arg).c_str());
                std::exit(2);
            }
            return *v;
        };
        if (arg == "--seeds")
            seeds = value();
        else if (arg == "--first")
            first = value();
        else if (arg == "--steps")
            options.steps = value();
        else if (arg == "--verbose")
            options.verbose = true;
        else {
            std::fprintf(stderr,
                         "usage: keel_raft_sim [--seeds N] [--first S] [--steps K] [--verbose]\n");
            return 2;
        }
    }
    for (uint64_t seed = first; seed < first + seeds; ++seed) {
        std::string failure = Simulation(seed, options).run();
        if (!failure.empty()) {
            std::printf("seed %llu FAILED: %s\n", (unsigned long long)seed, failure.c_str());
            std::printf("replay: %s --first %llu --seeds 1 --steps %llu --verbose\n", argv[0],
                        (unsigned long long)seed, (unsigned long long)options.steps);
            return 1;
        }
    }
    std::printf("%llu seeds passed (%llu steps each, from seed %llu)\n", (unsigned long long)seeds,
                (unsigned long long)options.steps, (unsigned long long)first);
    const Coverage& c = g_coverage;
    std::printf("exercised: %llu leaders, %llu entries committed (%llu membership changes), "
                "%llu snapshots installed, %llu appends rejected, %llu reads answered, "
                "%llu crashes, %llu entry reads from disk, %llu snapshots sent with their "
                "disk's data (%llu not on disk yet), %llu restarts from the store past the "
                "snapshot\n",
                (unsigned long long)c.leaders, (unsigned long long)c.committed,
                (unsigned long long)c.membership_changes, (unsigned long long)c.snapshots_installed,
                (unsigned long long)c.rejected_appends, (unsigned long long)c.reads_answered,
                (unsigned long long)c.crashes, (unsigned long long)c.entry_source_reads,
                (unsigned long long)c.snapshots_filled_from_disk,
                (unsigned long long)c.snapshots_not_on_disk,
                (unsigned long long)c.restarts_past_snapshot);
    // A run of many seeds that never reaches these paths has lost them.
    if (seeds >= 100 && (c.entry_source_reads == 0 || c.snapshots_filled_from_disk == 0 ||
                         c.snapshots_installed == 0 || c.restarts_past_snapshot == 0)) {
        std::printf("FAILED: %llu seeds read no entry from disk, sent no snapshot from disk, "
                    "installed none or restarted none from its store\n",
                    (unsigned long long)seeds);
        return 1;
    }
    return 0;
}
