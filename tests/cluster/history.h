// The history of a KV cluster test: what each client asked, when, and what
// came back, as the cluster tests record it and the linearizability checker
// (tests/cluster/linearizability.h) reads it. Also the history's text form,
// read and written here: one operation per line, either words
// ("1 100 250 ok put x 1") or a JSON object, documented in docs/kv.md
// ("Checking histories").
//
// Every operation is an etcd transaction in general form: compares, then
// the actions of one branch. put, get, delete and compare-and-set are the
// common special cases, built by the helpers below.
#pragma once

#include "base/names.h"
#include "base/result.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::history {

/// A key's value, or nullopt when the key is absent.
using Value = std::optional<std::string>;

/// A time on the recording host's monotonic clock, in nanoseconds.
using Nanoseconds = uint64_t;

/// The return time of an operation whose outcome is unknown: it may take
/// effect at any time after its call.
inline constexpr Nanoseconds kNever = std::numeric_limits<Nanoseconds>::max();

/// What became of a call.
enum class Outcome : uint8_t {
    /// It returned a result: it took effect exactly once, between its call
    /// and its return.
    Ok,
    /// etcd answered with an error that means it was not applied: it never
    /// took effect.
    Failed,
    /// A timeout or a lost connection: it may or may not have taken effect,
    /// at any time after its call.
    Unknown,
};
inline constexpr auto kOutcomeNames = name_table<Outcome>({
    {Outcome::Ok, "ok"},
    {Outcome::Failed, "failed"},
    {Outcome::Unknown, "unknown"},
});

/// What one action of a transaction does to its key.
enum class ActionKind : uint8_t { Put, Get, Delete };
inline constexpr auto kActionKindNames = name_table<ActionKind>({
    {ActionKind::Put, "put"},
    {ActionKind::Get, "get"},
    {ActionKind::Delete, "delete"},
});

/// One request inside a transaction's branch.
struct Action {
    ActionKind kind = ActionKind::Get;
    std::string key;
    /// What a Put writes; empty for Get and Delete.
    std::string value;

    bool operator==(const Action&) const = default;
};

/// One compare of a transaction: the key's value equals `value` (nullopt:
/// the key is absent, etcd's `version(k) = 0`).
struct Compare {
    std::string key;
    Value value;

    bool operator==(const Compare&) const = default;
};

/// How an operation is written in the line format: the special cases get
/// their short forms, anything else is a `txn`.
enum class OperationShape : uint8_t { Put, Get, Delete, CompareAndSet, Txn };
inline constexpr auto kOperationShapeNames = name_table<OperationShape>({
    {OperationShape::Put, "put"},
    {OperationShape::Get, "get"},
    {OperationShape::Delete, "delete"},
    {OperationShape::CompareAndSet, "cas"},
    {OperationShape::Txn, "txn"},
});

/// One client call: an etcd transaction `if compares then success else
/// failure` (no compares: the success branch always runs), with its times,
/// outcome and result.
struct Operation {
    /// Which client made the call (a client makes one call at a time).
    uint64_t client = 0;
    Nanoseconds call = 0;
    /// kNever when the outcome is Unknown.
    Nanoseconds return_time = kNever;
    Outcome outcome = Outcome::Ok;
    std::vector<Compare> compares;
    std::vector<Action> success;
    std::vector<Action> failure;
    /// The result, when the outcome is Ok: which branch ran ...
    bool succeeded = true;
    /// ... and what each Get of that branch read, in order.
    std::vector<Value> reads;
    /// The response header's revision, 0 when not recorded.
    uint64_t revision = 0;

    /// The actions of the branch the result says ran.
    const std::vector<Action>& taken_branch() const { return succeeded ? success : failure; }
    /// Every key the operation names, each once, in order of appearance.
    std::vector<std::string> keys() const;
    /// Whether it is one of the short forms, and which.
    OperationShape shape() const;

    bool operator==(const Operation&) const = default;
};

/// A put of `value` to `key`, ok.
Operation put(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key,
              std::string value);
/// A get of `key` that read `read`, ok.
Operation get(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key,
              Value read);
/// A delete of `key`, ok.
Operation remove(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key);
/// `if value(key) == expected then put(key, value)`, ok, with `succeeded`.
Operation compare_and_set(uint64_t client, Nanoseconds call, Nanoseconds return_time,
                          std::string key, Value expected, std::string value, bool succeeded);
/// `operation` with outcome Unknown (its return time becomes kNever, its
/// result is dropped).
Operation unknown(Operation operation);
/// `operation` with outcome Failed.
Operation failed(Operation operation);

/// A whole history, in the order it was recorded (any order is fine: the
/// checker orders by time).
using History = std::vector<Operation>;

/// One operation in the line format, as parse_history() reads it back:
/// "CLIENT CALL RETURN OUTCOME OP ... [rev=N]", RETURN `?` for unknown,
/// absent values `~`. Values that the words cannot carry (empty, with
/// spaces, `~`, starting with `"`) are written as JSON strings.
std::string format_operation(const Operation& operation);

/// Parses a history: one operation per line, in the word form that
/// format_operation() writes or as a JSON object (docs/kv.md); blank lines
/// and lines starting with `#` are skipped. Errors name the line:
/// "line 3: expected `ok`, `failed` or `unknown`, got `done`".
Result<History> parse_history(std::string_view text);

} // namespace keel::history
