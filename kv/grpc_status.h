// gRPC's status codes and the status a call ends with: what the gRPC layer
// (kv/grpc_server.h) sends in its trailers and what the etcd services
// (kv/etcd_errors.h) map keel's errors to.
#pragma once

#include "base/names.h"

#include <cstdint>
#include <expected>
#include <string>

namespace keel::kv {

/// gRPC's status codes (the numbers are the wire values of grpc-status).
enum class GrpcCode : uint8_t {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
};
inline constexpr auto kGrpcCodeNames = name_table<GrpcCode>({
    {GrpcCode::Ok, "OK"},
    {GrpcCode::Cancelled, "CANCELLED"},
    {GrpcCode::Unknown, "UNKNOWN"},
    {GrpcCode::InvalidArgument, "INVALID_ARGUMENT"},
    {GrpcCode::DeadlineExceeded, "DEADLINE_EXCEEDED"},
    {GrpcCode::NotFound, "NOT_FOUND"},
    {GrpcCode::AlreadyExists, "ALREADY_EXISTS"},
    {GrpcCode::PermissionDenied, "PERMISSION_DENIED"},
    {GrpcCode::ResourceExhausted, "RESOURCE_EXHAUSTED"},
    {GrpcCode::FailedPrecondition, "FAILED_PRECONDITION"},
    {GrpcCode::Aborted, "ABORTED"},
    {GrpcCode::OutOfRange, "OUT_OF_RANGE"},
    {GrpcCode::Unimplemented, "UNIMPLEMENTED"},
    {GrpcCode::Internal, "INTERNAL"},
    {GrpcCode::Unavailable, "UNAVAILABLE"},
    {GrpcCode::DataLoss, "DATA_LOSS"},
    {GrpcCode::Unauthenticated, "UNAUTHENTICATED"},
});

/// How a call ended: a code and, unless Ok, a message for the client.
struct GrpcStatus {
    GrpcCode code = GrpcCode::Ok;
    std::string message;

    bool ok() const { return code == GrpcCode::Ok; }
    bool operator==(const GrpcStatus&) const = default;
};

/// A value, or the status a call (or the wire format under it) failed with:
/// what the gRPC client (kv/grpc_client.h) returns, so that callers match
/// on the code, as etcd's clients do.
template <typename T> using GrpcResult = std::expected<T, GrpcStatus>;

} // namespace keel::kv
