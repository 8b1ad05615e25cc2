// etcd's errors as its clients see them: the gRPC code and the exact message
// of each error etcd's v3 API answers with (clientv3 and etcdctl match both,
// byte for byte, to tell a compacted revision from a lost leader), and the
// mapping from keel's own errors (base/result.h's ErrorCodes) to them.
#pragma once

#include "base/result.h"
#include "kv/grpc_status.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace keel::kv {

/// The errors of etcd's v3 API that keel answers with (etcd's
/// rpctypes.ErrGRPC*, without the auth ones).
enum class EtcdError : uint8_t {
    EmptyKey,
    KeyNotFound,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    InvalidSortOption,
    Compacted,
    FutureRevision,
    NoSpace,
    LeaseNotFound,
    LeaseExists,
    LeaseTtlTooLarge,
    WatchCanceled,
    MemberExists,
    PeerUrlExists,
    MemberNotEnoughStarted,
    MemberBadUrls,
    MemberNotFound,
    MemberNotLearner,
    LearnerNotReady,
    TooManyLearners,
    RequestTooLarge,
    TooManyRequests,
    NoLeader,
    NotLeader,
    LeaderChanged,
    NotCapable,
    Stopped,
    Timeout,
    TimeoutDueToLeaderFail,
    TimeoutDueToConnectionLost,
    TimeoutWaitAppliedIndex,
    Unhealthy,
    Corrupt,
    NotSupportedForLearner,
    BadLeaderTransferee,
};

/// One row of the table: an error, its gRPC code and its exact text.
struct EtcdErrorEntry {
    EtcdError error;
    GrpcCode code;
    std::string_view message;
};

/// Every EtcdError with its code and text, as etcd 3.4 (InvalidSortOption:
/// 3.5) sends them; etcd_status() and etcd_error_of() are derived from it.
inline constexpr EtcdErrorEntry kEtcdErrors[] = {
    {EtcdError::EmptyKey, GrpcCode::InvalidArgument, "etcdserver: key is not provided"},
    {EtcdError::KeyNotFound, GrpcCode::InvalidArgument, "etcdserver: key not found"},
    {EtcdError::ValueProvided, GrpcCode::InvalidArgument, "etcdserver: value is provided"},
    {EtcdError::LeaseProvided, GrpcCode::InvalidArgument, "etcdserver: lease is provided"},
    {EtcdError::TooManyOps, GrpcCode::InvalidArgument,
     "etcdserver: too many operations in txn request"},
    {EtcdError::DuplicateKey, GrpcCode::InvalidArgument,
     "etcdserver: duplicate key given in txn request"},
    {EtcdError::InvalidSortOption, GrpcCode::InvalidArgument, "etcdserver: invalid sort option"},
    {EtcdError::Compacted, GrpcCode::OutOfRange,
     "etcdserver: mvcc: required revision has been compacted"},
    {EtcdError::FutureRevision, GrpcCode::OutOfRange,
     "etcdserver: mvcc: required revision is a future revision"},
    {EtcdError::NoSpace, GrpcCode::ResourceExhausted, "etcdserver: mvcc: database space exceeded"},
    {EtcdError::LeaseNotFound, GrpcCode::NotFound, "etcdserver: requested lease not found"},
    {EtcdError::LeaseExists, GrpcCode::FailedPrecondition, "etcdserver: lease already exists"},
    {EtcdError::LeaseTtlTooLarge, GrpcCode::OutOfRange, "etcdserver: too large lease TTL"},
    {EtcdError::WatchCanceled, GrpcCode::Cancelled, "etcdserver: watch canceled"},
    {EtcdError::MemberExists, GrpcCode::FailedPrecondition, "etcdserver: member ID already exist"},
    {EtcdError::PeerUrlExists, GrpcCode::FailedPrecondition,
     "etcdserver: Peer URLs already exists"},
    {EtcdError::MemberNotEnoughStarted, GrpcCode::FailedPrecondition,
     "etcdserver: re-configuration failed due to not enough started members"},
    {EtcdError::MemberBadUrls, GrpcCode::InvalidArgument,
     "etcdserver: given member URLs are invalid"},
    {EtcdError::MemberNotFound, GrpcCode::NotFound, "etcdserver: member not found"},
    {EtcdError::MemberNotLearner, GrpcCode::FailedPrecondition,
     "etcdserver: can only promote a learner member"},
    {EtcdError::LearnerNotReady, GrpcCode::FailedPrecondition,
     "etcdserver: can only promote a learner member which is in sync with leader"},
    {EtcdError::TooManyLearners, GrpcCode::FailedPrecondition,
     "etcdserver: too many learner members in cluster"},
    {EtcdError::RequestTooLarge, GrpcCode::InvalidArgument, "etcdserver: request is too large"},
    {EtcdError::TooManyRequests, GrpcCode::ResourceExhausted, "etcdserver: too many requests"},
    {EtcdError::NoLeader, GrpcCode::Unavailable, "etcdserver: no leader"},
    {EtcdError::NotLeader, GrpcCode::FailedPrecondition, "etcdserver: not leader"},
    {EtcdError::LeaderChanged, GrpcCode::Unavailable, "etcdserver: leader changed"},
    {EtcdError::NotCapable, GrpcCode::Unavailable, "etcdserver: not capable"},
    {EtcdError::Stopped, GrpcCode::Unavailable, "etcdserver: server stopped"},
    {EtcdError::Timeout, GrpcCode::Unavailable, "etcdserver: request timed out"},
    {EtcdError::TimeoutDueToLeaderFail, GrpcCode::Unavailable,
     "etcdserver: request timed out, possibly due to previous leader failure"},
    {EtcdError::TimeoutDueToConnectionLost, GrpcCode::Unavailable,
     "etcdserver: request timed out, possibly due to connection lost"},
    {EtcdError::TimeoutWaitAppliedIndex, GrpcCode::Unavailable,
     "etcdserver: request timed out, waiting for the applied index took too long"},
    {EtcdError::Unhealthy, GrpcCode::Unavailable, "etcdserver: unhealthy cluster"},
    {EtcdError::Corrupt, GrpcCode::DataLoss, "etcdserver: corrupt cluster"},
    {EtcdError::NotSupportedForLearner, GrpcCode::Unavailable,
     "etcdserver: rpc not supported for learner"},
    {EtcdError::BadLeaderTransferee, GrpcCode::FailedPrecondition,
     "etcdserver: bad leader transferee"},
};

/// The status etcd answers `error` with: its code and exact text.
GrpcStatus etcd_status(EtcdError error);

/// The etcd error `status` is (code and text both match), or nullopt: how a
/// client of keel's KV tells the errors apart.
std::optional<EtcdError> etcd_error_of(const GrpcStatus& status);

/// The status a call that failed with `error` ends with. keel's own error
/// codes become etcd's errors (NoLeader: Unavailable "etcdserver: no
/// leader"; RevisionCompacted: OutOfRange "etcdserver: mvcc: required
/// revision has been compacted"; ...); a dropped proposal becomes what etcd
/// passes through from its Raft (Unknown, "raft proposal dropped"); any
/// other error becomes Unknown with the error's text, as etcd does with
/// errors it has no gRPC error for.
GrpcStatus status_of(const Error& error);

} // namespace keel::kv
