// Tests for etcd's error table (kv/etcd_errors.cpp): the codes and exact
// texts etcd's clients match, and what keel's own errors become.
#include "kv/etcd_errors.h"

#include <doctest/doctest.h>

#include <set>

using namespace keel;
using namespace keel::kv;

TEST_CASE("etcd's errors carry the gRPC code and the exact text etcd sends") {
    CHECK(etcd_status(EtcdError::EmptyKey) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: key is not provided"});
    CHECK(etcd_status(EtcdError::TooManyOps) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: too many operations in txn request"});
    CHECK(etcd_status(EtcdError::DuplicateKey) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: duplicate key given in txn request"});
    CHECK(etcd_status(EtcdError::RequestTooLarge) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: request is too large"});
    CHECK(etcd_status(EtcdError::InvalidSortOption) ==
          GrpcStatus{GrpcCode::InvalidArgument, "etcdserver: invalid sort option"});
    CHECK(
        etcd_status(EtcdError::Compacted) ==
        GrpcStatus{GrpcCode::OutOfRange, "etcdserver: mvcc: required revision has been compacted"});
    CHECK(etcd_status(EtcdError::FutureRevision) ==
          GrpcStatus{GrpcCode::OutOfRange,
                     "etcdserver: mvcc: required revision is a future revision"});
    CHECK(etcd_status(EtcdError::LeaseNotFound) ==
          GrpcStatus{GrpcCode::NotFound, "etcdserver: requested lease not found"});
    CHECK(etcd_status(EtcdError::LeaseExists) ==
          GrpcStatus{GrpcCode::FailedPrecondition, "etcdserver: lease already exists"});
    CHECK(etcd_status(EtcdError::NoLeader) ==
          GrpcStatus{GrpcCode::Unavailable, "etcdserver: no leader"});
    CHECK(etcd_status(EtcdError::WatchCanceled) ==
          GrpcStatus{GrpcCode::Cancelled, "etcdserver: watch canceled"});
    CHECK(etcd_status(EtcdError::Corrupt) ==
          GrpcStatus{GrpcCode::DataLoss, "etcdserver: corrupt cluster"});
}

TEST_CASE("every etcd error has one row with its own text, and a client recognises it") {
    std::set<std::string_view> texts;
    std::set<EtcdError> errors;
    for (const EtcdErrorEntry& entry : kEtcdErrors) {
        CAPTURE(entry.message);
        CHECK(texts.insert(entry.message).second);
        CHECK(errors.insert(entry.error).second);
        CHECK(entry.message.starts_with("etcdserver: "));
        GrpcStatus status = etcd_status(entry.error);
        CHECK(status.code == entry.code);
        CHECK(status.message == entry.message);
        CHECK(etcd_error_of(status) == entry.error);
    }
    // The enum's last value closes the list: every value up to it has a row.
    CHECK(errors.size() == size_t(EtcdError::BadLeaderTransferee) + 1);
}

TEST_CASE("a status is only taken for an etcd error when both code and text match") {
    CHECK(etcd_error_of(GrpcStatus{GrpcCode::Unknown, "etcdserver: no leader"}) == std::nullopt);
    CHECK(etcd_error_of(GrpcStatus{GrpcCode::Unavailable, "etcdserver: no leader "}) ==
          std::nullopt);
    CHECK(etcd_error_of(GrpcStatus{}) == std::nullopt);
}

TEST_CASE("keel's own errors become the etcd errors clients expect, wrapped or not") {
    auto of = [](ErrorCode code) { return status_of(Error::from_code(code, "whatever")); };
    CHECK(of(ErrorCode::NoLeader) == etcd_status(EtcdError::NoLeader));
    CHECK(of(ErrorCode::RequestTimedOut) == etcd_status(EtcdError::Timeout));
    CHECK(of(ErrorCode::ServerStopped) == etcd_status(EtcdError::Stopped));
    CHECK(of(ErrorCode::RevisionCompacted) == etcd_status(EtcdError::Compacted));
    CHECK(of(ErrorCode::FutureRevision) == etcd_status(EtcdError::FutureRevision));
    CHECK(of(ErrorCode::KeyNotFound) == etcd_status(EtcdError::KeyNotFound));
    CHECK(of(ErrorCode::DuplicateKey) == etcd_status(EtcdError::DuplicateKey));
    CHECK(of(ErrorCode::LeaseNotFound) == etcd_status(EtcdError::LeaseNotFound));
    CHECK(of(ErrorCode::LeaseExists) == etcd_status(EtcdError::LeaseExists));
    CHECK(of(ErrorCode::LeaseTtlTooLarge) == etcd_status(EtcdError::LeaseTtlTooLarge));
    CHECK(of(ErrorCode::ProposalDropped) == GrpcStatus{GrpcCode::Unknown, "raft proposal dropped"});

    Error wrapped = Error::from_code(ErrorCode::RevisionCompacted, "revision 3");
    wrapped.wrap("range `a`");
    CHECK(status_of(wrapped) == etcd_status(EtcdError::Compacted));
}

TEST_CASE("any other error reaches the client as Unknown with its text") {
    Error disk = Error::from_errno(EIO, "write the WAL");
    CHECK(status_of(disk) == GrpcStatus{GrpcCode::Unknown, disk.to_string()});
    Error corrupt = Error::from_code(ErrorCode::DataCorrupt, "checksum mismatch");
    CHECK(status_of(corrupt) == GrpcStatus{GrpcCode::Unknown, "checksum mismatch"});
    CHECK(status_of(Error::message("odd")) == GrpcStatus{GrpcCode::Unknown, "odd"});
}

TEST_CASE("a promotion the leader refused is etcd's learner-not-in-sync error, byte for byte") {
    CHECK(status_of(Error::from_code(ErrorCode::LearnerNotReady, "member 3 is not in sync")) ==
          GrpcStatus{GrpcCode::FailedPrecondition,
                     "etcdserver: can only promote a learner member which is in sync with leader"});
}
