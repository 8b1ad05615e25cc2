// The socket address of a gRPC endpoint, from the text etcd's flags and
// clients take: "127.0.0.1:2379", "[::1]:2379", "localhost:2379",
// optionally after "http://", or "unix:PATH". Numeric only: keel has no NSS,
// so "localhost" is the one name known (as 127.0.0.1).
#pragma once

#include "base/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace keel::kv {

/// A parsed endpoint address, ready for bind() or connect().
struct GrpcAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    /// The address as given, without "http://": for errors and :authority.
    std::string text;
};

/// Parses `address`; errors name what is wrong ("gRPC address `x:1`: host
/// is not a numeric IP address").
Result<GrpcAddress> parse_grpc_address(std::string_view address);

} // namespace keel::kv
