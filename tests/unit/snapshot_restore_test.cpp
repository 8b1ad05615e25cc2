// Tests for restore_snapshot() and saved_snapshot_status() (kv/kv.h): a
// saved snapshot of a store with history, a deleted key, a compaction, a
// lease, members and an alarm, restored into a new member's data dir,
// whose store, log and snapshot file are then opened the way a member
// opens them; and the refusals, each leaving nothing behind.
#include "kv/kv.h"

#include "base/sys.h"
#include "kv/file_names.h"
#include "kv/kv_state_machine.h"
#include "kv/mvcc_snapshot.h"
#include "kv/saved_snapshot.h"
#include "kv/server_config.h"
#include "kv/snapshot_file.h"
#include "kv/wal.h"
#include "proto/etcd/rpc.pb.h"
#include "proto/kv/internal.pb.h"
#include "tests/unit/mvcc_fixture.h"
#include "tests/unit/temp_dir.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <unistd.h>

using namespace keel;
using namespace keel::kv;
using keel::testing::TempDir;

namespace {

constexpr int64_t kRestoreLease = 0x77;

std::chrono::steady_clock::time_point restore_test_now() {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(1000));
}

void restore_apply_ok(KvStateMachine& machine, kv::Index index, const InternalRequest& request) {
    auto answer = machine.apply(index, request.SerializeAsString());
    REQUIRE(answer);
    auto decoded = decode_apply_answer(*answer);
    REQUIRE_MESSAGE(decoded, (decoded ? std::string() : decoded.error().to_string()));
}

InternalRequest restore_put_request(std::string key, std::string value, int64_t lease = 0) {
    InternalRequest request;
    request.mutable_put()->set_key(std::move(key));
    request.mutable_put()->set_value(std::move(value));
    request.mutable_put()->set_lease(lease);
    return request;
}

// The saved snapshot of an old cluster's member: revisions 2..7 (a put
// twice, a deleted key, a key under a lease), compacted at 3, its two
// members, a NOSPACE alarm raised by one of them.
std::string old_cluster_snapshot() {
    auto opened = KvStateMachine::open(make_memory_backend(), restore_test_now);
    REQUIRE(opened);
    KvStateMachine& machine = **opened;
    kv::Index index = 0;
    for (NodeId id : {0xa1, 0xa2}) {
        MemberInfo member;
        member.id = id;
        member.name = id == 0xa1 ? "old1" : "old2";
        member.peer_urls = {id == 0xa1 ? "http://10.0.0.1:2380" : "http://10.0.0.2:2380"};
        REQUIRE(machine.apply_conf_change(++index,
                                          {ConfChangeType::AddVoter, id, encode_member(member)},
                                          ConfState{{0xa1, 0xa2}, {}}));
    }
    InternalRequest grant;
    grant.mutable_lease_grant()->set_id(kRestoreLease);
    grant.mutable_lease_grant()->set_ttl(600);
    restore_apply_ok(machine, ++index, grant);
    restore_apply_ok(machine, ++index, restore_put_request("a", "1"));    // 2
    restore_apply_ok(machine, ++index, restore_put_request("a", "2"));    // 3
    restore_apply_ok(machine, ++index, restore_put_request("gone", "x")); // 4
    InternalRequest remove;
    remove.mutable_delete_range()->set_key("gone");
    restore_apply_ok(machine, ++index, remove);                                            // 5
    restore_apply_ok(machine, ++index, restore_put_request("leased", "y", kRestoreLease)); // 6
    InternalRequest compact;
    compact.mutable_compaction()->set_revision(3);
    restore_apply_ok(machine, ++index, compact);
    restore_apply_ok(machine, ++index, restore_put_request("a", "3")); // 7
    InternalRequest alarm;
    alarm.mutable_alarm()->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    alarm.mutable_alarm()->set_memberid(0xa1);
    alarm.mutable_alarm()->set_alarm(etcdserverpb::NOSPACE);
    restore_apply_ok(machine, ++index, alarm);
    REQUIRE(machine.alarms().size() == 1);
    auto data = machine.snapshot();
    REQUIRE(data);
    append_snapshot_trailer(*data);
    return *data;
}

std::string write_snapshot(const TempDir& dir, const std::string& bytes) {
    std::string path = dir / "snap.db";
    REQUIRE(write_new_file(path, bytes));
    return path;
}

SnapshotRestoreOptions three_member_restore(const std::string& file, const std::string& data_dir,
                                            std::string name = "n2") {
    SnapshotRestoreOptions options;
    options.snapshot_path = file;
    options.data_dir = data_dir;
    options.name = std::move(name);
    options.initial_cluster =
        "n1=http://127.0.0.1:3380,n2=http://127.0.0.1:3381,n3=http://127.0.0.1:3382";
    options.initial_cluster_token = "restored";
    options.initial_advertise_peer_urls = "http://127.0.0.1:3381";
    return options;
}

uint64_t expected_member_id(const std::string& url) {
    std::vector<std::string> urls = {url};
    return member_id(urls, "restored");
}

bool restore_path_exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

} // namespace

TEST_CASE("a restored data dir has the snapshot's keys, history, compaction and lease, and only "
          "the new members") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    std::string data_dir = dir / "n2.etcd";
    auto restored = restore_snapshot(three_member_restore(file, data_dir));
    REQUIRE_MESSAGE(restored, (restored ? std::string() : restored.error().to_string()));

    std::vector<uint64_t> ids = {expected_member_id("http://127.0.0.1:3380"),
                                 expected_member_id("http://127.0.0.1:3381"),
                                 expected_member_id("http://127.0.0.1:3382")};
    CHECK(restored->member_id == ids[1]);
    CHECK(restored->cluster_id == cluster_id(ids));
    CHECK(restored->revision == 7);
    CHECK(restored->data_dir == data_dir);
    CHECK_FALSE(restore_path_exists(data_dir + ".restoring"));

    // The log: this member of the new cluster, the snapshot at index 3
    // (one per member), term 1, committed.
    auto wal = Wal::open(data_dir + "/wal");
    REQUIRE_MESSAGE(wal, (wal ? std::string() : wal.error().to_string()));
    WalState& state = wal->recovered();
    CHECK(state.metadata == WalMetadata{.cluster_id = cluster_id(ids), .member_id = ids[1]});
    CHECK(state.snapshot == WalSnapshot{.index = 3, .term = 1});
    CHECK(state.hard_state == HardState{.term = 1, .vote = 0, .commit = 3});
    CHECK(state.entries.empty());
    auto snapshot = load_snapshot_file(system_storage(), data_dir + "/snap", state);
    REQUIRE(snapshot);
    REQUIRE(snapshot->has_value());
    std::vector<NodeId> voters = (*snapshot)->meta.conf.voters;
    std::sort(voters.begin(), voters.end());
    std::vector<NodeId> sorted_ids = ids;
    std::sort(sorted_ids.begin(), sorted_ids.end());
    CHECK(voters == sorted_ids);

    // The store, as the member opens it.
    auto backend = open_lmdb_backend(data_dir + "/" + std::string(kStoreFileName), 64 << 20,
                                     LmdbSync::Durable);
    REQUIRE(backend);
    auto machine = KvStateMachine::open(std::move(*backend), restore_test_now);
    REQUIRE_MESSAGE(machine, (machine ? std::string() : machine.error().to_string()));
    const MvccStore& store = (*machine)->store();
    CHECK((*machine)->applied_index() == 3);
    CHECK(store.revision() == 7);
    CHECK(store.compact_revision() == 3);
    auto a = keel::testing::get(store, "a");
    REQUIRE(a);
    CHECK(a->value == "3");
    CHECK(a->version == 3);
    CHECK(a->create_revision == 2);
    CHECK(keel::testing::get(store, "a", 3)->value == "2");
    CHECK_FALSE(keel::testing::get(store, "gone"));
    auto leased = keel::testing::get(store, "leased");
    REQUIRE(leased);
    CHECK(leased->lease == kRestoreLease);
    CHECK((*machine)->lessor().exists(kRestoreLease));
    CHECK((*machine)->alarms().empty());
    const auto& members = (*machine)->members();
    REQUIRE(members.size() == 3);
    CHECK(members.at(ids[0]).name == "n1");
    CHECK(members.at(ids[1]).peer_urls == std::vector<std::string>{"http://127.0.0.1:3381"});
    CHECK(members.at(ids[2]).client_urls.empty());
    CHECK_FALSE(members.contains(0xa1));
}

TEST_CASE("every member of the new cluster gets the same cluster id and its own member id") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    auto first = restore_snapshot(three_member_restore(file, dir / "a", "n2"));
    SnapshotRestoreOptions other = three_member_restore(file, dir / "b", "n3");
    other.initial_advertise_peer_urls = "http://127.0.0.1:3382";
    auto second = restore_snapshot(other);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->cluster_id == second->cluster_id);
    CHECK(first->member_id != second->member_id);
    SnapshotRestoreOptions another_token = three_member_restore(file, dir / "c", "n2");
    another_token.initial_cluster_token = "another";
    auto third = restore_snapshot(another_token);
    REQUIRE(third);
    CHECK(third->cluster_id != first->cluster_id);
}

TEST_CASE("a restore into a data dir that is not empty is refused and leaves it as it was") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    std::string data_dir = dir / "taken";
    REQUIRE(make_directories(data_dir));
    REQUIRE(write_new_file(data_dir + "/mine", "keep"));
    auto restored = restore_snapshot(three_member_restore(file, data_dir));
    REQUIRE_FALSE(restored);
    CHECK(restored.error().code() == EEXIST);
    CHECK(restored.error().to_string().find("exists and is not empty") != std::string::npos);
    CHECK(*list_directory(data_dir) == std::vector<std::string>{"mine"});
    CHECK_FALSE(restore_path_exists(data_dir + ".restoring"));
}

TEST_CASE("a restore into an empty directory fills it") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    std::string data_dir = dir / "empty";
    REQUIRE(make_directories(data_dir));
    auto restored = restore_snapshot(three_member_restore(file, data_dir));
    REQUIRE_MESSAGE(restored, (restored ? std::string() : restored.error().to_string()));
    CHECK(restore_path_exists(data_dir + "/wal"));
    CHECK(restore_path_exists(data_dir + "/" + std::string(kStoreFileName)));
}

TEST_CASE("a damaged or cut-short snapshot is refused, naming the file, and nothing is written") {
    TempDir dir;
    std::string bytes = old_cluster_snapshot();
    std::string data_dir = dir / "new";
    SUBCASE("a byte flipped") {
        bytes[40] = char(bytes[40] ^ 0x10);
    }
    SUBCASE("cut short") {
        bytes.resize(bytes.size() - 100);
    }
    SUBCASE("the trailer lost") {
        bytes.resize(bytes.size() - kSavedSnapshotHashBytes);
    }
    std::string file = write_snapshot(dir, bytes);
    auto restored = restore_snapshot(three_member_restore(file, data_dir));
    REQUIRE_FALSE(restored);
    std::string text = restored.error().to_string();
    CHECK(text.find("snapshot `" + file + "`") != std::string::npos);
    CHECK_FALSE(restore_path_exists(data_dir));
    CHECK_FALSE(restore_path_exists(data_dir + ".restoring"));
}

TEST_CASE("a member name missing from --initial-cluster is refused before anything is written") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    auto restored = restore_snapshot(three_member_restore(file, dir / "x", "n9"));
    REQUIRE_FALSE(restored);
    CHECK(restored.error().to_string().find("couldn't find local name `n9`") != std::string::npos);
    CHECK_FALSE(restore_path_exists(dir / "x"));
}

TEST_CASE("a restore left interrupted is not overwritten") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    std::string data_dir = dir / "new";
    REQUIRE(make_directories(data_dir + ".restoring"));
    auto restored = restore_snapshot(three_member_restore(file, data_dir));
    REQUIRE_FALSE(restored);
    CHECK(restored.error().to_string().find("an earlier restore was interrupted") !=
          std::string::npos);
    CHECK_FALSE(restore_path_exists(data_dir));
}

TEST_CASE("a snapshot's status: its HashKV, revision, records and size") {
    TempDir dir;
    std::string bytes = old_cluster_snapshot();
    std::string file = write_snapshot(dir, bytes);
    auto status = saved_snapshot_status(file);
    REQUIRE_MESSAGE(status, (status ? std::string() : status.error().to_string()));
    CHECK(status->revision == 7);
    CHECK(status->total_size == bytes.size());
    auto mvcc = read_saved_snapshot(bytes, HashCheck::Verify);
    REQUIRE(mvcc);
    auto store = MvccStore::open(make_memory_backend());
    REQUIRE(store);
    REQUIRE((*store)->restore(*mvcc));
    CHECK(status->hash == (*store)->hash_kv(0)->hash);
    CHECK(status->total_keys == parse_snapshot(*mvcc)->size());
    bytes[10] = char(bytes[10] ^ 1);
    std::string damaged = dir / "damaged.db";
    REQUIRE(write_new_file(damaged, bytes));
    CHECK_FALSE(saved_snapshot_status(damaged));
}

TEST_CASE("a data dir named with a trailing slash is made where it names") {
    TempDir dir;
    std::string file = write_snapshot(dir, old_cluster_snapshot());
    auto restored = restore_snapshot(three_member_restore(file, dir / "slashed/"));
    REQUIRE_MESSAGE(restored, (restored ? std::string() : restored.error().to_string()));
    CHECK(restored->data_dir == dir / "slashed");
    CHECK(restore_path_exists(dir / "slashed/wal"));
    CHECK_FALSE(restore_path_exists(dir / "slashed/.restoring"));
    CHECK_FALSE(restore_path_exists(dir / "slashed.restoring"));
}
