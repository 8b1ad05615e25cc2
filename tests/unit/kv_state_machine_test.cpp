// KvStateMachine: committed commands applied to the MVCC store and the
// leases, answered with etcd's response messages or refused alike on every
// member; the member list kept with the data.
#include "kv/kv_state_machine.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"

#include <doctest/doctest.h>

using namespace keel;
using namespace keel::kv;

namespace {

std::chrono::steady_clock::time_point g_now{std::chrono::seconds(1000)};

std::unique_ptr<KvStateMachine> open_machine() {
    auto machine = KvStateMachine::open(make_memory_backend(), [] { return g_now; });
    REQUIRE(machine);
    return std::move(*machine);
}

std::string put_command(std::string key, std::string value, int64_t lease = 0) {
    InternalRequest request;
    request.mutable_put()->set_key(std::move(key));
    request.mutable_put()->set_value(std::move(value));
    request.mutable_put()->set_lease(lease);
    return request.SerializeAsString();
}

std::string grant_command(int64_t id, int64_t ttl) {
    InternalRequest request;
    request.mutable_lease_grant()->set_id(id);
    request.mutable_lease_grant()->set_ttl(ttl);
    return request.SerializeAsString();
}

std::string revoke_command(int64_t id) {
    InternalRequest request;
    request.mutable_lease_revoke()->set_id(id);
    return request.SerializeAsString();
}

// Applies `command` at `index` and decodes the answer.
Result<std::string> apply(KvStateMachine& machine, kv::Index index, const std::string& command) {
    auto answer = machine.apply(index, command);
    REQUIRE(answer);
    return decode_apply_answer(*answer);
}

} // namespace

TEST_CASE("a put is answered with etcd's PutResponse at the new revision") {
    auto machine = open_machine();
    auto answer = apply(*machine, 5, put_command("a", "1"));
    REQUIRE(answer);
    etcdserverpb::PutResponse response;
    REQUIRE(response.ParseFromString(*answer));
    CHECK(response.header().revision() == 2);
    CHECK(machine->applied_index() == 5);
    CHECK(machine->store().revision() == 2);
}

TEST_CASE("a put naming a lease that does not exist is refused and the entry counts as applied") {
    auto machine = open_machine();
    auto answer = apply(*machine, 3, put_command("a", "1", 77));
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code() == int(ErrorCode::LeaseNotFound));
    CHECK(machine->store().revision() == 1);
    CHECK(machine->applied_index() == 3);
}

TEST_CASE("a command that does not parse is refused, not fatal") {
    auto machine = open_machine();
    auto answer = machine->apply(4, std::string("\xff\xff\xff", 3));
    REQUIRE(answer);
    CHECK_FALSE(decode_apply_answer(*answer));
    CHECK(machine->applied_index() == 4);
}

TEST_CASE("revoking a lease deletes its keys and the watchers see the deletes") {
    auto machine = open_machine();
    REQUIRE(apply(*machine, 1, grant_command(9, 60)));
    REQUIRE(apply(*machine, 2, put_command("held/a", "1", 9)));
    REQUIRE(apply(*machine, 3, put_command("held/b", "2", 9)));
    REQUIRE(apply(*machine, 4, put_command("free", "3")));

    struct Sink : WatchSink {
        std::vector<kv::Event> events;
        void deliver(WatchId, std::vector<kv::Event> delivered, int64_t) override {
            events.insert(events.end(), delivered.begin(), delivered.end());
        }
        void compacted(WatchId, int64_t) override {}
        size_t pending_bytes() const override { return 0; }
    } sink;
    WatchSpec spec;
    spec.key = "held/";
    spec.range_end = "held0";
    REQUIRE(machine->watches().add(sink, spec));

    REQUIRE(apply(*machine, 5, revoke_command(9)));
    CHECK_FALSE(machine->lessor().exists(9));
    REQUIRE(sink.events.size() == 2);
    CHECK(sink.events[0].type == kv::EventType::Delete);
    CHECK(sink.events[0].kv.key == "held/a");
    CHECK(sink.events[1].kv.key == "held/b");
    auto free = machine->store().range({.key = "free"});
    REQUIRE(free);
    CHECK(free->kvs.size() == 1);

    auto again = apply(*machine, 6, revoke_command(9));
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == int(ErrorCode::LeaseNotFound));
}

TEST_CASE("members added through the log survive a snapshot and its restore elsewhere") {
    auto machine = open_machine();
    MemberInfo member;
    member.id = 0x1234;
    member.name = "m1";
    member.peer_urls = {"http://127.0.0.1:2380"};
    REQUIRE(machine->apply_conf_change(1, {ConfChangeType::AddVoter, 0x1234, encode_member(member)},
                                       ConfState{{0x1234}, {}}));
    REQUIRE(machine->apply_conf_change(2, {ConfChangeType::AddLearner, 0x99, {}},
                                       ConfState{{0x1234}, {0x99}}));
    InternalRequest publish;
    publish.mutable_member_attributes()->set_id(0x1234);
    publish.mutable_member_attributes()->set_name("m1");
    publish.mutable_member_attributes()->add_client_urls("http://127.0.0.1:2379");
    REQUIRE(apply(*machine, 3, publish.SerializeAsString()));
    REQUIRE(apply(*machine, 4, put_command("k", "v")));

    auto data = machine->snapshot();
    REQUIRE(data);
    auto other = open_machine();
    int changes = 0;
    other->on_members_changed([&] { ++changes; });
    REQUIRE(other->restore(Snapshot{{4, 1, ConfState{{0x1234}, {0x99}}}, *data}));
    CHECK(changes == 1);
    REQUIRE(other->members().size() == 2);
    const MemberInfo& restored = other->members().at(0x1234);
    CHECK(restored.name == "m1");
    CHECK(restored.client_urls == std::vector<std::string>{"http://127.0.0.1:2379"});
    CHECK(restored.peer_urls == std::vector<std::string>{"http://127.0.0.1:2380"});
    CHECK(other->members().at(0x99).is_learner);
    CHECK(other->store().revision() == 2);
    CHECK(other->applied_index() == 4);
}

TEST_CASE("two members that apply the same log agree on hash_kv") {
    auto first = open_machine();
    auto second = open_machine();
    std::vector<std::string> log = {grant_command(5, 30), put_command("a", "1", 5),
                                    put_command("b", "2"), revoke_command(5),
                                    put_command("a", "3")};
    for (size_t i = 0; i < log.size(); ++i) {
        REQUIRE(first->apply(i + 1, log[i]));
        REQUIRE(second->apply(i + 1, log[i]));
    }
    auto a = first->store().hash_kv(0);
    auto b = second->store().hash_kv(0);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->hash == b->hash);
    CHECK(a->hash_revision == b->hash_revision);
}

TEST_CASE("an apply answer round-trips a response and a refusal with its code") {
    auto ok = decode_apply_answer(encode_apply_answer("bytes"));
    REQUIRE(ok);
    CHECK(*ok == "bytes");
    auto refused = decode_apply_answer(
        encode_apply_refusal(Error::from_code(ErrorCode::RevisionCompacted, "compacted")));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == int(ErrorCode::RevisionCompacted));
    CHECK_FALSE(decode_apply_answer(""));
    CHECK_FALSE(decode_apply_answer(std::string("\1\0", 2)));
}

namespace {

std::string alarm_command(etcdserverpb::AlarmRequest::AlarmAction action, uint64_t member,
                          etcdserverpb::AlarmType type) {
    InternalRequest request;
    request.mutable_alarm()->set_action(action);
    request.mutable_alarm()->set_memberid(member);
    request.mutable_alarm()->set_alarm(type);
    return request.SerializeAsString();
}

etcdserverpb::AlarmResponse alarm_list(KvStateMachine& machine, kv::Index index) {
    auto answer = apply(machine, index,
                        alarm_command(etcdserverpb::AlarmRequest::GET, 0, etcdserverpb::NONE));
    REQUIRE(answer);
    etcdserverpb::AlarmResponse response;
    REQUIRE(response.ParseFromString(*answer));
    return response;
}

} // namespace

TEST_CASE("a raised NOSPACE alarm refuses puts, txns with puts and lease grants until disarmed") {
    auto machine = open_machine();
    REQUIRE(apply(*machine, 1, put_command("a", "1")));
    auto raised = apply(
        *machine, 2, alarm_command(etcdserverpb::AlarmRequest::ACTIVATE, 7, etcdserverpb::NOSPACE));
    REQUIRE(raised);
    auto listed = alarm_list(*machine, 3);
    REQUIRE(listed.alarms_size() == 1);
    CHECK(listed.alarms(0).memberid() == 7);
    CHECK(listed.alarms(0).alarm() == etcdserverpb::NOSPACE);

    auto put = apply(*machine, 4, put_command("b", "2"));
    REQUIRE_FALSE(put);
    CHECK(put.error().root() == "etcdserver: mvcc: database space exceeded");
    CHECK(machine->applied_index() == 4);
    CHECK_FALSE(apply(*machine, 5, grant_command(9, 60)));
    InternalRequest txn;
    auto* txn_put = txn.mutable_txn()->add_success()->mutable_request_put();
    txn_put->set_key("c");
    CHECK_FALSE(apply(*machine, 6, txn.SerializeAsString()));
    // What frees space still goes through: deletes and compactions.
    InternalRequest remove;
    remove.mutable_delete_range()->set_key("a");
    CHECK(apply(*machine, 7, remove.SerializeAsString()));
    InternalRequest compact;
    compact.mutable_compaction()->set_revision(2);
    CHECK(apply(*machine, 8, compact.SerializeAsString()));

    auto disarmed =
        apply(*machine, 9,
              alarm_command(etcdserverpb::AlarmRequest::DEACTIVATE, 7, etcdserverpb::NOSPACE));
    REQUIRE(disarmed);
    CHECK(alarm_list(*machine, 10).alarms_size() == 0);
    CHECK(apply(*machine, 11, put_command("b", "2")));
}

TEST_CASE("a raised CORRUPT alarm refuses every write but reads and read-only txns") {
    auto machine = open_machine();
    REQUIRE(apply(*machine, 1, put_command("a", "1")));
    REQUIRE(apply(*machine, 2, grant_command(9, 60)));
    REQUIRE(apply(*machine, 3,
                  alarm_command(etcdserverpb::AlarmRequest::ACTIVATE, 0, etcdserverpb::CORRUPT)));
    CHECK(machine->alarmed(etcdserverpb::CORRUPT));

    auto put = apply(*machine, 4, put_command("b", "2"));
    REQUIRE_FALSE(put);
    CHECK(put.error().root() == "etcdserver: corrupt cluster");
    CHECK(machine->applied_index() == 4);
    InternalRequest remove;
    remove.mutable_delete_range()->set_key("a");
    CHECK_FALSE(apply(*machine, 5, remove.SerializeAsString()));
    InternalRequest compact;
    compact.mutable_compaction()->set_revision(2);
    CHECK_FALSE(apply(*machine, 6, compact.SerializeAsString()));
    CHECK_FALSE(apply(*machine, 7, grant_command(10, 60)));
    InternalRequest revoke;
    revoke.mutable_lease_revoke()->set_id(9);
    CHECK_FALSE(apply(*machine, 8, revoke.SerializeAsString()));
    InternalRequest writing_txn;
    writing_txn.mutable_txn()->add_failure()->mutable_request_delete_range()->set_key("a");
    CHECK_FALSE(apply(*machine, 9, writing_txn.SerializeAsString()));
    // A txn of ranges alone is a read (etcd serves it outside the log).
    InternalRequest reading_txn;
    reading_txn.mutable_txn()->add_success()->mutable_request_range()->set_key("a");
    auto read = apply(*machine, 10, reading_txn.SerializeAsString());
    REQUIRE(read);
    etcdserverpb::TxnResponse response;
    REQUIRE(response.ParseFromString(*read));
    REQUIRE(response.responses_size() == 1);
    CHECK(response.responses(0).response_range().kvs(0).value() == "1");

    REQUIRE(apply(*machine, 11,
                  alarm_command(etcdserverpb::AlarmRequest::DEACTIVATE, 0, etcdserverpb::CORRUPT)));
    CHECK(apply(*machine, 12, put_command("b", "2")));
}

TEST_CASE("alarms survive a snapshot and its restore on another member") {
    auto machine = open_machine();
    REQUIRE(
        apply(*machine, 1,
              alarm_command(etcdserverpb::AlarmRequest::ACTIVATE, 0x1234, etcdserverpb::NOSPACE)));
    auto data = machine->snapshot();
    REQUIRE(data);
    auto other = open_machine();
    REQUIRE(other->restore(Snapshot{{1, 1, ConfState{{0x1234}, {}}}, *data}));
    CHECK(other->alarmed(etcdserverpb::NOSPACE));
    CHECK(other->alarms().contains(RaisedAlarm{0x1234, etcdserverpb::NOSPACE}));
    CHECK_FALSE(apply(*other, 2, put_command("a", "1")));
}
