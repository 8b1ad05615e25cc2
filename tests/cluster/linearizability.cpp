// tests/cluster/linearizability.cpp: partitioning by key, the Wing–Gong /
// Lowe search over one partition, shrinking a failure to a minimal
// sub-history, the revision check and the report in words.
#include "tests/cluster/linearizability.h"

#include "base/strings.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace keel::linearizability {

using history::ActionKind;
using history::History;
using history::Operation;
using history::Outcome;

namespace {

// What every search of one check draws on.
class Budget {
public:
    Budget(uint64_t steps, std::chrono::milliseconds time)
        : m_steps_left(steps), m_deadline(std::chrono::steady_clock::now() + time) {}

    // Takes one step; false once the steps or the time ran out.
    bool step() {
        if (m_steps_left == 0)
            return false;
        --m_steps_left;
        ++m_taken;
        // The clock is read every few thousand steps, not on each.
        if ((m_taken & 0xfff) == 0 && std::chrono::steady_clock::now() > m_deadline)
            m_steps_left = 0;
        return true;
    }
    uint64_t taken() const { return m_taken; }
    // A budget of at most `steps` of this one's, ending when it does;
    // charge() what it took back to this one.
    Budget share(uint64_t steps) const {
        Budget part = *this;
        part.m_steps_left = std::min(steps, m_steps_left);
        part.m_taken = 0;
        return part;
    }
    void charge(uint64_t steps) {
        m_steps_left -= std::min(steps, m_steps_left);
        m_taken += steps;
    }

private:
    uint64_t m_steps_left;
    uint64_t m_taken = 0;
    std::chrono::steady_clock::time_point m_deadline;
};

// An operation with its keys and values replaced by small integers, so a
// state is a vector of ints and a step compares ints.
constexpr int32_t kAbsentId = -1;

struct CompiledAction {
    ActionKind kind;
    uint32_t key;
    int32_t value;
};

struct CompiledOperation {
    bool ok = false; // outcome Ok (else Unknown: failed ones are dropped)
    bool succeeded = true;
    std::vector<std::pair<uint32_t, int32_t>> compares;
    std::vector<CompiledAction> success;
    std::vector<CompiledAction> failure;
    std::vector<int32_t> reads;
};

class Interner {
public:
    uint32_t key(const std::string& name) {
        auto [it, added] = m_keys.try_emplace(name, static_cast<uint32_t>(m_keys.size()));
        return it->second;
    }
    int32_t value(const history::Value& value) {
        if (!value)
            return kAbsentId;
        auto [it, added] = m_values.try_emplace(*value, static_cast<int32_t>(m_values.size()));
        return it->second;
    }
    size_t key_count() const { return m_keys.size(); }

private:
    std::unordered_map<std::string, uint32_t> m_keys;
    std::unordered_map<std::string, int32_t> m_values;
};

std::vector<CompiledAction> compile_actions(Interner& interner,
                                            const std::vector<history::Action>& actions) {
    std::vector<CompiledAction> out;
    for (const history::Action& action : actions)
        out.push_back({action.kind, interner.key(action.key),
                       action.kind == ActionKind::Put ? interner.value(action.value) : kAbsentId});
    return out;
}

CompiledOperation compile(Interner& interner, const Operation& op) {
    CompiledOperation out;
    out.ok = op.outcome == Outcome::Ok;
    out.succeeded = op.succeeded;
    for (const history::Compare& compare : op.compares)
        out.compares.emplace_back(interner.key(compare.key), interner.value(compare.value));
    out.success = compile_actions(interner, op.success);
    out.failure = compile_actions(interner, op.failure);
    for (const history::Value& read : op.reads)
        out.reads.push_back(interner.value(read));
    return out;
}

// Applies `op` to `state`; false when its recorded result cannot come from
// that state (an unknown operation's result is whatever the state gives).
bool take_effect(std::vector<int32_t>& state, const CompiledOperation& op) {
    bool holds = std::all_of(op.compares.begin(), op.compares.end(), [&](const auto& compare) {
        return state[compare.first] == compare.second;
    });
    if (op.ok && holds != op.succeeded)
        return false;
    size_t read = 0;
    for (const CompiledAction& action : holds ? op.success : op.failure) {
        switch (action.kind) {
        case ActionKind::Put:
            state[action.key] = action.value;
            break;
        case ActionKind::Delete:
            state[action.key] = kAbsentId;
            break;
        case ActionKind::Get:
            if (op.ok) {
                if (read >= op.reads.size() || op.reads[read] != state[action.key])
                    return false;
                ++read;
            }
            break;
        }
    }
    return true;
}

// The cache's key: the set of operations linearized (bit words) followed
// by the state.
struct WordsHash {
    size_t operator()(const std::vector<uint64_t>& words) const {
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ words.size();
        for (uint64_t w : words) {
            h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
            h *= 0xff51afd7ed558ccdULL;
        }
        return static_cast<size_t>(h ^ (h >> 33));
    }
};

// Whether either branch of `op` changes a key.
bool writes(const Operation& op) {
    for (const auto* branch : {&op.success, &op.failure})
        for (const history::Action& action : *branch)
            if (action.kind != ActionKind::Get)
                return true;
    return false;
}

// One partition's search: true/false, or nullopt when the budget ran out.
// Failed operations in `ops` are ignored.
// On false, `stuck_at` (when given) is set to the time of the furthest
// return the search could not get past: operations called after it played
// no part in the failure.
std::optional<bool> search(const History& ops, Budget& budget,
                           history::Nanoseconds* stuck_at = nullptr) {
    Interner interner;
    std::vector<CompiledOperation> compiled;
    std::vector<const Operation*> live;
    for (const Operation& op : ops) {
        // A failed operation never took effect; an unknown one that writes
        // nothing has no effect to place (and would double the search).
        if (op.outcome == Outcome::Failed || (op.outcome == Outcome::Unknown && !writes(op)))
            continue;
        compiled.push_back(compile(interner, op));
        live.push_back(&op);
    }
    const size_t n = compiled.size();
    if (n == 0)
        return true;

    // The call/return list: node 0 is the head, 1 the tail, then one node
    // per event. Calls sort before returns at the same instant, so
    // operations that merely touch count as concurrent.
    struct Event {
        history::Nanoseconds time;
        bool is_return;
        uint32_t op;
    };
    std::vector<Event> events;
    size_t ok_count = 0;
    for (uint32_t i = 0; i < n; ++i) {
        events.push_back({live[i]->call, false, i});
        if (compiled[i].ok) {
            events.push_back({live[i]->return_time, true, i});
            ++ok_count;
        }
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
        if (a.time != b.time)
            return a.time < b.time;
        return a.is_return < b.is_return;
    });
    const uint32_t kHead = 0, kTail = 1;
    size_t nodes = events.size() + 2;
    std::vector<uint32_t> next(nodes), prev(nodes), op_of(nodes, 0), match(nodes, 0);
    std::vector<bool> is_call(nodes, false);
    std::vector<uint32_t> call_node(n, 0);
    std::vector<uint32_t> return_node(n, 0);
    for (size_t i = 0; i < events.size(); ++i) {
        uint32_t node = static_cast<uint32_t>(i + 2);
        op_of[node] = events[i].op;
        is_call[node] = !events[i].is_return;
        (events[i].is_return ? return_node : call_node)[events[i].op] = node;
        prev[node] = i == 0 ? kHead : node - 1;
        next[node] = i + 1 == events.size() ? kTail : node + 1;
    }
    next[kHead] = 2;
    prev[kTail] = static_cast<uint32_t>(nodes - 1);
    for (uint32_t i = 0; i < n; ++i)
        match[call_node[i]] = return_node[i]; // 0: an unknown operation never returns

    auto unlink = [&](uint32_t node) {
        next[prev[node]] = next[node];
        prev[next[node]] = prev[node];
    };
    auto relink = [&](uint32_t node) {
        next[prev[node]] = node;
        prev[next[node]] = node;
    };
    auto lift = [&](uint32_t call) {
        unlink(call);
        if (match[call] != 0)
            unlink(match[call]);
    };
    auto unlift = [&](uint32_t call) {
        if (match[call] != 0)
            relink(match[call]);
        relink(call);
    };

    const size_t words = (n + 63) / 64;
    std::vector<uint64_t> linearized(words, 0);
    std::vector<int32_t> state(interner.key_count(), kAbsentId);
    std::unordered_set<std::vector<uint64_t>, WordsHash> seen;
    struct Frame {
        uint32_t call;
        std::vector<int32_t> state;
    };
    std::vector<Frame> stack;
    size_t ok_left = ok_count;
    uint32_t entry = next[kHead];
    uint32_t furthest = entry;
    std::vector<uint64_t> key;
    while (ok_left > 0) {
        if (!budget.step())
            return std::nullopt;
        if (entry != kTail && is_call[entry]) {
            uint32_t op = op_of[entry];
            std::vector<int32_t> after = state;
            if (take_effect(after, compiled[op])) {
                linearized[op / 64] |= uint64_t{1} << (op % 64);
                key.assign(linearized.begin(), linearized.end());
                key.insert(key.end(), after.begin(), after.end());
                if (seen.insert(key).second) {
                    stack.push_back({entry, std::move(state)});
                    state = std::move(after);
                    if (compiled[op].ok)
                        --ok_left;
                    lift(entry);
                    entry = next[kHead];
                    continue;
                }
                linearized[op / 64] &= ~(uint64_t{1} << (op % 64));
            }
            entry = next[entry];
            continue;
        }
        // A return (or the end): the operation returning here was not
        // placed before it, so take back the last one placed.
        if (entry != kTail)
            furthest = std::max(furthest, entry);
        if (stack.empty()) {
            if (stuck_at)
                *stuck_at = events[furthest - 2].time;
            return false;
        }
        Frame frame = std::move(stack.back());
        stack.pop_back();
        uint32_t op = op_of[frame.call];
        state = std::move(frame.state);
        linearized[op / 64] &= ~(uint64_t{1} << (op % 64));
        if (compiled[op].ok)
            ++ok_left;
        unlift(frame.call);
        entry = next[frame.call];
    }
    return true;
}

History sorted_by_call(History ops) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Operation& a, const Operation& b) { return a.call < b.call; });
    return ops;
}

// Whether `ops` is known not linearizable within a share of the budget
// (running out counts as "not known").
bool fails(const History& ops, Budget& budget) {
    constexpr uint64_t kStepsPerCandidate = 20'000;
    Budget part = budget.share(kStepsPerCandidate);
    std::optional<bool> result = search(ops, part);
    budget.charge(part.taken());
    return result && !*result;
}

// The values `ops` write (in either branch).
std::unordered_set<std::string> written_values(const History& ops) {
    std::unordered_set<std::string> out;
    for (const Operation& op : ops)
        for (const auto* branch : {&op.success, &op.failure})
            for (const history::Action& action : *branch)
                if (action.kind == ActionKind::Put)
                    out.insert(action.value);
    return out;
}

// The values `ops` see: read by an ok get, or compared against.
std::unordered_set<std::string> observed_values(const History& ops) {
    std::unordered_set<std::string> out;
    for (const Operation& op : ops) {
        if (op.outcome != Outcome::Ok)
            continue;
        for (const history::Value& read : op.reads)
            if (read)
                out.insert(*read);
        for (const history::Compare& compare : op.compares)
            if (compare.value)
                out.insert(*compare.value);
    }
    return out;
}

// An operation's identity within one history (a client makes one call at
// a time, so its id and call time name the call).
std::string identity(const Operation& op) {
    return cat(op.client, "/", op.call);
}

bool deletes_key(const Operation& op, const std::string& key) {
    for (const auto* branch : {&op.success, &op.failure})
        for (const history::Action& action : *branch)
            if (action.kind == ActionKind::Delete && action.key == key)
                return true;
    return false;
}

bool deletes_something(const Operation& op) {
    for (const auto* branch : {&op.success, &op.failure})
        for (const history::Action& action : *branch)
            if (action.kind == ActionKind::Delete)
                return true;
    return false;
}

// The keys an ok operation saw absent: read so, or compared so and
// succeeded.
std::vector<std::string> keys_seen_absent(const Operation& op) {
    std::vector<std::string> out;
    if (op.outcome != Outcome::Ok)
        return out;
    size_t read = 0;
    for (const history::Action& action : op.taken_branch()) {
        if (action.kind != ActionKind::Get)
            continue;
        if (read < op.reads.size() && !op.reads[read])
            out.push_back(action.key);
        ++read;
    }
    if (op.succeeded)
        for (const history::Compare& compare : op.compares)
            if (!compare.value)
                out.push_back(compare.key);
    return out;
}

// Shrinks a non-linearizable history as delta debugging does: takes out
// halves, then quarters, ... then single operations, keeping each cut
// after which it still fails; the result is minimal (no one operation can
// go) unless the candidate limit is reached first. A sub-history that
// drops the writer of a value it still observes is not taken: it would
// fail for that alone ("a read of a value never written"), which explains
// nothing.
History shrink(History ops, Budget& budget) {
    ops = sorted_by_call(std::move(ops));
    std::erase_if(ops, [](const Operation& op) { return op.outcome == Outcome::Failed; });
    const std::unordered_set<std::string> writable = written_values(ops);
    size_t candidates_left = 1000;
    // Absence is "written" by deletes: an operation that saw a key absent
    // keeps the deletes of it that overlap it and the last one before it.
    History deletes;
    for (const Operation& op : ops)
        if (deletes_something(op))
            deletes.push_back(op);
    auto keeps_deleters = [&](const History& candidate) {
        std::unordered_set<std::string> present;
        for (const Operation& op : candidate)
            if (deletes_something(op))
                present.insert(identity(op));
        for (const Operation& op : candidate) {
            for (const std::string& key : keys_seen_absent(op)) {
                const Operation* last = nullptr;
                for (const Operation& each : deletes) {
                    const Operation* deleter = &each;
                    if (!deletes_key(*deleter, key))
                        continue;
                    if (deleter->call < op.return_time && deleter->return_time > op.call) {
                        if (!present.contains(identity(*deleter)))
                            return false;
                    } else if (deleter->return_time <= op.call &&
                               (!last || deleter->return_time > last->return_time)) {
                        last = deleter;
                    }
                }
                if (last && !present.contains(identity(*last)))
                    return false;
            }
        }
        return true;
    };
    auto explains = [&](const History& candidate) {
        --candidates_left;
        std::unordered_set<std::string> written = written_values(candidate);
        for (const std::string& value : observed_values(candidate))
            if (writable.contains(value) && !written.contains(value))
                return false;
        return keeps_deleters(candidate) && fails(candidate, budget);
    };
    // Single operations go round again until none can: taking out a read
    // may free the write it read to go too.
    for (size_t chunk = ops.size() / 2; chunk >= 1 && candidates_left > 0;) {
        size_t before = ops.size();
        for (size_t start = 0; start < ops.size() && candidates_left > 0;) {
            History without;
            without.reserve(ops.size());
            without.insert(without.end(), ops.begin(), ops.begin() + start);
            without.insert(without.end(), ops.begin() + std::min(start + chunk, ops.size()),
                           ops.end());
            if (explains(without))
                ops = std::move(without);
            else
                start += chunk;
        }
        if (chunk > 1)
            chunk /= 2;
        else if (ops.size() == before)
            break;
    }
    return ops;
}

// Adds back the failed operations that wrote a value `ops` reads, so the
// explanation shows where a read value came from.
History with_failed_writers(History ops, const History& partition) {
    std::unordered_set<std::string> read_values;
    for (const Operation& op : ops)
        for (const history::Value& read : op.reads)
            if (read)
                read_values.insert(*read);
    for (const Operation& op : partition) {
        if (op.outcome != Outcome::Failed)
            continue;
        bool writes_read_value = false;
        for (const auto* branch : {&op.success, &op.failure})
            for (const history::Action& action : *branch)
                if (action.kind == ActionKind::Put && read_values.contains(action.value))
                    writes_read_value = true;
        if (writes_read_value)
            ops.push_back(op);
    }
    return sorted_by_call(std::move(ops));
}

struct UnionFind {
    std::vector<size_t> parent;
    size_t find(size_t x) {
        while (parent[x] != x) {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        return x;
    }
    void join(size_t a, size_t b) { parent[find(a)] = find(b); }
};

bool is_write(const Operation& op) {
    const std::vector<history::Action>& branch = op.taken_branch();
    return std::any_of(branch.begin(), branch.end(), [](const history::Action& action) {
        return action.kind == ActionKind::Put;
    });
}

} // namespace

std::vector<History> partition(const History& history) {
    std::map<std::string, size_t> key_ids;
    std::vector<std::vector<size_t>> op_keys;
    for (const Operation& op : history) {
        std::vector<size_t> ids;
        for (const std::string& key : op.keys())
            ids.push_back(key_ids.try_emplace(key, key_ids.size()).first->second);
        op_keys.push_back(std::move(ids));
    }
    UnionFind sets;
    sets.parent.resize(key_ids.size());
    std::iota(sets.parent.begin(), sets.parent.end(), size_t{0});
    for (const std::vector<size_t>& ids : op_keys)
        for (size_t i = 1; i < ids.size(); ++i)
            sets.join(ids[0], ids[i]);
    std::map<size_t, size_t> partition_of_root;
    std::vector<History> partitions;
    for (size_t i = 0; i < history.size(); ++i) {
        if (op_keys[i].empty())
            continue;
        size_t root = sets.find(op_keys[i][0]);
        auto [it, added] = partition_of_root.try_emplace(root, partitions.size());
        if (added)
            partitions.emplace_back();
        partitions[it->second].push_back(history[i]);
    }
    return partitions;
}

std::vector<RevisionViolation> check_revisions(const History& history, size_t limit) {
    std::vector<RevisionViolation> violations;
    std::vector<const Operation*> ops;
    for (const Operation& op : history)
        if (op.outcome == Outcome::Ok && op.revision != 0)
            ops.push_back(&op);

    // Real time: sweep the calls in order, with the largest revision of
    // everything that returned before each.
    std::vector<const Operation*> by_return = ops;
    std::sort(by_return.begin(), by_return.end(), [](const Operation* a, const Operation* b) {
        return a->return_time < b->return_time;
    });
    std::vector<const Operation*> by_call = ops;
    std::sort(by_call.begin(), by_call.end(),
              [](const Operation* a, const Operation* b) { return a->call < b->call; });
    const Operation* highest = nullptr;
    size_t returned = 0;
    for (const Operation* op : by_call) {
        while (returned < by_return.size() && by_return[returned]->return_time < op->call) {
            if (!highest || by_return[returned]->revision > highest->revision)
                highest = by_return[returned];
            ++returned;
        }
        if (highest && highest->revision > op->revision && violations.size() < limit)
            violations.push_back({*highest, *op,
                                  cat("revision went back: ", op->revision, " after ",
                                      highest->revision, " had been returned")});
    }

    // Writes: one revision each.
    std::map<uint64_t, const Operation*> writes;
    for (const Operation* op : by_call) {
        if (!is_write(*op))
            continue;
        auto [it, added] = writes.try_emplace(op->revision, op);
        if (!added && violations.size() < limit)
            violations.push_back(
                {*it->second, *op, cat("two writes have the same revision ", op->revision)});
    }
    return violations;
}

Report check(const History& history, const Options& options) {
    Report report;
    Budget budget(options.max_steps, options.max_time);
    std::vector<History> partitions = partition(history);
    report.partitions = partitions.size();
    bool exhausted = false;
    bool failed = false;
    // Every partition is searched before any failure is shrunk, so that
    // shrinking one cannot use up the budget the others need.
    std::vector<History> to_shrink;
    for (const History& ops : partitions) {
        history::Nanoseconds stuck_at = 0;
        std::optional<bool> result = search(ops, budget, &stuck_at);
        if (result && *result)
            continue;
        PartitionResult failure;
        failure.operations = ops.size();
        for (const Operation& op : ops)
            for (std::string& key : op.keys())
                failure.keys.push_back(std::move(key));
        std::sort(failure.keys.begin(), failure.keys.end());
        failure.keys.erase(std::unique(failure.keys.begin(), failure.keys.end()),
                           failure.keys.end());
        failure.verdict = result ? Verdict::NotLinearizable : Verdict::BudgetExhausted;
        exhausted = exhausted || !result;
        failed = failed || result.has_value();
        // What is shrunk: the operations called up to where the search got
        // stuck (it never looked further, so they fail alone).
        History prefix;
        if (result)
            for (const Operation& op : ops)
                if (op.call <= stuck_at)
                    prefix.push_back(op);
        to_shrink.push_back(std::move(prefix));
        report.failures.push_back(std::move(failure));
    }
    for (size_t i = 0; i < report.failures.size(); ++i) {
        if (to_shrink[i].empty())
            continue;
        const History& ops = to_shrink[i];
        History shown =
            options.explanation == Explanation::Minimal ? shrink(ops, budget) : sorted_by_call(ops);
        report.failures[i].explanation = with_failed_writers(std::move(shown), ops);
    }
    if (options.revisions == RevisionCheck::On) {
        report.revision_violations = check_revisions(history);
        failed = failed || !report.revision_violations.empty();
    }
    report.verdict = failed      ? Verdict::NotLinearizable
                     : exhausted ? Verdict::BudgetExhausted
                                 : Verdict::Linearizable;
    report.steps = budget.taken();
    return report;
}

std::string describe(const Report& report) {
    std::string out(kVerdictNames.name(report.verdict));
    out += cat(" (", report.partitions, " partition(s), ", report.steps, " steps)\n");
    for (const PartitionResult& failure : report.failures) {
        std::string keys;
        for (const std::string& key : failure.keys)
            keys += cat(keys.empty() ? "" : " ", keel::quoted(key));
        out += cat("\nkeys ", keys, ": ", kVerdictNames.name(failure.verdict), " (",
                   failure.operations, " operation(s))\n");
        if (failure.verdict == Verdict::NotLinearizable) {
            out += cat("non-linearizable sub-history (", failure.explanation.size(),
                       " operation(s)):\n");
            for (const Operation& op : failure.explanation)
                out += cat("  ", history::format_operation(op), "\n");
        }
    }
    for (const RevisionViolation& violation : report.revision_violations)
        out += cat("\n", violation.what, ":\n  ", history::format_operation(violation.earlier),
                   "\n  ", history::format_operation(violation.later), "\n");
    return out;
}

} // namespace keel::linearizability
