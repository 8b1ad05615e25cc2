// tests/cluster/history.cpp: the history's text form reads back what it
// writes, in words and in JSON, and malformed lines are refused naming the
// line and what is wrong.
#include "tests/cluster/history.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace keel::history;

namespace {

std::string history_error(std::string_view text) {
    auto parsed = parse_history(text);
    return parsed ? std::string("(parsed)") : parsed.error().to_string();
}

} // namespace

TEST_CASE("the word form reads puts, gets, deletes and compare-and-sets with their outcomes") {
    auto history = parse_history("# a comment\n"
                                 "\n"
                                 "1 100 250 ok put x 1 rev=5\n"
                                 "2 120 300 ok get x -> 1\n"
                                 "2 310 320 ok get y -> ~\n"
                                 "3 400 ? unknown delete x\n"
                                 "4 500 600 failed cas x ~ 2\n"
                                 "4 700 800 ok cas x 1 \"two words\" -> false\n");
    REQUIRE_MESSAGE(history, (history ? std::string() : history.error().to_string()));
    REQUIRE(history->size() == 6);
    Operation expected_put = put(1, 100, 250, "x", "1");
    expected_put.revision = 5;
    CHECK((*history)[0] == expected_put);
    CHECK((*history)[1] == get(2, 120, 300, "x", "1"));
    CHECK((*history)[2] == get(2, 310, 320, "y", std::nullopt));
    CHECK((*history)[3] == unknown(remove(3, 400, 0, "x")));
    CHECK((*history)[4] == failed(compare_and_set(4, 500, 600, "x", std::nullopt, "2", true)));
    CHECK((*history)[5] == compare_and_set(4, 700, 800, "x", "1", "two words", false));
}

TEST_CASE("every operation written by format_operation reads back equal") {
    Operation txn;
    txn.client = 7;
    txn.call = 10;
    txn.return_time = 20;
    txn.compares = {{"x", "1"}, {"y", std::nullopt}};
    txn.success = {{ActionKind::Put, "y", "a b"}, {ActionKind::Get, "x", ""}};
    txn.failure = {{ActionKind::Delete, "x", ""}};
    txn.succeeded = true;
    txn.reads = {"1"};
    txn.revision = 9;
    History history = {
        put(1, 0, 10, "", "~"),
        get(1, 0, 10, "k", "\"quoted\"\n"),
        get(1, 0, 10, "k", std::nullopt),
        unknown(put(2, 5, 0, "x", "rev=3")),
        failed(remove(3, 1, 2, "#x")),
        compare_and_set(4, 1, 2, "x", std::nullopt, "->", true),
        unknown(compare_and_set(4, 1, 2, "x", "a", "b", true)),
        txn,
        unknown(txn),
    };
    std::string text;
    for (const Operation& op : history)
        text += format_operation(op) + "\n";
    auto parsed = parse_history(text);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error().to_string()), "\n", text);
    CHECK(*parsed == history);
}

TEST_CASE("the JSON form reads every operation, transactions included") {
    auto history = parse_history(
        R"({"client":1,"call":1,"return":2,"outcome":"ok","op":"put","key":"x","value":"v"})"
        "\n"
        R"({"client":1,"call":3,"return":null,"outcome":"unknown","op":"get","key":"x"})"
        "\n"
        R"({"client":1,"call":5,"return":6,"outcome":"ok","op":"get","key":"x","read":null})"
        "\n"
        R"({"client":1,"call":7,"return":8,"outcome":"ok","op":"cas","key":"x","expect":"v","value":"w","succeeded":true,"revision":4})"
        "\n"
        R"({"client":2,"call":9,"return":10,"outcome":"ok","op":"txn","if":[{"key":"x","value":"w"}],"then":[{"op":"get","key":"y"}],"else":[{"op":"put","key":"y","value":"1"}],"succeeded":true,"reads":["1"]})");
    REQUIRE_MESSAGE(history, (history ? std::string() : history.error().to_string()));
    REQUIRE(history->size() == 5);
    CHECK((*history)[1] == unknown(get(1, 3, 0, "x", std::nullopt)));
    CHECK((*history)[2] == get(1, 5, 6, "x", std::nullopt));
    CHECK((*history)[3].revision == 4);
    CHECK((*history)[4].keys() == std::vector<std::string>{"x", "y"});
    CHECK((*history)[4].reads == std::vector<Value>{"1"});
}

TEST_CASE("malformed lines are refused with the line and the reason") {
    CHECK(history_error("1 2 3 done put x 1") ==
          "line 1: outcome: unknown value `done` (expected ok, failed or unknown)");
    CHECK(history_error("\n1 2 3 ok put x") ==
          "line 2: put: expected 1 argument(s) after the key, got 0");
    CHECK(history_error("1 2 3 ok get x") ==
          "line 1: get: expected 1 result(s) after `->` for outcome ok, got 0");
    CHECK(history_error("x 2 3 ok get x -> 1") == "line 1: client: expected a number, got `x`");
    CHECK(history_error("1 5 3 ok delete x") == "line 1: returns (3) before its call (5)");
    CHECK(history_error("1 2 ? ok delete x") == "line 1: return `?` is only for outcome `unknown`");
    CHECK(history_error("1 2 3 ok cas x 1 2 -> maybe") ==
          "line 1: cas: expected `true` or `false`, got `maybe`");
    CHECK(history_error("1 2 3 ok put \"x 1") == "line 1: unterminated string");
    CHECK(history_error("1 2 3 ok put x \xff") == "line 1: invalid UTF-8 in `\xff`");
    CHECK(history_error("1 2 3 ok put x a\x01") ==
          "line 1: a control character outside a JSON string");
    CHECK(history_error("1 2 3 ok frob x") ==
          "line 1: operation: unknown value `frob` (expected put, get, delete, cas or txn)");
    CHECK(history_error("1 2 3 ok txn x") == "line 1: txn: write a transaction as a JSON object");
    CHECK(history_error("1 2") == "line 1: expected CLIENT CALL RETURN OUTCOME OP KEY ...");
    CHECK(
        history_error(R"({"client":1,"call":1,"return":2,"outcome":"ok","op":"put","key":"x"})") ==
        "line 1: value: missing");
    CHECK(
        history_error(R"({"client":1,"call":1,"outcome":"ok","op":"get","key":"x","read":"1"})") ==
        "line 1: return: missing");
    CHECK(
        history_error(
            R"({"client":1,"call":1,"return":2,"outcome":"ok","op":"txn","then":[{"op":"get","key":"y"}],"reads":[]})") ==
        "line 1: reads: the branch taken has 1 get(s), reads has 0 value(s)");
    CHECK(history_error(R"({"client":1,"call":1,"return":2,"outcome":"ok","op":"txn"})") ==
          "line 1: an operation with no actions");
    CHECK(
        history_error(
            R"({"client":1,"call":1,"return":2,"outcome":"ok","op":"txn","then":[{"op":"delete","key":"y"}],"succeeded":false})") ==
        "line 1: a transaction with no compares always succeeds");
    CHECK(history_error("{\"client\":1,").starts_with("line 1: line 1, column"));
}
