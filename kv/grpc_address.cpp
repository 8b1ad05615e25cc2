// Endpoint addresses of the gRPC server and client (see kv/grpc_address.h).
#include "kv/grpc_address.h"

#include "base/strings.h"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>

namespace keel::kv {

namespace {

constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kHttpPrefix = "http://";

Result<GrpcAddress> unix_address(std::string_view address) {
    std::string_view path = address.substr(kUnixPrefix.size());
    // grpc-go's spelling "unix:///run/x.sock" names the absolute path too.
    if (starts_with(path, "//"))
        path.remove_prefix(2);
    GrpcAddress out;
    out.text = std::string(address);
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    if (path.empty() || path.size() >= sizeof un->sun_path)
        return error(cat("gRPC address ", quoted(address),
                         ": unix socket path is empty or longer than ", sizeof un->sun_path - 1,
                         " bytes"));
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    out.length = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return out;
}

} // namespace

Result<GrpcAddress> parse_grpc_address(std::string_view address) {
    if (starts_with(address, kUnixPrefix))
        return unix_address(address);
    if (starts_with(address, kHttpPrefix))
        address.remove_prefix(kHttpPrefix.size());
    auto invalid = [&](std::string_view why) {
        return error(cat("gRPC address ", quoted(address), ": ", why));
    };
    std::string_view host;
    std::string_view port_text;
    if (starts_with(address, "[")) {
        size_t close = address.find(']');
        if (close == std::string_view::npos || close + 1 >= address.size() ||
            address[close + 1] != ':')
            return invalid("expected [IPv6]:port");
        host = address.substr(1, close - 1);
        port_text = address.substr(close + 2);
    } else {
        size_t colon = address.rfind(':');
        if (colon == std::string_view::npos)
            return invalid("expected host:port");
        host = address.substr(0, colon);
        port_text = address.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return invalid("an IPv6 address goes in brackets: [IPv6]:port");
    }
    std::optional<uint64_t> port = parse_u64(port_text);
    if (!port || *port > 65535)
        return invalid("port is not a number from 0 to 65535");
    if (host == "localhost")
        host = "127.0.0.1";
    GrpcAddress out;
    out.text = std::string(address);
    std::string host_copy(host);
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    if (::inet_pton(AF_INET, host_copy.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(uint16_t(*port));
        out.length = sizeof(sockaddr_in);
        return out;
    }
    out.storage = {};
    if (::inet_pton(AF_INET6, host_copy.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(uint16_t(*port));
        out.length = sizeof(sockaddr_in6);
        return out;
    }
    return invalid("host is not a numeric IP address (or localhost)");
}

} // namespace keel::kv
