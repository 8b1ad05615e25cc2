// etcd's error table lookups and the mapping of keel's errors onto them.
#include "kv/etcd_errors.h"

namespace keel::kv {

GrpcStatus etcd_status(EtcdError error) {
    for (const EtcdErrorEntry& entry : kEtcdErrors)
        if (entry.error == error)
            return GrpcStatus{entry.code, std::string(entry.message)};
    // Every enumerator has a row (etcd_errors_test checks): not reached.
    return GrpcStatus{GrpcCode::Internal, "unknown etcd error"};
}

std::optional<EtcdError> etcd_error_of(const GrpcStatus& status) {
    for (const EtcdErrorEntry& entry : kEtcdErrors)
        if (entry.code == status.code && entry.message == status.message)
            return entry.error;
    return std::nullopt;
}

GrpcStatus status_of(const Error& error) {
    switch (ErrorCode(error.code())) {
    case ErrorCode::NoLeader:
        return etcd_status(EtcdError::NoLeader);
    case ErrorCode::ProposalDropped:
        // etcd 3.4 hands its Raft's ErrProposalDropped to the client as is.
        return GrpcStatus{GrpcCode::Unknown, "raft proposal dropped"};
    case ErrorCode::LearnerNotReady:
        return etcd_status(EtcdError::LearnerNotReady);
    case ErrorCode::RequestTimedOut:
        return etcd_status(EtcdError::Timeout);
    case ErrorCode::ServerStopped:
        return etcd_status(EtcdError::Stopped);
    case ErrorCode::RevisionCompacted:
        return etcd_status(EtcdError::Compacted);
    case ErrorCode::FutureRevision:
        return etcd_status(EtcdError::FutureRevision);
    case ErrorCode::KeyNotFound:
        return etcd_status(EtcdError::KeyNotFound);
    case ErrorCode::DuplicateKey:
        return etcd_status(EtcdError::DuplicateKey);
    case ErrorCode::LeaseNotFound:
        return etcd_status(EtcdError::LeaseNotFound);
    case ErrorCode::LeaseExists:
        return etcd_status(EtcdError::LeaseExists);
    case ErrorCode::LeaseTtlTooLarge:
        return etcd_status(EtcdError::LeaseTtlTooLarge);
    case ErrorCode::ConnectionClosed:
    case ErrorCode::DataCorrupt:
    case ErrorCode::ForeignDataDir:
    case ErrorCode::NoSuchContainer:
        break;
    }
    return GrpcStatus{GrpcCode::Unknown, error.to_string()};
}

} // namespace keel::kv
