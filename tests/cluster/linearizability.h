// The linearizability checker for KV histories (tests/cluster/history.h):
// is there one order of the operations, each taking effect at an instant
// between its call and its return, in which every read sees the last write
// before it? Wing & Gong's search with Lowe's improvements (a cache of the
// (operations linearized, state) pairs already explored, and the
// call/return list trimmed as operations are placed), iterative, with a
// step and time budget. Keys are checked apart (P-compositionality: a
// history is linearizable iff each key's sub-history is); an operation on
// several keys puts them in one partition.
//
// Outcomes: an ok operation took effect once, between call and return; a
// failed one never did (it is dropped, so a read of its value is an
// error); an unknown one may take effect at any time after its call, or
// never. When a partition is not linearizable, the checker shrinks it to a
// minimal sub-history that is still not (no operation can be taken out),
// so a failure reads as a handful of operations, not thousands.
//
// Optionally it also checks etcd's revisions: an operation called after
// another returned never sees a smaller revision, and two writes never
// share one.
#pragma once

#include "base/names.h"
#include "tests/cluster/history.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace keel::linearizability {

/// What a check found.
enum class Verdict : uint8_t {
    Linearizable,
    NotLinearizable,
    /// The step or time budget ran out before an answer.
    BudgetExhausted,
};
inline constexpr auto kVerdictNames = name_table<Verdict>({
    {Verdict::Linearizable, "linearizable"},
    {Verdict::NotLinearizable, "not linearizable"},
    {Verdict::BudgetExhausted, "unknown: budget exhausted"},
});

/// Whether a non-linearizable partition is shrunk before it is reported.
enum class Explanation : uint8_t {
    /// Shrunk to a minimal non-linearizable sub-history.
    Minimal,
    /// Reported whole (faster).
    Whole,
};

/// Whether the response revisions recorded in the history are checked.
enum class RevisionCheck : uint8_t { Off, On };

/// How a check runs.
struct Options {
    /// Search steps (an operation tried or taken back) for the whole
    /// history, shrinking included.
    uint64_t max_steps = 200'000'000;
    /// Wall-clock time for the whole check.
    std::chrono::milliseconds max_time{60'000};
    Explanation explanation = Explanation::Minimal;
    RevisionCheck revisions = RevisionCheck::On;
};

/// A partition (a key, or keys a multi-key operation joins) that is not
/// linearizable, or whose check ran out of budget.
struct PartitionResult {
    Verdict verdict = Verdict::Linearizable;
    /// The operations in it (failed ones included).
    size_t operations = 0;
    /// Its keys, sorted.
    std::vector<std::string> keys;
    /// For NotLinearizable: a sub-history that is not linearizable, ordered
    /// by call time; minimal with Explanation::Minimal (failed operations
    /// whose value it reads are added back, to show where it came from).
    history::History explanation;
};

/// Two operations whose revisions contradict real time or each other.
struct RevisionViolation {
    history::Operation earlier;
    history::Operation later;
    /// What is wrong, in words.
    std::string what;
};

/// The result of check().
struct Report {
    Verdict verdict = Verdict::Linearizable;
    size_t partitions = 0;
    uint64_t steps = 0;
    /// The partitions that are not linearizable or ran out of budget.
    std::vector<PartitionResult> failures;
    /// With RevisionCheck::On: revision contradictions (a few at most).
    std::vector<RevisionViolation> revision_violations;
};

/// Checks `history`, key partition by key partition.
Report check(const history::History& history, const Options& options = {});

/// The history split into independent partitions: operations whose keys
/// are connected through some multi-key operation share one. Each
/// partition keeps the history's order.
std::vector<history::History> partition(const history::History& history);

/// The revision check alone: pairs where an operation called after another
/// returned has a smaller revision, and writes (a put in the branch taken)
/// that share a revision. Operations without a revision are skipped; at
/// most `limit` violations are returned.
std::vector<RevisionViolation> check_revisions(const history::History& history, size_t limit = 10);

/// The report in words, as keel_check_history prints it: "linearizable",
/// or each failing partition's keys and its operations in the line format.
std::string describe(const Report& report);

} // namespace keel::linearizability
