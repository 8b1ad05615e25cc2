// tests/cluster/history.cpp: the operation helpers and the history's text
// form (words or JSON objects, one per line), both ways.
#include "tests/cluster/history.h"

#include "base/json.h"
#include "base/strings.h"

#include <algorithm>
#include <utility>

namespace keel::history {

std::vector<std::string> Operation::keys() const {
    std::vector<std::string> out;
    auto add = [&](const std::string& key) {
        if (std::find(out.begin(), out.end(), key) == out.end())
            out.push_back(key);
    };
    for (const Compare& compare : compares)
        add(compare.key);
    for (const Action& action : success)
        add(action.key);
    for (const Action& action : failure)
        add(action.key);
    return out;
}

OperationShape Operation::shape() const {
    if (compares.empty() && failure.empty() && success.size() == 1) {
        switch (success[0].kind) {
        case ActionKind::Put:
            return OperationShape::Put;
        case ActionKind::Get:
            return OperationShape::Get;
        case ActionKind::Delete:
            return OperationShape::Delete;
        }
    }
    if (compares.size() == 1 && failure.empty() && success.size() == 1 &&
        success[0].kind == ActionKind::Put && success[0].key == compares[0].key)
        return OperationShape::CompareAndSet;
    return OperationShape::Txn;
}

Operation put(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key,
              std::string value) {
    Operation op;
    op.client = client;
    op.call = call;
    op.return_time = return_time;
    op.success.push_back({ActionKind::Put, std::move(key), std::move(value)});
    return op;
}

Operation get(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key,
              Value read) {
    Operation op;
    op.client = client;
    op.call = call;
    op.return_time = return_time;
    op.success.push_back({ActionKind::Get, std::move(key), {}});
    op.reads.push_back(std::move(read));
    return op;
}

Operation remove(uint64_t client, Nanoseconds call, Nanoseconds return_time, std::string key) {
    Operation op;
    op.client = client;
    op.call = call;
    op.return_time = return_time;
    op.success.push_back({ActionKind::Delete, std::move(key), {}});
    return op;
}

Operation compare_and_set(uint64_t client, Nanoseconds call, Nanoseconds return_time,
                          std::string key, Value expected, std::string value, bool succeeded) {
    Operation op;
    op.client = client;
    op.call = call;
    op.return_time = return_time;
    op.compares.push_back({key, std::move(expected)});
    op.success.push_back({ActionKind::Put, std::move(key), std::move(value)});
    op.succeeded = succeeded;
    return op;
}

Operation unknown(Operation operation) {
    operation.outcome = Outcome::Unknown;
    operation.return_time = kNever;
    operation.succeeded = true;
    operation.reads.clear();
    operation.revision = 0;
    return operation;
}

Operation failed(Operation operation) {
    operation.outcome = Outcome::Failed;
    operation.succeeded = true;
    operation.reads.clear();
    operation.revision = 0;
    return operation;
}

namespace {

constexpr std::string_view kAbsent = "~";
constexpr std::string_view kArrow = "->";
// Prefixed to a word split_words() decoded from a JSON string, so that no
// quoted word is taken for a marker; text() takes it off. (A NUL byte
// cannot be in an unquoted word.)
const std::string kQuotedMark(1, '\0');

std::string text(const std::string& word) {
    return starts_with(word, kQuotedMark) ? word.substr(1) : word;
}

// A word the line format can carry as it is: nothing the tokenizer or the
// JSON detection would read differently.
bool is_plain_word(std::string_view text) {
    if (text.empty() || text == kAbsent || text == kArrow || text.front() == '"' ||
        text.front() == '{' || text.front() == '#' || starts_with(text, "rev="))
        return false;
    return std::none_of(text.begin(), text.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

std::string format_word(std::string_view text) {
    return is_plain_word(text) ? std::string(text) : json_string(text);
}

std::string format_value(const Value& value) {
    return value ? format_word(*value) : std::string(kAbsent);
}

void write_value(JsonWriter& json, const Value& value) {
    if (value)
        json.value(*value);
    else
        json.null();
}

void write_actions(JsonWriter& json, std::string_view name, const std::vector<Action>& actions) {
    json.key(name).begin_array();
    for (const Action& action : actions) {
        json.begin_object()
            .field("op", kActionKindNames.name(action.kind))
            .field("key", action.key);
        if (action.kind == ActionKind::Put)
            json.field("value", action.value);
        json.end_object();
    }
    json.end_array();
}

std::string format_json(const Operation& op) {
    JsonWriter json;
    json.begin_object().field("client", op.client).field("call", op.call);
    json.key("return");
    if (op.outcome == Outcome::Unknown)
        json.null();
    else
        json.value(op.return_time);
    json.field("outcome", kOutcomeNames.name(op.outcome)).field("op", "txn");
    json.key("if").begin_array();
    for (const Compare& compare : op.compares) {
        json.begin_object().field("key", compare.key).key("value");
        write_value(json, compare.value);
        json.end_object();
    }
    json.end_array();
    write_actions(json, "then", op.success);
    write_actions(json, "else", op.failure);
    if (op.outcome == Outcome::Ok) {
        json.field("succeeded", op.succeeded).key("reads").begin_array();
        for (const Value& read : op.reads)
            write_value(json, read);
        json.end_array();
    }
    if (op.revision != 0)
        json.field("revision", op.revision);
    json.end_object();
    return json.text();
}

} // namespace

std::string format_operation(const Operation& op) {
    OperationShape shape = op.shape();
    if (shape == OperationShape::Txn)
        return format_json(op);
    std::string out = cat(op.client, " ", op.call, " ");
    out += op.outcome == Outcome::Unknown ? std::string("?") : cat(op.return_time);
    out += cat(" ", kOutcomeNames.name(op.outcome), " ", kOperationShapeNames.name(shape), " ",
               format_word(op.success[0].key));
    bool ok = op.outcome == Outcome::Ok;
    switch (shape) {
    case OperationShape::Put:
        out += cat(" ", format_word(op.success[0].value));
        break;
    case OperationShape::Get:
        if (ok)
            out += cat(" -> ", format_value(op.reads.empty() ? Value() : op.reads[0]));
        break;
    case OperationShape::Delete:
    case OperationShape::Txn:
        break;
    case OperationShape::CompareAndSet:
        out += cat(" ", format_value(op.compares[0].value), " ", format_word(op.success[0].value));
        if (ok)
            out += op.succeeded ? " -> true" : " -> false";
        break;
    }
    if (op.revision != 0)
        out += cat(" rev=", op.revision);
    return out;
}

namespace {

// Splits a line into words; a word starting with `"` is a JSON string up
// to its closing quote, decoded, and never a marker (`~`, `->`, `rev=N`).
Result<std::vector<std::string>> split_words(std::string_view line) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < line.size()) {
        if (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
            ++i;
            continue;
        }
        if (line[i] == '"') {
            size_t end = i + 1;
            while (end < line.size() && line[end] != '"')
                end += line[end] == '\\' ? 2 : 1;
            if (end >= line.size())
                return error("unterminated string");
            Result<JsonValue> decoded = parse_json(line.substr(i, end + 1 - i));
            if (!decoded || decoded->kind() != JsonValue::Kind::String)
                return error(cat("bad string ", line.substr(i, end + 1 - i)));
            words.push_back(kQuotedMark + decoded->string());
            i = end + 1;
            continue;
        }
        size_t end = i;
        while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') {
            // Control characters only inside JSON strings, which carry them
            // unambiguously (and which format_operation() writes them as).
            if (static_cast<unsigned char>(line[end]) < ' ' || line[end] == 0x7f)
                return error("a control character outside a JSON string");
            ++end;
        }
        std::string_view word = line.substr(i, end - i);
        // Values must survive being written as JSON strings, which hold
        // UTF-8 only: the JSON parser is the one place that checks it.
        if (!parse_json(json_string(word)))
            return error(cat("invalid UTF-8 in ", keel::quoted(word)));
        words.emplace_back(word);
        i = end;
    }
    return words;
}

Result<uint64_t> parse_number(std::string_view what, std::string_view text) {
    if (std::optional<uint64_t> n = parse_u64(text))
        return *n;
    return error(cat(what, ": expected a number, got ", keel::quoted(text)));
}

Result<bool> parse_succeeded(std::string_view text) {
    if (text == "true")
        return true;
    if (text == "false")
        return false;
    return error(cat("expected `true` or `false`, got ", keel::quoted(text)));
}

// Applies what both forms share: the outcome's consequences for the times
// and the result, checked.
Result<void> check_times(const Operation& op) {
    if (op.outcome != Outcome::Unknown && op.return_time == kNever)
        return error("only an operation with outcome `unknown` may lack a return time");
    if (op.outcome != Outcome::Unknown && op.return_time < op.call)
        return error(cat("returns (", op.return_time, ") before its call (", op.call, ")"));
    if (op.success.empty() && op.failure.empty())
        return error("an operation with no actions");
    if (op.compares.empty() && !op.succeeded)
        return error("a transaction with no compares always succeeds");
    return {};
}

Result<Operation> parse_words(const std::vector<std::string>& words) {
    if (words.size() < 6)
        return error("expected CLIENT CALL RETURN OUTCOME OP KEY ...");
    Operation op;
    op.client = TRY(parse_number("client", words[0]));
    op.call = TRY(parse_number("call", words[1]));
    op.outcome = TRY_CTX(parse_choice(kOutcomeNames, words[3]), "outcome");
    if (words[2] == "?") {
        if (op.outcome != Outcome::Unknown)
            return error("return `?` is only for outcome `unknown`");
        op.return_time = kNever;
    } else {
        op.return_time = TRY(parse_number("return", words[2]));
        if (op.outcome == Outcome::Unknown)
            op.return_time = kNever;
    }
    OperationShape shape = TRY_CTX(parse_choice(kOperationShapeNames, words[4]), "operation");
    std::vector<std::string> rest(words.begin() + 6, words.end());
    if (!rest.empty() && starts_with(rest.back(), "rev=")) {
        op.revision = TRY(parse_number("rev", std::string_view(rest.back()).substr(4)));
        rest.pop_back();
    }
    // The result, after `->`: only an ok get or cas has one.
    std::vector<std::string> result;
    auto arrow = std::find(rest.begin(), rest.end(), kArrow);
    if (arrow != rest.end()) {
        result.assign(arrow + 1, rest.end());
        rest.erase(arrow, rest.end());
    }
    bool ok = op.outcome == Outcome::Ok;
    const std::string key = text(words[5]);
    auto want = [&](size_t arguments, size_t results) -> Result<void> {
        if (rest.size() != arguments)
            return error(cat(words[4], ": expected ", arguments, " argument(s) after the key, got ",
                             rest.size()));
        size_t expected_results = ok ? results : 0;
        if (result.size() != expected_results)
            return error(cat(words[4], ": expected ", expected_results,
                             " result(s) after `->` for outcome ", words[3], ", got ",
                             result.size()));
        return {};
    };
    auto value = [](const std::string& word) -> Value {
        if (word == kAbsent)
            return std::nullopt;
        return text(word);
    };
    switch (shape) {
    case OperationShape::Put:
        TRY(want(1, 0));
        op.success.push_back({ActionKind::Put, key, text(rest[0])});
        break;
    case OperationShape::Get:
        TRY(want(0, 1));
        op.success.push_back({ActionKind::Get, key, {}});
        if (ok)
            op.reads.push_back(value(result[0]));
        break;
    case OperationShape::Delete:
        TRY(want(0, 0));
        op.success.push_back({ActionKind::Delete, key, {}});
        break;
    case OperationShape::CompareAndSet:
        TRY(want(2, 1));
        op.compares.push_back({key, value(rest[0])});
        op.success.push_back({ActionKind::Put, key, text(rest[1])});
        if (ok)
            op.succeeded = TRY_CTX(parse_succeeded(result[0]), "cas");
        break;
    case OperationShape::Txn:
        return error("txn: write a transaction as a JSON object");
    }
    TRY(check_times(op));
    return op;
}

Result<Value> json_value(const JsonCursor& cursor) {
    if (cursor.missing())
        return error(cat(cursor.path(), ": missing"));
    if (cursor.null())
        return Value();
    return Value(TRY(cursor.string()));
}

Result<std::vector<Action>> json_actions(const JsonCursor& cursor) {
    std::vector<Action> actions;
    for (const JsonCursor& element : TRY(cursor.array())) {
        JsonObjectCursor object = TRY(element.object());
        Action action;
        action.kind = TRY_CTX(parse_choice(kActionKindNames, TRY(object["op"].string())),
                              object["op"].path());
        action.key = TRY(object["key"].string());
        if (action.kind == ActionKind::Put)
            action.value = TRY(object["value"].string());
        actions.push_back(std::move(action));
    }
    return actions;
}

Result<Operation> parse_object(std::string_view line) {
    JsonValue document = TRY(parse_json(line));
    JsonObjectCursor object = TRY(JsonCursor(document).object());
    Operation op;
    op.client = TRY(object["client"].integer<uint64_t>());
    op.call = TRY(object["call"].integer<uint64_t>());
    op.outcome = TRY_CTX(parse_choice(kOutcomeNames, TRY(object["outcome"].string())), "outcome");
    JsonCursor return_time = object["return"];
    if (op.outcome == Outcome::Unknown)
        op.return_time = kNever;
    else
        op.return_time = TRY(return_time.integer<uint64_t>(0, kNever - 1));
    op.revision = TRY(object["revision"].value_or<uint64_t>(0));
    OperationShape shape =
        TRY_CTX(parse_choice(kOperationShapeNames, TRY(object["op"].string())), "op");
    bool ok = op.outcome == Outcome::Ok;
    switch (shape) {
    case OperationShape::Put: {
        // (Locals first: a TRY that returns from inside a braced
        // initializer leaks what was built before it.)
        std::string key = TRY(object["key"].string());
        std::string value = TRY(object["value"].string());
        op.success.push_back({ActionKind::Put, std::move(key), std::move(value)});
        break;
    }
    case OperationShape::Get: {
        std::string key = TRY(object["key"].string());
        op.success.push_back({ActionKind::Get, std::move(key), {}});
        if (ok)
            op.reads.push_back(TRY(json_value(object["read"])));
        break;
    }
    case OperationShape::Delete: {
        std::string key = TRY(object["key"].string());
        op.success.push_back({ActionKind::Delete, std::move(key), {}});
        break;
    }
    case OperationShape::CompareAndSet: {
        std::string key = TRY(object["key"].string());
        Value expected = TRY(json_value(object["expect"]));
        std::string value = TRY(object["value"].string());
        op.compares.push_back({key, std::move(expected)});
        op.success.push_back({ActionKind::Put, key, std::move(value)});
        if (ok)
            op.succeeded = TRY(object["succeeded"].boolean());
        break;
    }
    case OperationShape::Txn: {
        for (const JsonCursor& element : TRY(object["if"].array())) {
            JsonObjectCursor compare = TRY(element.object());
            std::string key = TRY(compare["key"].string());
            Value value = TRY(json_value(compare["value"]));
            op.compares.push_back({std::move(key), std::move(value)});
        }
        op.success = TRY(json_actions(object["then"]));
        op.failure = TRY(json_actions(object["else"]));
        if (ok) {
            op.succeeded = TRY(object["succeeded"].value_or(true));
            for (const JsonCursor& read : TRY(object["reads"].array()))
                op.reads.push_back(TRY(json_value(read)));
            size_t gets =
                std::count_if(op.taken_branch().begin(), op.taken_branch().end(),
                              [](const Action& action) { return action.kind == ActionKind::Get; });
            if (gets != op.reads.size())
                return error(cat("reads: the branch taken has ", gets, " get(s), reads has ",
                                 op.reads.size(), " value(s)"));
        }
        break;
    }
    }
    TRY(check_times(op));
    return op;
}

Result<Operation> parse_line(std::string_view line) {
    if (line.front() == '{')
        return parse_object(line);
    return parse_words(TRY(split_words(line)));
}

} // namespace

Result<History> parse_history(std::string_view text) {
    History history;
    size_t number = 0;
    for (std::string_view raw : split(text, '\n')) {
        ++number;
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#')
            continue;
        Result<Operation> op = parse_line(line);
        if (!op)
            return std::unexpected(std::move(op).error().wrap(cat("line ", number)));
        history.push_back(std::move(*op));
    }
    return history;
}

} // namespace keel::history
