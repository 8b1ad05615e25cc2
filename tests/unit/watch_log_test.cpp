// tests/cluster/watch_log.cpp: the watch log the fault-injection workload
// writes is read into watchers and writes for the watch checker, and a
// malformed log is refused naming its line.
#include "tests/cluster/watch_log.h"

#include <doctest/doctest.h>

#include <string>

using namespace keel;
using namespace keel::watch_log;
using watch_guarantees::MessageKind;

namespace {

std::string watch_log_error(std::string_view text) {
    Result<WatchLog> log = parse_watch_log(text);
    REQUIRE_FALSE(log);
    return log.error().to_string();
}

} // namespace

TEST_CASE("a watch log gives the watcher's messages and the writes in order") {
    Result<WatchLog> log = parse_watch_log("# comment\n"
                                           "watcher w fault/ fault0 5\n"
                                           "partial\n"
                                           "write 5 put fault/k1 c1-1\n"
                                           "write 6 delete fault/k1 \"\"\n"
                                           "events w 5 put fault/k1 c1-1\n"
                                           "\n"
                                           "resume w 6\n"
                                           "events w 6 delete fault/k1 \"\" 6 put fault/k2 a%20b\n"
                                           "progress w 9\n");
    REQUIRE(log);
    CHECK(log->write_set == watch_guarantees::WriteSet::Partial);
    REQUIRE(log->watchers.size() == 1);
    const watch_guarantees::Watcher& w = log->watchers[0];
    CHECK(w.name == "w");
    CHECK(w.key == "fault/");
    CHECK(w.range_end == "fault0");
    CHECK(w.start_revision == 5);
    REQUIRE(w.messages.size() == 4);
    CHECK(w.messages[0].kind == MessageKind::Events);
    CHECK(w.messages[1].kind == MessageKind::Resume);
    CHECK(w.messages[1].revision == 6);
    REQUIRE(w.messages[2].events.size() == 2);
    CHECK(w.messages[2].events[0].type == watch_guarantees::EventType::Delete);
    CHECK(w.messages[2].events[1].value == "a b");
    CHECK(w.messages[3].kind == MessageKind::Progress);
    CHECK(w.messages[3].revision == 9);
    REQUIRE(log->writes.size() == 2);
    CHECK(log->writes[1].type == watch_guarantees::EventType::Delete);
}

TEST_CASE("a log with no partial line means every write is listed") {
    Result<WatchLog> log = parse_watch_log("watcher w a \"\" 0\n");
    REQUIRE(log);
    CHECK(log->write_set == watch_guarantees::WriteSet::Complete);
    CHECK(log->watchers[0].range_end.empty());
}

TEST_CASE("a watch log written back reads the same, odd bytes included") {
    WatchLog log;
    log.write_set = watch_guarantees::WriteSet::Partial;
    log.writes.push_back({3, watch_guarantees::EventType::Put, std::string("k\0%\"", 4), "v w"});
    log.watchers.push_back({"w 1", "", std::string("\0", 1), 2, {}});
    log.watchers[0].messages.push_back({MessageKind::Events, 0, {log.writes[0]}});
    log.watchers[0].messages.push_back({MessageKind::Progress, 7, {}});
    Result<WatchLog> again = parse_watch_log(format_watch_log(log));
    REQUIRE(again);
    CHECK(again->writes == log.writes);
    REQUIRE(again->watchers.size() == 1);
    CHECK(again->watchers[0].name == "w 1");
    CHECK(again->watchers[0].range_end == std::string("\0", 1));
    CHECK(again->watchers[0].messages[0].events == log.writes);
    CHECK(again->watchers[0].messages[1].revision == 7);
}

TEST_CASE("a malformed watch log is refused naming the line and what is wrong") {
    CHECK(watch_log_error("watcher w a b 1\nevents v 1 put a 1\n").find("line 2") !=
          std::string::npos);
    CHECK(watch_log_error("events w 1 put a 1\n").find("no watcher") != std::string::npos);
    CHECK(watch_log_error("bogus 1\n").find("line 1") != std::string::npos);
    CHECK(watch_log_error("watcher w a b\n").find("expected 4") != std::string::npos);
    CHECK(watch_log_error("watcher w a b x\n").find("expected a number") != std::string::npos);
    CHECK(watch_log_error("watcher w a b 1\nwatcher w c d 2\n").find("twice") != std::string::npos);
    CHECK(watch_log_error("write 1 upsert a 1\n").find("line 1") != std::string::npos);
    CHECK(watch_log_error("write 1 delete a 1\n").find("no value") != std::string::npos);
    CHECK(watch_log_error("write 1 put a%4 1\n").find("hex") != std::string::npos);
    CHECK(watch_log_error("write 1 put a%zz 1\n").find("hex") != std::string::npos);
    CHECK(watch_log_error("write 1 put a\"b 1\n").find("%22") != std::string::npos);
    CHECK(watch_log_error("watcher w a b 1\nevents w 1 put a\n").find("line 2") !=
          std::string::npos);
    CHECK(watch_log_error("watcher w a b 1\nprogress w\n").find("line 2") != std::string::npos);
    CHECK(watch_log_error("partial now\n").find("line 1") != std::string::npos);
}
