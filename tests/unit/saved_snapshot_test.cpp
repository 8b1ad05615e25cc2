// Tests for kv/saved_snapshot.h: a saved snapshot (the Snapshot stream as
// etcdctl writes it to a file) read back, and damaged ones refused with a
// message that says what is wrong: cut short, a byte flipped anywhere, no
// trailer, padding that is not padding, something that is no snapshot.
#include "kv/saved_snapshot.h"

#include "kv/mvcc_snapshot.h"
#include "kv/snapshot_file.h"

#include <doctest/doctest.h>

#include <string>

using namespace keel;
using namespace keel::kv;

namespace {

std::string small_mvcc_snapshot() {
    std::string out = begin_snapshot();
    append_snapshot_entry(out, "a", "1");
    append_snapshot_entry(out, "b", "22");
    end_snapshot(out);
    return out;
}

std::string saved_stream(std::string mvcc) {
    append_snapshot_trailer(mvcc);
    return mvcc;
}

std::string saved_read_error(const Result<std::string_view>& read) {
    REQUIRE_FALSE(read);
    return read.error().to_string();
}

} // namespace

TEST_CASE(
    "a saved snapshot is 512-byte blocks and a SHA-256, and reads back to its MVCC snapshot") {
    std::string mvcc = small_mvcc_snapshot();
    std::string file = saved_stream(mvcc);
    CHECK(file.size() % 512 == kSavedSnapshotHashBytes);
    for (HashCheck check : {HashCheck::Verify, HashCheck::Skip}) {
        auto read = read_saved_snapshot(file, check);
        REQUIRE_MESSAGE(read, (read ? std::string() : read.error().to_string()));
        CHECK(*read == mvcc);
    }
}

TEST_CASE("a saved snapshot cut short anywhere is refused") {
    std::string file = saved_stream(small_mvcc_snapshot());
    for (size_t size = 0; size < file.size(); ++size) {
        CAPTURE(size);
        auto read = read_saved_snapshot(std::string_view(file).substr(0, size), HashCheck::Verify);
        REQUIRE_FALSE(read);
    }
    CHECK(saved_read_error(read_saved_snapshot(file.substr(0, 500), HashCheck::Verify))
              .find("the file is 500 bytes: a saved snapshot is a multiple of 512 bytes") !=
          std::string::npos);
    CHECK(saved_read_error(read_saved_snapshot("", HashCheck::Verify)) == "the file is empty");
}

TEST_CASE("a saved snapshot with any byte flipped is refused for its SHA-256") {
    std::string file = saved_stream(small_mvcc_snapshot());
    for (size_t at = 0; at < file.size(); ++at) {
        CAPTURE(at);
        std::string damaged = file;
        damaged[at] = char(damaged[at] ^ 0x20);
        auto read = read_saved_snapshot(damaged, HashCheck::Verify);
        REQUIRE_FALSE(read);
        CHECK(read.error().to_string().find("the SHA-256 trailer does not match") !=
              std::string::npos);
    }
}

TEST_CASE("without the hash check a flipped byte in the snapshot is still found by its own "
          "checksum, and one in the trailer is let through") {
    std::string mvcc = small_mvcc_snapshot();
    std::string file = saved_stream(mvcc);
    std::string damaged = file;
    damaged[mvcc.size() - 6] = char(damaged[mvcc.size() - 6] ^ 1);
    CHECK(saved_read_error(read_saved_snapshot(damaged, HashCheck::Skip)).find("MVCC snapshot") !=
          std::string::npos);
    std::string trailer_damaged = file;
    trailer_damaged.back() = char(trailer_damaged.back() ^ 1);
    auto read = read_saved_snapshot(trailer_damaged, HashCheck::Skip);
    REQUIRE(read);
    CHECK(*read == mvcc);
}

TEST_CASE("a snapshot without its trailer needs --skip-hash-check") {
    std::string mvcc = small_mvcc_snapshot();
    CHECK(
        saved_read_error(read_saved_snapshot(mvcc, HashCheck::Verify)).find("--skip-hash-check") !=
        std::string::npos);
    auto read = read_saved_snapshot(mvcc, HashCheck::Skip);
    REQUIRE(read);
    CHECK(*read == mvcc);
}

TEST_CASE("a data dir's snapshot file is taken with --skip-hash-check only") {
    std::string mvcc = small_mvcc_snapshot();
    Snapshot snapshot;
    snapshot.meta = {.index = 7, .term = 2, .conf = {.voters = {1, 2, 3}, .learners = {}}};
    snapshot.data = mvcc;
    std::string file = encode_snapshot_file(snapshot);
    auto read = read_saved_snapshot(file, HashCheck::Skip);
    REQUIRE_MESSAGE(read, (read ? std::string() : read.error().to_string()));
    CHECK(*read == mvcc);
    CHECK_FALSE(read_saved_snapshot(file, HashCheck::Verify));
    std::string damaged = file;
    damaged[30] = char(damaged[30] ^ 1);
    CHECK(saved_read_error(read_saved_snapshot(damaged, HashCheck::Skip))
              .find("a data dir's snapshot file: checksum mismatch") != std::string::npos);
}

TEST_CASE("padding that is not zeros is refused even under a matching SHA-256") {
    std::string mvcc = small_mvcc_snapshot();
    std::string body = mvcc;
    body.resize(512, '\0');
    body[400] = 'x';
    std::string file = body;
    // The trailer of this body: append_snapshot_trailer adds none of its
    // own padding to a whole block.
    append_snapshot_trailer(file);
    REQUIRE(file.size() == 512 + kSavedSnapshotHashBytes);
    CHECK(saved_read_error(read_saved_snapshot(file, HashCheck::Verify)).find("not its padding") !=
          std::string::npos);
    CHECK(saved_read_error(read_saved_snapshot(file, HashCheck::Skip)).find("not its padding") !=
          std::string::npos);
}

TEST_CASE("a file that is no snapshot but ends in a right SHA-256 is refused as no MVCC snapshot") {
    std::string file = saved_stream(std::string(600, 'z'));
    CHECK(saved_read_error(read_saved_snapshot(file, HashCheck::Verify))
              .find("MVCC snapshot: no \"keelmvcc\" header") != std::string::npos);
}
