// Tests for kv/raft_driver.h: three (or four) members on one Reactor, each
// with a real data dir, joined by an in-memory transport that can cut a
// member off, applying to a small key-value state machine whose snapshot is
// the serialized map. Ticks are 10 ms, so elections take a few hundred.
#include "kv/raft_driver.h"

#include "base/endian.h"
#include "base/strings.h"
#include "base/sys.h"
#include "tests/unit/fake_storage.h"
#include "tests/unit/kv_storage_fixture.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

using namespace keel;
using namespace keel::kv;
using namespace std::chrono_literals;
using keel::testing::FakeStorage;
using keel::testing::make_reactor;
using keel::testing::StorageCall;
using keel::testing::TempDir;
using keel::testing::UnsyncedStorage;

namespace {

// Commands are "key=value"; the response says what was applied where.
// Kept across a member's restarts, as the KV's store on disk would be; it
// records every index it applied, so that a second apply shows.
class MapMachine final : public StateMachine {
public:
    kv::Index applied_index() const override { return applied; }
    Result<std::string> apply(kv::Index index, std::string_view command) override {
        record(index);
        size_t equals = command.find('=');
        if (equals == std::string_view::npos)
            return cat("refused ", command);
        values[std::string(command.substr(0, equals))] = std::string(command.substr(equals + 1));
        return cat("applied ", command, " at ", index);
    }
    Result<void> apply_empty(kv::Index index) override {
        record(index);
        return {};
    }
    Result<void> apply_conf_change(kv::Index index, const ConfChange& change,
                                   const ConfState& after) override {
        record(index);
        conf = after;
        contexts.push_back(change.context);
        return {};
    }
    Result<std::string> snapshot() override {
        std::string out;
        for (const auto& [key, value] : values) {
            put_u32(out, uint32_t(key.size()));
            out += key;
            put_u32(out, uint32_t(value.size()));
            out += value;
        }
        return out;
    }
    Result<void> restore(const Snapshot& snapshot) override {
        std::map<std::string, std::string> restored;
        std::string_view data = snapshot.data;
        size_t at = 0;
        auto field = [&]() -> Result<std::string> {
            if (data.size() - at < 4)
                return error("snapshot cut short");
            uint32_t size = get_u32(data, at);
            at += 4;
            if (data.size() - at < size)
                return error("snapshot cut short");
            std::string text(data.substr(at, size));
            at += size;
            return text;
        };
        while (at < data.size()) {
            std::string key = TRY(field());
            restored[key] = TRY(field());
        }
        values = std::move(restored);
        applied = snapshot.meta.index;
        conf = snapshot.meta.conf;
        ++restores;
        return {};
    }
    Result<void> flush() override {
        flushed = applied;
        ++flushes;
        return {};
    }

    std::map<std::string, std::string> values;
    kv::Index applied = 0;
    kv::Index flushed = 0; // what the last flush() made durable
    int flushes = 0;
    ConfState conf;
    std::vector<std::string> contexts;
    int restores = 0;
    // Indexes applied more than once.
    std::vector<kv::Index> reapplied;

private:
    void record(kv::Index index) {
        if (index <= applied)
            reapplied.push_back(index);
        applied = index;
    }
};

// Delivers messages on the next loop iteration, in order; drops those to
// or from a member that is cut off or not running.
class Network final : public RaftTransport {
public:
    explicit Network(Reactor& reactor) : m_reactor(reactor) {}

    void send(std::vector<kv::Message> messages) override {
        for (kv::Message& message : messages)
            m_reactor.defer([this, message = std::move(message)] { deliver(message); });
    }

    std::map<NodeId, RaftDriver*> members;
    std::set<NodeId> cut;

private:
    void deliver(const kv::Message& message) {
        auto from = members.find(message.from);
        auto to = members.find(message.to);
        bool reachable =
            to != members.end() && !cut.contains(message.from) && !cut.contains(message.to);
        if (reachable)
            to->second->step(message);
        if (from == members.end())
            return;
        if (!reachable)
            from->second->report_unreachable(message.to);
        if (message.type == MessageType::Snapshot)
            from->second->report_snapshot(message.to, reachable ? SnapshotStatus::Finish
                                                                : SnapshotStatus::Failure);
    }

    Reactor& m_reactor;
};

struct DriverMember {
    UnsyncedStorage disk; // real files; fsync skipped: the test is not about crashes
    FakeStorage storage{disk};
    MapMachine machine;
    std::unique_ptr<RaftDriver> driver;
    std::vector<std::pair<NodeId, Term>> leader_changes;
    std::vector<std::string> fatal; // why the driver stopped itself
};

class DriverCluster {
public:
    explicit DriverCluster(std::vector<NodeId> ids, uint64_t snapshot_count = 100000,
                           size_t log_memory_entries = 4096)
        : m_snapshot_count(snapshot_count), m_log_memory_entries(log_memory_entries) {
        for (NodeId id : ids)
            start(id, ConfState{ids, {}});
    }
    ~DriverCluster() {
        for (auto& [id, member] : m_members)
            member->driver.reset();
    }

    RaftDriverOptions options(NodeId id, ConfState initial) {
        return RaftDriverOptions{
            .data_dir = m_dir / cat("member-", id),
            .metadata = {.cluster_id = 0x10, .member_id = id},
            .initial = std::move(initial),
            .tick = 10ms,
            .election_ticks = 10,
            .snapshot_count = m_snapshot_count,
            .request_timeout = request_timeout,
            .storage = &member(id).storage,
            .seed = id,
            .wal_segment_bytes = 1 << 20,
            .log_memory_entries = m_log_memory_entries,
        };
    }

    /// Starts (or restarts, from its data dir) member `id`.
    void start(NodeId id, ConfState initial = {}) {
        DriverMember& m = member(id);
        Result<std::unique_ptr<RaftDriver>> driver =
            RaftDriver::open(*reactor, options(id, std::move(initial)), m.machine, network);
        REQUIRE_MESSAGE(driver, (driver ? std::string() : driver.error().to_string()));
        m.driver = std::move(*driver);
        m.driver->on_leader_change(
            [&m](NodeId leader, Term term) { m.leader_changes.emplace_back(leader, term); });
        m.driver->on_fatal([&m](const Error& error) { m.fatal.push_back(error.to_string()); });
        network.members[id] = m.driver.get();
    }
    void stop(NodeId id) {
        network.members.erase(id);
        member(id).driver.reset();
    }

    DriverMember& member(NodeId id) {
        auto& slot = m_members[id];
        if (!slot)
            slot = std::make_unique<DriverMember>();
        return *slot;
    }
    RaftDriver& driver(NodeId id) { return *member(id).driver; }
    MapMachine& machine(NodeId id) { return member(id).machine; }

    /// Runs the loop until `done` holds; fails the test after `limit`.
    void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "timed out; ", describe());
            REQUIRE(reactor->run_once(5ms));
        }
    }
    void run_for(std::chrono::milliseconds time) {
        auto deadline = std::chrono::steady_clock::now() + time;
        while (std::chrono::steady_clock::now() < deadline)
            REQUIRE(reactor->run_once(5ms));
    }

    /// Waits until the running voters that are not cut off agree on a
    /// leader among them, and returns it.
    NodeId wait_for_leader() {
        NodeId leader = 0;
        run_until([&] {
            leader = 0;
            for (auto& [id, driver] : network.members) {
                if (network.cut.contains(id))
                    continue;
                if (driver->status().role == Role::Leader)
                    leader = id;
            }
            if (leader == 0)
                return false;
            // A member that is joining knows of no leader until it is added.
            RaftStatus status = network.members[leader]->status();
            for (auto& [id, driver] : network.members)
                if (!network.cut.contains(id) && driver->leader() != leader &&
                    std::ranges::find(status.conf.voters, id) != status.conf.voters.end())
                    return false;
            return true;
        });
        return leader;
    }
    /// Each member's role, term, leader, commit and applied index.
    std::string describe() {
        std::string out;
        for (auto& [id, member] : m_members) {
            if (!member->driver) {
                out += cat("\n  member ", id, " stopped");
                continue;
            }
            RaftStatus s = member->driver->status();
            out +=
                cat("\n  member ", id, ": ", kRoleNames.name(s.role), " term ", s.term, " leader ",
                    s.leader, " commit ", s.commit, " applied ", member->machine.applied, " first ",
                    s.first_index, " last ", s.last_index, " voters ", s.conf.voters.size(),
                    network.cut.contains(id) ? " (cut off)" : "");
        }
        return out;
    }
    NodeId follower_of(NodeId leader) {
        for (auto& [id, driver] : network.members)
            if (id != leader && !network.cut.contains(id))
                return id;
        FAIL("no follower");
        return 0;
    }

    /// Proposes on `id` and waits for the answer.
    Result<std::string> propose(NodeId id, std::string command) {
        std::optional<Result<std::string>> response;
        driver(id).propose(std::move(command),
                           [&](Result<std::string> r) { response = std::move(r); });
        run_until([&] { return response.has_value(); }, 10s);
        return *response;
    }
    /// Proposes a membership change on the leader until it is accepted (a
    /// new leader refuses one until it committed an entry of its term).
    Result<void> change_membership(ConfChange change) {
        for (int attempt = 0; attempt < 50; ++attempt) {
            NodeId leader = wait_for_leader();
            std::optional<Result<void>> outcome;
            driver(leader).propose_conf_change(change,
                                               [&](Result<void> r) { outcome = std::move(r); });
            run_until([&] { return outcome.has_value(); }, 10s);
            if (*outcome || outcome->error().code() != int(ErrorCode::ProposalDropped))
                return *outcome;
            run_for(20ms);
        }
        return error("membership change kept being dropped");
    }
    bool all_have(const std::vector<NodeId>& ids, const std::string& key,
                  const std::string& value) {
        for (NodeId id : ids) {
            auto found = machine(id).values.find(key);
            if (found == machine(id).values.end() || found->second != value)
                return false;
        }
        return true;
    }

    std::unique_ptr<Reactor> reactor = make_reactor();
    Network network{*reactor};
    std::chrono::milliseconds request_timeout{3000};

private:
    TempDir m_dir;
    uint64_t m_snapshot_count;
    size_t m_log_memory_entries;
    std::map<NodeId, std::unique_ptr<DriverMember>> m_members;
};

bool failed_with(const Result<std::string>& r, ErrorCode code) {
    return !r && r.error().code() == int(code);
}

} // namespace

TEST_CASE("a new three-member cluster elects a leader and every member hears of it") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    c.run_until([&] {
        for (NodeId id : {1, 2, 3})
            if (c.member(id).leader_changes.empty() ||
                c.member(id).leader_changes.back().first != leader)
                return false;
        return true;
    });
    for (NodeId id : {1, 2, 3}) {
        CHECK(c.driver(id).term() >= 2);
        CHECK(c.machine(id).conf.voters == std::vector<NodeId>{1, 2, 3});
        // The membership entries of a new cluster have no caller waiting.
        CHECK(c.machine(id).contexts == std::vector<std::string>{"", "", ""});
    }
}

TEST_CASE("proposals on the leader and on a follower are applied on every member and answered "
          "to their proposer") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);

    Result<std::string> on_leader = c.propose(leader, "a=1");
    REQUIRE_MESSAGE(on_leader, (on_leader ? std::string() : on_leader.error().to_string()));
    CHECK(on_leader->starts_with("applied a=1 at "));
    Result<std::string> on_follower = c.propose(follower, "b=2");
    REQUIRE_MESSAGE(on_follower, (on_follower ? std::string() : on_follower.error().to_string()));
    CHECK(on_follower->starts_with("applied b=2 at "));
    // A command the state machine refuses is still answered.
    Result<std::string> refused = c.propose(follower, "no equals sign");
    REQUIRE(refused);
    CHECK(*refused == "refused no equals sign");

    c.run_until([&] { return c.all_have({1, 2, 3}, "a", "1") && c.all_have({1, 2, 3}, "b", "2"); });
    for (NodeId id : {1, 2, 3})
        CHECK(c.machine(id).reapplied.empty());
}

TEST_CASE("a read barrier on a follower waits until it has applied what the leader committed") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    REQUIRE(c.propose(leader, "k=before"));

    std::optional<Result<void>> read;
    bool had_value_when_read = false;
    c.driver(follower).read_barrier([&](Result<void> r) {
        had_value_when_read = c.all_have({follower}, "k", "before");
        read = std::move(r);
    });
    c.run_until([&] { return read.has_value(); });
    REQUIRE_MESSAGE(*read, read->error().to_string());
    CHECK(had_value_when_read);

    // Several reads in one loop iteration are answered together.
    int answered = 0;
    for (int i = 0; i < 5; ++i)
        c.driver(follower).read_barrier([&](Result<void> r) { answered += r ? 1 : 0; });
    c.run_until([&] { return answered == 5; });
}

TEST_CASE("a member stopped and reopened from its data dir catches up without applying an entry "
          "twice") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    REQUIRE(c.propose(leader, "x=1"));
    c.run_until([&] { return c.all_have({1, 2, 3}, "x", "1"); });

    c.stop(follower);
    for (int i = 0; i < 10; ++i)
        REQUIRE(c.propose(leader, cat("y", i, "=", i)));
    CHECK(c.machine(follower).values.size() == 1);

    c.start(follower);
    c.run_until([&] { return c.all_have({follower}, "y9", "9"); });
    CHECK(c.machine(follower).reapplied.empty());
    CHECK(c.machine(follower).values.size() == 11);
    // It takes part again: the leader's next entry reaches it.
    REQUIRE(c.propose(c.wait_for_leader(), "z=after"));
    c.run_until([&] { return c.all_have({1, 2, 3}, "z", "after"); });
}

TEST_CASE("a member whose state machine lost its state gets it back from its snapshot and log") {
    DriverCluster c({1, 2, 3}, 5);
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    for (int i = 0; i < 12; ++i)
        REQUIRE(c.propose(leader, cat("k", i, "=", i)));
    c.run_until([&] { return c.all_have({follower}, "k11", "11"); });
    CHECK(c.driver(follower).snapshot_index() > 0);

    c.stop(follower);
    c.machine(follower) = MapMachine{};
    c.start(follower);
    CHECK(c.machine(follower).restores == 1);
    c.run_until([&] { return c.all_have({follower}, "k11", "11"); });
    CHECK(c.machine(follower).values.size() == 12);
}

TEST_CASE("a follower far behind the leader's last snapshot is sent it") {
    DriverCluster c({1, 2, 3}, 5);
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    c.stop(follower);
    for (int i = 0; i < 30; ++i)
        REQUIRE(c.propose(leader, cat("k", i, "=", i)));
    REQUIRE(c.driver(leader).snapshot_index() > 10);
    // The leader no longer holds the entries the follower needs.
    CHECK(c.driver(leader).status().first_index > c.machine(follower).applied + 1);

    c.start(follower);
    c.run_until([&] { return c.all_have({follower}, "k29", "29"); });
    CHECK(c.machine(follower).restores == 1);
    CHECK(c.machine(follower).values.size() == 30);
    CHECK(c.driver(follower).snapshot_index() > 10);

    // What it was sent is on its disk: it restarts from it.
    c.stop(follower);
    c.machine(follower) = MapMachine{};
    c.start(follower);
    CHECK(c.machine(follower).values.size() >= 10);
    c.run_until([&] { return c.all_have({follower}, "k29", "29"); });
}

TEST_CASE("a follower that lags by less than the snapshot interval is sent entries the leader "
          "reads back from its log files, not a snapshot") {
    DriverCluster c({1, 2, 3}, 100000, 4);
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    c.stop(follower);
    for (int i = 0; i < 30; ++i)
        REQUIRE(c.propose(leader, cat("k", i, "=", i)));
    CHECK(c.driver(leader).snapshot_index() == 0);
    // The leader holds only its newest entries in memory.
    RaftStatus status = c.driver(leader).status();
    CHECK(status.first_index == 1);
    CHECK(status.last_index - status.first_in_memory < 8);
    CHECK(status.first_in_memory > c.machine(follower).applied + 1);

    c.start(follower);
    c.run_until([&] { return c.all_have({follower}, "k29", "29"); });
    CHECK(c.machine(follower).restores == 0);
    CHECK(c.machine(follower).values.size() == 30);
    CHECK(c.member(leader).fatal.empty());

    // A restarted member holds no more in memory than the window either.
    c.stop(leader);
    c.start(leader);
    status = c.driver(leader).status();
    CHECK(status.last_index - status.first_in_memory < 8);
    REQUIRE(c.propose(c.wait_for_leader(), "after=1"));
    c.run_until([&] { return c.all_have({1, 2, 3}, "after", "1"); });
}

TEST_CASE("a leader that finds a damaged record when it reads its log for a follower stops, "
          "naming the file and offset, and sends nothing of it") {
    DriverCluster c({1, 2, 3}, 100000, 4);
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    // The first entry the leader will read for it.
    kv::Index follower_next = c.driver(follower).status().last_index + 1;
    c.stop(follower);
    for (int i = 0; i < 20; ++i)
        REQUIRE(c.propose(leader, cat("k", i, "=", i)));
    REQUIRE(c.driver(leader).status().first_in_memory > follower_next);

    // Damage the record of the first entry the follower needs.
    std::string directory = c.options(leader, {}).data_dir + "/wal";
    auto names = list_directory(directory);
    REQUIRE(names);
    std::string damaged;
    uint64_t damaged_at = 0;
    for (const std::string& name : *names) {
        if (!name.ends_with(".wal"))
            continue;
        auto data = read_file(directory + "/" + name);
        REQUIRE(data);
        for (const FramedRecord& record : scan_segment(*data, SegmentPlace::Last).records) {
            if (record.type != RecordType::Entry)
                continue;
            auto value = decode_payload(record.type, record.payload);
            if (value && std::get<Entry>(*value).index == follower_next) {
                damaged = name;
                damaged_at = record.offset;
            }
        }
    }
    REQUIRE(!damaged.empty());
    {
        Fd fd(::open((directory + "/" + damaged).c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(fd);
        char byte = 0;
        REQUIRE(::pread(fd.get(), &byte, 1, off_t(damaged_at + kRecordHeaderBytes + 17)) == 1);
        byte = char(byte ^ 0x40);
        REQUIRE(::pwrite(fd.get(), &byte, 1, off_t(damaged_at + kRecordHeaderBytes + 17)) == 1);
    }

    // The third member could catch the follower up from its own log.
    for (NodeId id : {1, 2, 3})
        if (id != leader && id != follower)
            c.network.cut.insert(id);
    size_t applied_before = c.machine(follower).values.size();
    c.start(follower);
    c.run_until([&] { return !c.member(leader).fatal.empty(); });
    CHECK(c.driver(leader).stopped());
    std::string why = c.member(leader).fatal.front();
    CAPTURE(why);
    CHECK(why.find(cat("kv/wal: ", damaged, " at offset ", damaged_at,
                       ": checksum mismatch (reading entry ", follower_next, ")")) !=
          std::string::npos);
    CHECK(c.machine(follower).values.size() == applied_before);
}

TEST_CASE("a deposed leader's uncommitted entries are replaced by the snapshot it is sent, on "
          "disk too") {
    DriverCluster c({1, 2, 3}, 5);
    c.request_timeout = 500ms;
    NodeId old_leader = c.wait_for_leader();
    // Restart it so that it takes the short timeout, and wait until it
    // leads again (or another does: then cut that one off instead).
    c.stop(old_leader);
    c.start(old_leader);
    old_leader = c.wait_for_leader();

    c.network.cut.insert(old_leader);
    int stale_answers = 0;
    for (int i = 0; i < 40; ++i)
        c.driver(old_leader).propose(cat("stale", i, "=x"), [&](Result<std::string> r) {
            stale_answers += r ? 100 : 1;
        });
    kv::Index stale_last = 0;
    c.run_until([&] {
        stale_last = c.driver(old_leader).status().last_index;
        return stale_last >= 40;
    });
    NodeId new_leader = c.wait_for_leader();
    REQUIRE(new_leader != old_leader);
    for (int i = 0; i < 15; ++i)
        REQUIRE(c.propose(new_leader, cat("k", i, "=", i)));
    REQUIRE(c.driver(new_leader).status().last_index < stale_last);
    c.run_until([&] { return stale_answers == 40; });
    CHECK(stale_answers == 40); // every one failed

    c.network.cut.clear();
    c.run_until([&] { return c.all_have({old_leader}, "k14", "14"); });
    CHECK(c.machine(old_leader).restores == 1);

    // From its disk alone it comes back without the other history.
    c.stop(old_leader);
    c.machine(old_leader) = MapMachine{};
    c.start(old_leader);
    kv::Index reopened_last = c.driver(old_leader).status().last_index;
    CHECK(reopened_last <= c.driver(c.wait_for_leader()).status().last_index);
    REQUIRE(c.propose(c.wait_for_leader(), "after=1"));
    c.run_until([&] { return c.all_have({1, 2, 3}, "after", "1"); });
    for (NodeId id : {1, 2, 3})
        for (const auto& [key, value] : c.machine(id).values)
            CHECK(!key.starts_with("stale"));
}

TEST_CASE("proposals on a member cut off from the others time out or fail with no leader") {
    DriverCluster c({1, 2, 3});
    c.request_timeout = 300ms;
    NodeId leader = c.wait_for_leader();
    NodeId follower = c.follower_of(leader);
    // Restart the follower so that it takes the short timeout.
    c.stop(follower);
    c.start(follower);
    c.wait_for_leader();

    c.network.cut.insert(follower);
    // It still believes in the leader: the forwarded proposal is lost.
    Result<std::string> lost = c.propose(follower, "lost=1");
    CHECK(failed_with(lost, ErrorCode::RequestTimedOut));
    std::optional<Result<void>> read;
    c.driver(follower).read_barrier([&](Result<void> r) { read = std::move(r); });
    c.run_until([&] { return read.has_value(); });
    CHECK((!*read && (read->error().code() == int(ErrorCode::RequestTimedOut) ||
                      read->error().code() == int(ErrorCode::NoLeader))));

    // Once its election timeout passes it knows no leader.
    c.run_until([&] { return c.driver(follower).leader() == 0; });
    CHECK(failed_with(c.propose(follower, "refused=1"), ErrorCode::NoLeader));

    // The other two go on, and the member catches up when it is back.
    REQUIRE(c.propose(c.wait_for_leader(), "majority=1"));
    c.network.cut.clear();
    c.run_until([&] { return c.all_have({1, 2, 3}, "majority", "1"); });
    CHECK(!c.machine(follower).values.contains("lost"));
}

TEST_CASE("stopping a member fails its waiting proposals with server stopped") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    std::optional<Result<std::string>> response;
    c.driver(leader).propose("a=1", [&](Result<std::string> r) { response = std::move(r); });
    CHECK(!response.has_value()); // never before propose() returns
    c.driver(leader).stop();
    c.run_until([&] { return response.has_value(); });
    CHECK(failed_with(*response, ErrorCode::ServerStopped));
    CHECK(failed_with(c.propose(leader, "b=2"), ErrorCode::ServerStopped));
}

TEST_CASE("a fourth member is added as a voter, catches up, and is removed again") {
    DriverCluster c({1, 2, 3});
    c.wait_for_leader();
    REQUIRE(c.propose(c.wait_for_leader(), "before=1"));

    c.start(4); // joins: nothing on disk and no initial membership
    Result<void> added = c.change_membership({ConfChangeType::AddVoter, 4, "urls of 4"});
    REQUIRE_MESSAGE(added, (added ? std::string() : added.error().to_string()));
    c.run_until([&] { return c.all_have({4}, "before", "1"); });
    for (NodeId id : {1, 2, 3, 4}) {
        c.run_until([&] { return c.machine(id).conf.voters.size() == 4; });
        CHECK(c.machine(id).conf.voters == std::vector<NodeId>{1, 2, 3, 4});
        CHECK(c.machine(id).contexts.back() == "urls of 4");
    }
    REQUIRE(c.propose(4, "from4=1"));
    c.run_until([&] { return c.all_have({1, 2, 3, 4}, "from4", "1"); });

    // Adding it twice is refused.
    Result<void> twice = c.change_membership({ConfChangeType::AddVoter, 4, ""});
    CHECK(!twice);

    Result<void> removed = c.change_membership({ConfChangeType::RemoveNode, 4, ""});
    REQUIRE_MESSAGE(removed, (removed ? std::string() : removed.error().to_string()));
    for (NodeId id : {1, 2, 3}) {
        c.run_until([&] { return c.machine(id).conf.voters.size() == 3; });
        CHECK(c.machine(id).conf.voters == std::vector<NodeId>{1, 2, 3});
    }
    c.stop(4);
    REQUIRE(c.propose(c.wait_for_leader(), "after=1"));
}

TEST_CASE("proposals issued in one loop iteration are written to the leader's log with one sync") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    REQUIRE(c.propose(leader, "warm=1"));
    // Let the cluster settle: everyone applied everything.
    c.run_until([&] { return c.all_have({1, 2, 3}, "warm", "1"); });
    c.run_for(50ms);
    REQUIRE(c.wait_for_leader() == leader);

    int syncs_before = c.member(leader).storage.calls(StorageCall::Fdatasync);
    uint64_t counted_before = c.driver(leader).wal_syncs();
    constexpr int kProposals = 20;
    int answered = 0;
    for (int i = 0; i < kProposals; ++i)
        c.driver(leader).propose(cat("g", i, "=", i), [&](Result<std::string> r) {
            REQUIRE(r);
            ++answered;
        });
    c.run_until([&] { return answered == kProposals; });
    CHECK(c.member(leader).storage.calls(StorageCall::Fdatasync) - syncs_before == 1);
    CHECK(c.driver(leader).wal_syncs() - counted_before == 1);
}

TEST_CASE("what a member applied is flushed to its store within a tick, and an idle member does "
          "not flush") {
    DriverCluster c({1, 2, 3});
    NodeId leader = c.wait_for_leader();
    REQUIRE(c.propose(leader, "a=1"));
    c.run_until([&] { return c.all_have({1, 2, 3}, "a", "1"); });
    c.run_for(30ms); // a few 10 ms ticks
    for (NodeId id : {1, 2, 3}) {
        CAPTURE(id);
        CHECK(c.machine(id).flushed == c.machine(id).applied);
    }
    int flushes = c.machine(leader).flushes;
    c.run_for(50ms);
    CHECK(c.machine(leader).flushes == flushes);
}

TEST_CASE("a data dir of another member is refused") {
    DriverCluster c({1});
    c.wait_for_leader();
    c.stop(1);
    RaftDriverOptions options = c.options(1, {});
    options.metadata.member_id = 2;
    MapMachine machine;
    Result<std::unique_ptr<RaftDriver>> driver =
        RaftDriver::open(*c.reactor, options, machine, c.network);
    REQUIRE(!driver);
    CHECK(driver.error().code() == int(ErrorCode::ForeignDataDir));
}
